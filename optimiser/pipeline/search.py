"""Stage: search the model fixing left, from the incumbent, and what it proves.

HiGHS's route: the cut proof where fixing left more than a search proves in the time
(its bound ready from the dive, or found now from the root cuts), a wider dive where the
model is too large for branch and cut, else a race of HiGHS runs. Otherwise CBC or HiGHS
with the split_siblings spread variables (mip.py), or CP-SAT.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from ..candidates import Candidates
from ..mip import solve_cbc_placement, solve_highs_placement
from ..scaling import MONEY_SCALE
from .colgen import Relaxation
from .context import SolveContext
from .cpsat_model import build_model, run_cpsat
from .cutproof import CutProof, cut_proof, cut_search
from .fixing import Fixed
from .highs_model import race_milp, solve_milp
from .hints import Incumbent
from .plans import admissible, forced_pairs, moves_limit_rhs, objective_of, subset
from .pricing import dive_pairs


@dataclass(frozen=True)
class Outcome:
    """The best plan so far, over `model`, and the bound over every pair."""

    model: Candidates
    best: np.ndarray  # per unit, an index into `model` (-1 unplaced)
    best_obj: float
    bound: float
    proven: bool


@dataclass(frozen=True)
class Searched:
    """What a search gives: its model (the cut proof may change it), the incumbent on it,
    the solver's answer, and the terms of the bound over the pairs left out."""

    model: Candidates
    best: np.ndarray
    best_obj: float
    chosen: np.ndarray | None = None  # the solver's plan over `model` (None: none)
    optimal: bool = False  # the solver proved `model` optimal
    mip_bound: float = -np.inf  # the solver's bound on `model`
    fix_lag: float = -np.inf  # the bound `min_excluded` is measured from
    min_excluded: float = np.inf
    complete: bool = True  # every pair outside `model` is counted in `min_excluded`


def search(ctx: SolveContext, relax: Relaxation, inc: Incumbent, fixed: Fixed) -> Outcome:
    """The search by the route, then the bound and whether it proves the plan optimal."""
    cut_wanted = (fixed.proof_cands is not None
                  or len(fixed.model) >= ctx.tuning.cut_proof_min_pairs)
    if not cut_wanted:
        ctx.drop_root_cuts()  # fixing left a model the search can prove
    start = Searched(fixed.model, fixed.best, fixed.best_obj, fix_lag=relax.lag,
                     min_excluded=fixed.min_excluded, complete=fixed.complete)
    t = time.perf_counter()
    if ctx.highs_route:
        ctx.timings["build"] = 0.0
        found = highs_search(ctx, relax, inc, fixed, start, cut_wanted)
        ctx.timings["solve"] = time.perf_counter() - t
    elif ctx.opts.backend in ("cbc", "highs"):
        found = mip_search(ctx, start)
        ctx.timings["solve"] = time.perf_counter() - t - ctx.timings["build"]
    else:
        found = cpsat_search(ctx, start)
    ctx.drop_root_cuts()  # the route did not read them
    return outcome(ctx, relax, found)


def outcome(ctx: SolveContext, relax: Relaxation, s: Searched) -> Outcome:
    """The better of the incumbent and the solver's plan, and the bound over every pair:
    the solver's bound holds for all pairs when nothing was left out, or when the pairs
    left out cost at least `min_excluded` over the (finite) bound they were fixed
    against; with no such bound, the model's own bound says nothing of the pairs left
    out (a candidate pass stopped by the clock)."""
    best, best_obj, lag = s.best, s.best_obj, relax.lag
    if s.chosen is not None:
        obj = objective_of(ctx.inst, s.model, s.chosen)
        if obj < best_obj - 1e-9:
            best, best_obj = s.chosen, obj
    if not s.model.pruned:
        bound = max(s.mip_bound, lag)
    elif s.complete and np.isfinite(s.fix_lag):
        bound = max(s.fix_lag, min(s.mip_bound, s.fix_lag + s.min_excluded))
    else:
        bound = max(lag, s.fix_lag)  # the cut proof's bound holds over all pairs alone
    bound = max(bound, relax.lag0, lag)
    proven = s.optimal and (not s.model.pruned or (
        s.complete
        and s.fix_lag + s.min_excluded >= best_obj - 1e-6 * max(1.0, abs(best_obj))))
    return Outcome(s.model, best, best_obj, bound, proven)


