"""The dense PuLP peer: same optimum as the engine on tiny instances,
and its plan passes the independent checker."""

from __future__ import annotations

import dataclasses
import itertools
import shutil
from pathlib import Path

import pytest
from builders import write_instance
from hypothesis import HealthCheck, given, settings
from policies import allow_cost_moves
from reference_model import solve_reference
from strategies import instances

from optimiser import load_instance, solve, write_solution
from optimiser.checker import check
from optimiser.generate import generate
from optimiser.research.dense import dense_pairs, solve_dense

ROOT = Path(__file__).resolve().parents[1]
_counter = itertools.count()


def _dense_matches_engine(folder: Path) -> None:
    inst = load_instance(folder)
    ours = solve(inst, time_limit=20, workers=2)
    assert ours.status == "optimal"
    peer = solve_dense(inst, time_limit=30)
    objective, status, seconds, build = peer[:4]
    assert status == "optimal" and objective is not None
    assert 0 <= build <= seconds
    # ours rounds each pair's coefficient to the penny, the peer does not: the two optima
    # can differ by at most a penny per unit
    assert objective == pytest.approx(ours.objective, abs=0.01 * inst.units.n + 1e-6)
    # the independent side: the exact model of the spec over every pair
    ref = solve_reference(folder)
    assert ref.status == "optimal" and abs(ours.objective - ref.objective) <= 0.005
    # the peer's plan, written like ours, passes the independent checker with its objective
    assert peer.assignment is not None
    plan = dataclasses.replace(ours, assignment=peer.assignment, objective=objective)
    out = folder.parent / (folder.name + "-dense")
    write_solution(plan, out)
    report = check(folder, out)
    assert report.ok, [str(v) for v in report.violations] + list(report.summary_mismatches)
    assert report.objective == pytest.approx(objective, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_shipped(tmp_path: Path, name: str) -> None:
    folder = tmp_path / name
    shutil.copytree(ROOT / "instances" / name, folder)
    _dense_matches_engine(folder)


@pytest.mark.parametrize("seed,split", [(5, False), (6, True)])
def test_generated(tmp_path: Path, seed: int, split: bool) -> None:
    folder = tmp_path / "g"
    generate(folder, children=30, placements=25, seed=seed, placed_share=0.3)
    allow_cost_moves(folder)  # the dense peer does not model the move rule
    if split:
        text = (folder / "policy.toml").read_text()
        assert "split_siblings = false" in text
        (folder / "policy.toml").write_text(text.replace("split_siblings = false",
                                                         "split_siblings = true"))
    _dense_matches_engine(folder)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(min_children=2, max_children=6, max_placements=4).map(
    lambda d: (d.children, d.placements, d.policy)))
def test_random(tmp_path_factory: pytest.TempPathFactory, data) -> None:
    kids, pls, policy = data
    # the dense peer does not model the move rule: it is stated off here
    policy = policy.replace("move_only_in_child_interest = true",
                            "move_only_in_child_interest = false")
    folder = write_instance(tmp_path_factory.mktemp(f"dn{next(_counter)}") / "i", kids, pls,
                            policy=policy)
    _dense_matches_engine(folder)


def test_one_variable_per_child_pair(tmp_path: Path) -> None:
    """A group of two with two placements open to both: 4 child pairs; an excluded pair
    removes the group's placement for both members (they go together)."""
    kids = [{"child_id": "C1", "sibling_group": "G"}, {"child_id": "C2", "sibling_group": "G"}]
    pls = [{"placement_id": "P1", "vacancies": 2}, {"placement_id": "P2", "vacancies": 2}]
    folder = write_instance(tmp_path / "a", kids, pls)
    child, place, _, use = dense_pairs(load_instance(folder))
    assert len(child) == 4 and (use == 1).all()
    folder = write_instance(tmp_path / "b", kids, pls,
                            exclusions=[{"child_id": "C2", "placement_id": "P1",
                                         "reason": "test"}])
    child, place, _, _ = dense_pairs(load_instance(folder))
    assert place.tolist() == [1, 1]


def test_reallocation_refused(tmp_path: Path) -> None:
    folder = write_instance(tmp_path / "i", [{"child_id": "C1"}], [{"placement_id": "P1"}])
    with pytest.raises(ValueError, match="not modelled"):
        solve_dense(load_instance(folder).with_reallocation(max_moves=0), time_limit=5)
