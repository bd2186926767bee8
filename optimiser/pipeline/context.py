"""`SolveContext`: what every stage of a solve shares, and the worker processes it owns."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

import numpy as np

from ..candidates import Candidates, PairPool
from ..cutpool import Cuts
from ..highs import Pending
from ..instance import Instance
from ..lpserver import LpServer
from ..params import SolverParams
from .plans import objective_of, stability_of, unit_placement
from .types import BestPlan, Plan, SolveOptions

log = logging.getLogger(__name__)


def _silent(msg: str) -> None:
    """Progress nobody asked for."""


@dataclass(frozen=True)
class RootCuts:
    """HiGHS's root node, running in a process of its own on `cands` with `cliques`, for
    the cuts it leaves (cutpool.py)."""

    cands: Candidates
    cliques: np.ndarray
    pending: Pending


@dataclass
class SolveContext:
    """One solve's shared state: the instance and options, the clock, progress, the
    candidate pool, the re-allocation facts every stage must respect, timings and
    statistics, and the worker processes (the warm LP server, HiGHS runs) whose clean-up
    it owns: use it as a context manager, and every process started is stopped however
    the solve ends."""

    inst: Instance
    opts: SolveOptions
    progress: Callable[[str], None] | None = None
    t_start: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=lambda: {
        "candidates": 0.0, "lp": 0.0, "greedy": 0.0, "build": 0.0, "solve": 0.0})
    stats: dict[str, float] = field(default_factory=dict)  # what the stages report
    pool: PairPool | None = None  # every feasible pair, when it fits in memory
    forced: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # per unit
    max_moves: int | None = None
    server: LpServer | None = None
    root_cuts: RootCuts | None = None  # running, not yet read
    cuts: Cuts | None = None  # the cut proof's certified cuts (carried in the result)
    best_plan: BestPlan | None = None  # where the best plan so far is offered to the caller
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def __post_init__(self) -> None:
        if self.opts.started is not None:  # the limit counts from the command's start
            self.t_start = self.opts.started

    def __enter__(self) -> SolveContext:
        self.stack.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stack.__exit__(kind, exc, tb)

    # --- settings -----------------------------------------------------------------------
    @property
    def tuning(self) -> SolverParams:
        return self.opts.tuning

    @property
    def time_limit(self) -> float:
        return self.opts.time_limit

    @property
    def highs_route(self) -> bool:
        """HiGHS's route with its dive, cut proof and proof stage (not with
        split_siblings: that is the array model of mip.py)."""
        return self.opts.backend == "highs" and not self.inst.policy.rules.split_siblings

    def say(self, msg: str) -> None:
        (self.progress or _silent)(msg)

    # --- the clock ----------------------------------------------------------------------
    def elapsed(self) -> float:
        """Seconds since the time limit began to count (`SolveOptions.started`)."""
        return time.perf_counter() - self.t_start

    def out_of_time(self) -> bool:
        """The time limit has passed: a stage that would start now is skipped."""
        return self.elapsed() >= self.opts.time_limit

    def share(self, fraction: float) -> float:
        """`fraction` of the time limit, in seconds."""
        return fraction * self.opts.time_limit

    def margin(self) -> float:
        """Seconds kept back from the MIP for writing up (HiGHS may overrun a little)."""
        return self.tuning.margin_seconds + self.tuning.margin_share * self.opts.time_limit

    def left(self) -> float:
        """Seconds left for a MIP, the margin kept back."""
        return self.opts.time_limit - self.elapsed() - self.margin()

    def min_final(self) -> float:
        """Seconds the cut proof's last MIP needs; with less left, only its bound is used."""
        return self.tuning.final_mip_seconds + self.tuning.final_mip_share * self.opts.time_limit

    def race_seeds(self) -> int:
        """HiGHS processes racing the last MIP: one per worker (0: per core), capped."""
        return max(1, min(self.opts.workers or (os.cpu_count() or 1), self.tuning.race_max))

    def publish(self, cands: Candidates, chosen: np.ndarray, bound: float = -np.inf) -> None:
        """Offer the plan `chosen` (per unit, an index into `cands`) and a bound over every
        plan (in the model's terms, with `--previous` stability) to the caller."""
        if self.best_plan is None:
            return
        assignment = unit_placement(cands, chosen)[self.inst.units.unit_of]
        penalty = stability_of(self.inst, assignment)
        self.best_plan.offer(Plan(assignment, objective_of(self.inst, cands, chosen) - penalty,
                                  bound - penalty))

    # --- worker processes ---------------------------------------------------------------
    def start_server(self) -> LpServer | None:
        """A warm LP server stopped with the context, or None (SciPy's LP) when it cannot
        start."""
        try:
            self.server = self.stack.enter_context(LpServer())
        except OSError as e:
            log.warning("no warm LP server (%s): SciPy's LP from nothing each round", e)
            self.server = None
        return self.server

    def owns(self, pending: Pending) -> Pending:
        """A HiGHS run started in a process of its own, cancelled with the context."""
        self.stack.callback(pending.cancel)
        return pending

    def take_root_cuts(self) -> RootCuts | None:
        """The running root cuts, now the caller's to read (or None)."""
        rc, self.root_cuts = self.root_cuts, None
        return rc

    def drop_root_cuts(self) -> None:
        """Stop the root cuts: not needed."""
        if self.root_cuts is not None:
            self.root_cuts.pending.cancel()
            self.root_cuts = None
