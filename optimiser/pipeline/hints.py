"""Stage: hints, the incumbent that reduced-cost fixing measures the gap from.

The greedy start (or the status quo, which keeps every re-allocation rule), the
caller's warm start when the model admits it, then roundings of the LP: greedy guided
by it, the flow rounding, and a MIP dive on each unit's few best pairs (HiGHS's route;
CP-SAT's LP dive otherwise). While HiGHS dives in its own process, the cut proof's bound
is found here from the root cuts, and stops the dive when it is ready.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from .. import flow
from ..candidates import Candidates
from ..instance import Instance
from .colgen import Relaxation, flow_roundable
from .context import SolveContext
from .cpsat_model import lp_dive
from .cutproof import CutBound, cut_bound
from .highs_model import milp_answer, solve_milp, start_milp
from .plans import (
    admissible,
    forced_pairs,
    greedy,
    moves_limit_rhs,
    objective_of,
    stability_of,
    status_quo,
    subset,
    unit_placement,
)
from .pricing import dive_pairs
from .rows import model_rows
from .warm import pair_index, start_units

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Incumbent:
    """The best plan found before fixing, and what the report needs of the start."""

    best: np.ndarray  # per unit, an index into the relaxation's pairs (-1 unplaced)
    best_obj: float
    greedy_obj: float  # the greedy start's objective
    greedy_stability: float  # its `--previous` term
    early: CutBound | None  # the cut proof's bound, when found during the dive


def hints(ctx: SolveContext, relax: Relaxation, carried: CutBound | None = None
          ) -> Incumbent:
    """The best admissible plan of the greedy start and the LP's roundings. With the
    cut bound of carried cuts (`carried`), no dive: the cut search finds the plan."""
    inst, tp = ctx.inst, ctx.tuning
    cands, lp_x = relax.cands, relax.lp_x
    forced, max_moves = ctx.forced, ctx.max_moves
    t = time.perf_counter()
    first = forced_pairs(inst, cands, forced)

    def ok(chosen: np.ndarray) -> bool:
        return admissible(inst, cands, chosen, forced, max_moves)

    start = greedy(inst, cands, first=first)
    if not ok(start):
        start = status_quo(inst, cands, forced)
    greedy_obj = objective_of(inst, cands, start)
    greedy_stability = stability_of(inst, unit_placement(cands, start)[inst.units.unit_of])
    best, best_obj = start, greedy_obj
    if ok(start):  # never an inadmissible plan (none kept, say, when no pair is)
        ctx.publish(cands, start, max(relax.lag, relax.lag0))
    warm = warm_start(ctx, relax)
    near = False
    if warm is not None:
        w_obj = objective_of(inst, cands, warm)
        ctx.say(f"warm start £{w_obj:,.2f}/week")
        if w_obj < best_obj:
            best, best_obj = warm, w_obj
        near = w_obj - max(relax.lag, relax.lag0) <= tp.warm_gap * max(1.0, abs(w_obj))
    early = carried
    if lp_x is not None and ctx.out_of_time():
        ctx.say("no time left for the roundings: the greedy start")
    elif lp_x is not None and near:
        # the LP's roundings land further from the bound than this start already is
        ctx.say("warm start near the LP bound: no roundings")
    elif lp_x is not None:
        found, found_early = roundings(ctx, relax, lp_x, warm, dive=carried is None)
        early = found_early if carried is None else carried
        for rounded in found:
            r_obj = objective_of(inst, cands, rounded)
            if r_obj < best_obj and ok(rounded):
                best, best_obj = rounded, r_obj
    elif len(cands) and flow_roundable(inst, forced, max_moves):
        # no LP in time (a national register's candidate pass takes most of the limit):
        # one flow over the kept pairs, rounded, is still far better than the greedy, and
        # the kept pairs are few enough (`lp_columns`) for it to take a moment, so it
        # runs even past the limit
        flow_only = flow_hint(inst, cands,
                              time.perf_counter() + ctx.share(tp.flow_only_share)
                              - ctx.elapsed())
        if flow_only is not None:
            r_obj = objective_of(inst, cands, flow_only)
            if r_obj < best_obj and ok(flow_only):
                best, best_obj = flow_only, r_obj
    ctx.timings["greedy"] = time.perf_counter() - t
    if ok(best):
        ctx.publish(cands, best, max(relax.lag, relax.lag0))
    ctx.say(f"greedy start £{greedy_obj:,.2f}/week; LP-rounded hint £{best_obj:,.2f}/week")
    return Incumbent(best, best_obj, greedy_obj, greedy_stability, early)


def warm_start(ctx: SolveContext, relax: Relaxation) -> np.ndarray | None:
    """The caller's start (`SolveOptions.start`, per child) as a plan over the kept pairs
    (per unit), or None: not given, or not a plan the model admits (a unit's members
    apart, a pair no rule allows, a placement over its beds, a row of the model broken).
    A feasible pair of the start that the kept pairs lack is repaired: the start's other
    pairs first, the greedy fills the rest."""
    inst, cands = ctx.inst, relax.cands
    if ctx.opts.start is None:
        return None
    first = start_units(inst, ctx.opts.start)
    if first is None:
        log.warning("warm start ignored: not a placement index (or -1) per child, each "
                    "unit's members together")
        return None
    m = inst.n_placements
    placed = np.flatnonzero(first >= 0)
    pool = ctx.pool
    if pool is not None:  # every feasible pair: the start's must all be there, in beds
        at = pair_index(pool.unit, pool.placement, m, placed, first[placed])
        if (at < 0).any() or (np.bincount(pool.placement[at], weights=pool.use[at],
                                          minlength=m) > inst.capacity).any():
            log.warning("warm start ignored: a pair no rule allows, or too few beds")
            return None
    at = pair_index(cands.unit, cands.placement, m, placed, first[placed])
    chosen = np.full(inst.units.n, -1, dtype=np.int64)
    if (at >= 0).all():
        chosen[placed] = at
    else:
        chosen = greedy(inst, cands, first=np.concatenate(
            [forced_pairs(inst, cands, ctx.forced), at[at >= 0]]))
    if not keeps_rows(ctx, relax, chosen):
        log.warning("warm start ignored: the model does not admit it")
        return None
    return chosen


def keeps_rows(ctx: SolveContext, relax: Relaxation, chosen: np.ndarray) -> bool:
    """Whether the plan `chosen` (per unit, into the kept pairs) keeps every row of the
    model (capacity, departures, kept placements, the moves limit, cuts) and its pins."""
    inst, cands = ctx.inst, relax.cands
    if not admissible(inst, cands, chosen, ctx.forced, ctx.max_moves):
        return False
    rhs = moves_limit_rhs(inst, ctx.max_moves)
    rw = model_rows(inst, cands, None, rhs, cliques=relax.cliques)
    x = np.zeros(len(cands))
    x[chosen[chosen >= 0]] = 1.0
    return bool((rw.a @ x <= rw.b + 1e-9).all())


def roundings(ctx: SolveContext, relax: Relaxation, lp_x: np.ndarray,
              warm: np.ndarray | None = None, dive: bool = True
              ) -> tuple[list[np.ndarray], CutBound | None]:
    """Plans rounded from the LP's solution `lp_x` (not yet checked for admissibility),
    and the cut bound when it was found during HiGHS's dive (which starts from `warm`,
    a plan over the kept pairs, when given; no dive on HiGHS's route without `dive`)."""
    inst, tp = ctx.inst, ctx.tuning
    cands = relax.cands
    first = forced_pairs(inst, cands, ctx.forced)
    found = [greedy(inst, cands, lp_x, first=first)]
    early = None
    if not relax.transport and flow_roundable(inst, ctx.forced, ctx.max_moves):
        # the flow rounding on the kept pairs: a near-LP plan in a fraction of a second,
        # whatever happens to the MIP dive on a busy machine (formulation.md)
        plan = flow_hint(inst, cands, time.perf_counter() + ctx.share(tp.flow_hint_share))
        if plan is not None:
            found.append(plan)
            ctx.say(f"flow rounding £{objective_of(inst, cands, plan):,.2f}/week")
    if relax.transport:
        # its re-solves stop by `transport_hint_share`: the search needs the rest
        # on a national register one rounding pass: filling the free beds afterwards
        # (fill.py) places far more per second than further re-solves of the flow
        plan = flow_hint(inst, cands,
                         time.perf_counter() + ctx.share(tp.transport_hint_share)
                         - ctx.elapsed(), lp_x, relax.duals.pi,
                         rounds=1 if cands.space is not None else 8)
        if plan is not None:
            found.append(plan)
    elif ctx.highs_route and relax.pricing is not None:
        if dive:
            plan, early = highs_dive(ctx, relax, lp_x, warm)
            if plan is not None:
                found.append(plan)
    else:
        found.append(lp_dive(inst, cands, lp_x, ctx.opts,
                             min(tp.cpsat_dive_seconds, ctx.share(tp.cpsat_dive_share)),
                             ctx.forced, ctx.max_moves))
    return found, early


