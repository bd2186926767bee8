"""Placement backends (issue 4): CP-SAT, HiGHS and CBC reach the same optimum, to the
penny, on the same formulation, and every answer passes the independent checker."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from builders import solve_and_check, write_instance
from hypothesis import HealthCheck, given, settings
from reference_model import solve_reference
from strategies import instances

from optimiser import load_instance
from optimiser.flow import plan_pence
from optimiser.generate import generate

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("cpsat", "highs", "cbc")
_counter = itertools.count()


def _all_agree(folder: Path, **kw: object) -> dict[str, Any]:
    """Solve with every backend (fast path off), check each, compare the pence."""
    inst = load_instance(folder)
    split = inst.policy.rules.split_siblings
    pence: dict[str, int] = {}
    results = {}
    for backend in BACKENDS:
        result, _, report = solve_and_check(folder, backend=backend, fast_path=False, **kw)
        assert result.status == "optimal", (backend, result.status)
        assert result.stats["backend"] == backend
        # with split_siblings HiGHS runs on the array model that has the spread variables
        assert ("highs_route" in result.stats) == (backend == "highs" and split)
        pence[backend] = plan_pence(inst, result.candidates, result.assignment)
        results[backend] = result
    assert len(set(pence.values())) == 1, pence
    objs = [r.objective for r in results.values()]
    assert max(objs) - min(objs) <= 0.005 * inst.units.n + 1e-6  # rounding of each pair
    # the independent side: the exact model of the spec over every pair
    ref = solve_reference(folder)
    assert ref.status == "optimal"
    assert all(abs(o - ref.objective) <= 0.005 for o in objs), (objs, ref.objective)
    return results


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_shipped_instances(tmp_path: Path, name: str) -> None:
    folder = tmp_path / name
    shutil.copytree(ROOT / "instances" / name, folder)
    _all_agree(folder)


def _set_split(folder: Path) -> None:
    text = (folder / "policy.toml").read_text() if (folder / "policy.toml").exists() else ""
    if "split_siblings" in text:
        text = text.replace("split_siblings = false", "split_siblings = true")
    else:
        text += "\n[rules]\nsplit_siblings = true\n"
    (folder / "policy.toml").write_text(text)


@pytest.mark.parametrize("seed,split,n", [(1, False, 40), (2, False, 40), (3, True, 30),
                                          (4, True, 30)])
def test_generated_instances(tmp_path: Path, seed: int, split: bool, n: int) -> None:
    """Generated: sibling groups, solo children, exclusions, current placements. (With
    split_siblings CP-SAT needed 15 s on 40 children, CBC 0.3 s: 30 keeps the suite short.)"""
    folder = tmp_path / "g"
    generate(folder, children=n, placements=n * 4 // 5, seed=seed, placed_share=0.4)
    ch = pd.read_csv(folder / "children.csv", dtype=str, keep_default_na=False)
    assert (ch["sibling_group"] != "").any() and (ch["current_placement"] != "").any()
    if split:
        _set_split(folder)
    # a small candidate limit makes pricing add pairs back on every backend
    _all_agree(folder, candidate_limit=2)


def test_solo_and_exclusion_and_split(tmp_path: Path) -> None:
    """Hand-built: a solo child, an exclusion, a resident, and a group that splits when
    split_siblings allows it (two single beds beat the one dear double)."""
    from optimiser.pipeline.plans import split_penalty

    kids = [{"child_id": "C1", "sibling_group": "G"}, {"child_id": "C2", "sibling_group": "G"},
            {"child_id": "C3", "solo": "true"}, {"child_id": "C4", "current_placement": "P3"}]
    pls = [{"placement_id": "P1", "vacancies": 1},
           {"placement_id": "P2", "vacancies": 2, "weekly_cost": 4000},
           {"placement_id": "P3", "vacancies": 0, "weekly_cost": 300},
           {"placement_id": "P4", "vacancies": 1}]
    excl = [{"child_id": "C3", "placement_id": "P1", "reason": "test"}]
    for split in (False, True):
        folder = write_instance(tmp_path / f"s{split}", kids, pls, exclusions=excl,
                                policy=f"[rules]\nsplit_siblings = {str(split).lower()}\n")
        results = _all_agree(folder)
        inst = load_instance(folder)
        for r in results.values():
            a = r.assignment
            assert (a >= 0).all()
            assert (a[0] != a[1]) == split  # apart only when allowed
            assert (split_penalty(inst, a[inst.units.order[inst.units.start[:-1]]]) > 0) == split


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(min_children=2, max_children=6, max_placements=4).map(
    lambda d: (d.children, d.placements, d.policy)))
def test_random_instances(tmp_path_factory: pytest.TempPathFactory, data) -> None:
    kids, pls, policy = data
    folder = write_instance(tmp_path_factory.mktemp(f"bk{next(_counter)}") / "i", kids, pls,
                            policy=policy)
    _all_agree(folder)


def test_unknown_backend(tmp_path: Path) -> None:
    folder = write_instance(tmp_path / "i", [{"child_id": "C1"}], [{"placement_id": "P1"}])
    with pytest.raises(ValueError, match="unknown backend"):
        solve_and_check(folder, backend="gurobi")


def test_run_backend_for_the_harness(tmp_path: Path) -> None:
    """The harness entry point: every backend answers with the same keys and optimum."""
    from optimiser.research.bench_backends import BENCH_BACKENDS, run_backend

    inst = load_instance(ROOT / "instances" / "tiny")
    rows = {b: run_backend(inst, b, time_limit=20, seed=0, workers=2) for b in BENCH_BACKENDS}
    for b, row in rows.items():
        assert {"status", "objective", "bound", "seconds"} <= set(row), b
    assert rows["mcf"]["status"] == "not_applicable" and rows["mcf"]["why"] == "sibling group"
    solved = {b: r for b, r in rows.items() if b != "mcf"}
    assert all(r["status"] == "optimal" for r in solved.values()), solved
    objs = [r["objective"] for r in solved.values()]
    assert max(objs) - min(objs) <= 0.01 * inst.units.n
    # without groups and solo children the min-cost flow answers, at the same optimum
    folder = tmp_path / "t"
    shutil.copytree(ROOT / "instances" / "tiny", folder)
    ch = pd.read_csv(folder / "children.csv", dtype=str, keep_default_na=False)
    ch["sibling_group"], ch["solo"] = "", "false"
    ch.to_csv(folder / "children.csv", index=False)
    flat = load_instance(folder)
    mcf = run_backend(flat, "mcf", 20, 0, 2)
    cp = run_backend(flat, "cpsat", 20, 0, 2)
    assert mcf["backend_used"] == "min_cost_flow" and cp["backend_used"] == "cpsat"
    assert mcf["status"] == cp["status"] == "optimal"
    assert abs(mcf["objective"] - cp["objective"]) <= 0.01 * flat.units.n
    with pytest.raises(ValueError, match="unknown backend"):
        run_backend(flat, "gurobi", 1, 0, 1)


def test_cli_backend_choice(tmp_path: Path) -> None:
    import json

    from optimiser.cli import main

    out = tmp_path / "o"
    assert main(["solve", str(ROOT / "instances" / "tiny"), "--out", str(out), "-q",
                 "--backend", "cbc", "--time-limit", "20"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pairs"]["backend"] == "cbc"
    assert main(["check", str(ROOT / "instances" / "tiny"), str(out)]) == 0
