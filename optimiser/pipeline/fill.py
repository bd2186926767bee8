"""Filling the beds a plan leaves free: unplaced units placed where there is room.

On short supply at regional and national scale the flow rounding works on each unit's
few best pairs by reduced cost, and those are the contested beds near home: the plan
leaves children unplaced while beds further away, which no kept pair reaches, stay
empty. Here every unplaced unit looks at the pairs of the whole pool (on the spatial
route, every pair of the unplaced units with the placements that have room, evaluated
directly: few placements have room) whose placement still has the beds it needs, and
the units are placed greedily, largest saving per bed first. Each placement is a
pair of the model with its exact objective and the capacity rows kept, so the plan stays
admissible on a route with no other rows (`colgen.flow_roundable`); it is kept only when
its objective (split penalty included) is lower.
"""

from __future__ import annotations

import time

import numpy as np

from ..candidates import Candidates, PairPool
from ..flow import reflow_singles
from ..forked import TooLate, call_by, can_fork
from ..instance import Instance
from ..spatial import SpatialPool
from .plans import objective_of
from .pricing import best_per_unit

FILL_PER_UNIT = 8  # pairs per unplaced unit a fill pass looks at (re-chosen each pass)
FILL_PASSES = 4  # passes: a unit whose pairs were all taken looks again at what is left
ROOM_ELEMENTS = 3_000_000  # unit x placement pairs evaluated at once at the beds left
# unit x placement pairs at the beds left evaluated directly at most (beyond, while room
# is plentiful, the spatial search towards the cells with room does it for less)
ROOM_PAIRS = 30_000_000
# single child x placement pairs at the beds left evaluated at most for their moves
MOVE_PAIRS = 150_000_000
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
    spatial bound (a full placement priced out of the cell's floor by fit). The pool's
    floor under the column-generation prices is put back: it is what the bound reads.
    Returns how many blocks were evaluated."""
    floor_lb = space.floor_lb.copy()
    pi = np.where(free > 0, 0.0, FULL)
    threshold = np.where(waiting, inst.unit_unplaced.astype(float), -np.inf)
    n = space.grow(pi, threshold, max_cells=cells, deadline=deadline, only=waiting)
    space.floor_lb = floor_lb
    return n


def grown_fill(inst: Instance, space: SpatialPool, free: np.ndarray, placed: np.ndarray,
               deadline: float | None, room_pairs: int = ROOM_PAIRS
               ) -> list[tuple[np.ndarray, ...]]:
    """Rounds of opening, for each waiting unit, the cells with room nearest by the
    spatial bound (twice as many a round) and filling, until no cell is left to open,
    the direct pass would be small enough (`room_pairs`) or `deadline` passes: the pairs
    taken (`free` and `placed` updated)."""
    parts: list[tuple[np.ndarray, ...]] = []
    cells = FILL_CELLS
    while deadline is None or time.perf_counter() < deadline:
        waiting = ~placed & (inst.unit_unplaced > 0)
        if int(waiting.sum()) * int((free > 0).sum()) <= room_pairs:
            break
        if not grow_towards_room(inst, space, waiting, free, cells, deadline):
            # every cell with room a waiting unit fits is evaluated: passes until none
            # places anyone leave no waiting unit with a pair at a placement with room
            while more := fill_passes(inst, space, free, placed):
                parts += more
            break
        parts += fill_passes(inst, space, free, placed)
        cells *= 2
    return parts


def pairs_at_room(inst: Instance, space: SpatialPool, waiting: np.ndarray,
                  free: np.ndarray, deadline: float | None) -> tuple[np.ndarray, ...]:
    """Every feasible pair of the waiting units with the placements that have room, each
    with the beds its unit needs there and an objective below leaving it unplaced,
    evaluated directly (not by cells: the placements with room are few, and a cell with
    room may have none its units fit). Past `deadline` the units not reached are left
    out. Returns (unit, placement, objective, use)."""
    cols = np.flatnonzero(free > 0)
    todo = np.flatnonzero(waiting)
    z = np.zeros(0, dtype=np.int64)
    parts: list[tuple[np.ndarray, ...]] = [(z, z, np.zeros(0), z)]
    if not len(cols):
        return parts[0]
    sizes = inst.units.size
    step = max(1, ROOM_ELEMENTS // len(cols))
    i = 0
    while i < len(todo):
        if deadline is not None and time.perf_counter() > deadline:
            break
        # about `step` children a block (sibling groups are evaluated member by member)
        j = i + max(1, int(np.searchsorted(np.cumsum(sizes[todo[i:i + step]]), step)))
        ub = space.evaluator(inst, todo[i:j], cols)
        ok = (ub.feasible & (ub.use <= free[cols][None, :])
              & (ub.objective < inst.unit_unplaced[ub.units][:, None]))
        r, c = np.nonzero(ok)
        parts.append((ub.units[r].astype(np.int64), ub.cols[c].astype(np.int64),
                      ub.objective[r, c], ub.use[r, c].astype(np.int64)))
        i = j
    u, p, o, a = (np.concatenate(x) for x in zip(*parts, strict=True))
    return u, p, o, a


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
         deadline: float | None = None, room_pairs: int = ROOM_PAIRS
         ) -> tuple[Candidates, np.ndarray, int]:
    """The plan `best` (indices into `cands`) with unplaced units put in free beds.
    On the spatial route, after the evaluated pairs, the cells with room near each
    waiting unit while room is plentiful (`grown_fill`), then every pair of the units
    still waiting with the placements that still have room (`pairs_at_room`, until
    `deadline`, a time.perf_counter() value), taken greedily in one pass: maximal over
    every pair; then `moved_to_room`. Returns the candidates with the pairs used added, the plan on
    them, and how many more units are placed (0: `cands` and `best` as given)."""
    source: PairPool | SpatialPool | None = pool if pool is not None else cands.space
    if source is None or not len(cands):
        return cands, best, 0
    free = beds_free(inst, cands, best)
    placed = best >= 0
    parts = fill_passes(inst, source, free, placed)
    space = cands.space if pool is None else None
    if space is not None:
        parts += grown_fill(inst, space, free, placed, deadline, room_pairs)
        parts += room_fill(inst, space, free, placed, deadline, room_pairs)
    out, moved = cands, best
    if parts:
        u, p, o, a = (np.concatenate(x) for x in zip(*parts, strict=True))
        out, moved, at = with_pairs(cands, best, inst.n_placements, u, p, o, a)
        moved[u] = at
    if space is not None and (deadline is None or time.perf_counter() < deadline):
        out, moved = moved_to_room(inst, out, moved, space, deadline, room_pairs)
    if out is cands or objective_of(inst, out, moved) >= objective_of(inst, cands, best):
        return cands, best, 0
    return out, moved, int((moved >= 0).sum() - (best >= 0).sum())


def room_fill(inst: Instance, space: SpatialPool, free: np.ndarray, placed: np.ndarray,
              deadline: float | None, room_pairs: int = ROOM_PAIRS
              ) -> list[tuple[np.ndarray, ...]]:
    """The waiting units placed greedily on their pairs at the placements with room
    (`free` and `placed` updated): the pairs taken, as one part (none when there are
    more than `room_pairs` to evaluate)."""
    waiting = ~placed & (inst.unit_unplaced > 0)
    if int(waiting.sum()) * int((free > 0).sum()) > room_pairs:
        return []
    u, p, o, a = pairs_at_room(inst, space, waiting, free, deadline)
    taken = greedy_fill(inst, free, u, p, o, a, placed)
    return [(u[taken], p[taken], o[taken], a[taken])] if len(taken) else []


def moved_to_room(inst: Instance, cands: Candidates, best: np.ndarray, space: SpatialPool,
                  deadline: float | None, room_pairs: int = ROOM_PAIRS
                  ) -> tuple[Candidates, np.ndarray]:
    """A placed single child may move to a bed no waiting unit can take and give its own
    to one that can: the pairs of every single child at the placements with room join
    the candidates (at most `MOVE_PAIRS` evaluated), the single children are re-placed
    by one exact flow with the groups where they are (`flow.reflow_singles`), and the
    waiting units fill the room that leaves (as in `fill`). Returns the candidates and
    the plan (as given when nothing is better, or when the flow has not answered by
    `deadline`)."""
    free = beds_free(inst, cands, best)
    units = inst.units
    single = (units.size == 1) & ~units.solo & (inst.unit_unplaced > 0)
    if int(single.sum()) * int((free > 0).sum()) > max(room_pairs, MOVE_PAIRS):
        return cands, best
    u, p, o, a = pairs_at_room(inst, space, single, free, deadline)
    if not len(u):
        return cands, best
    wider, plan, _ = with_pairs(cands, best, inst.n_placements, u, p, o, a)
    try:  # one flow, which nothing could stop in this process: by the deadline or not
        plan = (reflow_singles(inst, wider, plan) if deadline is None or not can_fork()
                else call_by(deadline, reflow_singles, inst, wider, plan))
    except TooLate:
        return cands, best
    free = beds_free(inst, wider, plan)
    placed = plan >= 0
    parts = grown_fill(inst, space, free, placed, deadline, room_pairs)
    parts += room_fill(inst, space, free, placed, deadline, room_pairs)
    if parts:
        u, p, o, a = (np.concatenate(x) for x in zip(*parts, strict=True))
        wider, plan, at = with_pairs(wider, plan, inst.n_placements, u, p, o, a)
        plan[u] = at
    if objective_of(inst, wider, plan) >= objective_of(inst, cands, best):
        return cands, best
    return wider, plan