def highs_dive(ctx: SolveContext, relax: Relaxation, lp_x: np.ndarray,
               warm: np.ndarray | None = None
               ) -> tuple[np.ndarray | None, CutBound | None]:
    """Branch and cut on each unit's few best pairs by LP reduced cost (and the LP's
    own, and staying): a near-optimal incumbent in seconds, so that reduced-cost fixing
    leaves a small model. With root cuts running, the dive runs in HiGHS's process while
    the cut bound is found here; a ready bound stops the dive after `dive_min_share`.
    With a warm start (a plan over the relaxation's pairs), its pairs join the dive and
    it is HiGHS's first incumbent.
    Returns the plan (indices into the relaxation's pairs) and the cut bound if found."""
    inst, tp, pool = ctx.inst, ctx.tuning, ctx.pool
    cands, forced, max_moves = relax.cands, ctx.forced, ctx.max_moves
    assert relax.pricing is not None
    sub_keep = dive_pairs(inst, cands, relax.duals, relax.pricing.best_option, lp_x,
                          tp.dive_pairs_per_unit)
    hint = None
    if warm is not None:
        sub_keep[warm[warm >= 0]] = True
        at = np.cumsum(sub_keep) - 1  # a kept pair's index in the dive's model
        hint = np.where(warm >= 0, at[np.maximum(warm, 0)], -1)
    sub = subset(cands, sub_keep)
    # HiGHS finds this model's optimum late, so the dive gets a good share of the limit
    dive_limit = min(ctx.share(tp.dive_share), ctx.time_limit - ctx.elapsed())
    gap = ctx.opts.relative_gap  # a dive near enough may stop sooner
    running = (start_milp(inst, sub, dive_limit, forced, max_moves, relax.cliques, hint, gap,
                          nice=tp.dive_nice)
               if ctx.root_cuts is not None and pool is not None else None)
    early: CutBound | None = None
    mip = None
    if running is not None:
        ctx.owns(running)
        dive_from = time.perf_counter()
        harvest = ctx.root_cuts
        assert harvest is not None and pool is not None
        # whichever ends first: the root cuts (their bound is found here, the dive runs
        # on), or the dive (the root cuts are then read, or dropped, after fixing)
        while not harvest.pending.wait(0.0) and not running.wait(0.05):
            pass
        if harvest.pending.wait(0.0):
            ctx.take_root_cuts()
            early = cut_bound(inst, cands, pool, relax.cliques, relax.lag,
                              ctx.t_start + ctx.time_limit - ctx.margin(), ctx.say,
                              harvest, ctx.min_final(), ctx.server, tp)
        if early is not None:
            wait = dive_from + ctx.share(tp.dive_min_share) - time.perf_counter()
            if not running.wait(max(wait, 0.0)):
                running.stop()
                ctx.say(f"dive stopped after {time.perf_counter() - dive_from:.1f}s: "
                        "the cut bound is ready")
        res = running.result()
        if res is not None:
            mip = milp_answer(inst, sub, res, gap)[0]
        else:  # no highspy: SciPy's HiGHS, for what is left of the dive's time
            mip, _, _ = solve_milp(inst, sub, dive_limit - (time.perf_counter() - dive_from),
                                   forced, max_moves, cliques=relax.cliques, hint=hint,
                                   gap=gap)
    else:
        mip, _, _ = solve_milp(inst, sub, dive_limit, forced, max_moves,
                               cliques=relax.cliques, hint=hint, gap=gap)
    if mip is None:
        return None, early
    index = np.flatnonzero(sub_keep)
    return np.where(mip >= 0, index[np.maximum(mip, 0)], -1), early


def flow_hint(inst: Instance, cands: Candidates, deadline: float,
              x: np.ndarray | None = None, pi: np.ndarray | None = None,
              rounds: int = 8) -> np.ndarray | None:
    """The flow rounding of `cands` (`flow.transport_rounding`) from the relaxation's `x`
    and prices `pi`, or from one flow over `cands` when not given; None when the flow
    fails (a hint less, never a crash, as in `transport_rounds`)."""
    try:
        if x is None or pi is None:
            tr = flow.transport_relaxation(inst, cands)
            x, pi = tr.x, tr.pi
        return flow.transport_rounding(inst, cands, x, pi, rounds=rounds, deadline=deadline)
    except RuntimeError as exc:
        log.warning("flow rounding failed (%s)", exc)
        return None
