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
  every feasible placement, block by block, without holding the pairs, and the pairs
  that price in are added, until none does (L(pi) then equals the relaxation).

The status is "optimal" only where the two meet (to `PROVEN_GAP`); otherwise the gap is
reported, and the shares carry it (`optimiser.pooling.shapley`). Instances with
re-allocation facts (children already placed, pins, `--previous`) are left to the
engine's full solve: the rounding knows nothing of moves.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ..candidates import Candidates, build_candidates, unit_blocks
from ..flow import Transport, transport_relaxation, transport_rounding
from ..instance import Instance
from ..pipeline.plans import objective_of, unit_placement
from ..pipeline.pricing import best_per_unit

PROVEN_GAP = 1e-9  # relative: a plan this close to the bound is called optimal
FULL_POOL_PAIRS = 30_000_000  # children x placements up to which every pair is held
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


def price(inst: Instance, cands: Candidates, pi: np.ndarray, per_unit: int
          ) -> tuple[float, Candidates | None]:
    """One pass over every feasible pair at capacity prices `pi` >= 0: the Lagrangian
    bound L(pi) (module doc), and the pairs that price below each unit's best held one
    (up to `per_unit` a unit), added to `cands` (None when there are none: the
    relaxation over `cands` is then the relaxation over every pair)."""
    best = inst.unit_unplaced.astype(float).copy()
    held = best.copy()
    if len(cands):
        np.minimum.at(held, cands.unit, cands.objective + cands.use * pi[cands.placement])
    gap_tol = 1e-9 * max(float(np.abs(held).max(initial=1.0)), 1.0)
    new: list[tuple[np.ndarray, ...]] = []
    for ub in unit_blocks(inst):
        priced = np.where(ub.feasible, ub.objective + ub.use * pi[ub.cols][None, :], np.inf)
        best[ub.units] = np.minimum(best[ub.units], priced.min(axis=1))
        better = priced < held[ub.units][:, None] - gap_tol
        if better.any():
            r, c = np.nonzero(better)
            keep = best_per_unit(ub.units[r], priced[r, c], per_unit)
            r, c = r[keep], c[keep]
            new.append((ub.units[r], ub.cols[c], ub.objective[r, c], ub.use[r, c]))
    bound = float(best.sum() - (inst.capacity.astype(float) * pi).sum())
    if not new:
        return bound, None
    unit = np.concatenate([cands.unit, *(x[0] for x in new)]).astype(np.int64)
    place = np.concatenate([cands.placement, *(x[1] for x in new)]).astype(np.int64)
    order = np.lexsort((place, unit))
    return bound, dataclasses.replace(
        cands, unit=unit[order], placement=place[order],
        objective=np.concatenate([cands.objective, *(x[2] for x in new)])[order],
        use=np.concatenate([cands.use, *(x[3] for x in new)]).astype(np.int64)[order])


def relaxation(inst: Instance, full_pairs: int = FULL_POOL_PAIRS,
               deadline: float | None = None) -> tuple[Candidates, Transport, float]:
    """The transportation relaxation over every feasible pair: held whole when they are
    few, else grown from each unit's cheapest pairs by pricing (`price`) until no pair
    prices in or `ROUNDS` are spent. Returns the pairs, the relaxation over them and a
    lower bound valid over every pair. `full_pairs`: children x placements up to which
    every pair is held. Past `deadline` (a `time.perf_counter()` value), or when another
    pass as long as the last would end past it, pricing stops: the bound is then the best
    Lagrangian bound met, weaker until the prices settle."""
    if inst.n_children * inst.n_placements <= full_pairs:
        cands, _ = build_candidates(inst, limit=None)
        tr = transport_relaxation(inst, cands)
        # the flow prices each bed to the penny: its value may exceed the LP's by half a
        # penny a bed, taken off so that the bound stays a bound
        return cands, tr, tr.value - 0.005 * float(inst.units.size.sum())
    cands, _ = build_candidates(inst, limit=START_PAIRS)
    lower, last = -np.inf, 0.0
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        tr = transport_relaxation(inst, cands)
        bound, grown = price(inst, cands, np.maximum(tr.pi, 0.0), ADD_PAIRS)
        lower = max(lower, bound)
        if grown is None:
            break
        cands = grown
        last = time.perf_counter() - t0
        if deadline is not None and time.perf_counter() + last > deadline:
            tr = transport_relaxation(inst, cands)  # the plan from every pair found
            break
    return cands, tr, lower


def bracket(inst: Instance, full_pairs: int = FULL_POOL_PAIRS,
            time_limit: float | None = None) -> tuple[np.ndarray, float, float, float]:
    """(plan per child, its objective, a lower bound, seconds) for `inst` (module doc);
    `time_limit` (seconds) stops the pricing, not the first relaxation nor the rounding."""
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + time_limit
    cands, tr, lower = relaxation(inst, full_pairs, deadline)
    chosen = transport_rounding(inst, cands, tr.x, tr.pi)
    upper = objective_of(inst, cands, chosen)
    per_unit = unit_placement(cands, chosen)
    plan = per_unit[inst.units.unit_of]
    return plan.astype(np.int64), float(upper), float(min(lower, upper)), \
        time.perf_counter() - t0
