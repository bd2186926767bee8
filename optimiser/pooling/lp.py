"""A coalition's transportation relaxation over the region's pairs, held once, seeded so
that every bed has candidates, and warm-started from a smaller coalition's pairs.

Why: every feasible pair of a 20,000-child region (tens of millions) is evaluated once
per process (`quick.PairCache`) and kept in one array sorted by unit, with each pair's
unit owner and placement owner. The pairs of a coalition S are then a mask (both owners
in S), already in order; nothing is concatenated or sorted again per coalition.

Column generation needs a good first set of pairs. Each unit's cheapest pairs alone are
not one: every unit's cheapest are the same few cheap beds, the first relaxation leaves
most children unplaced and prices those beds far too high, and the Lagrangian bound is
then negative. So the seed is, per block (one authority's units against one owner's
placements, which do not depend on the coalition), each unit's `UNIT_SEED` cheapest and
each placement's `PLACE_SEED` cheapest units: every bed of S starts with candidates.
The pairs a coalition held at the end (its prices settled) also seed any coalition that
contains it (`lp(..., warm=...)`): the chain of an order's prefixes.

The relaxation is solved as a min-cost flow (`flow.transport_relaxation`) in the
region's indices, restricted to S's units and beds; its Lagrangian bound is evaluated
over every pair of S (`quick.price`'s formula), so it is a lower bound of c(S) however
early pricing stops. The rounding (`flow.transport_rounding`) runs on S's own instance.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..candidates import Candidates
from ..flow import Transport, transport_relaxation, transport_rounding
from ..instance import Instance
from ..pipeline.plans import objective_of, unit_placement
from ..pipeline.pricing import best_per_unit
from . import quick
from .split import Split, coalition_instance

UNIT_SEED = 8  # per block: each unit's cheapest pairs in the seed,
PLACE_SEED = 8  # and each placement's cheapest units
ADD_PAIRS = 40  # the pairs a unit gains at most per pricing pass
ROUNDS = 20  # pricing passes at most
KEEP_PAIRS = 10  # held pairs a unit keeps from one pass to the next (besides those used)
LP_GAP = 1e-4  # relative: the relaxation counts as solved when its bound is this close


@dataclass(frozen=True)
class RegionPairs:
    """Every feasible pair of a region, sorted by unit then placement, in the region's
    indices, with the owners of its unit and placement and whether it seeds."""

    unit: np.ndarray  # int32
    placement: np.ndarray  # int32
    objective: np.ndarray  # float64, pounds a week for the whole unit
    use: np.ndarray  # int32
    unit_owner: np.ndarray  # int8: the player owning the pair's unit
    place_owner: np.ndarray  # int8: the player owning the pair's placement
    seed: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.unit)

    def of(self, split: Split, mask: int) -> np.ndarray:
        """Indices of coalition `mask`'s pairs (sorted)."""
        member = np.array([bool(mask >> i & 1) for i in range(split.n_players)])
        return np.flatnonzero(member[self.unit_owner] & member[self.place_owner])


def region_pairs(split: Split) -> RegionPairs:
    """Every feasible pair of `split`'s region, block by block (`quick.PairCache`), each
    block's seed marked (module doc); the blocks are freed as they are joined."""
    cache = quick.pair_cache(split)
    n = split.n_players
    parts = []
    for a in range(n):
        for b in range(n):
            unit, place, obj, use = cache.block(a, b)
            seed = np.zeros(len(unit), dtype=bool)
            if len(unit):
                seed[best_per_unit(unit.astype(np.int64), obj, UNIT_SEED)] = True
                by_p = np.argsort(place, kind="stable")
                seed[by_p[best_per_unit(place[by_p].astype(np.int64), obj[by_p],
                                        PLACE_SEED)]] = True
            parts.append((unit, place, obj, use, np.full(len(unit), a, dtype=np.int8),
                          np.full(len(unit), b, dtype=np.int8), seed))
            cache.blocks.pop((a, b), None)
    cols = [np.concatenate([p[k] for p in parts]) for k in range(7)]
    del parts
    key = cols[0].astype(np.int64) * max(split.instance.n_placements, 1) + cols[1]
    order = np.argsort(key, kind="stable")  # merges the sorted blocks' runs
    del key
    return RegionPairs(*(c[order] for c in cols))


