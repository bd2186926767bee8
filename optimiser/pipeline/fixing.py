"""Stage: reduced-cost fixing, the pairs that can still matter.

A pair whose reduced cost exceeds (incumbent - bound) is in no better plan, so the
search model holds only the pairs within the gap. With pins and a moves limit this
still holds: the incumbent is admissible, and L(duals) + rc bounds any admissible plan
using the pair. When too many pairs are left for a search in the time, the search keeps
the column-generation pairs, and every pair fixing keeps goes to the proof stage.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..candidates import Candidates
from .colgen import Relaxation, flow_roundable
from .context import SolveContext
from .fill import fill
from .hints import Incumbent
from .plans import objective_of, subset, with_musts
from .pricing import dive_pairs, merge, price, reduced_costs


@dataclass(frozen=True)
class Fixed:
    """The search model and what the bound needs of what was left out of it."""

    cands: Candidates  # the relaxation's pairs, with those fixing priced in
    model: Candidates  # the search model: the pairs that can still matter (or fewer)
    best: np.ndarray  # the incumbent, as indices into `model`
    complete: bool  # every pair outside `model` is counted in `min_excluded`
    min_excluded: float  # least reduced cost of a pair left out of `model`
    proof_cands: Candidates | None  # every pair fixing keeps, when `model` holds fewer
    proof_min: float  # least reduced cost of a pair left out of `proof_cands`
    best_option: np.ndarray | None  # per unit, its best option priced with the duals
    best_obj: float  # the incumbent's objective (lower than the hints' once filled)


def reindex(best: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """A plan's pair indices after keeping the pairs of mask `keep` (which holds them)."""
    index = np.cumsum(keep) - 1
    return np.where(best >= 0, index[np.maximum(best, 0)], -1).astype(np.int64)


def reduced_cost_fixing(ctx: SolveContext, relax: Relaxation, inc: Incumbent) -> Fixed:
    """The search model by the route: each unit's best pairs on the transport route,
    everything where no pricing pass over every pair is possible, else fixing."""
    tp = ctx.tuning
    cands, best, best_obj = relax.cands, inc.best, inc.best_obj
    if relax.transport:
        cands, best, best_obj = filled(ctx, relax, cands, best, best_obj)
    if relax.transport and relax.pricing is not None:
        # regional scale: fixing by reduced cost would keep far more pairs than a search
        # can use in the time left, so the model holds each unit's best pairs by reduced
        # cost and the incumbent's; the bound is the Lagrangian one
        keep = dive_pairs(ctx.inst, cands, relax.duals, relax.pricing.best_option, None,
                          tp.transport_dive_pairs)
        keep[best[best >= 0]] = True
        model = subset(cands, keep)
        ctx.say(f"search model: {len(model):,} of {len(cands):,} pairs, each unit's "
                f"{tp.transport_dive_pairs} best by reduced cost and the incumbent's")
        return Fixed(cands, model, reindex(best, keep), False, np.inf, None, np.inf, None,
                     best_obj)
    if relax.pricing is not None and np.isfinite(relax.lag) and ctx.pool is None:
        # a register too large to hold: another pass over every pair would cost as much
        # as the candidate pass, and could not complete the proof; the bound is lag
        return Fixed(cands, cands, best, False, np.inf, None, np.inf, None, best_obj)
    if inc.early is not None:
        # the cut bound is ready: the cut search fixes against it, far nearer the optimum
        # than this bound, so no pass over every pair here
        return Fixed(cands, cands, best, False, np.inf, None, np.inf, None, best_obj)
    if relax.pricing is not None and np.isfinite(relax.lag):
        return fix(ctx, relax, inc)
    return Fixed(cands, cands, best, True, np.inf, None, np.inf, None, best_obj)


