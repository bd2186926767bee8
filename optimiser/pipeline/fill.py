"""Filling the beds a plan leaves free: unplaced units placed where there is room.

On short supply at regional and national scale the flow rounding works on each unit's
few best pairs by reduced cost, and those are the contested beds near home: the plan
leaves children unplaced while beds further away, which no kept pair reaches, stay
empty. Here every unplaced unit looks at the pairs of the whole pool (or of the spatial
search, grown towards the cells with room) whose placement still has the beds it needs,
and the units are placed greedily, largest saving per bed first. Each placement is a
pair of the model with its exact objective and the capacity rows kept, so the plan stays
admissible on a route with no other rows (`colgen.flow_roundable`); it is kept only when
its objective (split penalty included) is lower.
"""

from __future__ import annotations

import time

import numpy as np

from ..candidates import Candidates, PairPool
from ..instance import Instance
from ..spatial import SpatialPool
from .plans import objective_of
from .pricing import best_per_unit

FILL_PER_UNIT = 8  # pairs per unplaced unit a fill pass looks at (re-chosen each pass)
FILL_PASSES = 4  # passes: a unit whose pairs were all taken looks again at what is left
FILL_CELLS = 4  # cells with room a unit's spatial search may open (lowest bound first)
FULL = 1e12  # the price of a full placement in the search for cells with room


def beds_free(inst: Instance, cands: Candidates, best: np.ndarray) -> np.ndarray:
    """Per placement, the beds the plan leaves (capacity less the use of its pairs)."""
    chosen = best[best >= 0]
    used = np.bincount(cands.placement[chosen], weights=cands.use[chosen],
                       minlength=inst.n_placements)
    return inst.capacity - used.astype(np.int64)


def pairs_with_room(inst: Instance, source: PairPool | SpatialPool, waiting: np.ndarray,
                    free: np.ndarray, per_unit: int) -> tuple[np.ndarray, ...]:
    """The `per_unit` cheapest pairs of each waiting unit at a placement with the beds
    it needs and an objective below leaving it unplaced: (unit, placement, obj, use)."""
    u, p = source.unit, source.placement
    sel = np.flatnonzero(waiting[u])
    sel = sel[source.use[sel] <= free[p[sel]]]
    uu = u[sel].astype(np.int64)
    sel = sel[source.objective[sel] < inst.unit_unplaced[uu]]
    uu = u[sel].astype(np.int64)
    pick = sel[best_per_unit(uu, source.objective[sel], per_unit)]
    return (u[pick].astype(np.int64), p[pick].astype(np.int64), source.objective[pick],
            source.use[pick].astype(np.int64))


def greedy_fill(inst: Instance, free: np.ndarray, u: np.ndarray, p: np.ndarray,
                o: np.ndarray, a: np.ndarray, placed: np.ndarray) -> np.ndarray:
    """Indices of the pairs taken, largest saving per bed first, each unit at most once
    (`placed` marks the units already placed, and is updated), beds kept (`free`)."""
    saving = (inst.unit_unplaced[u] - o) / np.maximum(a, 1)
    taken: list[int] = []
    for i in np.argsort(-saving, kind="stable").tolist():
        unit, place, need = int(u[i]), int(p[i]), int(a[i])
        if placed[unit] or free[place] < need:
            continue
        placed[unit] = True
        free[place] -= need
        taken.append(i)
    return np.asarray(taken, dtype=np.int64)


def grow_towards_room(inst: Instance, space: SpatialPool, waiting: np.ndarray,
                      free: np.ndarray, cells: int, deadline: float | None) -> int:
    """Evaluate, for each waiting unit, the `cells` cells with room nearest by the
    spatial bound (a full placement priced out of the cell's floor). The pool's floor
    under the column-generation prices is put back: it is what the bound reads. Returns
    how many blocks were evaluated."""
    floor_lb = space.floor_lb.copy()
    pi = np.where(free > 0, 0.0, FULL)
    threshold = np.where(waiting, inst.unit_unplaced.astype(float), -np.inf)
    n = space.grow(pi, threshold, max_cells=cells, deadline=deadline, only=waiting)
    space.floor_lb = floor_lb
    return n


def with_pairs(cands: Candidates, best: np.ndarray, n_placements: int, u: np.ndarray,
               p: np.ndarray, o: np.ndarray, a: np.ndarray
               ) -> tuple[Candidates, np.ndarray, np.ndarray]:
    """`cands` with the pairs (u, p) added where new, the plan `best` re-indexed, and
    the index of each given pair in the result."""
    key_old = cands.unit * n_placements + cands.placement
    key_new = u * n_placements + p
    new = ~np.isin(key_new, key_old)
    unit = np.concatenate([cands.unit, u[new]])
    place = np.concatenate([cands.placement, p[new]])
    order = np.lexsort((place, unit))
    keys = (unit * n_placements + place)[order]
    stats = dict(cands.stats)
    stats["pairs_kept"] = float(len(order))
    out = Candidates(unit[order], place[order],
                     np.concatenate([cands.objective, o[new]])[order],
                     np.concatenate([cands.use, a[new]])[order], cands.n_feasible,
                     cands.limit, stats, cands.space)
    where = np.searchsorted(keys, key_old)
    moved = np.where(best >= 0, where[np.maximum(best, 0)], -1).astype(np.int64)
    return out, moved, np.searchsorted(keys, key_new)


def fill_passes(inst: Instance, source: PairPool | SpatialPool, free: np.ndarray,
                placed: np.ndarray) -> list[tuple[np.ndarray, ...]]:
    """Greedy passes over the pairs with room of `source` until one places nothing:
    the pairs taken (`free` and `placed` updated)."""
    parts: list[tuple[np.ndarray, ...]] = []
    for _ in range(FILL_PASSES):
        u, p, o, a = pairs_with_room(inst, source, ~placed, free, FILL_PER_UNIT)
        if not len(u):
            break
        taken = greedy_fill(inst, free, u, p, o, a, placed)
        if not len(taken):
            break
        parts.append((u[taken], p[taken], o[taken], a[taken]))
    return parts


def fill(inst: Instance, cands: Candidates, best: np.ndarray, pool: PairPool | None,
         deadline: float | None = None) -> tuple[Candidates, np.ndarray, int]:
    """The plan `best` (indices into `cands`) with unplaced units put in free beds.
    On the spatial route, rounds of opening cells with room (twice as many a round) and
    filling, until a round places nobody or `deadline` (time.perf_counter()) passes.
    Returns the candidates with the pairs used added, the plan on them, and how many
    units were placed (0: `cands` and `best` as given)."""
    source: PairPool | SpatialPool | None = pool if pool is not None else cands.space
    if source is None or not len(cands):
        return cands, best, 0
    free = beds_free(inst, cands, best)
    placed = best >= 0
    parts = fill_passes(inst, source, free, placed)
    space = cands.space if pool is None else None
    cells = FILL_CELLS
    while space is not None and (deadline is None or time.perf_counter() < deadline):
        waiting = ~placed & (inst.unit_unplaced > 0)
        if not waiting.any() or not grow_towards_room(inst, space, waiting, free, cells,
                                                      deadline):
            break
        more = fill_passes(inst, space, free, placed)
        if not more:
            break
        parts += more
        cells *= 2
    if not parts:
        return cands, best, 0
    u, p, o, a = (np.concatenate(x) for x in zip(*parts, strict=True))
    out, moved, at = with_pairs(cands, best, inst.n_placements, u, p, o, a)
    moved[u] = at
    if objective_of(inst, out, moved) >= objective_of(inst, cands, best):
        return cands, best, 0
    return out, moved, len(u)
