"""Stage: column generation, the LP relaxation over every pair and its Lagrangian bound.

Rounds of: the restricted LP over the kept pairs (the simplex, warm in the LP server on
large models; a min-cost flow at regional scale, where the LP is a transportation
problem), then a pricing pass over every feasible pair, which gives the bound and the
pairs to add. Clique cuts are separated on the way.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from .. import flow
from ..candidates import Candidates, PairPool
from ..instance import Instance
from ..params import SolverParams
from .classprices import class_bound
from .context import SolveContext
from .lp import Duals, lp_duals
from .moves_relax import moves_rounds, use_moves_flow
from .pricing import Pricing, lifted, line_search, merge, price
from .rows import NO_CLIQUES, clique_cuts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Relaxation:
    """What column generation gives the later stages."""

    cands: Candidates  # the kept pairs, with those priced in
    lag: float  # the Lagrangian bound over every pair (-inf: none)
    lag0: float  # the zero-dual bound of the candidate pass (capacity relaxed)
    duals: Duals  # the duals of `lag`
    pricing: Pricing | None  # the pricing pass of `lag` (None: none ran)
    lp_x: np.ndarray | None  # the last LP's solution on `cands` (None: stale or none)
    rounds: int
    cliques: np.ndarray  # clique cuts found (rows p, a, s)
    transport: bool  # the LP was the transportation relaxation


def flow_roundable(inst: Instance, forced: np.ndarray, max_moves: int | None) -> bool:
    """No row the flow leaves out matters to a plan's admissibility or bound: no moves
    limit, no pins, no placed children kept placed."""
    return max_moves is None and not forced.any() and not inst.keep_placed.any()


def use_transport(inst: Instance, pool: PairPool | None, forced: np.ndarray,
                   max_moves: int | None, tuning: SolverParams,
                   spatial: bool = False) -> bool:
    """The transportation relaxation stands in for the LP on large pools (and on the
    spatial route, a national register), unless a row it leaves out carries the bound
    (see `flow_roundable`)."""
    large = spatial or (pool is not None and len(pool) > tuning.transport_pairs)
    return large and flow_roundable(inst, forced, max_moves)


def transport_rounds(ctx: SolveContext, cands: Candidates, pool: PairPool | None
                     ) -> tuple[Candidates, float, Duals, Pricing | None, np.ndarray | None,
                                int]:
    """Column generation with the transportation relaxation as the restricted LP.

    Each round: min-cost flow over the kept pairs (its capacity prices are the LP's
    duals), then one pricing pass over the pool that brings in each unit's
    `transport_round_pairs` best pairs of negative reduced cost. Short supply sends
    children far from home in the LP, and many pairs a round reach it in a few rounds.
    With `smoothing`, and supply short, pricing is at a point between the prices of the
    best bound so far and the flow's (Wentges); a round whose smoothed prices find no
    pair prices at the flow's own. Stops when the flow's value and the best bound meet
    (the LP optimum over every pair is reached), or when another round would end past
    `transport_rounds_share` of the limit (`spatial_rounds_share` on the spatial route,
    where filling the free beds needs the time more); stopped short of the LP with supply short, the
    last prices lifted to a common floor on every bed give the bound. Returns (cands,
    bound, its duals, its pricing, the last flow's x on cands, rounds).
    """
    inst, opts, tp = ctx.inst, ctx.opts, ctx.tuning
    share = tp.transport_rounds_share
    if cands.space is not None:
        # the flow takes every evaluated pair at once (far more than a start set per
        # unit): pricing then only looks beyond them
        cands = whole_space(cands)
        share = tp.spatial_rounds_share
    lag, duals, pricing = -np.inf, Duals.zero(inst), None
    centre: Duals | None = None  # the prices of the best bound so far
    # smoothing and lifting are for short supply: with beds to spare the flow's own
    # prices settle in a few rounds, and the extra passes would only cost time
    short = int(inst.capacity.sum()) < inst.n_children
    lp_x: np.ndarray | None = None
    rounds = 0
    # many pairs a round converge in few rounds; a national register's flow stays small
    per_unit = max(tp.transport_price_per_unit,
                   min(tp.transport_round_pairs, tp.transport_round_total // max(inst.units.n, 1)))
    while len(cands):
        t_round = ctx.elapsed()
        try:
            tr = flow.transport_relaxation(inst, cands)
        except RuntimeError as exc:  # cannot happen with integer costs; never crash on it
            log.warning("transportation relaxation failed (%s): zero-dual bound", exc)
            break
        cheap = short and pool is not None and t_round < share * opts.time_limit
        if rounds == 0 and t_round > tp.no_lp_share * opts.time_limit and not cheap:
            # the candidate pass took half the time (a slow machine): no pricing pass,
            # so no bound from these prices; the flow over the kept pairs still gives
            # the rounding its start, and on short supply a held pool's few bound passes
            # give the lifted bound (a held pool's rounds, cheap, run on short supply
            # while the rounds' share lasts: the zero-dual bound says little there)
            ctx.say("no time left for pricing: flow rounding and the lifted bound")
            duals_r = Duals(tr.pi, np.zeros(inst.n_placements))
            if short and pool is not None and tp.lift_evaluations:
                lag, duals, pricing, _ = lift(ctx, cands, pool, duals_r, no_pairs(inst),
                                              lag, duals_r, None, None)
            return cands, lag, duals if pricing is not None else duals_r, pricing, tr.x, 0
        rounds += 1
        duals_r = Duals(tr.pi, np.zeros(inst.n_placements))
        deadline = ctx_deadline(ctx, share)
        alpha = tp.smoothing if centre is not None and short else 0.0
        at = smoothed(centre, duals_r, alpha)
        pr = price(inst, cands, pool, at, None, per_unit=per_unit,
                   deadline=deadline)
        if alpha > 0 and not len(pr.add_unit):  # mis-priced: the flow's own prices
            if pr.lagrangian_bound >= lag:
                lag, duals, pricing, centre = pr.lagrangian_bound, at, pr, at
            at = duals_r
            pr = price(inst, cands, pool, at, None, per_unit=per_unit,
                       deadline=deadline)
        if pr.lagrangian_bound >= lag:
            lag, duals, pricing, centre = pr.lagrangian_bound, at, pr, at
        lp_x = tr.x
        ctx.say(f"transport round {rounds}: flow £{tr.value:,.2f}, bound over all pairs "
                f"£{pr.lagrangian_bound:,.2f} (best £{lag:,.2f}), {len(pr.add_unit):,} "
                f"pairs priced in ({ctx.elapsed():.1f}s)")
        converged = tr.value - lag <= max(1.0, 1e-4 * abs(tr.value))
        lifting = short and not converged and tp.lift_evaluations > 0
        # the next round is not started late (a lift, a few bound passes, may end past
        # the share: another round is worth more than the time kept for it)
        round_s = ctx.elapsed() - t_round
        if (len(pr.add_unit) == 0 or converged
                or ctx.elapsed() + round_s > share * opts.time_limit
                or rounds >= opts.max_pricing_rounds * 4):
            if lifting:  # the last prices, short of the LP: the bound a floor recovers
                lag, duals, pricing, centre = lift(ctx, cands, pool, at, pr, lag, duals,
                                                   pricing, centre)
            break
        cands = merge(cands, pr)
        lp_x = None
    return cands, lag, duals, pricing, lp_x, rounds


def lift(ctx: SolveContext, cands: Candidates, pool: PairPool | None, at: Duals,
         pr: Pricing, lag: float, duals: Duals, pricing: Pricing | None,
         centre: Duals | None) -> tuple[float, Duals, Pricing | None, Duals | None]:
    """The lifted bound (`pricing.lifted`) of this round's prices, or of no prices (a
    common floor alone: a flow far from the LP prices some beds far too high), or on the
    spatial route the bound at prices by type of placement (`classprices`), kept
    (with its pricing, and as the smoothing's centre) when it beats the best so far; the
    pairs to add stay this round's."""
    if cands.space is not None:
        # a national register: prices by type of placement (the beds no waiting child
        # can take priced apart), which a common floor cannot see
        lag_l, duals_l = class_bound(ctx.inst, cands, pool)
    else:
        lag_l, duals_l = max((lifted(ctx.inst, cands, pool, base,
                                     ctx.tuning.lift_evaluations)
                              for base in (at, Duals.zero(ctx.inst))), key=lambda t: t[0])
    if lag_l <= lag:
        return lag, duals, pricing, centre
    m_l = price(ctx.inst, cands, pool, duals_l, None, per_unit=0, grow=False)
    ctx.say(f"lifted prices: bound £{lag_l:,.2f}")
    return lag_l, duals_l, Pricing(m_l.lagrangian_bound, m_l.min_dropped_rc,
                                   m_l.best_option, pr.add_unit, pr.add_placement,
                                   pr.add_objective, pr.add_use), duals_l


def no_pairs(inst: Instance) -> Pricing:
    """A pricing pass that found nothing (no bound, no pair to add)."""
    z = np.zeros(0, dtype=np.int64)
    return Pricing(-np.inf, np.inf, inst.unit_unplaced.astype(float), z, z, np.zeros(0), z)


def whole_space(cands: Candidates) -> Candidates:
    """Every pair the spatial search has evaluated, as candidates (with its space)."""
    space = cands.space
    assert space is not None
    stats = dict(cands.stats)
    stats["pairs_kept"] = float(len(space))
    return Candidates(space.unit.astype(np.int64), space.placement.astype(np.int64),
                      space.objective, space.use.astype(np.int64), cands.n_feasible,
                      cands.limit, stats, space)


def smoothed(centre: Duals | None, duals: Duals, alpha: float) -> Duals:
    """alpha x centre + (1 - alpha) x duals, on the capacity prices (the transport
    route has no other relaxed row)."""
    if centre is None or alpha <= 0:
        return duals
    return Duals(alpha * centre.pi + (1 - alpha) * duals.pi, np.zeros_like(duals.rho))


def ctx_deadline(ctx: SolveContext, share: float) -> float:
    """`share` of the limit as a time.perf_counter() deadline (for the spatial search)."""
    return time.perf_counter() + ctx.share(share) - ctx.elapsed()


def column_generation(ctx: SolveContext, cands: Candidates) -> Relaxation:
    """LP rounds and pricing passes until the LP over the kept pairs meets the bound over
    every pair, or the stage's share of the time is spent."""
    inst, tp, pool = ctx.inst, ctx.tuning, ctx.pool
    t = time.perf_counter()
    lag0 = cands.stats.get("lagrangian_zero_bound", -np.inf)
    transport = use_transport(inst, pool, ctx.forced, ctx.max_moves, tp,
                              spatial=cands.space is not None)
    if ctx.opts.backend == "highs" and not transport and len(cands) >= tp.lp_server_pairs:
        ctx.start_server()
    if transport:
        cands, lag, duals, pricing, lp_x, rounds = transport_rounds(ctx, cands, pool)
        cliques = NO_CLIQUES
    elif use_moves_flow(pool, ctx.max_moves, tp):
        # a moves limit on a regional pool: flows at a moves price bring in the pairs
        # (moves_relax.py), simplex rounds with every row finish the LP
        cands, lag, duals, pricing, lp_x, rounds, cliques = moves_rounds(ctx, cands)
    else:
        cands, lag, duals, pricing, lp_x, rounds, cliques = simplex_rounds(ctx, cands)
    ctx.timings["lp"] = time.perf_counter() - t
    return Relaxation(cands, lag, lag0, duals, pricing, lp_x, rounds, cliques, transport)


def simplex_rounds(ctx: SolveContext, cands: Candidates
                   ) -> tuple[Candidates, float, Duals, Pricing | None, np.ndarray | None,
                              int, np.ndarray]:
    """Column generation with the restricted LP solved by the simplex.

    Stops when the LP is within a penny-scale tolerance of the bound over every pair and
    no clique cut is violated, or past `lp_share` of the limit. Returns (cands, bound,
    its duals, its pricing, the last LP's x when current, rounds, clique cuts)."""
    inst, opts, tp, pool = ctx.inst, ctx.opts, ctx.tuning, ctx.pool
    forced, max_moves = ctx.forced, ctx.max_moves
    lag, duals, lp_x, pricing = -np.inf, Duals.zero(inst), None, None
    rounds = 0
    cliques = NO_CLIQUES
    while len(cands):
        budget = ctx.share(tp.lp_share) - ctx.elapsed()
        if rounds and budget <= 0:
            break
        if ctx.elapsed() > ctx.share(tp.no_lp_share):
            # the candidate pass took half the time (a national register on a slow
            # machine): no LP; the hints and the zero-dual bound keep to the limit
            ctx.say("no time left for the LP: greedy start and the zero-dual bound")
            break
        rounds += 1
        duals_r, lp_val, x_r = lp_duals(inst, cands, max_moves, forced,
                                        time_limit=max(budget, ctx.share(tp.lp_round_min_share)),
                                        cliques=cliques, server=ctx.server)
        spatial = cands.space is not None  # pricing searches by space: no full pass
        if not np.isfinite(lp_val) and pool is None and not spatial:
            break  # no duals in time, and a pricing pass over the register is not cheap
        if (pool is None and not spatial and ctx.elapsed() + ctx.timings["candidates"]
                > ctx.share(tp.register_pricing_share)):
            # a pricing pass re-evaluates the whole register, about as long as the
            # candidate pass: it would not end in time. Keep the LP for the hints only.
            lp_x = x_r
            ctx.say("no time for a pricing pass over the register: LP used for the hints "
                    "only")
            break
        pr = price(inst, cands, pool, duals_r, None, per_unit=tp.price_per_unit,
                   max_moves=max_moves, forced=forced,
                   deadline=ctx_deadline(ctx, tp.lp_share))
        before = duals  # the best duals so far (zero at first: their bound is lag0)
        if pr.lagrangian_bound >= lag:
            lag, duals, pricing = pr.lagrangian_bound, duals_r, pr
        if (pool is not None and len(pool) > tp.line_search_pairs and np.isfinite(lp_val)
                and lp_val - pr.lagrangian_bound > 1e-4 * abs(lp_val)
                and ctx.elapsed() < ctx.share(tp.no_lp_share)):
            lag_t, duals_t, pricing_t = between(ctx, cands, before, duals_r, pr, lag)
            if pricing_t is not None:
                lag, duals, pricing = lag_t, duals_t, pricing_t
            ctx.say(f"LP round {rounds}: line search between duals: bound £{lag_t:,.2f}")
        lp_x = x_r
        ctx.say(f"LP round {rounds}: LP £{lp_val:,.2f}, bound over all pairs "
                f"£{pr.lagrangian_bound:,.2f}, {len(pr.add_unit):,} pairs priced in")
        # more rounds cannot move the LP or the bound by more than the tolerance
        converged = lp_val - pr.lagrangian_bound <= max(1.0, opts.lp_tolerance * abs(lp_val))
        new_q = (clique_cuts(inst, cands, x_r, cliques, tp.cliques_per_round)
                 if inst.units.n <= tp.clique_units and np.isfinite(lp_val) else NO_CLIQUES)
        if len(new_q):
            ctx.say(f"LP round {rounds}: {len(new_q)} clique cuts added")
        # once converged, the clique cuts still found move the LP by pence; the cut
        # proof's root finds them
        if ((converged or (len(pr.add_unit) == 0 and not len(new_q)))
                or ctx.elapsed() > ctx.share(tp.lp_share)
                or rounds >= opts.max_pricing_rounds * 4):
            break
        cliques = np.concatenate([cliques, new_q])
        if len(pr.add_unit):
            cands = merge(cands, pr)
        lp_x = None
    return cands, lag, duals, pricing, lp_x, rounds, cliques


def between(ctx: SolveContext, cands: Candidates, before: Duals, duals_r: Duals,
            pr: Pricing, lag: float) -> tuple[float, Duals, Pricing | None]:
    """The best bound on the segment from the best duals so far to this round's, and,
    when it beats `lag`, its pricing (the pairs to add stay this round's). Why: on a
    large register the restricted LP's duals are poor early on, and there is no time for
    many rounds; a point between them is a valid, much stronger bound (formulation.md)."""
    assert ctx.pool is not None
    lag_t, duals_t = line_search(ctx.inst, ctx.pool, before, duals_r, ctx.max_moves,
                                 ctx.forced)
    if lag_t <= lag:
        return lag_t, duals_t, None
    m_t = price(ctx.inst, cands, ctx.pool, duals_t, None, per_unit=0,
                max_moves=ctx.max_moves, forced=ctx.forced)
    return lag_t, duals_t, Pricing(m_t.lagrangian_bound, m_t.min_dropped_rc, m_t.best_option,
                                   pr.add_unit, pr.add_placement, pr.add_objective,
                                   pr.add_use)
