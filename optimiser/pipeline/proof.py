"""Stage: the proof over every pair that can still matter, when the search could not.

With time left, HiGHS's branch and cut over every pair reduced-cost fixing keeps (the
least reduced cost left out makes its bound global), else over every feasible pair when
they are few enough (nothing left out: its bound is global as it stands).
"""

from __future__ import annotations

import time

import numpy as np

from ..candidates import Candidates
from .colgen import Relaxation
from .context import SolveContext
from .fixing import Fixed
from .highs_model import solve_milp
from .plans import objective_of, unit_placement
from .search import Outcome


def proof(ctx: SolveContext, relax: Relaxation, fixed: Fixed, out: Outcome) -> Outcome:
    """`out` unchanged unless HiGHS's route left it unproven with time for this stage."""
    tp, pool = ctx.tuning, ctx.pool
    left = ctx.left()
    whole_pool = pool is not None and len(pool) <= tp.proof_pairs
    proof_cands = fixed.proof_cands
    if proof_cands is not None and len(proof_cands) > tp.proof_pairs:
        proof_cands = None
    if not (ctx.highs_route and not out.proven and left > ctx.share(tp.proof_min_share)
            and (whole_pool or proof_cands is not None)):
        return out
    t = time.perf_counter()
    if proof_cands is not None:
        full, min_excl = proof_cands, fixed.proof_min
    else:
        assert pool is not None
        cands = fixed.cands
        full = Candidates(pool.unit.astype(np.int64), pool.placement.astype(np.int64),
                          pool.objective, pool.use.astype(np.int64), cands.n_feasible,
                          None, dict(cands.stats))
        min_excl = np.inf
    ctx.say(f"proof over every pair that can still matter: {len(full):,} pairs")
    ctx.stats["proof_pairs"] = float(len(full))
    best = on_pairs(ctx, out.model, out.best, full)
    best_obj = out.best_obj
    # HiGHS checks its clock between LP solves: a large root LP overruns a little
    chosen, optimal, bound = solve_milp(ctx.inst, full, tp.proof_share * left, ctx.forced,
                                        ctx.max_moves, cliques=relax.cliques,
                                        hint=best if ctx.opts.hint else None,
                                        gap=ctx.opts.relative_gap)
    if chosen is not None:
        obj = objective_of(ctx.inst, full, chosen)
        if obj < best_obj - 1e-9:
            best, best_obj = chosen, obj
    lag = relax.lag
    new_bound = max(out.bound, lag, min(bound, lag + min_excl))
    proven = optimal and lag + min_excl >= best_obj - 1e-6 * max(1.0, abs(best_obj))
    ctx.timings["solve"] += time.perf_counter() - t
    return Outcome(full, best, best_obj, new_bound, proven)


def on_pairs(ctx: SolveContext, model: Candidates, best: np.ndarray, full: Candidates
             ) -> np.ndarray:
    """The plan `best` over `model` as indices into `full` (which holds its pairs)."""
    m = ctx.inst.n_placements
    place = unit_placement(model, best)
    key = full.unit * m + full.placement
    placed = np.flatnonzero(place >= 0)
    out = np.full(ctx.inst.units.n, -1, dtype=np.int64)
    out[placed] = np.searchsorted(key, placed * m + place[placed])
    return out
