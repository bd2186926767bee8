"""Whom to recruit: each profile's saving predicted from the LP duals, then verified.

Prediction. With the relaxation's duals (value.py), a unit u could move to a new
placement q for the gain y_u - c_uq. Relaxing the capacity rows with the old bed prices
and pricing q's beds optimally, the relaxation with q added is at least the old value
minus the best fractional filling of q's beds with the units of positive gain (a
fractional knapsack). That is the predicted saving: an upper bound on the relaxation's
saving, and exact when the old duals stay optimal (as where the relaxation is integral
and the beds the profile frees are not contested).

Verification. The instance is solved again with the profile added, from the allocation
before (which stays a plan: the profile only adds beds); the verified saving is the
difference of the two objectives: exact when both solves are proven optimal, else a
lower bound (the allocation found with the profile is at least that much cheaper).
Every step of the greedy plan is verified the same way. A `Verifier` re-solves: on the
plain model, the incremental search of resolve.py (the screen's pool and prices reused,
only what the recruit changes searched again); otherwise, or when asked, the whole
engine on the instance read again with the profiles added (`EngineVerifier`).

Pruning a step's tries. The same argument bounds the whole problem: with the duals of
the relaxation before, the Lagrangian bound with profile q added (q's beds kept as a
knapsack) is at least the relaxation's value less q's predicted saving, and it bounds
the allocation with q from below. So no allocation with q saves more, against the plan
found so far, than (plan's objective - relaxation's value) + predicted saving; a try
whose bound is below the best saving verified in its step cannot be the step's best and
is not solved.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from ..candidates import Candidates
from ..cutpool import CarriedCuts
from ..instance import Instance
from ..lpserver import LpServer
from ..solver import Result, SolveOptions, solve
from ..status import Status
from .extend import Extender, Profile
from .value import Relaxation, relax


@dataclass(frozen=True)
class Outcome:
    """What one solve found, as the recruitment plan reports it."""

    objective: float
    status: str
    placed: int
    total_weekly_cost: float
    # per child, placement index (-1 unplaced): the next solve's warm start
    assignment: np.ndarray | None = field(default=None, repr=False, compare=False)
    # what no plan of the same instance costs less than (-inf: none known)
    bound: float = field(default=-np.inf, compare=False)
    # the solve's certified cuts (None: none): the next re-solve certifies them again
    cuts: CarriedCuts | None = field(default=None, repr=False, compare=False)

    @property
    def proven(self) -> bool:
        return self.status == Status.OPTIMAL.value


def outcome(result: Result) -> Outcome:
    inst, a = result.instance, result.assignment
    placed = a >= 0
    return Outcome(objective=float(result.objective), status=str(Status(result.status).value),
                   placed=int(placed.sum()),
                   total_weekly_cost=float(inst.weekly_cost[a[placed]].sum()),
                   assignment=np.asarray(a, dtype=np.int64), bound=float(result.bound),
                   cuts=result.cuts)


def resolve(folder: str, profiles: tuple[Profile, ...], options: SolveOptions,
            start: np.ndarray | None = None,
            start_cuts: CarriedCuts | None = None) -> Outcome:
    """Solve the instance of `folder` with `profiles` added, by the whole engine, from
    `start` (an allocation of the instance with fewer of the profiles: theirs come first
    and in order, so its indices stay valid) and the cuts of its solve (`start_cuts`)."""
    return outcome(solve(Extender(folder).instance(profiles),
                         replace(options, start=start, start_cuts=start_cuts)))


def exact(before: Outcome, after: Outcome, gap: float = 0.0) -> bool:
    """Whether the saving from `before` to `after` is exact: both proven optimal, with no
    relative gap allowed (`gap`: a solver stopped by one may still say optimal); else it
    is a lower bound of the saving against the allocation `before`."""
    return before.proven and after.proven and gap <= 0


def saving_words(is_exact: bool) -> str:
    return "exact" if is_exact else "lower bound"


def subset(pool: Candidates, keep: np.ndarray) -> Candidates:
    return replace(pool, unit=pool.unit[keep], placement=pool.placement[keep],
                   objective=pool.objective[keep], use=pool.use[keep])


def predicted_savings(pool: Candidates, lp: Relaxation, placements: np.ndarray,
                      beds: np.ndarray) -> np.ndarray:
    """Per placement in `placements`, the predicted saving of its `beds` (see module)."""
    out = np.zeros(len(placements))
    gain = lp.unit_dual[pool.unit] - pool.objective
    ok = gain > 1e-9
    for i, (q, b) in enumerate(zip(placements.tolist(), beds.tolist(), strict=True)):
        sel = np.flatnonzero(ok & (pool.placement == q))
        if len(sel) == 0:
            continue
        g, use = gain[sel], pool.use[sel].astype(float)
        order = np.argsort(-g / use, kind="stable")
        left, total = float(b), 0.0
        for j in order.tolist():
            if left <= 0:
                break
            take = min(1.0, left / use[j])
            total += take * g[j]
            left -= take * use[j]
        out[i] = total
    return out


@dataclass(frozen=True)
class Screen:
    """The augmented instance (every candidate profile as a placement) and its pairs."""

    inst: Instance
    pool: Candidates
    n_base: int  # placements 0..n_base-1 are the instance's own
    profiles: tuple[Profile, ...]
    start: np.ndarray | None = None  # pairs of a known allocation: the LP's warm start

    def capacity(self) -> np.ndarray:
        """Beds per placement, every profile's own included (constant, so that one warm
        LP serves every step of a plan: a profile not recruited simply has no pairs)."""
        cap = self.inst.capacity.astype(np.int64).copy()
        cap[self.n_base:] = [p.beds for p in self.profiles]
        return cap

    def allowed(self, on: Sequence[int]) -> np.ndarray:
        """The pairs open with only the profiles `on` (indices) recruited."""
        q = self.pool.placement
        return (q < self.n_base) | np.isin(q - self.n_base, np.asarray(list(on), dtype=int))

    def relax(self, on: Sequence[int], server: LpServer | None = None,
              start: np.ndarray | None = None) -> Relaxation:
        first = self.start if start is None else start
        return relax(self.inst, self.pool, self.capacity(), first, self.allowed(on), server)

    def predict(self, lp: Relaxation, skip: Sequence[int] = ()) -> np.ndarray:
        """Predicted saving of each profile, given the duals `lp` (0 for `skip`)."""
        k = np.arange(len(self.profiles))
        q = self.n_base + k
        mine = self.pool.placement >= self.n_base
        pred = predicted_savings(subset(self.pool, mine), lp, q,
                                 np.array([p.beds for p in self.profiles]))
        pred[list(skip)] = 0.0
        return pred


SAVING_EPS = 0.005  # half a penny: below it a recruit saves nothing
# what the relaxation's tolerances may hide, in pounds and as a share of the objective
BOUND_SLACK = 10.0
BOUND_SLACK_SHARE = 1e-6


class Verifier(Protocol):
    """What verifies a recruit: a re-solve with it added, from the plan before."""

    gap: float  # the relative gap re-solves may stop at (0: none)

    def add(self, on: Sequence[int], q: int, current: Outcome, lp: Relaxation) -> Outcome:
        """The plan with profile `q` recruited besides the profiles `on` (indices into
        the screen's), from `current`, a plan with `on`; `lp`: the relaxation with `on`."""

    def settle(self, on: Sequence[int], chosen: Outcome, lp: Relaxation) -> Outcome:
        """The plan `chosen` with the profiles `on`, improved or bounded with `lp`, the
        relaxation with them."""

    def bounds(self, on: Sequence[int], current: Outcome, lp: Relaxation,
               pred: np.ndarray) -> np.ndarray:
        """Per profile, an upper bound of what adding it to `on` saves against the plan
        `current` (`pred`: the predicted savings at `lp`'s prices)."""


class EngineVerifier:
    """Each re-solve by the whole engine on the instance read again with the profiles
    added in the order recruited (so the plan before stays a warm start)."""

    def __init__(self, folder: str, profiles: Sequence[Profile], options: SolveOptions):
        self.folder, self.profiles, self.options = folder, tuple(profiles), options
        self.gap = options.relative_gap

    def add(self, on: Sequence[int], q: int, current: Outcome, lp: Relaxation) -> Outcome:
        chosen = tuple(self.profiles[j] for j in [*on, q])
        return resolve(self.folder, chosen, self.options, current.assignment, current.cuts)

    def settle(self, on: Sequence[int], chosen: Outcome, lp: Relaxation) -> Outcome:
        return chosen

    def bounds(self, on: Sequence[int], current: Outcome, lp: Relaxation,
               pred: np.ndarray) -> np.ndarray:
        return saving_bounds(lp, pred, current)


@dataclass(frozen=True)
class Recommendation:
    profile: Profile
    predicted: float
    verified: float
    outcome: Outcome
    exact: bool = False  # the verified saving is exact (else a lower bound)


@dataclass(frozen=True)
class Step:
    """One recruit of the greedy plan: its marginal savings and the plan's state after."""

    step: int
    profile: Profile
    predicted: float
    verified: float
    outcome: Outcome
    exact: bool = False  # the verified saving is exact (else a lower bound)


def recommend(screen: Screen, lp: Relaxation, base: Outcome, k: int, verifier: Verifier
              ) -> tuple[list[Recommendation], dict[int, Outcome]]:
    """The `k` profiles of highest predicted saving, each verified alone from the
    allocation `base`, best first; and their outcomes by profile index."""
    pred = screen.predict(lp)
    top = [int(i) for i in np.argsort(-pred, kind="stable")[:k] if pred[i] > 0]
    outs = {i: verifier.add((), i, base, lp) for i in top}
    recs = [Recommendation(screen.profiles[i], float(pred[i]),
                           base.objective - outs[i].objective, outs[i],
                           exact(base, outs[i], verifier.gap)) for i in top]
    return sorted(recs, key=lambda r: (-r.verified, -r.predicted)), outs


def saving_bounds(lp: Relaxation, pred: np.ndarray, current: Outcome) -> np.ndarray:
    """Per profile, an upper bound of what adding it saves against the plan `current`
    (see module): its predicted saving plus the plan's distance from the relaxation `lp`
    (with the profiles recruited so far), and a margin for the LP's tolerances."""
    slack = BOUND_SLACK + BOUND_SLACK_SHARE * abs(current.objective)
    return pred + max(current.objective - lp.value, 0.0) + slack


def greedy_plan(screen: Screen, base: Outcome, budget: int, verifier: Verifier,
                tries: int = 3, known: dict[int, Outcome] | None = None,
                first: Relaxation | None = None, server: LpServer | None = None
                ) -> list[Step]:
    """Recruit one profile at a time: the `tries` best predicted given what is already
    recruited, each verified with the plan so far, the best verified kept (and settled
    with the relaxation that recruits it, the next step's); stop when none of them saves
    anything. `known`: outcomes of single profiles verified from `base`; `first`: the
    relaxation with none recruited, when already solved (on `server`, kept warm from one
    relaxation to the next, when given).

    A prediction is an upper bound, loose where the duals are not unique (a bed already
    recruited may carry any price in a range), so several are verified per step."""
    with LpServer() if server is None else nullcontext(server) as lps:
        lp = first if first is not None else screen.relax([], lps)
        plan: list[int] = []
        steps: list[Step] = []
        current = base
        for step in range(1, budget + 1):
            pred = screen.predict(lp, skip=plan)
            top = [int(i) for i in np.argsort(-pred, kind="stable")[:tries] if pred[i] > 0]
            if not top:
                break
            outs = {i: o for i, o in (known or {}).items() if step == 1 and i in top}
            outs.update(try_profiles(plan, [i for i in top if i not in outs], current,
                                     verifier.bounds(plan, current, lp, pred), outs, lp,
                                     verifier))
            best = min(outs, key=lambda i: (outs[i].objective, i))
            if current.objective - outs[best].objective <= SAVING_EPS:
                break
            plan.append(best)
            lp = screen.relax(plan, lps, lp.pairs)
            chosen = verifier.settle(plan, outs[best], lp)
            steps.append(Step(step, screen.profiles[best], float(pred[best]),
                              current.objective - chosen.objective, chosen,
                              exact(current, chosen, verifier.gap)))
            current = chosen
    return steps


def try_profiles(plan: list[int], todo: list[int], current: Outcome, bound: np.ndarray,
                 solved: dict[int, Outcome], lp: Relaxation, verifier: Verifier
                 ) -> dict[int, Outcome]:
    """Each profile of `todo` (best predicted first) added to the plan and verified from
    the plan's allocation, unless its saving bound shows it cannot beat the best saving
    verified so far in this step (`solved` holds those already known)."""
    out: dict[int, Outcome] = {}
    for i in todo:
        found = [current.objective - o.objective for o in (*solved.values(), *out.values())]
        if found and bound[i] < max(found):
            continue
        out[i] = verifier.add(plan, i, current, lp)
    return out
