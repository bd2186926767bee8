"""A coalition's cost bracketed fast: the transportation relaxation, its rounding, and a
lower bound over every pair.

Why: the Shapley value needs many coalitions. At regional scale the engine's full solve
of one coalition spends its time limit before its proof, and its bound is then far below
its plan; a fair share computed from such costs cannot be trusted. The placement model's
LP relaxation is a transportation problem (`optimiser.flow`), solved exactly as a
min-cost flow in seconds, so each coalition gets, cheaply:

* an upper bound: an integer plan rounded from the relaxation (`flow.transport_rounding`:
  sibling groups split by the flow are placed whole, the single children re-flowed);
* a lower bound valid over every feasible pair: the relaxation's value when every pair
  is held (a coalition of a few thousand children); at regional scale, the relaxation
  starts from each unit's cheapest pairs and grows by pricing (column generation): with
  its capacity prices pi >= 0, the Lagrangian bound  L(pi) = sum_u min(unplaced_u,
  min_p c_up + use_up pi_p) - sum_p cap_p pi_p  (capacity rows relaxed) is taken over
  every feasible placement (the pairs evaluated once and held compactly, priced by
  array arithmetic), and the pairs that price in are added, until none does (L(pi) then
  equals the relaxation).

The status is "optimal" only where the two meet (to `PROVEN_GAP`); otherwise the gap is
reported, and the shares carry it (`optimiser.pooling.shapley`). Instances with
re-allocation facts (children already placed, pins, `--previous`) are left to the
engine's full solve: the rounding knows nothing of moves.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..candidates import Candidates, unit_block, unit_blocks
from ..flow import Transport, transport_relaxation, transport_rounding
from ..instance import Instance
from ..pipeline.plans import objective_of, unit_placement
from ..pipeline.pricing import best_per_unit
from .split import Split

PROVEN_GAP = 1e-9  # relative: a plan this close to the bound is called optimal
FULL_POOL_PAIRS = 2_000_000  # feasible pairs up to which the relaxation takes them all
START_PAIRS = 150  # else each unit's cheapest pairs to start from,
ADD_PAIRS = 50  # the pairs a unit gains at most per pricing pass,
ROUNDS = 12  # and the passes at most


def applies(inst: Instance) -> bool:
    """The fast bracket is exact in its terms here: nobody placed, pinned or compared with
    a previous plan, no moves to budget (else the engine's solve prices the coalition)."""
    r = inst.reallocation
    pinned = inst.pinned is not None and bool(inst.pinned.any())
    return (not (inst.current >= 0).any() and not pinned and r.previous is None
            and r.max_moves is None)


@dataclass(frozen=True)
class Pairs:
    """Every feasible (unit, placement) pair of an instance, compact, sorted by unit then
    placement: evaluated once, then priced at each set of capacity prices by array
    arithmetic rather than by evaluating the rules again."""

    unit: np.ndarray  # int32
    placement: np.ndarray  # int32
    objective: np.ndarray  # pounds a week for the whole unit there
    use: np.ndarray  # int32: beds used (the whole placement for a solo child)
    starts: np.ndarray  # (units + 1,): each unit's first pair

    def __len__(self) -> int:
        return len(self.unit)


def every_pair(inst: Instance) -> Pairs:
    """The feasible pairs of `inst`, block by block (`candidates.unit_blocks`)."""
    parts = []
    for ub in unit_blocks(inst):
        r, c = np.nonzero(ub.feasible)
        parts.append((ub.units[r].astype(np.int32), ub.cols[c].astype(np.int32),
                      ub.objective[r, c], ub.use[r, c].astype(np.int32)))
    return _sorted(inst, *_joined(parts))


CHUNK_UNITS = 512  # units evaluated together against one authority's placements


class PairCache:
    """The feasible pairs of a whole region, by (the units' authority, the placements'
    owner), each block evaluated at most once in this process and shared by every
    coalition priced here: a pair's feasibility, objective and beds do not depend on the
    coalition when `applies` (nobody placed: a coalition's placements keep their
    capacity), so a coalition's pairs are the union of its members' blocks."""

    def __init__(self, split: Split):
        self.split = split
        units = split.instance.units
        self.unit_owner = split.child_owner[units.order[units.start[:-1]]]
        self.blocks: dict[tuple[int, int], tuple[np.ndarray, ...]] = {}

    def block(self, a: int, b: int) -> tuple[np.ndarray, ...]:
        """Units of player `a` against placements of player `b`, in the region's indices:
        (unit, placement, objective, use)."""
        hit = self.blocks.get((a, b))
        if hit is None:
            inst = self.split.instance
            mine = np.flatnonzero(self.unit_owner == a)
            cols = np.flatnonzero(self.split.placement_owner == b)
            parts = []
            for k in range(0, len(mine), CHUNK_UNITS) if len(cols) else ():
                ub = unit_block(inst, mine[k:k + CHUNK_UNITS], cols)
                r, c = np.nonzero(ub.feasible)
                parts.append((ub.units[r].astype(np.int32), ub.cols[c].astype(np.int32),
                              ub.objective[r, c], ub.use[r, c].astype(np.int32)))
            hit = self.blocks[(a, b)] = _joined(parts)
        return hit

    def pairs(self, mask: int, sub: Instance, kids: np.ndarray, places: np.ndarray) -> Pairs:
        """Every feasible pair of coalition `mask`, whose instance `sub` holds the region's
        children `kids` and placements `places`, in `sub`'s indices."""
        inst = self.split.instance
        members = self.split.members(mask)
        unit, place, obj, use = _joined([self.block(a, b) for a in members for b in members])
        new_c = np.full(inst.n_children, -1, dtype=np.int64)
        new_c[kids] = np.arange(len(kids))
        new_p = np.full(inst.n_placements, -1, dtype=np.int64)
        new_p[places] = np.arange(len(places))
        first = inst.units.order[inst.units.start[:-1]]  # a unit's first child
        sub_unit = sub.units.unit_of[new_c[first[unit]]]
        return _sorted(sub, sub_unit.astype(np.int32), new_p[place].astype(np.int32), obj, use)


_CACHE: list[PairCache] = []  # the region this process prices (one at a time)


def pair_cache(split: Split) -> PairCache:
    """This process's cache for `split` (a new one for a new region)."""
    if not _CACHE or _CACHE[0].split is not split:
        _CACHE[:] = [PairCache(split)]
    return _CACHE[0]


def _joined(parts: Sequence[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    dtypes = (np.int32, np.int32, np.float64, np.int32)
    return tuple(np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, dtype=d)
                 for k, d in enumerate(dtypes))


def _sorted(inst: Instance, unit: np.ndarray, place: np.ndarray, obj: np.ndarray,
            use: np.ndarray) -> Pairs:
    key = unit.astype(np.int64) * max(inst.n_placements, 1) + place
    if len(key) > 1 and not (np.diff(key) > 0).all():
        order = np.argsort(key, kind="stable")
        unit, place, obj, use = unit[order], place[order], obj[order], use[order]
    return Pairs(unit, place, obj, use, np.searchsorted(unit, np.arange(inst.units.n + 1)))


def candidates_of(pairs: Pairs, keep: np.ndarray) -> Candidates:
    """The pairs `keep` (sorted indices) as the engine's `Candidates`."""
    return Candidates(unit=pairs.unit[keep].astype(np.int64),
                      placement=pairs.placement[keep].astype(np.int64),
                      objective=pairs.objective[keep], use=pairs.use[keep].astype(np.int64),
                      n_feasible=np.diff(pairs.starts),
                      limit=None if len(keep) == len(pairs) else START_PAIRS)


def _unit_min(inst: Instance, pairs: Pairs, value: np.ndarray) -> np.ndarray:
    """Per unit, the least of leaving it unplaced and `value` over its pairs."""
    best = inst.unit_unplaced.astype(float).copy()
    first = pairs.starts[:-1]
    some = first < pairs.starts[1:]
    if some.any():
        best[some] = np.minimum(best[some], np.minimum.reduceat(value, first[some]))
    return best


def price(inst: Instance, pairs: Pairs, held: np.ndarray, pi: np.ndarray, per_unit: int
          ) -> tuple[float, np.ndarray]:
    """At capacity prices `pi` >= 0: the Lagrangian bound L(pi) over every pair (module
    doc), and the pairs not `held` (a mask) that price below their unit's best held one,
    up to `per_unit` a unit (none: the relaxation over the held pairs is the relaxation
    over every pair)."""
    red = pairs.objective + pairs.use * pi[pairs.placement]
    bound = float(_unit_min(inst, pairs, red).sum() - (inst.capacity * pi).sum())
    best_held = _unit_min(inst, pairs, np.where(held, red, np.inf))
    tol = 1e-9 * max(float(np.abs(best_held).max(initial=1.0)), 1.0)
    new = np.flatnonzero(~held & (red < best_held[pairs.unit] - tol))
    if len(new):
        new = new[best_per_unit(pairs.unit[new].astype(np.int64), red[new], per_unit)]
    return bound, new


def relaxation(inst: Instance, full_pairs: int = FULL_POOL_PAIRS,
               deadline: float | None = None, pairs: Pairs | None = None
               ) -> tuple[Candidates, Transport, float]:
    """The transportation relaxation over every feasible pair: over all of them when they
    are few, else grown from each unit's cheapest pairs by pricing (`price`) until no pair
    prices in or `ROUNDS` are spent. Returns the pairs used, the relaxation over them and
    a lower bound valid over every pair. `full_pairs`: feasible pairs up to which all are
    used at once. Past `deadline` (a `time.perf_counter()` value), or when another pass
    as long as the last would end past it, pricing stops: the bound is then the best
    Lagrangian bound met, weaker until the prices settle. `pairs`: every feasible pair
    of `inst` when known (`PairCache`)."""
    pairs = every_pair(inst) if pairs is None else pairs
    if len(pairs) <= full_pairs:
        cands = candidates_of(pairs, np.arange(len(pairs)))
        tr = transport_relaxation(inst, cands)
        # the flow prices each bed to the penny: its value may exceed the LP's by half a
        # penny a bed, taken off so that the bound stays a bound
        return cands, tr, tr.value - 0.005 * float(inst.units.size.sum())
    held = np.zeros(len(pairs), dtype=bool)
    held[best_per_unit(pairs.unit.astype(np.int64), pairs.objective, START_PAIRS)] = True
    lower = -np.inf
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        cands = candidates_of(pairs, np.flatnonzero(held))
        tr = transport_relaxation(inst, cands)
        bound, new = price(inst, pairs, held, np.maximum(tr.pi, 0.0), ADD_PAIRS)
        lower = max(lower, bound)
        if not len(new):
            break
        held[new] = True
        now = time.perf_counter()
        if deadline is not None and now + (now - t0) > deadline:
            cands = candidates_of(pairs, np.flatnonzero(held))  # the plan from every
            tr = transport_relaxation(inst, cands)  # pair found
            break
    return cands, tr, lower


def bracket(inst: Instance, full_pairs: int = FULL_POOL_PAIRS,
            time_limit: float | None = None, pairs: Pairs | None = None
            ) -> tuple[np.ndarray, float, float, float]:
    """(plan per child, its objective, a lower bound, seconds) for `inst` (module doc);
    `time_limit` (seconds) stops the pricing, not the first relaxation nor the rounding."""
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + time_limit
    cands, tr, lower = relaxation(inst, full_pairs, deadline, pairs)
    chosen = transport_rounding(inst, cands, tr.x, tr.pi)
    upper = objective_of(inst, cands, chosen)
    per_unit = unit_placement(cands, chosen)
    plan = per_unit[inst.units.unit_of]
    return plan.astype(np.int64), float(upper), float(min(lower, upper)), \
        time.perf_counter() - t0
