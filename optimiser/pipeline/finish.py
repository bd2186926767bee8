"""Stage: the status, the bound and the report's figures, as a `Result`."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..cutpool import carry
from ..status import Status
from .colgen import Relaxation
from .context import SolveContext
from .hints import Incumbent
from .plans import moves_of, stability_of, unit_placement
from .search import Outcome
from .types import Result


def finish(ctx: SolveContext, relax: Relaxation, inc: Incumbent, out: Outcome) -> Result:
    """The plan per child and its status. With `--previous`, the proof is on objective +
    stability, so the spec's objective and the bound are reported less the plan's own
    stability term (formulation.md)."""
    inst, opts = ctx.inst, ctx.opts
    runtime = ctx.elapsed()
    ctx.timings["total"] = runtime
    bound, best_obj, greedy_obj = out.bound, out.best_obj, inc.greedy_obj
    if out.proven:
        status, bound = Status.OPTIMAL, best_obj
    elif runtime >= opts.time_limit * ctx.tuning.time_limit_share:
        status = Status.TIME_LIMIT
    else:
        status = Status.FEASIBLE
    bound = min(bound, best_obj) if np.isfinite(bound) else -np.inf
    assignment = unit_placement(out.model, out.best)[inst.units.unit_of]
    stats: dict[str, Any] = dict(out.model.stats)
    stats.update(ctx.stats)
    if inst.reallocation.previous is not None:
        penalty = stability_of(inst, assignment)
        stats.update(penalised_objective=best_obj, penalised_bound=float(bound),
                     stability_penalty=penalty)
        greedy_obj -= inc.greedy_stability
        best_obj -= penalty
        bound -= penalty
    gap = 0.0 if out.proven else (
        (best_obj - bound) / max(abs(best_obj), 1.0) if np.isfinite(bound) else float("inf"))
    stats["lp_rounds"] = float(relax.rounds)
    stats["lp_method"] = "transport" if relax.transport else "simplex"
    stats["lagrangian_bound"] = float(relax.lag)
    stats["units"] = float(inst.units.n)
    stats["backend"] = opts.backend  # what solved the restricted model
    if opts.backend == "highs" and not ctx.highs_route:
        stats["highs_route"] = "split_siblings: mip.solve_highs_placement"
    if ctx.max_moves is not None:
        stats["moves"] = float(moves_of(inst, out.model, out.best))
    return Result(status=status, objective=best_obj, bound=float(bound), gap=float(gap),
                  runtime=runtime, seed=opts.seed, assignment=assignment,
                  greedy_objective=greedy_obj, timings=ctx.timings, stats=stats,
                  instance=inst, candidates=out.model,
                  capacity_prices=capacity_prices(relax),
                  cuts=None if ctx.cuts is None else carry(inst, ctx.cuts))


def capacity_prices(relax: Relaxation) -> np.ndarray | None:
    """Per placement, the capacity duals of the relaxation's bound (an LP's; on a large
    register a point between two LPs' duals; the transportation relaxation's on that
    route), or None when column generation ran no LP or found no bound."""
    if relax.rounds <= 0 or not np.isfinite(relax.lag):
        return None
    return np.maximum(np.asarray(relax.duals.pi, dtype=float), 0.0).copy()