_STORE: list[tuple[Split, RegionPairs]] = []  # the region this process prices


def store(split: Split) -> RegionPairs:
    """This process's pairs of `split`'s region (built on first use)."""
    if not _STORE or _STORE[0][0] is not split:
        _STORE.clear()
        _STORE.append((split, region_pairs(split)))
    return _STORE[0][1]


@dataclass(frozen=True)
class Relaxed:
    """A coalition's relaxation: the pairs held (indices into `RegionPairs`), the flow
    over them, a lower bound over every pair of the coalition, and pricing passes."""

    held: np.ndarray
    transport: Transport
    ever: np.ndarray  # every pair held at some pass (indices into `RegionPairs`): the
    # rounding's candidates, which need more than the last flow's
    lower: float
    rounds: int
    converged: bool


def _scope(split: Split, mask: int) -> tuple[np.ndarray, np.ndarray]:
    inst = split.instance
    member = np.array([bool(mask >> i & 1) for i in range(split.n_players)])
    units = inst.units
    active = member[split.child_owner[units.order[units.start[:-1]]]]
    cap = np.where(member[split.placement_owner], inst.capacity, 0).astype(np.int64)
    return active, cap


def relax(split: Split, mask: int, warm: np.ndarray | None = None,
          deadline: float | None = None) -> Relaxed:
    """The transportation relaxation of coalition `mask` by column generation from the
    seed (and `warm`: pairs a sub-coalition held), until no pair prices in, `ROUNDS`
    passes, or `deadline` (a `time.perf_counter()` value) would be passed."""
    rp = store(split)
    inst = split.instance
    active, cap = _scope(split, mask)
    sel = rp.of(split, mask)
    held = rp.seed[sel]
    if warm is not None and len(warm):  # those of its pairs a sub-coalition held
        pos = np.minimum(np.searchsorted(sel, warm), max(len(sel) - 1, 0))
        if len(sel):
            held[pos[sel[pos] == warm]] = True
    unit, place = rp.unit[sel], rp.placement[sel]
    obj, use = rp.objective[sel], rp.use[sel]
    pen = np.where(active, inst.unit_unplaced, 0.0)
    starts = np.searchsorted(unit, np.arange(inst.units.n + 1))
    lower, rounds, converged = -np.inf, 0, False
    ever = held.copy()
    while True:
        t0 = time.perf_counter()
        keep = np.flatnonzero(held)
        cands = Candidates(unit=unit[keep].astype(np.int64),
                           placement=place[keep].astype(np.int64), objective=obj[keep],
                           use=use[keep].astype(np.int64), n_feasible=np.diff(starts),
                           limit=None)
        tr = transport_relaxation(inst, cands, capacity=cap, active=active)
        rounds += 1
        pi = np.where(cap > 0, np.maximum(tr.pi, 0.0), 0.0)
        red = obj + use * pi[place]
        bound, new = _price(unit, red, starts, pen, cap, held, pi)
        lower = max(lower, bound)
        if not len(new) or tr.value - lower <= LP_GAP * max(abs(tr.value), 1.0):
            converged = True
            break
        now = time.perf_counter()
        if rounds >= ROUNDS or (deadline is not None and now + (now - t0) > deadline):
            break
        # the next flow holds the pairs used, each unit's `KEEP_PAIRS` best held by
        # reduced cost and the new ones: a few times fewer arcs than all held so far
        kept = keep[best_per_unit(unit[keep].astype(np.int64), red[keep], KEEP_PAIRS)]
        held[:] = False
        held[keep[tr.x > 1e-9]] = True
        held[kept] = True
        held[new] = True
        ever[new] = True
    return Relaxed(sel[keep].astype(np.int32), tr, sel[ever].astype(np.int32), lower,
                   rounds, converged)


