"""Re-solves with a recruit added, from the plan before, without solving everything again.

The screen's augmented instance (every candidate profile a placement, every feasible pair
in its pool) is the model of every re-solve: recruiting a profile opens its pairs and
its beds, and nothing else changes. So a re-solve starts from the plan before, which
stays a plan, and searches a neighbourhood of it with HiGHS on the engine's restricted
model (`solve_milp`): every unit keeps its place except

- those that gain most by moving to the recruit at the relaxation's prices, and
- those that could take a bed they leave (the pairs of lowest reduced cost there);

each unit set free may take its pairs of lowest reduced cost. Rounds repeat while the
plan improves. The plan a step of the greedy plan keeps is searched again (`settle`)
with the relaxation that recruits it (the next step's), the units it places otherwise
than the plan, or fractionally, set free too; so is the first allocation, before any
saving is verified from it. A re-solve never returns a plan worse than the one before,
so its saving is never negative; not proven, it is a lower bound (the plan found with
the recruit is at least that much cheaper).

Its bound (what no plan with the recruit can beat):

- Lagrangian: the relaxation's bed prices, the recruit's beds priced at their best (its
  value is the relaxation's less the recruit's predicted saving, recruit.py);
- by removal: a plan with the recruit, the units it holds left unplaced, is a plan
  without it, so it costs at least the bound before less the best filling of the
  recruit's beds with any units at their unplaced penalty (a 0/1 knapsack).

A re-solve is proven where its plan meets its bound, or where HiGHS proves the model over
every pair whose reduced cost is within the gap (any plan using another pair costs more
than the Lagrangian bound plus that reduced cost, so more than the plan): then its
saving is exact, as any proven solve's.

The route holds for the plain model only: no re-allocation rule (every unit may be left
unplaced), no split siblings and no child already in an instance placement (the pool and
the relaxation of the screen are then the engine's model exactly); `applies` says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..instance import Instance
from ..pipeline.highs_model import solve_milp
from ..pipeline.plans import objective_of
from ..status import Status
from .recruit import (
    BOUND_SLACK,
    BOUND_SLACK_SHARE,
    Outcome,
    Screen,
    saving_bounds,
    subset,
)
from .value import TOL, Relaxation

FREE_PAIRS = 12  # pairs of lowest reduced cost open to each unit set free
RECRUIT_UNITS = 4  # units that gain most at the recruit set free, per bed
FILLERS = 3  # units set free per bed left, those of lowest reduced cost there
ROUNDS = 4  # neighbourhood searches at most per re-solve
PROOF_PAIRS = 20_000  # the largest model over every pair that could matter, to prove
PROVEN_EPS = 0.005  # half a penny: a plan this close to its bound is optimal
GAP_MARGIN = 0.01  # a penny more than the gap: pairs beyond cannot improve the plan


def applies(inst: Instance) -> bool:
    """Whether re-solves may take this route (see module)."""
    return not (inst.reallocation.active or inst.policy.rules.split_siblings
                or inst.residents.any() or (inst.pinned_unit >= 0).any()
                or inst.keep_placed.any())


@dataclass(frozen=True)
class Prices:
    """Bed prices read for re-solves: the Lagrangian bound they give and per unit its
    cheapest priced option (leaving it unplaced included)."""

    pi: np.ndarray  # per placement, >= 0 (0 where closed)
    floor: np.ndarray  # per unit: min(unplaced, min over open pairs of c + a pi)
    bound: float  # L(pi): no plan with the open placements costs less
    open: np.ndarray  # per pool pair: open
    values: np.ndarray  # per pool pair: its value in the relaxation (0: none known)


def knapsack(values: np.ndarray, weights: np.ndarray, capacity: int) -> float:
    """The best total of `values` (> 0) whose `weights` fit in `capacity` (0/1, exact)."""
    best = np.zeros(capacity + 1)
    for v, w in zip(values.tolist(), weights.tolist(), strict=True):
        if 0 < w <= capacity and v > 0:
            best[w:] = np.maximum(best[w:], best[: capacity + 1 - w] + v)
    return float(best[-1])


def best_price(gain: np.ndarray, use: np.ndarray, beds: int) -> float:
    """The price of a new placement's beds that maximises the Lagrangian bound: where the
    units gaining most at it, best gain per bed first, first fill its `beds`."""
    ok = gain > 0
    ratio, w = gain[ok] / use[ok], use[ok].astype(float)
    order = np.argsort(-ratio, kind="stable")
    filled = np.cumsum(w[order])
    at = np.searchsorted(filled, beds)  # the first unit that reaches the beds
    return float(ratio[order][at]) if at < len(order) else 0.0


class Resolver:
    """Re-solves on the screen's model (see module), each HiGHS run within `limit` s;
    `proof_pairs`: the largest model of every pair that could matter HiGHS is asked to
    prove (0: a plan is proven only where it meets its bound)."""

    def __init__(self, screen: Screen, limit: float, gap: float = 0.0,
                 proof_pairs: int = PROOF_PAIRS) -> None:
        self.screen, self.limit, self.gap = screen, limit, gap
        self.proof_pairs = proof_pairs
        pool, inst = screen.pool, screen.inst
        self.m = inst.n_placements
        self.key = pool.unit.astype(np.int64) * self.m + pool.placement
        if np.any(np.diff(self.key) < 0):
            raise ValueError("the pool's pairs are not sorted by unit and placement")
        self.capacity = screen.capacity().astype(float)
        mine = np.flatnonzero(pool.placement >= screen.n_base)
        order = mine[np.argsort(pool.placement[mine], kind="stable")]
        cut = np.searchsorted(pool.placement[order],
                              screen.n_base + np.arange(len(screen.profiles) + 1))
        self.at = [order[a:b] for a, b in zip(cut[:-1], cut[1:], strict=True)]  # per profile
        self.removal = np.array([self.best_filling(q) for q in range(len(screen.profiles))])

    # ------------------------------------------------------------------ prices

    def prices(self, on: Sequence[int], pi: np.ndarray,
               values: np.ndarray | None = None) -> Prices:
        """The Lagrangian bound with the profiles `on` open at bed prices `pi`."""
        pool, inst, scr = self.screen.pool, self.screen.inst, self.screen
        open_ = scr.allowed(on)
        places = np.zeros(self.m, dtype=bool)
        places[: scr.n_base] = True
        places[scr.n_base + np.asarray(list(on), dtype=np.int64)] = True
        pi = np.where(places, np.maximum(pi, 0.0), 0.0)
        priced = pool.objective + pool.use * pi[pool.placement]
        floor = inst.unit_unplaced.astype(float).copy()
        np.minimum.at(floor, pool.unit[open_], priced[open_])
        bound = float(floor.sum() - pi @ self.capacity)
        x = np.zeros(len(pool)) if values is None else values
        return Prices(pi, floor, bound, open_, x)

    def of(self, on: Sequence[int], lp: Relaxation) -> Prices:
        """The prices of the relaxation `lp`, solved with the profiles `on` open."""
        return self.prices(on, np.asarray(lp.bed_price, dtype=float), lp.values)

    def reduced(self, p: Prices) -> np.ndarray:
        pool = self.screen.pool
        return pool.objective + pool.use * p.pi[pool.placement] - p.floor[pool.unit]

    def with_recruit(self, on: Sequence[int], p: Prices, q: int) -> Prices:
        """`p` with profile `q` opened, its beds at the price that bounds best."""
        pool, scr = self.screen.pool, self.screen
        at = self.at[q]
        gain = p.floor[pool.unit[at]] - pool.objective[at]
        pi = p.pi.copy()
        pi[scr.n_base + q] = best_price(gain, pool.use[at], scr.profiles[q].beds)
        return self.prices([*on, q], pi, p.values)

    def best_filling(self, q: int) -> float:
        """The most profile `q`'s beds gain filled with units at their unplaced penalty."""
        pool, inst = self.screen.pool, self.screen.inst
        at = self.at[q]
        value = inst.unit_unplaced[pool.unit[at]] - pool.objective[at]
        return knapsack(value, pool.use[at], int(self.screen.profiles[q].beds))

    def removal_bound(self, before: float, q: int) -> float:
        """The bound with `q` from the bound `before` without it, by removal (module)."""
        return before - self.removal[q] if np.isfinite(before) else -np.inf

    def bounds(self, on: Sequence[int], current: Outcome, lp: Relaxation,
               pred: np.ndarray) -> np.ndarray:
        """Per profile, an upper bound of what adding it saves against `current`: the
        relaxation's (recruit.saving_bounds) or, where lower, the plan's distance from
        its bound plus the profile's best filling (by removal)."""
        by_lp = saving_bounds(lp, pred, current)
        if not np.isfinite(current.bound):
            return by_lp
        slack = BOUND_SLACK + BOUND_SLACK_SHARE * abs(current.objective)
        return np.minimum(by_lp, current.objective - current.bound + self.removal + slack)

    # ------------------------------------------------------------------ plans

    def pairs_of(self, out: Outcome) -> np.ndarray:
        """Per unit, the pool pair its plan uses (-1 unplaced)."""
        units = self.screen.inst.units
        assert out.assignment is not None
        place = np.asarray(out.assignment)[units.order[units.start[:-1]]].astype(np.int64)
        pair = np.full(units.n, -1, dtype=np.int64)
        placed = np.flatnonzero(place >= 0)
        want = placed * self.m + place[placed]
        at = np.minimum(np.searchsorted(self.key, want), len(self.key) - 1)
        if not np.array_equal(self.key[at], want):
            raise ValueError("the plan uses a pair outside the screen's pool")
        pair[placed] = at
        return pair

    def outcome(self, pair: np.ndarray, bound: float, proven: bool) -> Outcome:
        """The plan `pair` (per unit, pool pair or -1) as an Outcome."""
        inst, pool = self.screen.inst, self.screen.pool
        place = np.where(pair >= 0, pool.placement[np.maximum(pair, 0)], -1)
        a = place[inst.units.unit_of].astype(np.int64)
        obj = objective_of(inst, pool, pair)
        if obj < bound - PROVEN_EPS - 1e-9 * abs(bound):
            raise RuntimeError(f"a plan (£{obj:,.2f}) below its bound (£{bound:,.2f})")
        proven = proven or obj - bound <= PROVEN_EPS
        placed = a >= 0
        return Outcome(objective=obj, status=str(Status.OPTIMAL if proven else Status.FEASIBLE),
                       placed=int(placed.sum()),
                       total_weekly_cost=float(inst.weekly_cost[a[placed]].sum()),
                       assignment=a, bound=min(bound, obj) if proven else bound)

    def search(self, p: Prices, pair: np.ndarray, keep: np.ndarray) -> np.ndarray:
        """The best plan HiGHS finds over the pairs `keep` (the plan `pair` among them)
        from that plan; the plan itself where it finds none better."""
        inst, pool = self.screen.inst, self.screen.pool
        keep = keep.copy()
        keep[pair[pair >= 0]] = True
        idx = np.flatnonzero(keep)
        cands = subset(pool, keep)
        hint = np.where(pair >= 0, np.searchsorted(idx, pair), -1)
        # a small model: SciPy's HiGHS in this process, no worker to start (the plan is
        # kept where it finds none better)
        chosen, _, _ = solve_milp(inst, cands, self.limit, hint=hint, route="scipy",
                                  gap=self.gap)
        if chosen is None:
            return pair
        found = np.where(chosen >= 0, idx[np.maximum(chosen, 0)], -1)
        better = objective_of(inst, pool, found) < objective_of(inst, pool, pair) - 1e-9
        return found if better else pair

    def freed_pairs(self, p: Prices, free: np.ndarray) -> np.ndarray:
        """The pairs open to the units `free`: their cheapest by reduced cost, and those
        the relaxation uses."""
        pool = self.screen.pool
        rc = self.reduced(p)
        idx = np.flatnonzero(p.open & free[pool.unit])
        order = idx[np.lexsort((rc[idx], pool.unit[idx]))]
        first = np.searchsorted(pool.unit[order], np.arange(len(free)))
        rank = np.arange(len(order)) - first[pool.unit[order]]
        keep = np.zeros(len(pool), dtype=bool)
        keep[order[rank < FREE_PAIRS]] = True
        keep |= p.open & (p.values > TOL)
        return keep

    def differing(self, p: Prices, pair: np.ndarray) -> np.ndarray:
        """Units the relaxation places otherwise than the plan `pair` (or in part)."""
        pool = self.screen.pool
        mine = np.zeros(len(pool), dtype=bool)
        mine[pair[pair >= 0]] = True
        free = np.zeros(len(pair), dtype=bool)
        free[pool.unit[(p.values > TOL) != mine]] = True
        return free

    def fillers(self, p: Prices, pair: np.ndarray, leaving: np.ndarray) -> np.ndarray:
        """Units that could take the beds the units `leaving` hold in the plan `pair`:
        at each such placement, those of lowest reduced cost."""
        pool = self.screen.pool
        left = np.zeros(self.m, dtype=bool)
        gone = pair[leaving & (pair >= 0)]
        left[pool.placement[gone]] = True
        idx = np.flatnonzero(p.open & left[pool.placement])
        rc = self.reduced(p)
        order = idx[np.lexsort((rc[idx], pool.placement[idx]))]
        first = np.searchsorted(pool.placement[order], np.arange(self.m))
        rank = np.arange(len(order)) - first[pool.placement[order]]
        beds = self.capacity[pool.placement[order]]
        free = np.zeros(len(pair), dtype=bool)
        free[pool.unit[order[rank < FILLERS * beds]]] = True
        return free

    def recruits(self, p: Prices, q: int) -> np.ndarray:
        """Units that gain most by moving to profile `q` at the prices `p` (without it)."""
        pool, scr = self.screen.pool, self.screen
        at = self.at[q]
        gain = (p.floor[pool.unit[at]] - pool.objective[at]) / pool.use[at]
        top = at[np.argsort(-gain, kind="stable")[: RECRUIT_UNITS * scr.profiles[q].beds]]
        free = np.zeros(len(p.floor), dtype=bool)
        free[pool.unit[top[p.floor[pool.unit[top]] > pool.objective[top]]]] = True
        return free

    def improve(self, p: Prices, pair: np.ndarray, movers: np.ndarray,
                relaxed: bool) -> np.ndarray:
        """Neighbourhood searches from the plan `pair` while they improve it (module);
        `movers`: units set free each round with those that could take their beds;
        `relaxed`: those the relaxation places otherwise are set free too."""
        moved = movers
        for _ in range(ROUNDS):
            free = movers | self.fillers(p, pair, moved)
            if relaxed:
                free |= self.differing(p, pair)
            found = self.search(p, pair, self.freed_pairs(p, free))
            if found is pair:
                break
            moved = movers | (found != pair)
            pair = found
        return pair

    def prove(self, p: Prices, pair: np.ndarray) -> tuple[np.ndarray, bool]:
        """The plan, proven optimal where HiGHS proves the model of every pair that could
        improve it (reduced cost within the gap) and that model is small enough."""
        inst, pool = self.screen.inst, self.screen.pool
        gap = objective_of(inst, pool, pair) - p.bound
        if gap <= PROVEN_EPS:
            return pair, True
        matter = p.open & (self.reduced(p) <= gap + GAP_MARGIN)
        if matter.sum() > self.proof_pairs:
            return pair, False
        matter[pair[pair >= 0]] = True
        idx = np.flatnonzero(matter)
        hint = np.where(pair >= 0, np.searchsorted(idx, pair), -1)
        chosen, proven, _ = solve_milp(inst, subset(pool, matter), self.limit, hint=hint,
                                       gap=self.gap)
        if chosen is None:
            return pair, False
        found = np.where(chosen >= 0, idx[np.maximum(chosen, 0)], -1)
        if objective_of(inst, pool, found) > objective_of(inst, pool, pair) + 1e-9:
            return pair, False
        return found, proven and self.gap <= 0

    # ------------------------------------------------------------------ re-solves

    def add(self, on: Sequence[int], q: int, current: Outcome, lp: Relaxation) -> Outcome:
        """The plan with profile `q` recruited besides `on`, from `current` (a plan with
        `on`); `lp`: the relaxation with `on`."""
        step = self.of(on, lp)
        p = self.with_recruit(on, step, q)
        pair = self.improve(p, self.pairs_of(current), self.recruits(step, q), False)
        pair, proven = self.prove(p, pair)
        bound = max(p.bound, self.removal_bound(current.bound, q))
        return self.outcome(pair, bound, proven)

    def settle(self, on: Sequence[int], chosen: Outcome, lp: Relaxation) -> Outcome:
        """The plan `chosen` (with the profiles `on`) searched again and bounded with the
        relaxation `lp` solved with them."""
        p = self.of(on, lp)
        pair = self.improve(p, self.pairs_of(chosen), np.zeros(len(p.floor), dtype=bool), True)
        pair, proven = self.prove(p, pair)
        return self.outcome(pair, max(p.bound, chosen.bound), proven)
