"""Stage: root cuts and the cut proof (cutpool.py explains why the cuts hold).

HiGHS's root node runs on the column-generation pairs in a process of its own from the
end of column generation; its cuts, certified, join the LP, and pricing over every pair
with them gives a bound close enough to the incumbent that reduced-cost fixing leaves a
small model for the last MIP.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..candidates import Candidates, PairPool
from ..cutpool import CarriedCuts, Cuts, carried, certify, harvest_cuts, harvest_start
from ..cutpool import applies as cut_proof_applies
from ..instance import Instance
from ..lpserver import LpServer
from ..params import SolverParams
from .colgen import Relaxation
from .context import RootCuts, SolveContext
from .highs_model import race_milp
from .lp import Duals, lp_duals
from .plans import objective_of, subset, unit_placement, with_musts
from .pricing import Pricing, dive_pairs, line_search, merge, price, reduced_costs


def start_root_cuts(ctx: SolveContext, relax: Relaxation) -> CutBound | None:
    """Start HiGHS's root on each unit's best pairs by reduced cost, where fixing may
    keep too many pairs for the search (a large pool, HiGHS's route, packing rows only)
    and the root can end by `harvest_share` of the limit. It runs while the hints are
    found; `ctx.root_cuts` holds it until read. With cuts carried from an earlier solve
    (`SolveOptions.start_cuts`), they are certified on this instance instead, and their
    bound returned now when it is above the LP's (the root is then not started)."""
    inst, tp, pool = ctx.inst, ctx.tuning, ctx.pool
    wanted = (ctx.opts.backend == "highs" and pool is not None
              and len(pool) > tp.fixing_pairs and ctx.opts.hint and tp.cut_proof
              and cut_proof_applies(inst, ctx.forced, ctx.max_moves))
    if not (wanted and np.isfinite(relax.lag) and not relax.transport
            and ctx.elapsed() < ctx.share(tp.harvest_share)):
        return None
    assert pool is not None
    if ctx.opts.start_cuts is not None:
        # certifying and pricing carried cuts takes a few LP rounds, not a root node
        t = time.perf_counter()
        bound = carried_bound(ctx, relax, pool, ctx.opts.start_cuts)
        ctx.timings["lp"] += time.perf_counter() - t  # pricing, as the LP stage's
        if bound is not None:
            return bound
    if (ctx.elapsed() + tp.harvest_vs_lp * ctx.timings["lp"]
            >= ctx.share(tp.harvest_share)):
        return None
    cands = relax.cands
    h_cands = (cands if relax.pricing is None else subset(cands, dive_pairs(
        inst, cands, relax.duals, relax.pricing.best_option, relax.lp_x,
        tp.harvest_pairs_per_unit)))
    pending = ctx.owns(harvest_start(
        inst, h_cands, max(ctx.share(tp.harvest_share) - ctx.elapsed(), 0.1), relax.cliques))
    ctx.root_cuts = RootCuts(h_cands, relax.cliques, pending)
    ctx.say(f"root cuts: HiGHS started on {len(h_cands):,} of the column-generation pairs")
    return None


def carried_bound(ctx: SolveContext, relax: Relaxation, pool: PairPool,
                  start_cuts: CarriedCuts) -> CutBound | None:
    """The cut bound of the cuts an earlier solve carried over, each certified again on
    this instance's rows over its own pairs (none of its right-hand sides is trusted);
    None when none is left or the bound is not above the LP's."""
    inst = ctx.inst
    m = inst.n_placements
    pool_keys = pool.unit.astype(np.int64) * m + pool.placement
    cuts = carried(inst, start_cuts, pool_keys)
    if not len(cuts):
        return None
    # the pairs the certificates need: the column-generation pairs and the cuts' own
    cands = relax.cands
    have = cands.unit * m + cands.placement
    extra = np.setdiff1d(cuts.key, have)
    at = np.searchsorted(pool_keys, extra)
    pairs = merge(cands, Pricing(relax.lag, np.inf, np.zeros(0), pool.unit[at].astype(np.int64),
                                 pool.placement[at].astype(np.int64), pool.objective[at],
                                 pool.use[at].astype(np.int64)))
    ctx.say(f"cut proof: {len(cuts)} cuts carried from the warm start")
    bound = certified_bound(inst, pairs, pool, relax.cliques, relax.lag,
                            ctx.t_start + ctx.time_limit - ctx.margin(), ctx.say, pairs, cuts,
                            "carried", ctx.min_final(), ctx.server, ctx.tuning)
    if bound is None:
        ctx.say("cut proof: the carried cuts do not raise the bound: HiGHS's root instead")
    return bound


@dataclass(frozen=True)
class CutProof:
    model: Candidates  # every pair the cut bound leaves in play
    chosen: np.ndarray | None  # HiGHS's plan over `model` (None: none)
    optimal: bool  # HiGHS proved `model` optimal
    mip_bound: float  # HiGHS's bound on `model`, pounds
    lag: float  # the Lagrangian bound with the certified cuts, over every pair
    min_excluded: float  # least reduced cost of a pair left out of `model`
    hint: np.ndarray  # the incumbent as indices into `model`
    best_obj: float  # its objective
    cuts: Cuts  # certified
    rounds: int
    complete: bool  # `model` holds every pair the bound leaves in play (else a search)


SOURCES = {"root": "HiGHS's root cuts", "carried": "carried from the warm start"}


@dataclass(frozen=True)
class CutBound:
    cuts: Cuts  # certified
    cands: Candidates  # the column-generation pairs, with those the rounds priced in
    lag: float  # the Lagrangian bound with the cuts, over every pair
    duals: Duals  # its duals
    rounds: int
    source: str  # "root": HiGHS's root cuts; "carried": a warm start's


def cut_proof(inst: Instance, cands: Candidates, model: Candidates, pool: PairPool,
               cliques: np.ndarray, best: np.ndarray, best_obj: float, lag: float,
               deadline: float, say: Callable[[str], None],
              harvest: RootCuts, min_final: float, tuning: SolverParams,
              server: LpServer | None = None, seeds: int = 1,
              gap: float = 0.0) -> CutProof | None:
    """HiGHS's root cuts (`harvest`: the pairs and cliques it was started on, and the
    running solve), certified, priced over every pair, then reduced-cost fixing and
    HiGHS on what is left (optimiser/cutpool.py). None when HiGHS returned no cut, the
    time ran out first, or the bound did not improve on `lag`; `best` indexes `model`.
    With less than `min_final` seconds left for the last MIP, only the bound."""
    bound = cut_bound(inst, cands, pool, cliques, lag, deadline, say, harvest, min_final,
                       server, tuning)
    if bound is None:
        return None
    return cut_search(inst, bound, model, pool, cliques, best, best_obj, deadline, say,
                       min_final, tuning, seeds, gap)


def cut_bound(inst: Instance, cands: Candidates, pool: PairPool, cliques: np.ndarray,
               lag: float, deadline: float, say: Callable[[str], None],
              harvest: RootCuts, min_final: float, server: LpServer | None,
              tuning: SolverParams) -> CutBound | None:
    """The cut proof's bound (see `cut_proof`), which needs no incumbent: it can be
    found while the dive searches for one."""
    h_cands, h_cliques, pending = harvest.cands, harvest.cliques, harvest.pending
    cuts = harvest_cuts(inst, h_cands, pending)
    ran = "" if pending.runtime is None else f"its root ended after {pending.runtime:.1f}s, "
    say(f"root cuts: {0 if cuts is None else len(cuts)} from HiGHS "
        f"({ran}read {time.perf_counter() - pending.started:.1f}s after it started)")
    if cuts is None or time.perf_counter() > deadline:
        return None
    return certified_bound(inst, cands, pool, cliques, lag, deadline, say, h_cands, cuts,
                           "root", min_final, server, tuning, h_cliques)


def certified_bound(inst: Instance, cands: Candidates, pool: PairPool, cliques: np.ndarray,
                    lag: float, deadline: float, say: Callable[[str], None],
                    cert_cands: Candidates, cuts: Cuts, source: str, min_final: float,
                    server: LpServer | None, tuning: SolverParams,
                    cert_cliques: np.ndarray | None = None) -> CutBound | None:
    """`cuts` over `cert_cands` (which holds their pairs) certified on its rows (with
    `cert_cliques`, else `cliques`), then priced over every pair with them: the cut
    bound, or None when none is certified or the bound is not above `lag`."""
    raw = cuts.rhs
    n_raw = len(cuts)
    # the certificates end in time for the last MIP (a cut whose LP does not round to
    # its claim gets a MIP of its own)
    cuts = certify(inst, cert_cands, cuts, cliques if cert_cliques is None else cert_cliques,
                   deadline=deadline - min_final)
    say(f"cut proof: {len(cuts)} of {n_raw} cuts ({SOURCES[source]}) certified, "
        f"{int((cuts.rhs <= raw[: len(cuts)] + 1e-9).sum())} at the right-hand side claimed")
    if not len(cuts):
        return None
    cc = cands
    lag_c, duals_c = -np.inf, None
    rounds = 0
    # rounds while they leave half the time for the last MIP: each round tightens the
    # bound, so fewer pairs go to that MIP
    half = time.perf_counter() + tuning.cut_rounds_share * (deadline - time.perf_counter())
    while rounds < tuning.cut_rounds:
        t_round = time.perf_counter()
        rounds += 1
        duals_r, lp_val, _ = lp_duals(inst, cc, cliques=cliques,
                                      time_limit=deadline - time.perf_counter(),
                                      extra=(cuts.over(inst, cc), cuts.rhs),
                                      server=server, extra_tag=1)
        if not np.isfinite(lp_val):
            break
        pr = price(inst, cc, pool, duals_r, None, per_unit=tuning.transport_price_per_unit)
        lag_r = pr.lagrangian_bound
        if duals_c is not None:
            # the LP's duals jump between its many optima; a point between them and the
            # best so far is a valid and usually better bound (formulation.md)
            lag_t, duals_t = line_search(inst, pool, duals_c, duals_r, None, None)
            if lag_t > max(lag_r, lag_c):
                lag_c, duals_c = lag_t, duals_t
        if lag_r > lag_c:
            lag_c, duals_c = lag_r, duals_r
        say(f"cut proof round {rounds}: LP £{lp_val:,.2f}, bound over all pairs "
            f"£{lag_c:,.2f}")
        if (not len(pr.add_unit) or lp_val - lag_c <= 1e-7 * abs(lp_val)
                or 2 * time.perf_counter() - t_round > half):
            break
        cc = merge(cc, pr)
    if duals_c is None or lag_c <= lag:
        return None
    return CutBound(cuts, cc, lag_c, duals_c, rounds, source)


def cut_search(inst: Instance, bound: CutBound, model: Candidates, pool: PairPool,
                cliques: np.ndarray, best: np.ndarray, best_obj: float, deadline: float,
                say: Callable[[str], None], min_final: float, tuning: SolverParams,
                seeds: int = 1, gap: float = 0.0) -> CutProof:
    """Reduced-cost fixing against the cut bound, then HiGHS with the cuts on the pairs
    left (see `cut_proof`). When the incumbent is far from the bound, fixing is against
    a target gap that keeps `cut_target_pairs`: every pair left out costs more than the
    target over the bound, so the model's optimum is proven when it is within it, and
    when it is not, fixing against that optimum (a plan) is repeated."""
    cuts, cc, lag_c, duals_c, rounds = (bound.cuts, bound.cands, bound.lag, bound.duals,
                                        bound.rounds)
    if deadline - time.perf_counter() < min_final:
        # no time for the last MIP: the bound over all pairs is what this gives
        return CutProof(model, None, False, -np.inf, lag_c, 0.0, best, best_obj,
                         cuts, rounds, False)
    place = unit_placement(model, best)
    # every pool pair `price` does not add has lag_c + reduced cost >= the incumbent
    ex = price(inst, cc, pool, duals_c, best_obj, per_unit=None)
    pairs = merge(cc, ex)
    red = reduced_costs(inst, pairs, duals_c, ex.best_option)
    fx = CutFixing(inst, pairs, red, best_obj - lag_c, proof_tol(best_obj))
    target = fx.target(tuning.cut_target_pairs)
    final, left_out, hint = fx.model(target, place)
    limit = max(tuning.fixing_factor * len(model), tuning.cut_proof_pairs)
    complete = len(final) <= limit
    if not complete:
        # the bound is still far (cuts weaker than usual, or one round only): too many
        # pairs for a proof in the time; search the search model's pairs it keeps, the
        # bound over all pairs stands as it is
        mkey = np.sort(model.unit * inst.n_placements + model.placement)
        final, left_out, hint = fx.model(target, place, within=mkey)
    say(f"cut proof: bound £{lag_c:,.2f} over all pairs; {len(final):,} pairs "
        + ("can still matter" if complete else "searched, of the more that could matter")
        + f" (gap £{fx.slack:,.2f}"
        + (f"; fixed at a reduced cost of £{target:,.2f})" if target < fx.slack else ")"))

    def last_mip(final: Candidates, hint: np.ndarray) -> tuple[np.ndarray | None, bool, float]:
        return race_milp(inst, final, deadline - time.perf_counter(), seeds, cliques=cliques,
                         hint=hint, extra=(cuts.over(inst, final), cuts.rhs), gap=gap)

    chosen, optimal, mip_bound = last_mip(final, hint)
    while True:
        z = objective_of(inst, final, chosen) if chosen is not None else np.inf
        min_excluded = fx.excluded(left_out, min(z, best_obj))
        # the target's model: proven if its optimum is within what the pairs left out
        # cost at least; else that optimum is a plan, and fixing against it keeps more
        if (not (complete and optimal and chosen is not None and target < fx.slack)
                or lag_c + min_excluded >= z - proof_tol(z)
                or deadline - time.perf_counter() < min_final):
            break
        assert chosen is not None
        wider_fx = CutFixing(inst, pairs, red, z - lag_c, fx.tol)
        wider = wider_fx.model(wider_fx.slack + fx.tol, unit_placement(final, chosen))
        if len(wider[0]) > limit:
            break
        say(f"cut proof: the target's optimum £{z:,.2f} is above what it proves; "
            f"{len(wider[0]):,} pairs within its gap £{wider_fx.slack:,.2f}")
        fx, target, best_obj = wider_fx, wider_fx.slack + fx.tol, z
        final, left_out, hint = wider
        chosen, optimal, mip_bound = last_mip(final, hint)
    return CutProof(final, chosen, optimal, mip_bound, lag_c, min_excluded, hint,
                     best_obj, cuts, rounds, complete)


def proof_tol(objective: float) -> float:
    """The tolerance `search.outcome` allows a proof at a plan of this objective."""
    return 1e-6 * max(1.0, abs(objective))


@dataclass(frozen=True)
class CutFixing:
    """Reduced-cost fixing of `pairs` (reduced costs `red` under the cut bound's duals)
    against a gap: `slack` is the incumbent's over the bound, and every pool pair not in
    `pairs` has a reduced cost of at least `slack - tol`."""

    inst: Instance
    pairs: Candidates
    red: np.ndarray
    slack: float
    tol: float

    def target(self, most: int) -> float:
        """The gap to fix against: the incumbent's, or the least that keeps about `most`
        pairs when the incumbent's keeps more."""
        if most <= 0 or int((self.red <= self.slack + self.tol).sum()) <= most:
            return self.slack + self.tol
        return min(float(np.partition(self.red, most - 1)[most - 1]), self.slack + self.tol)

    def model(self, target: float, place: np.ndarray, within: np.ndarray | None = None
              ) -> tuple[Candidates, float, np.ndarray]:
        """The pairs of reduced cost at most `target` (and the plan `place`'s, per unit;
        with `within`, sorted pair keys, only those among them), the least reduced cost
        left out, and the plan as indices into the pairs kept."""
        inst, pairs, red = self.inst, self.pairs, self.red
        m = inst.n_placements
        key = pairs.unit * m + pairs.placement
        placed = np.flatnonzero(place >= 0)
        at = np.searchsorted(key, placed * m + place[placed])
        keep = red <= target
        if within is not None:
            keep &= np.isin(key, within)
        keep = with_musts(inst, pairs, keep, at, None)
        left_out = float(red[~keep].min()) if (~keep).any() else np.inf
        final = subset(pairs, keep)
        fkey = key[keep]
        hint = np.full(inst.units.n, -1, dtype=np.int64)
        hint[placed] = np.searchsorted(fkey, placed * m + place[placed])
        return final, left_out, hint

    def excluded(self, left_out: float, best: float) -> float:
        """What any plan using a pair left out costs over the bound at least, as
        `search.outcome` reads it at a plan of objective `best`: the least reduced cost
        left out (`left_out`) less the tolerance it allows there, so that a pair just
        above a target never passes for one above the plan; and the pool's pairs never
        priced in, at least the gap less the tolerance of `price`."""
        return min(left_out - proof_tol(best), self.slack - self.tol)
