"""Filling free beds (pipeline/fill.py): unplaced units put where the plan leaves room.

A fill must keep every capacity, place a unit only on one of its feasible pairs with its
exact objective, never make a plan worse, and leave no unplaced unit that has a feasible
pair at a placement with the beds it needs (a greedy fill is maximal). The same on the
spatial route, where the pairs at placements with room are evaluated directly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from builders import solve_and_check

from optimiser.candidates import Candidates, build_candidates
from optimiser.instance import Instance
from optimiser.params import SolverParams
from optimiser.pipeline.fill import beds_free, fill
from optimiser.pipeline.plans import objective_of
from optimiser.reader import load_instance
from optimiser.research.families import write_family


def _tight(tmp_path: Path, seed: int, authority: str = "North West") -> Instance:
    folder = write_family(tmp_path / f"t{seed}", "tight", children=260, placements=200,
                          seed=seed, shortage=0.3, authority=authority)
    return load_instance(folder)


def _check_plan(inst: Instance, cands: Candidates, best: np.ndarray,
                full: Candidates) -> None:
    """Capacities kept, one pair per unit, each a feasible pair with its own objective."""
    assert (beds_free(inst, cands, best) >= 0).all()
    chosen = best[best >= 0]
    assert len(np.unique(cands.unit[chosen])) == len(chosen)
    assert (cands.unit[chosen] == np.flatnonzero(best >= 0)).all()
    keys = full.unit * inst.n_placements + full.placement
    at = np.searchsorted(keys, cands.unit[chosen] * inst.n_placements
                         + cands.placement[chosen])
    assert (keys[at] == cands.unit[chosen] * inst.n_placements + cands.placement[chosen]).all()
    assert np.allclose(full.objective[at], cands.objective[chosen])
    assert (full.use[at] == cands.use[chosen]).all()


def _room_left(inst: Instance, cands: Candidates, best: np.ndarray,
               full: Candidates) -> int:
    """Unplaced units with a feasible pair that saves money at a placement with room."""
    free = beds_free(inst, cands, best)
    waiting = best < 0
    ok = (waiting[full.unit] & (full.use <= free[full.placement])
          & (full.objective < inst.unit_unplaced[full.unit]))
    return len(np.unique(full.unit[ok]))


@pytest.mark.parametrize("seed", [3, 5])
def test_fill_from_nothing_is_maximal_and_keeps_every_rule(tmp_path: Path, seed: int) -> None:
    inst = _tight(tmp_path, seed)
    full, pool = build_candidates(inst, limit=None)
    assert pool is not None
    few, _ = build_candidates(inst, limit=2)
    empty = np.full(inst.units.n, -1, dtype=np.int64)
    assert _room_left(inst, few, empty, full) > 0
    cands, best, n = fill(inst, few, empty, pool)
    assert n > 0
    _check_plan(inst, cands, best, full)
    assert objective_of(inst, cands, best) < objective_of(inst, few, empty)
    assert _room_left(inst, cands, best, full) == 0
    # the kept pairs are all still there, and the pairs added are feasible ones
    old = set((few.unit * inst.n_placements + few.placement).tolist())
    assert old <= set((cands.unit * inst.n_placements + cands.placement).tolist())


def test_a_plan_with_no_room_left_is_returned_as_given(tmp_path: Path) -> None:
    inst = _tight(tmp_path, 4)
    full, pool = build_candidates(inst, limit=None)
    assert pool is not None
    cands, best, _ = fill(inst, full, np.full(inst.units.n, -1, dtype=np.int64), pool)
    again, best2, n = fill(inst, cands, best, pool)
    assert n == 0 and again is cands and best2 is best


@pytest.mark.parametrize("room_pairs", [30_000_000, 200])
def test_fill_on_the_spatial_route_reaches_every_placement_with_room(
        tmp_path: Path, room_pairs: int) -> None:
    """Evaluated directly (few placements with room), or first by opening the cells with
    room near each unit (many: `room_pairs` small), then directly."""
    inst = _tight(tmp_path, 6, authority="England")
    full, pool = build_candidates(inst, limit=None)
    assert pool is not None
    spatial, none = build_candidates(inst, limit=2, spatial=True)
    assert none is None and spatial.space is not None
    floor = spatial.space.floor_lb.copy()
    empty = np.full(inst.units.n, -1, dtype=np.int64)
    cands, best, n = fill(inst, spatial, empty, None, room_pairs=room_pairs)
    assert n > 0
    _check_plan(inst, cands, best, full)
    assert _room_left(inst, cands, best, full) == 0  # every placement with room was seen
    assert np.array_equal(spatial.space.floor_lb, floor)  # the bound's floor untouched


@pytest.mark.parametrize("backend", ["cpsat", "highs"])
def test_tight_solve_on_the_transport_route_is_checked_and_bounded(
        tmp_path: Path, backend: str) -> None:
    """The transport route with the fill on a short-supply instance: the checker passes,
    the bound is below the proven optimum and the plan not below it."""
    folder = write_family(tmp_path / "t", "tight", children=160, placements=120, seed=9,
                          shortage=0.3)
    optimum, _, _ = solve_and_check(folder, time_limit=60)
    assert optimum.status == "optimal"
    result, _, _ = solve_and_check(folder, time_limit=20, backend=backend,
                                   tuning=SolverParams(transport_pairs=0))
    assert result.stats["lp_method"] == "transport"
    tol = 1e-6 * optimum.objective
    assert result.bound <= optimum.objective + tol
    assert result.objective >= optimum.objective - tol
    assert result.objective <= 1.05 * optimum.objective


def test_moving_single_children_to_room_keeps_every_rule_and_never_worsens(
        tmp_path: Path) -> None:
    """A plan of the greedy on each unit's two cheapest pairs: the spatial fill with the
    single children re-placed by one flow (`moved_to_room`) keeps every rule, leaves no
    room a waiting unit could take, and here is better than the fill alone."""
    from optimiser.pipeline.fill import moved_to_room
    from optimiser.pipeline.plans import greedy

    inst = _tight(tmp_path, 8, authority="England")
    full, pool = build_candidates(inst, limit=None)
    assert pool is not None
    spatial, _ = build_candidates(inst, limit=2, spatial=True)
    assert spatial.space is not None
    start = greedy(inst, spatial)
    cands, best, _ = fill(inst, spatial, start, None)
    _check_plan(inst, cands, best, full)
    assert _room_left(inst, cands, best, full) == 0
    again, plan = moved_to_room(inst, cands, best, spatial.space, None)
    _check_plan(inst, again, plan, full)
    assert _room_left(inst, again, plan, full) == 0
    assert objective_of(inst, again, plan) < objective_of(inst, cands, best)
