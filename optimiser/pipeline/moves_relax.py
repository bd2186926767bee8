"""Column generation for a re-allocation: the moves row priced, the restricted LP a flow.

A re-allocation's rows beyond the transportation problem are the moves limit, the pins
and the children kept placed (`colgen.flow_roundable`). Pins and kept placements only
take away a unit's unplaced option (a pinned unit's one pair is its pinned placement), so
with a price `lam >= 0` on the moves row the restricted LP is again a transportation
problem: every pair pays `c + lam * moves`, an unplaced unit `U + lam * placed`, and the
right-hand side gives back `lam * N`. Its optimum over the kept pairs, as a function of
`lam`, is concave; its maximum is the restricted LP with the moves row (Lagrangian
duality), found by a few flows. The flow's capacity prices and `lam` are then multipliers
of the relaxed rows: `pricing.price` evaluates the bound over every pair from them, with
the model's exact rows (no unplaced option for pinned and kept units, the moves price on
every pair), so the bound is valid whatever the flows return (formulation.md, "The bound
and reduced-cost fixing still hold"), and brings in the pairs of negative reduced cost.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import numpy as np

from .. import flow
from ..candidates import Candidates, PairPool, unit_slices
from ..instance import Instance
from ..params import SolverParams
from .context import SolveContext
from .lp import Duals, lp_duals
from .plans import forced_pairs, subset
from .pricing import Pricing, dive_pairs, line_search, merge, price
from .rows import NO_CLIQUES, clique_cuts, departure_coef

log = logging.getLogger(__name__)

# the flows price the departure rows (`departure_prices`): without them the flows'
# bound stays far below the LP (a sibling group split over single vacancies)
PRICE_DEPARTURES = True
RHO_WHERE_BROKEN = True
RHO_MARGIN = 1e-3  # of the moves price, kept below what makes residents indifferent
# flows per search of the moves price in the first round, and in later rounds (warm
# from the last round's price, the search starts from the bracket WARM_BRACKET x it);
# a search ends when its bracket is this narrow (relative): the LP's value is flat there
PRICE_SEARCH_FIRST = 4
PRICE_SEARCH_WARM = 5
WARM_BRACKET = (0.7, 1.4)
PRICE_TOLERANCE = 5e-3
# the route's size and its time shares are SolverParams' moves_* fields


@dataclass(frozen=True)
class MovesFlow:
    """The transportation relaxation of the kept pairs at one moves price `lam`."""

    lam: float
    pi: np.ndarray  # capacity prices (per bed)
    rho: np.ndarray  # departure prices (per placement)
    value: float  # the restricted LP with the moves row relaxed at `lam`, in £
    moves: float  # the moves row's left-hand side at the flow's solution
    x: np.ndarray  # per kept pair, its share
    duals: Duals  # every multiplier: the flow's capacity prices, `lam`, the rows' prices


def must_place(inst: Instance, forced: np.ndarray) -> np.ndarray:
    """Per unit: no unplaced option (pinned, or placed and kept placed)."""
    out = inst.keep_placed.copy()
    if forced.any():
        out |= forced
    return out


def moves_flow(inst: Instance, cands: Candidates, lam: float, forced: np.ndarray,
               max_moves: int, gain: np.ndarray | None = None,
               template: Duals | None = None) -> MovesFlow:
    """The restricted LP at moves price `lam`, as one min-cost flow over `cands`.

    Pinned units take their pair and its beds before the flow. A unit that must be placed
    has every pair's cost lowered by `big` (more than any unit can save by its beds), so
    the flow places it (its stay pair is always kept and fits); a unit's constant
    `lam * placed` is taken out of its options (pair `c + lam * moves - lam * placed`,
    unplaced `U`), which leaves the flow's solution as it is. With `gain`
    (`resident_gain`), the departure rows are priced too (`departure_prices`), each pair
    paying `rho_p` times its departure coefficient. With `template` (an LP's multipliers),
    every relaxed row but capacity is priced as there (departures, cuts), and the flow
    gives the capacity prices that go with them over all of `cands`."""
    units = inst.units
    zero = np.zeros(inst.n_placements)
    if template is not None:
        rows = replace(template, pi=zero, mu=lam)
    else:
        rows = Duals(zero, zero if gain is None else departure_prices(inst, gain, lam), lam)
    rho = rows.rho
    charge = rows.pair_price(inst, cands.unit, cands.placement, cands.use)
    must = must_place(inst, forced) & ~forced
    pin = forced_pairs(inst, cands, forced)
    active = ~forced
    cap = inst.capacity.astype(np.int64) - np.bincount(
        cands.placement[pin], weights=cands.use[pin], minlength=inst.n_placements
    ).astype(np.int64)
    placed = inst.unit_placed.astype(float)
    big = 2.0 * float(inst.unit_unplaced.max(initial=0.0)) + 2.0 * float(
        np.abs(cands.objective + charge).max(initial=0.0)) + lam * float(placed.max(initial=1))
    shifted = cands.objective + charge - lam * placed[cands.unit] - big * must[cands.unit]
    t0 = time.perf_counter()
    tr = flow.transport_relaxation(inst, replace(cands, objective=shifted), capacity=cap,
                                   active=active)
    share = np.bincount(cands.unit, weights=tr.x, minlength=units.n)
    moved = inst.pair_moves(cands.unit, cands.placement).astype(float)
    moves = float((tr.x * moved).sum() + (placed * (1.0 - share))[active].sum()
                  + moved[pin].sum())
    value = (tr.value + big * float(must.sum()) + lam * float(placed[active].sum())
             + float((cands.objective + charge)[pin].sum()) - lam * max_moves
             - float((rho * inst.residents).sum()) - rows.gamma_rhs)
    x = tr.x.copy()
    x[pin] = 1.0
    # a placement the flow cannot reach (its beds all pinned) has an unbounded distance
    # to the sink; no other unit can use it, so price 0 there, and no bed above what a
    # unit could pay for it (any prices >= 0 give a valid bound; huge ones lose it to
    # rounding when the pinned units' charges and the constant cancel)
    pi = np.where(cap > 0, np.minimum(tr.pi, moves_ceiling(inst, cands) + lam), 0.0)
    log.debug("flow at %.2f over %d pairs: %.2fs, moves %.1f", lam, len(cands),
              time.perf_counter() - t0, moves)
    return MovesFlow(lam, pi, rho, value, moves, x, replace(rows, pi=pi))


def resident_gain(inst: Instance, pool: PairPool, forced: np.ndarray) -> np.ndarray:
    """Per placement, the most a unit living there whole saves a member by its best other
    option over every pair (a move, or leaving it unplaced where it may be); infinite
    where a unit lives partly there (its pairs' departure terms are not all `stay`)."""
    n_u = inst.units.n
    stay_c = np.full(n_u, np.nan)
    alt = np.where(must_place(inst, forced), np.inf, inst.unit_unplaced.astype(float))
    for s, e in unit_slices(pool.unit):
        u = pool.unit[s:e].astype(np.int64)
        p = pool.placement[s:e].astype(np.int64)
        o = pool.objective[s:e].astype(float)
        moved = inst.pair_moves(u, p)
        home = (moved == 0) & (inst.unit_placed[u] > 0)
        stay_c[u[home]] = o[home]
        np.minimum.at(alt, u[~home], o[~home])
    size = np.maximum(inst.units.size, 1)
    unit_gain = np.maximum(stay_c - alt, 0.0) / size
    gain = np.zeros(inst.n_placements)
    lives = inst.current >= 0
    cu, cp = inst.units.unit_of[lives], inst.current[lives]
    whole = np.isfinite(stay_c[cu]) & (inst.pair_moves(cu, cp) == 0)
    np.maximum.at(gain, cp[whole], np.nan_to_num(unit_gain[cu[whole]], nan=np.inf))
    gain[cp[~whole]] = np.inf
    return gain


def departures_broken(inst: Instance, cands: Candidates, x: np.ndarray) -> np.ndarray:
    """Per placement: the departure row is broken by `x` on `cands`."""
    g = departure_coef(inst, cands.unit, cands.placement, cands.use)
    lhs = np.bincount(cands.placement, weights=g * x, minlength=inst.n_placements)
    return lhs > inst.residents + 1e-6


def departure_prices(inst: Instance, gain: np.ndarray, lam: float) -> np.ndarray:
    """Departure row prices under moves price `lam`: a resident leaving costs a move, so
    a newcomer needing a resident's bed pays up to `lam` for it, less what the residents
    would gain by leaving, and a margin (so that they strictly prefer to stay: a tie
    would let the flow move them)."""
    margin = RHO_MARGIN * max(lam, 1.0)
    return np.where(inst.residents > 0, np.maximum(lam - gain - margin, 0.0), 0.0)


def moves_ceiling(inst: Instance, cands: Candidates) -> float:
    """A moves price above which no move pays in any flow: a move saves at most the
    unplaced cost of a waiting child and the mover's own dearest pair."""
    per_child = inst.unit_unplaced / np.maximum(inst.units.size, 1)
    return float(per_child.max(initial=0.0) + np.abs(cands.objective).max(initial=0.0) + 1.0)


def search_price(inst: Instance, cands: Candidates, forced: np.ndarray, max_moves: int,
                 lo: float, hi: float, steps: int, gain: np.ndarray | None = None
                 ) -> tuple[MovesFlow, MovesFlow | None]:
    """The moves price maximising the restricted LP's relaxed value on [lo, hi] (concave,
    piecewise linear): the flows at the two ends, then where their supporting lines meet
    (exact on two pieces), else halving. Returns the best flow and, when the limit binds,
    the flow of the nearest price above the best with its moves within the limit (None
    when the best itself keeps the limit)."""
    f_lo = moves_flow(inst, cands, lo, forced, max_moves, gain)
    f_hi = None
    while f_lo.moves <= max_moves + 1e-9 and lo > 0:  # widen down until the limit binds
        hi, f_hi = lo, f_lo
        lo = 0.0 if lo < 1.0 else lo / 4.0
        f_lo = moves_flow(inst, cands, lo, forced, max_moves, gain)
    if f_lo.moves <= max_moves + 1e-9:
        return f_lo, None  # the limit does not bind at price 0: no higher price helps
    if f_hi is None:
        f_hi = moves_flow(inst, cands, hi, forced, max_moves, gain)
    top = 64.0 * hi  # flows' costs stay within the flow's range
    while f_hi.moves > max_moves + 1e-9 and hi < top:  # widen until the limit is kept
        lo, f_lo = hi, f_hi
        hi *= 4.0
        f_hi = moves_flow(inst, cands, hi, forced, max_moves, gain)
    best = max((f_lo, f_hi), key=lambda f: f.value)
    if f_hi.moves > max_moves + 1e-9:  # no price in range keeps the limit: no bracket
        return best, None
    for i in range(max(steps - 2, 0)):
        g_lo, g_hi = f_lo.moves - max_moves, f_hi.moves - max_moves
        lam = (f_hi.value - f_lo.value + g_lo * f_lo.lam - g_hi * f_hi.lam) / (g_lo - g_hi)
        if not (f_lo.lam < lam < f_hi.lam) or i % 3 == 2:
            lam = 0.5 * (f_lo.lam + f_hi.lam)  # a safeguard against slow secant steps
        f = moves_flow(inst, cands, lam, forced, max_moves, gain)
        if f.value > best.value:
            best = f
        if f.moves > max_moves + 1e-9:
            f_lo = f
        else:
            f_hi = f
        if f_hi.lam - f_lo.lam <= PRICE_TOLERANCE * max(1.0, f_hi.lam):
            break
    return best, (f_hi if best.moves > max_moves + 1e-9 else None)


def blended_x(best: MovesFlow, feasible: MovesFlow | None, max_moves: int) -> np.ndarray:
    """A point of the two flows whose moves meet the limit: an LP solution of the kept
    pairs with the moves row (exact when both lie on the best price's two pieces)."""
    if feasible is None or best.moves <= max_moves:
        return best.x
    t = (best.moves - max_moves) / max(best.moves - feasible.moves, 1e-12)
    t = min(max(t, 0.0), 1.0)
    return (1.0 - t) * best.x + t * feasible.x


def use_moves_flow(pool: PairPool | None, max_moves: int | None,
                   tuning: SolverParams) -> bool:
    """The moves route: a moves limit on a held pool too large for simplex rounds to
    reach the LP over every pair in time."""
    return max_moves is not None and pool is not None and len(pool) > tuning.moves_flow_pairs


def moves_rounds(ctx: SolveContext, cands: Candidates
                 ) -> tuple[Candidates, float, Duals, Pricing | None, np.ndarray | None,
                            int, np.ndarray]:
    """Column generation for a re-allocation with a moves limit: flow rounds bring in the
    pairs the LP needs, many a round, and a first bound; simplex rounds then solve the LP
    with every row (departures, cuts) from each unit's best pairs by reduced cost, each
    round's bound also searched on the segment from the best multipliers so far. The same
    contract as `colgen.simplex_rounds`: (cands, bound, its duals, its pricing, the last
    restricted LP's x on cands, rounds, clique cuts)."""
    inst, pool = ctx.inst, ctx.pool
    forced = ctx.forced if len(ctx.forced) else np.zeros(inst.units.n, dtype=bool)
    cands, lag, duals, pricing, lp_x, rounds = flow_rounds(ctx, cands, forced)
    if pricing is None or pool is None or ctx.elapsed() > ctx.share(ctx.tuning.moves_no_lp_share):
        return cands, lag, duals, pricing, lp_x, rounds, NO_CLIQUES
    keep = dive_pairs(inst, cands, duals, pricing.best_option, lp_x, ctx.tuning.moves_simplex_pairs)
    keep[forced_pairs(inst, cands, forced)] = True
    start = subset(cands, keep)
    ctx.say(f"moves route: the LP with every row from {len(start):,} pairs")
    best = Bound(lag, duals, pricing)
    s_cands, best, s_x, s_rounds, cliques = lp_rounds(ctx, start, cands, forced, best)
    if s_x is None and not np.isfinite(best.lag):
        return cands, lag, duals, pricing, lp_x, rounds, NO_CLIQUES
    return s_cands, best.lag, best.duals, best.pricing, s_x, rounds + s_rounds, cliques


def repriced(ctx: SolveContext, wide: Candidates, forced: np.ndarray, duals: Duals,
             best: Bound) -> Bound:
    """The LP's multipliers with the capacity prices of one flow over `wide` (the flows'
    pairs and all priced in since) under the LP's other multipliers: a restricted LP's
    capacity duals over-price the beds its few pairs compete for; the flow's see every
    pair kept. The better of this bound and `best`."""
    assert ctx.max_moves is not None
    f = moves_flow(ctx.inst, wide, duals.mu, forced, ctx.max_moves, template=duals)
    m = price(ctx.inst, wide, ctx.pool, f.duals, None, per_unit=0,
              max_moves=ctx.max_moves, forced=forced)
    ctx.say(f"moves route: the LP's multipliers with a flow's capacity prices: bound "
            f"£{m.lagrangian_bound:,.2f}")
    if m.lagrangian_bound <= best.lag or best.pricing is None:
        return best
    return Bound(m.lagrangian_bound, f.duals, replace(
        m, add_unit=best.pricing.add_unit, add_placement=best.pricing.add_placement,
        add_objective=best.pricing.add_objective, add_use=best.pricing.add_use))


@dataclass(frozen=True)
class Bound:
    """The best bound so far, its multipliers and its pricing pass."""

    lag: float
    duals: Duals
    pricing: Pricing | None


def lp_rounds(ctx: SolveContext, cands: Candidates, wide: Candidates, forced: np.ndarray,
              best: Bound) -> tuple[Candidates, Bound, np.ndarray | None, int, np.ndarray]:
    """Simplex rounds (the LP with every row over `cands`, a pricing pass over the pool),
    each with a line search from the best multipliers so far (the flows' at first: a
    restricted LP's duals over-price the beds its few pairs compete for). Stops when the
    LP meets the bound, or past `moves_lp_share` of the limit. Returns (cands, the best
    bound, the last LP's x when current, rounds, clique cuts)."""
    inst, opts, tp, pool = ctx.inst, ctx.opts, ctx.tuning, ctx.pool
    assert pool is not None
    max_moves = ctx.max_moves
    lp_x: np.ndarray | None = None
    cliques, rounds = NO_CLIQUES, 0
    while len(cands):
        budget = ctx.share(tp.moves_lp_share) - ctx.elapsed()
        if rounds and budget <= 0:
            break
        rounds += 1
        duals_r, lp_val, x_r = lp_duals(inst, cands, max_moves, forced,
                                        time_limit=max(budget, ctx.share(tp.lp_round_min_share)),
                                        cliques=cliques, server=ctx.server)
        if not np.isfinite(lp_val):
            break
        pr = price(inst, cands, pool, duals_r, None, per_unit=tp.moves_lp_price_per_unit,
                   max_moves=max_moves, forced=forced)
        lag_t = -np.inf
        if lp_val - max(pr.lagrangian_bound, best.lag) > 1e-4 * abs(lp_val):
            lag_t, duals_t = line_search(inst, pool, best.duals, duals_r, max_moves, forced)
            if lag_t > max(pr.lagrangian_bound, best.lag):
                m_t = price(inst, cands, pool, duals_t, None, per_unit=0,
                            max_moves=max_moves, forced=forced)
                best = Bound(m_t.lagrangian_bound, duals_t,
                             replace(m_t, add_unit=pr.add_unit, add_placement=pr.add_placement,
                                     add_objective=pr.add_objective, add_use=pr.add_use))
        if pr.lagrangian_bound >= best.lag:
            best = Bound(pr.lagrangian_bound, duals_r, pr)
        wide = merge(wide, pr)
        if lp_val - best.lag > 1e-4 * abs(lp_val) and ctx.elapsed() < ctx.share(tp.moves_lp_share):
            best = repriced(ctx, wide, forced, duals_r, best)
        lp_x = x_r
        ctx.say(f"moves route LP round {rounds}: LP £{lp_val:,.2f}, bound over all pairs "
                f"£{pr.lagrangian_bound:,.2f} (line search £{lag_t:,.2f}, best "
                f"£{best.lag:,.2f}), {len(pr.add_unit):,} pairs priced in ({ctx.elapsed():.1f}s)")
        converged = lp_val - best.lag <= max(1.0, opts.lp_tolerance * abs(lp_val))
        new_q = (clique_cuts(inst, cands, x_r, cliques, tp.cliques_per_round)
                 if inst.units.n <= tp.clique_units else NO_CLIQUES)
        if (((len(pr.add_unit) == 0 or converged) and not len(new_q))
                or ctx.elapsed() > ctx.share(tp.moves_lp_share)
                or rounds >= opts.max_pricing_rounds * 4):
            break
        cliques = np.concatenate([cliques, new_q])
        if len(pr.add_unit):
            cands = merge(cands, pr)
        lp_x = None
    return cands, best, lp_x, rounds, cliques


def flow_rounds(ctx: SolveContext, cands: Candidates, forced: np.ndarray
                ) -> tuple[Candidates, float, Duals, Pricing | None, np.ndarray | None, int]:
    """Rounds of: the best moves price for the kept pairs (a few flows), a pricing pass
    over every pair at it. Returns (cands, bound, its duals, its pricing, the flows' x
    on cands, rounds)."""
    inst, opts, tp, pool = ctx.inst, ctx.opts, ctx.tuning, ctx.pool
    assert ctx.max_moves is not None
    n_moves = ctx.max_moves
    lag, duals, pricing, lp_x = -np.inf, Duals.zero(inst), None, None
    per_unit = max(tp.transport_price_per_unit,
                   min(tp.transport_round_pairs, tp.transport_round_total // max(inst.units.n, 1)))
    lo, hi, steps = 0.0, moves_ceiling(inst, cands), PRICE_SEARCH_FIRST
    rounds = 0
    deadline = time.perf_counter() + ctx.share(tp.moves_flow_share) - ctx.elapsed()
    gain = resident_gain(inst, pool, forced) if pool is not None and PRICE_DEPARTURES else None
    # departures are priced only where a flow broke them: elsewhere a price would only
    # make the residents cheap to displace (through the capacity rows)
    broken = np.zeros(inst.n_placements, dtype=bool) if RHO_WHERE_BROKEN else inst.residents > 0
    while len(cands):
        t_round = ctx.elapsed()
        if t_round > ctx.share(tp.no_lp_share):
            # the candidate pass took half the time (a slow machine): no relaxation; the
            # hints and the zero-dual bound keep to the limit
            ctx.say("no time left for the flows: greedy start and the zero-dual bound")
            break
        rounds += 1
        where = None if gain is None else np.where(broken, gain, np.inf)
        best, feasible = search_price(inst, cands, forced, n_moves, lo, hi, steps, where)
        broken |= departures_broken(inst, cands, best.x)
        at = best.duals
        pr = price(inst, cands, pool, at, None, per_unit=per_unit, max_moves=n_moves,
                   forced=forced, deadline=deadline)
        if pr.lagrangian_bound >= lag:
            lag, duals, pricing = pr.lagrangian_bound, at, pr
        lp_x = blended_x(best, feasible, n_moves)
        ctx.say(f"moves round {rounds}: moves price £{best.lam:,.2f}, flow £{best.value:,.2f}, "
                f"bound over all pairs £{pr.lagrangian_bound:,.2f} (best £{lag:,.2f}), "
                f"{len(pr.add_unit):,} pairs priced in ({ctx.elapsed():.1f}s)")
        round_s = ctx.elapsed() - t_round
        if len(pr.add_unit) == 0:
            break
        # the pairs priced in stay, even after the last round: the LP rounds start there
        lp_x = merged_x(cands, pr, lp_x)
        cands = merge(cands, pr)
        # the first round's flows see each unit's cheapest pairs only: a second is
        # worth more than an early start of the LP rounds, while it ends by their start
        late = ctx.share(tp.moves_flow_share if rounds >= 2 else tp.moves_no_lp_share)
        if (ctx.elapsed() + round_s > late
                or rounds >= tp.moves_flow_rounds or rounds >= opts.max_pricing_rounds * 4):
            break
        # the next search starts near this price: new pairs move it, but not far
        lo, hi, steps = WARM_BRACKET[0] * best.lam, max(WARM_BRACKET[1] * best.lam, 1.0), \
            PRICE_SEARCH_WARM
    return cands, lag, duals, pricing, lp_x, rounds


def merged_x(cands: Candidates, pr: Pricing, x: np.ndarray) -> np.ndarray:
    """`x` on `merge(cands, pr)`: the pairs priced in at 0."""
    order = np.lexsort((np.concatenate([cands.placement, pr.add_placement]),
                        np.concatenate([cands.unit, pr.add_unit])))
    return np.concatenate([x, np.zeros(len(pr.add_unit))])[order]