def filled(ctx: SolveContext, relax: Relaxation, cands: Candidates, best: np.ndarray,
           best_obj: float) -> tuple[Candidates, np.ndarray, float]:
    """The incumbent with unplaced units put in the beds it leaves free (`fill`), on the
    transport route, whose only rows are the unit and capacity rows; published at once."""
    if not flow_roundable(ctx.inst, ctx.forced, ctx.max_moves):
        return cands, best, best_obj
    t = time.perf_counter()
    # most of what is left: on a national register the fill is worth more than the search
    cands, best, n = fill(ctx.inst, cands, best, ctx.pool,
                          time.perf_counter() + 0.75 * ctx.left())
    ctx.timings["greedy"] = ctx.timings.get("greedy", 0.0) + time.perf_counter() - t
    if not n:
        return cands, best, best_obj
    best_obj = objective_of(ctx.inst, cands, best)
    ctx.publish(cands, best, max(relax.lag, relax.lag0))
    ctx.say(f"free beds filled: {n:,} units placed, £{best_obj:,.2f}/week "
            f"({time.perf_counter() - t:.1f}s)")
    return cands, best, best_obj


def fix(ctx: SolveContext, relax: Relaxation, inc: Incumbent) -> Fixed:
    """Reduced-cost fixing against the Lagrangian bound and the incumbent."""
    inst, tp, pool = ctx.inst, ctx.tuning, ctx.pool
    forced, max_moves, duals, lag = ctx.forced, ctx.max_moves, relax.duals, relax.lag
    cands, best, best_obj = relax.cands, inc.best, inc.best_obj
    t = time.perf_counter()
    min_excluded = np.inf
    proof_cands: Candidates | None = None
    proof_min = np.inf
    # every dropped pair is looked at only when the pool is small enough to hold them
    # all; else each unit's best few, and the proof may be incomplete
    whole = pool is not None and len(pool) <= tp.fixing_whole_pairs
    extra = price(inst, cands, pool, duals, best_obj,
                  per_unit=None if whole else tp.fixing_per_unit, max_moves=max_moves,
                  forced=forced)
    complete = whole
    old = cands.unit * inst.n_placements + cands.placement
    slack = best_obj - lag
    tol = 1e-6 * max(1.0, abs(best_obj))
    if len(extra.add_unit) > max(tp.fixing_factor * len(cands), tp.fixing_pairs):
        # far too many could matter to add them to the search model: they stay out of
        # it, counted in the bound, and make up the proof stage's model with it
        min_excluded = extra.min_dropped_rc
        complete = False
        if whole and len(cands) + len(extra.add_unit) <= tp.proof_pairs:
            merged = merge(cands, extra)
            red_w = reduced_costs(inst, merged, duals, extra.best_option)
            # the incumbent's pairs stay (its hint), as in the search model
            at = np.searchsorted(merged.unit * inst.n_placements + merged.placement,
                                 old[best[best >= 0]])
            in_w = with_musts(inst, merged, red_w <= slack + tol, at, forced)
            proof_cands = subset(merged, in_w)
            # a pool pair `price` did not return has lag + reduced cost >= incumbent
            proof_min = min(float(red_w[~in_w].min()) if (~in_w).any() else np.inf,
                            slack - tol)
    elif len(extra.add_unit):
        cands = merge(cands, extra)
        new = cands.unit * inst.n_placements + cands.placement
        best = np.where(best >= 0, np.searchsorted(new, old[np.maximum(best, 0)]), -1)
    red = reduced_costs(inst, cands, duals, extra.best_option)
    keep = with_musts(inst, cands, red <= slack + tol, best[best >= 0], forced)
    if keep.sum() > max(tp.fixing_factor * len(old), tp.fixing_pairs):
        # the incumbent is too far from the bound for fixing to bite: search the
        # column-generation pairs only (the bound stays valid for all pairs)
        if complete:
            proof_cands = subset(cands, keep)
            proof_min = min(float(red[~keep].min()) if (~keep).any() else np.inf, slack)
        keep = with_musts(inst, cands,
                          keep & np.isin(cands.unit * inst.n_placements + cands.placement,
                                         old),
                          best[best >= 0], forced)
    if (~keep).any():
        min_excluded = min(min_excluded, float(red[~keep].min()))
    # dropped pairs never added back all have lag + red >= incumbent
    min_excluded = min(min_excluded, slack) if complete else min_excluded
    model = subset(cands, keep)
    ctx.timings["lp"] += time.perf_counter() - t
    ctx.say(f"reduced-cost fixing: {len(model):,} of {len(cands):,} pairs can still "
            f"matter (gap £{slack:,.2f})")
    return Fixed(cands, model, reindex(best, keep), complete, min_excluded, proof_cands,
                 proof_min, extra.best_option, best_obj)
