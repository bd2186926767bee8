"""A warm start (`SolveOptions.start`) changes a solve's time, never its optimum; one the
model does not admit is ignored."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimiser.candidates import build_candidates
from optimiser.instance import Instance
from optimiser.pipeline.warm import pair_index, start_units, with_start_pairs
from optimiser.reader import load_instance
from optimiser.solver import Result, SolveOptions, solve

DEMO = Path(__file__).resolve().parents[1] / "instances" / "demo"
# the general route (HiGHS's dive, where the start is offered), not the flow's fast path
OPTS = dict(time_limit=60.0, backend="highs", fast_path=False, workers=1)


def run(inst: Instance, start: np.ndarray | None = None) -> tuple[Result, list[str]]:
    said: list[str] = []
    res = solve(inst, SolveOptions(start=start, **OPTS), progress=said.append)  # type: ignore[arg-type]
    return res, said


def warm_said(said: list[str]) -> list[str]:
    return [s for s in said if s.startswith("warm start £")]


@pytest.fixture(scope="module")
def demo() -> tuple[Instance, Result]:
    inst = load_instance(DEMO)
    res, said = run(inst)
    assert res.status == "optimal" and not warm_said(said)
    return inst, res


def test_a_start_at_the_optimum_gives_the_same_optimum(demo: tuple[Instance, Result]) -> None:
    inst, base = demo
    res, said = run(inst, base.assignment)
    assert warm_said(said) == [f"warm start £{base.objective:,.2f}/week"]
    assert res.status == "optimal"
    assert round(res.objective, 2) == round(base.objective, 2)


def test_a_start_the_model_does_not_admit_is_ignored(demo: tuple[Instance, Result]) -> None:
    inst, base = demo
    n, m = inst.n_children, inst.n_placements
    over = np.zeros(n, dtype=np.int64)  # every child in one placement: far over its beds
    group = np.flatnonzero(inst.units.size[inst.units.unit_of] > 1)
    assert len(group), "the demo has sibling groups"
    apart = base.assignment.copy()
    apart[group[0]] = -1 if apart[group[0]] >= 0 else 0  # one sibling away from the rest
    for start in (over, apart, np.full(n, m), np.zeros(n - 1, dtype=np.int64),
                  np.full(n, 0.5)):
        res, said = run(inst, start)
        assert not warm_said(said)
        assert res.status == "optimal"
        assert round(res.objective, 2) == round(base.objective, 2)


def test_a_placement_added_starts_from_the_old_optimum(tmp_path: Path,
                                                       demo: tuple[Instance, Result]) -> None:
    """The pair sufficiency solves: the instance, then with one placement appended. The
    old optimum is a plan of the new instance at the same cost, so the start is taken;
    the new optimum is the one found without it, to the penny."""
    inst, base = demo
    folder = tmp_path / "plus"
    shutil.copytree(DEMO, folder)
    pl = pd.read_csv(folder / "placements.csv", dtype=str, keep_default_na=False)
    used = np.bincount(base.assignment[base.assignment >= 0], minlength=inst.n_placements)
    full = int(np.flatnonzero(used >= inst.capacity)[0])  # a placement whose beds all matter
    row = pl.iloc[[full]].copy()
    row["placement_id"] = "ADDED1"
    row["vacancies"] = "2"
    pd.concat([pl, row], ignore_index=True).to_csv(folder / "placements.csv", index=False)
    plus = load_instance(folder)
    assert plus.n_placements == inst.n_placements + 1
    cold, _ = run(plus)
    warm, said = run(plus, base.assignment)
    assert warm_said(said) == [f"warm start £{base.objective:,.2f}/week"]
    assert cold.status == warm.status == "optimal"
    assert round(warm.objective, 2) == round(cold.objective, 2)
    assert warm.objective <= base.objective + 1e-6


def test_the_start_pairs_join_the_kept_ones(demo: tuple[Instance, Result]) -> None:
    """The pairs an optimum uses that a candidate pass keeping each unit's two cheapest
    lacks are added from the pool, the kept pairs stay sorted and none is lost."""
    inst, base = demo
    cands, pool = build_candidates(inst, limit=2)
    assert pool is not None
    place = start_units(inst, base.assignment)
    assert place is not None
    placed = np.flatnonzero(place >= 0)
    m = inst.n_placements
    lacking = (pair_index(cands.unit, cands.placement, m, placed, place[placed]) < 0).sum()
    assert lacking > 0
    more = with_start_pairs(inst, cands, pool, base.assignment)
    assert len(more) == len(cands) + lacking
    assert (pair_index(more.unit, more.placement, m, placed, place[placed]) >= 0).all()
    key = more.unit * m + more.placement
    assert (np.diff(key) > 0).all()
    assert with_start_pairs(inst, cands, pool, np.zeros(3, dtype=np.int64)) is cands
