"""What a solve stopped early by its time limit answers: a plan every rule allows, with a
bound that holds over every pair, reported as stopped by the time limit.

Two cases: the candidate pass cut short before it reached every unit (the status quo,
waiting units it reached placed in the beds left), and the fast path's flow stopped in
its worker (the flow over the kept pairs, or the greedy plan).
"""

from __future__ import annotations

import time

import numpy as np

from ..candidates import Candidates
from ..forked import Forked, TooLate
from ..status import Status
from ..statusquo import occupied, spec_objective, status_quo_assignment
from .context import SolveContext
from .plans import greedy, objective_of, stability_of, subset, unit_placement
from .types import Plan, Result


def unreached(cands: Candidates) -> np.ndarray:
    """Per unit, whether the candidate pass stopped before it: counted feasible yet
    holding no pair (a unit the pass reached keeps at least its cheapest pair). The
    spatial pass reaches every unit's nearest blocks, so it never leaves one."""
    if cands.space is not None:
        return np.zeros(len(cands.n_feasible), dtype=bool)
    held = np.bincount(cands.unit, minlength=len(cands.n_feasible)) > 0
    return (cands.n_feasible > 0) & ~held


def cut_short(ctx: SolveContext, cands: Candidates) -> Result:
    """The candidate pass stopped at its share of the limit before reaching every unit:
    no later stage can keep its promises on such a pool (a unit never reached has no pair
    to stay in), so the answer is the status quo, with the waiting units the pass reached
    placed greedily in the beds left; stopped by the time limit, with the zero-price
    Lagrangian bound, which holds over every pair (the units never reached floored)."""
    inst = ctx.inst
    ctx.say(f"the candidate pass was cut short by the time limit "
            f"({int(unreached(cands).sum()):,} units not reached): the status quo, "
            "waiting children placed where the pass found room")
    plan = status_quo_assignment(inst)
    waiting = inst.unit_placed[cands.unit] == 0
    room = np.maximum(inst.capacity.astype(np.int64) - occupied(inst, plan), 0)
    fill = subset(cands, waiting)
    placed = unit_placement(fill, greedy(inst, fill, capacity=room))[inst.units.unit_of]
    plan = np.where(placed >= 0, placed, plan)
    objective = spec_objective(inst, plan)
    bound = float(cands.stats.get("lagrangian_zero_bound", -np.inf)) - stability_of(inst, plan)
    bound = min(bound, objective) if np.isfinite(bound) else 0.0  # no term is negative
    if ctx.best_plan is not None:
        ctx.best_plan.offer(Plan(plan, objective, bound))
    return stopped_result(ctx, fill, plan, objective, bound, "status quo")


def stopped_result(ctx: SolveContext, cands: Candidates, plan: np.ndarray, objective: float,
                   bound: float, kind: str) -> Result:
    """`plan` (per child) as a solve stopped by its time limit, with `bound`."""
    runtime = ctx.elapsed()
    ctx.timings["total"] = runtime
    stats = {**cands.stats, **ctx.stats, "stopped_by": "time limit", "plan": kind,
             "units": float(ctx.inst.units.n)}
    return Result(status=Status.TIME_LIMIT, objective=objective, bound=bound,
                  gap=(objective - bound) / max(abs(objective), 1.0), runtime=runtime,
                  seed=ctx.opts.seed, assignment=plan, greedy_objective=objective,
                  timings=ctx.timings, stats=stats, instance=ctx.inst, candidates=cands)


def flow_stopped(ctx: SolveContext, cands: Candidates, start: np.ndarray,
                 kept: Forked[tuple[np.ndarray, int]]) -> Result:
    """The flow's worker was stopped at the time limit: the optimum over the kept pairs
    when its worker has answered, else the greedy plan `start` (every pair may be taken:
    no run rule holds on the fast path), with the zero-price Lagrangian bound over every
    pair, as a solve stopped by its time limit."""
    inst = ctx.inst
    try:
        chosen, kind = kept.result(time.perf_counter())[0], "flow over the kept pairs"
    except (TooLate, RuntimeError):
        chosen, kind = start, "greedy"
    if objective_of(inst, cands, chosen) > objective_of(inst, cands, start):
        chosen, kind = start, "greedy"
    ctx.say(f"the min-cost flow did not end by the time limit: stopped; the {kind} plan")
    plan = unit_placement(cands, chosen)[inst.units.unit_of]
    objective = spec_objective(inst, plan)
    bound = float(cands.stats.get("lagrangian_zero_bound", -np.inf))
    bound = min(bound, objective) if np.isfinite(bound) else 0.0  # no term is negative
    if ctx.best_plan is not None:
        ctx.best_plan.offer(Plan(plan, objective, bound))
    return stopped_result(ctx, cands, plan, objective, bound, f"{kind} (flow stopped)")