def highs_search(ctx: SolveContext, relax: Relaxation, inc: Incumbent, fixed: Fixed,
                 start: Searched, cut_wanted: bool) -> Searched:
    """HiGHS's route: a wider dive, the cut proof, or a race on the model."""
    tp, pool = ctx.tuning, ctx.pool
    left = ctx.left()
    if (len(fixed.model) > tp.highs_pairs and relax.pricing is not None
            and fixed.best_option is not None):
        return wider_dive(ctx, relax, fixed, start)
    cut: CutProof | None = None
    if inc.early is not None and pool is not None:
        # the cut bound came during the dive: used whatever fixing left (it fixes at
        # least as many pairs as the plain bound)
        cut = cut_search(ctx.inst, inc.early, fixed.model, pool, relax.cliques, fixed.best,
                         fixed.best_obj, time.perf_counter() + left, ctx.say,
                         min_final=ctx.min_final(), tuning=tp, seeds=ctx.race_seeds(),
                         gap=ctx.opts.relative_gap)
    elif cut_wanted and pool is not None and (harvest := ctx.take_root_cuts()) is not None:
        # fixing kept more pairs than a search proves in the time: certified root cuts
        # make a bound over every pair that fixes nearly all of them. The whole time
        # left: the root cuts may arrive late, and the last MIP on a few thousand pairs
        # needs only a second or two
        cut = cut_proof(ctx.inst, fixed.cands, fixed.model, pool, relax.cliques, fixed.best,
                        fixed.best_obj, relax.lag, time.perf_counter() + left, ctx.say,
                        harvest,
                        min_final=ctx.min_final(), tuning=tp, server=ctx.server,
                        seeds=ctx.race_seeds(), gap=ctx.opts.relative_gap)
    if cut is not None:
        ctx.cuts = cut.cuts
        ctx.stats.update(cut_proof_cuts=float(len(cut.cuts)),
                         cut_proof_during_dive=float(inc.early is not None
                                                     and inc.early.source == "root"),
                         cut_proof_carried=float(inc.early is not None
                                                 and inc.early.source == "carried"),
                         cut_proof_complete=float(cut.complete),
                         cut_proof_rounds=float(cut.rounds),
                         cut_proof_bound=float(cut.lag),
                         cut_proof_pairs=float(len(cut.model)))
        return Searched(cut.model, cut.hint, cut.best_obj, cut.chosen, cut.optimal,
                        cut.mip_bound, cut.lag, cut.min_excluded, cut.complete)
    # the time a cut proof that came to nothing took is gone
    chosen, optimal, bound = race_milp(
        ctx.inst, start.model, tp.search_share * ctx.left(), ctx.race_seeds(), ctx.forced,
        ctx.max_moves, cliques=relax.cliques, hint=start.best if ctx.opts.hint else None,
        gap=ctx.opts.relative_gap)
    return Searched(start.model, start.best, start.best_obj, chosen, optimal, bound,
                    start.fix_lag, start.min_excluded, start.complete)


def wider_dive(ctx: SolveContext, relax: Relaxation, fixed: Fixed, start: Searched
               ) -> Searched:
    """Too many pairs for branch and cut in the time (regional scale): dives on each
    unit's best pairs by reduced cost and the incumbent's, twice as many each time; the
    bound stays the Lagrangian one."""
    inst, tp, model = ctx.inst, ctx.tuning, fixed.model
    assert fixed.best_option is not None
    best, best_obj = start.best, start.best_obj
    left = ctx.left()
    per_unit = 2 * tp.dive_pairs_per_unit
    while left > ctx.share(tp.wide_dive_min_share):
        wide = dive_pairs(inst, model, relax.duals, fixed.best_option, None, per_unit)
        wide[best[best >= 0]] = True
        sub = subset(model, wide)
        ctx.say(f"wider dive: {len(sub):,} of {len(model):,} pairs")
        mip, done, _ = solve_milp(inst, sub, tp.wide_dive_share * left, ctx.forced,
                                  ctx.max_moves, cliques=relax.cliques,
                                  gap=ctx.opts.relative_gap)
        if mip is not None:
            index = np.flatnonzero(wide)
            cand = np.where(mip >= 0, index[np.maximum(mip, 0)], -1)
            if objective_of(inst, model, cand) < best_obj - 1e-9 and admissible(
                    inst, model, cand, ctx.forced, ctx.max_moves):
                best, best_obj = cand, objective_of(inst, model, cand)
        left = ctx.left()
        if not done or wide.all() or left < ctx.share(tp.wide_dive_stop_share):
            break
        per_unit *= 2
    return Searched(model, best, best_obj, None, False, -np.inf, start.fix_lag,
                    start.min_excluded, start.complete)


def mip_search(ctx: SolveContext, start: Searched) -> Searched:
    """CBC through PuLP, or HiGHS on the model with split_siblings' spread variables."""
    opts, left = ctx.opts, ctx.left()
    if opts.backend == "cbc":
        chosen, optimal, bound, ctx.timings["build"] = solve_cbc_placement(
            ctx.inst, start.model, left, forced=ctx.forced, max_moves=ctx.max_moves,
            hint=start.best if opts.hint else None, workers=opts.workers, seed=opts.seed)
    else:
        chosen, optimal, bound, ctx.timings["build"] = solve_highs_placement(
            ctx.inst, start.model, ctx.tuning.search_share * left, forced=ctx.forced,
            max_moves=ctx.max_moves)
    return Searched(start.model, start.best, start.best_obj, chosen, optimal, bound,
                    start.fix_lag, start.min_excluded, start.complete)


def cpsat_search(ctx: SolveContext, start: Searched) -> Searched:
    """CP-SAT on the model, from the incumbent."""
    inst, opts, model = ctx.inst, ctx.opts, start.model
    t = time.perf_counter()
    cp = build_model(inst, model, start.best if opts.hint else None,
                     forced=forced_pairs(inst, model, ctx.forced),
                     moves_rhs=moves_limit_rhs(inst, ctx.max_moves))
    ctx.timings["build"] = time.perf_counter() - t
    t = time.perf_counter()
    offset = float(inst.unit_unplaced.sum())
    solver, status = run_cpsat(cp, opts, opts.time_limit - ctx.elapsed(), offset,
                               ctx.progress)
    ctx.timings["solve"] = time.perf_counter() - t
    chosen, bound = None, -np.inf
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        vals = np.asarray(solver.response_proto.solution, dtype=np.int64)[: len(model)]
        chosen = np.full(inst.units.n, -1, dtype=np.int64)
        sel = np.flatnonzero(vals)
        chosen[model.unit[sel]] = sel
        bound = solver.best_objective_bound / MONEY_SCALE + offset
    # CP-SAT stopped by `relative_gap_limit` says OPTIMAL: proven only where its bound
    # leaves no plan a unit of its integer objective cheaper
    proven = status == cp_model.OPTIMAL and (
        not opts.relative_gap
        or solver.objective_value - solver.best_objective_bound < 1.0)
    return Searched(model, start.best, start.best_obj, chosen, proven,
                    bound, start.fix_lag, start.min_excluded, start.complete)
