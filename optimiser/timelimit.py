"""A command's last resort when its time limit runs out: the best plan so far, written.

`LastResort` holds what a command has (its instance once read, the best plan its solve
has offered) and a `Watchdog` that, when the limit and most of its grace are spent and
the command is still at work, writes that plan (else the status quo: nobody moves and no
waiting child is placed, which every rule allows) as a solve stopped by its time limit.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import replace

from .deadline import Deadline, grace
from .instance import Instance
from .pipeline.types import BestPlan, Plan, Result
from .status import Status
from .statusquo import keeps_run_rules, plan_result, status_quo_plan
from .watchdog import Guarded, Watchdog

# seconds the fallback needs at least, besides writing the files
FALLBACK_SECONDS = 0.2


class LastResort(Guarded):
    """The watchdog of one command: `write` is how the command writes a `Result`. Not
    `armed`, no watchdog runs (the process is not the command's to end)."""

    def __init__(self, deadline: Deadline, write: Callable[[Result], None], seed: int = 0,
                 armed: bool = True):
        self.armed = armed
        self.deadline = deadline
        self.write = write
        self.seed = seed
        self.inst: Instance | None = None
        self.best = BestPlan()
        self.grace = grace(deadline.limit or 0.0)
        self.watchdog = Watchdog(deadline.at() + self.grace - FALLBACK_SECONDS, self.fallback)

    def loaded(self, inst: Instance, writing: float) -> None:
        """The instance is read; writing its plan takes about `writing` seconds (more on
        a busy machine: the fallback starts with half as much again to spare)."""
        self.inst = inst
        spare = max(self.grace - FALLBACK_SECONDS - 1.5 * writing, 0.0)
        self.watchdog.at = self.deadline.at() + spare

    def claim(self) -> None:
        """The command writes its own answer now."""
        self.watchdog.claim()

    def final(self, result: Result) -> Result:
        """`result`, or the status quo in its place when that is better or `result`'s plan
        breaks a rule of the run (a solve cut short before it had the pairs to keep
        everyone placed who must stay placed); the bound stands."""
        if result.status == Status.OPTIMAL:
            return result
        sq = status_quo_plan(result.instance)
        if (keeps_run_rules(result.instance, result.assignment)
                and result.objective <= sq.objective + 1e-6):
            return result
        # no term of the objective is negative: 0 bounds every plan when nothing better does
        bound = min(result.bound if math.isfinite(result.bound) else 0.0, sq.objective)
        return replace(result, assignment=sq.assignment, objective=sq.objective, bound=bound,
                       gap=(sq.objective - bound) / max(abs(sq.objective), 1.0),
                       stats={**result.stats, "plan": "status quo"})

    def too_late(self, inst: Instance, writing: float) -> Result | None:
        """`loaded`, and when the start-up and the reading have left less than `writing`
        seconds (no solve can start), the status quo to write now, the writing claimed
        (the watchdog would only do the same beside this thread); else None."""
        late = self.deadline.remaining() < writing
        if late:
            self.claim()
        self.loaded(inst, writing)
        return self.best_so_far() if late else None

    def best_so_far(self) -> Result:
        """The best admissible plan offered so far, else the status quo, as a solve
        stopped by its time limit (the instance must be `loaded`)."""
        inst = self.inst
        assert inst is not None
        sq = status_quo_plan(inst)
        plan = self.best.get()
        if plan is None or plan.objective > sq.objective or not keeps_run_rules(
                inst, plan.assignment):
            plan = Plan(sq.assignment, sq.objective, plan.bound if plan else -math.inf)
        return plan_result(inst, plan, self.deadline.elapsed(), self.seed)

    def fallback(self) -> bool:
        if self.inst is None:
            return False  # nothing read yet: nothing to write
        self.write(self.best_so_far())
        print("stopped at the time limit: the best plan found so far is written",
              file=sys.stderr)
        return True
