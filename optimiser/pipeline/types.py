"""What a solve is asked (`SolveOptions`) and what it gives back (`Result`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..candidates import Candidates
from ..instance import Instance
from ..params import SolverParams
from ..status import Status

if TYPE_CHECKING:
    from ..cutpool import CarriedCuts

BACKENDS = ("auto", "cpsat", "highs", "cbc")  # MIP solver of the restricted model


@dataclass(frozen=True)
class SolveOptions:
    """What a solve is asked: its limits, its MIP solver and the solver's tuning."""

    time_limit: float = 60.0
    # the `time.perf_counter()` value the time limit counts from (None: the solve's own
    # start); a command passes its process's start (optimiser/deadline.py)
    started: float | None = None
    seed: int = 0
    workers: int = 0  # 0: all cores
    candidate_limit: int | None = 40  # cheapest pairs kept per unit before pricing
    max_pricing_rounds: int = 5
    hint: bool = True
    relative_gap: float = 0.0
    params: dict[str, object] = field(default_factory=dict)  # passed to CP-SAT
    # MIP solver of the restricted model: "cpsat", or "highs" (HiGHS branch and cut via
    # highspy: deterministic, and much stronger when most children stay, as in
    # re-allocation)
    backend: str = "auto"
    # column generation stops when LP and Lagrangian bound agree to this relative gap
    lp_tolerance: float = 1e-6
    # solve a transportation problem (no sibling group, no solo child, no split option,
    # no re-allocation constraint) as one min-cost flow (flow.py), with the "auto" or
    # "cpsat" backend (an explicit "highs" or "cbc" is honoured)
    fast_path: bool = True
    # the solver's tuning: route sizes and time shares (optimiser/params.py)
    tuning: SolverParams = field(default_factory=SolverParams)
    # a warm start: per child, a placement index (-1 unplaced), such as the optimum of
    # the same instance before a placement was appended. Offered as the first incumbent
    # when the model admits it (ignored otherwise); it changes the time, never the optimum
    start: np.ndarray | None = field(default=None, repr=False, compare=False)
    # with a warm start, the certified cuts of the solve it came from (`Result.cuts`):
    # certified again here and priced in place of HiGHS's root cuts (the proof's slowest
    # step on an authority); it changes the time, never the optimum
    start_cuts: CarriedCuts | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Result:
    """What a solve found. Money in pounds per week."""

    status: Status | str  # a Status: a plain string given is made one (values only)
    objective: float
    bound: float
    gap: float
    runtime: float
    seed: int
    assignment: np.ndarray  # per child: placement index, -1 unplaced
    greedy_objective: float
    timings: dict[str, float]
    stats: dict[str, Any]  # counts (float); "backend" (str): what solved the model
    instance: Instance = field(repr=False)
    candidates: Candidates = field(repr=False)
    # per placement, the LP dual of its capacity row (pounds a week: what one more bed
    # there would save the relaxation); None when no LP ran (the flow's fast path, or no
    # time for one)
    capacity_prices: np.ndarray | None = field(default=None, repr=False, compare=False)
    # the cut proof's certified cuts, for a later solve of a like instance
    # (`SolveOptions.start_cuts`); None where the cut proof did not run
    cuts: CarriedCuts | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))

    @property
    def placed(self) -> int:
        return int((self.assignment >= 0).sum())

    @property
    def unplaced(self) -> int:
        return int((self.assignment < 0).sum())


@dataclass(frozen=True)
class Plan:
    """A plan per child (placement index, -1 unplaced), its objective in the spec's
    terms and a bound that holds over every plan (-inf: none known)."""

    assignment: np.ndarray
    objective: float
    bound: float


class BestPlan:
    """The best plan a running solve has found so far: what a command writes when its
    time is up before the solve returns. Read from another thread, so a plan is
    replaced whole, under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plan: Plan | None = None

    def offer(self, plan: Plan) -> None:
        """Keep `plan` if it is better than the one held (the better bound kept too)."""
        with self._lock:
            old = self._plan
            if old is not None:
                bound = max(old.bound, plan.bound)
                if plan.objective >= old.objective - 1e-9:
                    plan = Plan(old.assignment, old.objective, bound)
                else:
                    plan = Plan(plan.assignment, plan.objective, bound)
            self._plan = Plan(plan.assignment, plan.objective,
                              min(plan.bound, plan.objective))

    def get(self) -> Plan | None:
        with self._lock:
            return self._plan
