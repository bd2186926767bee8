"""Stage: the candidate pairs, the min-cost-flow fast path, the route, re-allocation facts."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from .. import flow
from ..candidates import Candidates, build_candidates
from ..spatial import spatial_applies
from .context import SolveContext
from .plans import forced_units, moves_of, status_quo
from .types import BACKENDS, Result

log = logging.getLogger(__name__)


def candidates(ctx: SolveContext) -> Candidates:
    """Each unit's cheapest pairs (and the pool of every feasible pair, when it fits in
    memory, kept in `ctx.pool`). The per-unit limit is lowered so that the first
    restricted LP stays small enough to solve in time; pricing brings back any pair it
    leaves out."""
    tp, n = ctx.tuning, ctx.inst.units.n
    limit = ctx.opts.candidate_limit
    if limit is not None and n * limit > tp.lp_columns:
        limit = max(tp.min_candidates, tp.lp_columns // n)
    t = ctx.elapsed()
    spatial = (ctx.inst.units.n * ctx.inst.n_placements > tp.spatial_cells
               and spatial_applies(ctx.inst))
    # the pass stops in time for the greedy start and the write-up
    deadline = time.perf_counter() + ctx.share(tp.candidates_share) - t
    cands, ctx.pool = build_candidates(ctx.inst, limit=limit, spatial=spatial,
                                       deadline=deadline)
    ctx.timings["candidates"] = ctx.elapsed() - t
    return cands


def fast_path(ctx: SolveContext, cands: Candidates) -> Result | None:
    """The whole solve as one min-cost flow over every pair, when the model is a
    transportation problem (flow.py) and the backend leaves the choice to the engine;
    None otherwise, or when the flow fails (costs beyond its range: never a crash)."""
    opts = ctx.opts
    if opts.backend not in BACKENDS:
        raise ValueError(f"unknown backend {opts.backend!r}; one of {', '.join(BACKENDS)}")
    if not (opts.fast_path and opts.backend in ("auto", "cpsat") and ctx.pool is not None):
        return None
    if flow.flow_blocker(ctx.inst) is not None:
        return None
    try:
        return flow.solve_flow(ctx.inst, cands, ctx.pool, opts.seed, ctx.timings, ctx.t_start)
    except RuntimeError as exc:
        log.warning("min-cost flow fast path failed (%s): the general route", exc)
        return None


def choose_backend(ctx: SolveContext, cands: Candidates) -> None:
    """"auto" becomes HiGHS up to `auto_highs_units` units, CP-SAT above. With
    split_siblings "highs" is the array model with the spread variables (mip.py)."""
    if ctx.opts.backend == "auto":
        small = ctx.inst.units.n <= ctx.tuning.auto_highs_units
        ctx.opts = replace(ctx.opts, backend="highs" if small else "cpsat")
    ctx.say(f"candidates: {len(cands):,} pairs kept of "
            f"{int(cands.stats['pairs_feasible']):,} feasible"
            f"{' (evaluated by spatial search)' if cands.space is not None else ''} for "
            f"{ctx.inst.units.n:,} units ({ctx.timings['candidates']:.1f}s)")


def reallocation(ctx: SolveContext, cands: Candidates) -> None:
    """Pinned units must take their pair; the moves limit is never below what the status
    quo itself needs (a sibling group living apart). Sets `ctx.forced`, `ctx.max_moves`."""
    inst = ctx.inst
    ctx.forced = forced_units(inst, cands)
    max_moves = inst.reallocation.max_moves
    if max_moves is not None:
        floor = moves_of(inst, cands, status_quo(inst, cands, ctx.forced))
        if floor > max_moves:
            log.warning("max_moves %d is below the %d moves the current placements already "
                        "need (sibling groups living apart); using %d", max_moves, floor, floor)
            max_moves = floor
        ctx.stats["max_moves_used"] = float(max_moves)
    ctx.max_moves = max_moves
    if ctx.forced.any():
        ctx.stats["pinned_units"] = float(ctx.forced.sum())
