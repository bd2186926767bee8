"""The cut proof's shortcuts: fixing against a target gap, and cuts carried from one
solve to the next (a warm start). Each changes the time, never the optimum: every cut
is certified on the instance it is used on, and a target's optimum is proven only when
no pair left out can beat it."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import solve_and_check

from optimiser import load_instance, solve
from optimiser.cutpool import Cuts, carried, carry
from optimiser.params import SolverParams
from optimiser.pipeline.types import SolveOptions

# the cut proof forced on a small authority (fixing keeps more than the search holds)
FORCED = SolverParams(fixing_pairs=0, fixing_factor=0)
OPTS = dict(time_limit=60, workers=1, candidate_limit=3)


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from optimiser.generate import generate

    folder = tmp_path_factory.mktemp("core") / "i"
    generate(folder, children=150, placements=120, seed=1)
    return folder


@pytest.fixture(scope="module")
def plain(authority: Path) -> float:
    res = solve(load_instance(authority), time_limit=60, workers=1)
    assert res.status == "optimal"
    return float(res.objective)


def with_placement(folder: Path, to: Path) -> Path:
    """`folder` with a copy of its first placement appended (three beds)."""
    shutil.copytree(folder, to)
    pl = pd.read_csv(to / "placements.csv", dtype=str, keep_default_na=False)
    row = pl.iloc[[0]].copy()
    row["placement_id"] = "ADDED1"
    row["vacancies"] = "3"
    pd.concat([pl, row], ignore_index=True).to_csv(to / "placements.csv", index=False)
    return to


@pytest.mark.parametrize("target", [1, 400])
def test_fixing_against_a_target_gap_proves_the_optimum(
        authority: Path, plain: float, target: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the incumbent far from the cut bound (the greedy start alone: the LP's
    roundings held back), the cut search fixes against the least gap that keeps
    `target` pairs. Its optimum is proven only where no pair left out can beat it; with
    one pair it cannot be, and fixing is repeated against the plan it found. Either way:
    the plain optimum, proven, checked."""
    from optimiser.pipeline import hints

    monkeypatch.setattr(hints, "roundings", lambda *a, **k: ([], None))
    said: list[str] = []
    res, _, _ = solve_and_check(authority, tuning=replace(FORCED, cut_target_pairs=target),
                                progress=said.append, **OPTS)
    assert any("fixed at a reduced cost of" in s for s in said)
    assert any("is above what it proves" in s for s in said) == (target == 1)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(plain, abs=0.005)
    assert res.bound <= plain + 1e-6


def test_carried_cuts_name_the_same_pairs_after_a_placement_is_appended(
        authority: Path, tmp_path: Path) -> None:
    """Cuts carried by child and placement id land on the same pairs of an instance with a
    placement appended (whose pair keys all change); an entry whose pair is gone is
    dropped, and a row that would name one pair twice is dropped whole."""
    inst = load_instance(authority)
    plus = load_instance(with_placement(authority, tmp_path / "plus"))
    m, m2 = inst.n_placements, plus.n_placements
    units = np.array([0, 1, 2, 3, 4])
    keys = units * m + np.array([5, 6, 7, 8, 9])
    cuts = Cuts(np.array([0, 3, 5]), keys, np.array([1.0, 2.0, 1.0, 1.0, 1.0]),
                np.array([2.0, 1.0]))
    moved = carried(plus, carry(inst, cuts), np.sort(units * m2 + np.array([5, 6, 7, 8, 9])))
    assert np.array_equal(moved.key, units * m2 + np.array([5, 6, 7, 8, 9]))
    assert np.array_equal(moved.start, [0, 3, 5])
    assert np.array_equal(moved.rhs, cuts.rhs)
    # the pair of unit 1 is not feasible there: its entry goes, its row stays
    fewer = carried(plus, carry(inst, cuts), np.sort(np.delete(units, 1) * m2
                                                     + np.array([5, 7, 8, 9])))
    assert np.array_equal(fewer.start, [0, 2, 4])
    assert np.array_equal(fewer.value, [1.0, 1.0, 1.0, 1.0])
    # a row naming the same pair twice is dropped, the other kept
    c = carry(inst, cuts)
    same = np.array([0, 1, 2, 3, 3])  # the second row's two entries: one pair
    twice = replace(c, child=c.child[same], placement=c.placement[same])
    one = carried(plus, twice, np.sort(units * m2 + np.array([5, 6, 7, 8, 9])))
    assert np.array_equal(one.start, [0, 3])
    assert np.array_equal(one.key, units[:3] * m2 + np.array([5, 6, 7]))


def test_a_warm_start_with_carried_cuts_proves_the_new_optimum(
        authority: Path, tmp_path: Path) -> None:
    """The sufficiency pair: a solve, then the instance with a placement appended, started
    from the old optimum and its certified cuts (no root cuts then): the new optimum
    found cold, to the penny, proven, checked."""
    base = solve(load_instance(authority), SolveOptions(tuning=FORCED, **OPTS))  # type: ignore[arg-type]
    assert base.status == "optimal" and base.cuts is not None and len(base.cuts)
    folder = with_placement(authority, tmp_path / "plus")
    cold, _, _ = solve_and_check(folder, tuning=FORCED, **OPTS)
    warm, _, _ = solve_and_check(folder, tuning=FORCED, start=base.assignment,
                                 start_cuts=base.cuts, **OPTS)
    assert warm.stats["cut_proof_carried"] == 1.0
    assert cold.status == warm.status == "optimal"
    assert round(warm.objective, 2) == round(cold.objective, 2)


def test_carried_cuts_are_certified_again_not_trusted(authority: Path, plain: float) -> None:
    """Carried cuts whose right-hand sides claim far too little (zero: no pair of theirs
    may be used) are certified on the instance like any other: the optimum stays the
    plain one, and the bound never passes it."""
    base = solve(load_instance(authority), SolveOptions(tuning=FORCED, **OPTS))  # type: ignore[arg-type]
    assert base.cuts is not None
    lying = replace(base.cuts, rhs=np.zeros(len(base.cuts)))
    res, _, _ = solve_and_check(authority, tuning=FORCED, start=base.assignment,
                                start_cuts=lying, **OPTS)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(plain, abs=0.005)
    assert res.stats["cut_proof_bound"] <= plain + 1e-6


def test_a_warm_start_near_the_lp_bound_skips_the_roundings(authority: Path,
                                                          plain: float) -> None:
    """A warm start at the optimum is within `warm_gap` of the LP bound: no LP rounding
    (flow rounding, dive) can beat it, so none runs; the optimum is the same, proven.
    With `warm_gap` 0 the roundings run as without a start."""
    inst = load_instance(authority)
    base = solve(inst, SolveOptions(**OPTS))  # type: ignore[arg-type]
    for gap, skipped in ((1e-3, True), (0.0, False)):
        said: list[str] = []
        res = solve(inst, SolveOptions(start=base.assignment,
                                       tuning=SolverParams(warm_gap=gap), **OPTS),  # type: ignore[arg-type]
                    progress=said.append)
        assert ("warm start near the LP bound: no roundings" in said) == skipped
        assert res.status == "optimal"
        assert res.objective == pytest.approx(plain, abs=0.005)
