"""Stage: the candidate pairs, the min-cost-flow fast path, the route, re-allocation facts."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from .. import flow
from ..candidates import Candidates, build_candidates
from ..forked import Forked, TooLate, can_fork
from ..spatial import spatial_applies
from .context import SolveContext
from .plans import forced_units, greedy, moves_of, status_quo
from .stopped import flow_stopped, unreached
from .types import BACKENDS, Result
from .warm import with_start_pairs

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
    # the pass stops in time for the greedy start and the write-up: by its share of the
    # limit; when the start-up and the reading took most of a short limit (they count),
    # by half its share of what they left, so that the pass still reaches some units
    deadline = time.perf_counter() + max(ctx.share(tp.candidates_share) - t,
                                          tp.candidates_share * (ctx.time_limit - t) / 2)
    cands, ctx.pool = build_candidates(ctx.inst, limit=limit, spatial=spatial,
                                       deadline=deadline)
    ctx.timings["candidates"] = ctx.elapsed() - t
    if time.perf_counter() > deadline and unreached(cands).any():
        ctx.stats["candidates_cut_short"] = 1.0
    if ctx.opts.start is not None and ctx.pool is not None:
        # a warm start's pairs may lie beyond each unit's cheapest: kept, so it is a plan
        cands = with_start_pairs(ctx.inst, cands, ctx.pool, ctx.opts.start)
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
    t = ctx.elapsed()
    start = greedy(ctx.inst, cands)  # offered first, for a caller whose time runs out
    ctx.timings["greedy"] = ctx.elapsed() - t
    ctx.publish(cands, start)
    deadline = flow_deadline(ctx, len(ctx.pool))
    # the fall-back, should the flow over every pair not answer in time: the same flow
    # over the kept pairs (each unit's cheapest, a small share of the arcs), in a worker
    # of its own (under load even it may take seconds, and nothing could stop it here)
    kept = None if deadline is None else Forked(flow.flow_choice, ctx.inst, cands)
    try:
        return flow.solve_flow(ctx.inst, cands, ctx.pool, opts.seed, ctx.timings, ctx.t_start,
                               deadline=deadline, start=start)
    except TooLate:
        assert kept is not None
        return flow_stopped(ctx, cands, start, kept)
    except RuntimeError as exc:
        log.warning("min-cost flow fast path failed (%s): the general route", exc)
        return None
    finally:
        if kept is not None:
            kept.cancel()


def flow_deadline(ctx: SolveContext, arcs: int) -> float | None:
    """When the flow over `arcs` pairs must have answered (a `time.perf_counter()` value:
    the end of the time limit), for a flow run in a worker process that can be stopped;
    None to run it here, where nothing can stop it: when it is expected to take a small
    share of the time left (forking costs a little), or the platform cannot fork."""
    left = ctx.time_limit - ctx.elapsed()
    inline = min(ctx.tuning.flow_inline_share * left, ctx.tuning.flow_inline_seconds)
    if flow.flow_seconds(arcs) <= inline or not can_fork():
        return None
    return ctx.t_start + ctx.time_limit


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
