"""Solve an instance: the candidate pairs, then the stages of optimiser/pipeline in order.

The model (models/formulation.md): one Boolean per kept (unit, placement) pair, at most
one placement per unit (leaving it unplaced is a priced option, so a solve is never
infeasible), a knapsack row per placement that can overflow, and with `split_siblings`
a spread count per sibling group.

Pruning to the cheapest pairs per unit is made exact by Lagrangian pricing: with the
LP duals pi of the capacity rows, L(pi) = sum_u min(U_u, min_p c_up + a_up pi_p) -
sum_p pi_p cap_p is a lower bound over *all* pairs; any solution using a dropped pair
costs at least L(pi) + its reduced cost. Pairs that could beat the incumbent are added
back, so "optimal" is a proof on the whole problem.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from . import flow
from .candidates import Candidates
from .instance import Instance
from .pipeline import colgen, cutproof, finish, fixing, hints, proof, search, setup, stopped
from .pipeline.context import SolveContext
from .pipeline.plans import admissible
from .pipeline.types import BACKENDS, BestPlan, Plan, Result, SolveOptions
from .status import Status
from .statusquo import plan_result

__all__ = ["BACKENDS", "BestPlan", "Plan", "Result", "SolveOptions", "Status", "plan_result",
           "solve", "stderr_progress"]


def solve(inst: Instance, options: SolveOptions | None = None, *,
          progress: Callable[[str], None] | None = None, best: BestPlan | None = None,
          **kw: object) -> Result:
    """Allocate children to placements (`options`, or SolveOptions(**kw)).

    Route: the min-cost-flow fast path when the model is a transportation problem;
    otherwise column generation, HiGHS's root cuts (running beside the next stages),
    hints, reduced-cost fixing, the search on what is left, the proof over every pair
    that can still matter, and the report. `best`, when given, holds the best plan found
    so far while the solve runs (for a caller whose time may run out first)."""
    opts = options or SolveOptions(**kw)  # type: ignore[arg-type]
    with SolveContext(inst, opts, progress, best_plan=best) as ctx:
        cands = setup.candidates(ctx)
        if ctx.stats.get("candidates_cut_short"):
            return stopped.cut_short(ctx, cands)
        fast = setup.fast_path(ctx, cands) if flow_in_time(ctx, cands) else None
        if fast is not None:
            return fast
        setup.choose_backend(ctx, cands)
        setup.reallocation(ctx, cands)
        relax = colgen.column_generation(ctx, cands)
        carried = cutproof.start_root_cuts(ctx, relax)
        inc = hints.hints(ctx, relax, carried)
        if ctx.out_of_time():  # the incumbent and the bound so far, as they stand
            ctx.say("no time left for fixing and the search: the incumbent")
            ctx.drop_root_cuts()
            late = search.Outcome(relax.cands, inc.best, inc.best_obj,
                                  max(relax.lag, relax.lag0), False)
            return finish.finish(ctx, relax, inc, late)
        fixed = fixing.reduced_cost_fixing(ctx, relax, inc)
        out = search.search(ctx, relax, inc, fixed)
        if admissible(ctx.inst, out.model, out.best, ctx.forced, ctx.max_moves):
            ctx.publish(out.model, out.best, out.bound)
        out = proof.proof(ctx, relax, fixed, out)
        return finish.finish(ctx, relax, inc, out)


def flow_in_time(ctx: SolveContext, cands: Candidates) -> bool:
    """Whether the fast path's flow is expected to end in the time left (the general
    route, which keeps its clock, takes over when not: a flow stopped at the limit leaves
    only the greedy plan)."""
    if ctx.pool is None:
        return True  # no fast path without every pair
    opts = ctx.opts
    if not (opts.fast_path and opts.backend in ("auto", "cpsat")
            and flow.flow_blocker(ctx.inst) is None):
        return True  # no fast path here: nothing to time
    expected = flow.flow_seconds(len(ctx.pool))
    if expected > ctx.time_limit - ctx.elapsed():
        ctx.say(f"min-cost flow over {len(ctx.pool):,} pairs would take about "
                f"{expected:.0f}s, more than is left: the general route")
        return False
    return True


def stderr_progress(msg: str) -> None:
    """Progress lines to stderr, as the command line shows them."""
    print(msg, file=sys.stderr, flush=True)
