"""The fast path's flow, raced against the general route.

A flow over every pair cannot be stopped once started in this process, and its time is
only estimated. When it may be long, it runs in a worker process (`forked.Forked`) while
the general route works here with its own clock: the flow's answer, the optimum, is
taken whenever it has come (between stages, and at the end); if it has not come by the
time the general route is done, the worker is stopped and the general route's plan
stands. Either way the solve keeps its time limit.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from .. import flow
from ..candidates import Candidates
from ..forked import Forked, TooLate
from ..status import Status
from .context import SolveContext
from .types import Result

log = logging.getLogger(__name__)


class FlowRace:
    """The flow over every pair in a worker process, started now; stopped with `ctx`."""

    def __init__(self, ctx: SolveContext, cands: Candidates, start: np.ndarray):
        assert ctx.pool is not None
        t = ctx.elapsed()
        self.cands, self.start = cands, start
        self.full = flow.pool_candidates(ctx.inst, ctx.pool, cands.n_feasible, cands.stats)
        ctx.timings["build"] = ctx.elapsed() - t
        self.t0 = time.perf_counter()
        self.job: Forked[tuple[np.ndarray, int]] | None = Forked(
            flow.flow_choice, ctx.inst, self.full)
        ctx.stack.callback(self.cancel)
        ctx.say(f"min-cost flow over {len(self.full):,} pairs in a worker process, "
                "beside the general route")

    def answer(self, ctx: SolveContext) -> Result | None:
        """The flow's optimum when its worker has answered; None while it runs (or when
        it failed: the general route goes on alone)."""
        if self.job is None or not self.job.ready():
            return None
        job, self.job = self.job, None
        try:
            chosen, pence = job.result(time.perf_counter())
        except (TooLate, RuntimeError) as exc:
            log.warning("min-cost flow worker failed (%s): the general route alone", exc)
            return None
        ctx.timings["solve"] = time.perf_counter() - self.t0
        ctx.say("the min-cost flow answered: its optimum")
        return flow.flow_result(ctx.inst, self.cands, self.full, chosen, pence,
                                ctx.opts.seed, ctx.timings, ctx.t_start, self.start)

    def cancel(self) -> None:
        """Stop the worker (the general route's answer stands)."""
        if self.job is not None:
            self.job.cancel()
            self.job = None


def answered(ctx: SolveContext, race: FlowRace | None) -> Result | None:
    """The raced flow's optimum if it has come (None: go on)."""
    return None if race is None else race.answer(ctx)


def first(ctx: SolveContext, race: FlowRace | None, result: Result) -> Result:
    """The general route's `result`, or the raced flow's optimum when it has come and
    `result` is not proven; the worker is stopped."""
    won = None if result.status == Status.OPTIMAL else answered(ctx, race)
    if race is not None:
        race.cancel()
    return won if won is not None else result