def _price(unit: np.ndarray, red: np.ndarray, starts: np.ndarray, pen: np.ndarray,
           cap: np.ndarray, held: np.ndarray, pi: np.ndarray) -> tuple[float, np.ndarray]:
    """The Lagrangian bound at prices `pi` (`red`: the pairs' reduced costs there) over
    the coalition's pairs, and the pairs not held that price below their unit's best
    held one (up to `ADD_PAIRS` a unit)."""
    some = starts[:-1] < starts[1:]
    first = starts[:-1][some]
    best = pen.copy()
    best[some] = np.minimum(best[some], np.minimum.reduceat(red, first))
    bound = float(best.sum() - (cap * pi).sum())
    keep = np.flatnonzero(held)  # held pairs are few: their minima from them alone
    hu = unit[keep]
    runs = np.flatnonzero(np.diff(hu, prepend=-1)) if len(keep) else keep
    best_held = pen.copy()
    if len(keep):
        best_held[hu[runs]] = np.minimum(best_held[hu[runs]],
                                         np.minimum.reduceat(red[keep], runs))
    tol = 1e-9 * max(float(np.abs(best_held).max(initial=1.0)), 1.0)
    new = np.flatnonzero(~held & (red < best_held[unit] - tol))
    if len(new):
        new = new[best_per_unit(unit[new].astype(np.int64), red[new], ADD_PAIRS)]
    return bound, new


@dataclass(frozen=True)
class Priced:
    """A coalition priced: its rounded plan (per child of the region in S: placement or
    -1, in S's children's order), the plan's objective, the lower bound, the pairs held."""

    mask: int
    plan: np.ndarray
    upper: float
    lower: float
    held: np.ndarray
    rounds: int
    converged: bool
    seconds: float


def price_coalition(split: Split, mask: int, warm: np.ndarray | None = None,
                    deadline: float | None = None) -> Priced:
    """Relax coalition `mask` (`relax`) and round the relaxation on its own instance."""
    t0 = time.perf_counter()
    rel = relax(split, mask, warm, deadline)
    sub, kids, places = coalition_instance(split, mask)
    plan, upper = _round(split, sub, kids, places, rel)
    lower = float(min(rel.lower, upper))
    return Priced(mask, plan, upper, lower, rel.held, rel.rounds, rel.converged,
                  time.perf_counter() - t0)


def _round(split: Split, sub: Instance, kids: np.ndarray, places: np.ndarray,
           rel: Relaxed) -> tuple[np.ndarray, float]:
    """The rounded plan of the relaxation on the coalition's instance `sub` (region
    indices mapped to `sub`'s, whose order they keep: units and placements of a
    coalition are numbered in the region's order)."""
    inst = split.instance
    rp = store(split)
    new_c = np.full(inst.n_children, -1, dtype=np.int64)
    new_c[kids] = np.arange(len(kids))
    new_p = np.full(inst.n_placements, -1, dtype=np.int64)
    new_p[places] = np.arange(len(places))
    first = inst.units.order[inst.units.start[:-1]]
    # the rounding's candidates: every pair held at some pass (on the region, half the
    # gap of each unit's best 40 by reduced cost, for half as long again)
    h = rel.ever
    x = np.zeros(len(h))
    x[np.searchsorted(h, rel.held)] = rel.transport.x
    u = sub.units.unit_of[new_c[first[rp.unit[h]]]]
    p = new_p[rp.placement[h]]
    cands = Candidates(unit=u.astype(np.int64), placement=p.astype(np.int64),
                       objective=rp.objective[h], use=rp.use[h].astype(np.int64),
                       n_feasible=np.bincount(u, minlength=sub.units.n), limit=None)
    chosen = transport_rounding(sub, cands, x, rel.transport.pi[places])
    upper = objective_of(sub, cands, chosen)
    plan = unit_placement(cands, chosen)[sub.units.unit_of]
    out = np.where(plan >= 0, places[np.maximum(plan, 0)], -1).astype(np.int64)
    return out, float(upper)
