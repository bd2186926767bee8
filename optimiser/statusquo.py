"""The status quo: nobody moves and no waiting child is placed, a plan every rule allows.

It is the answer of last resort when a time limit leaves nothing better (the candidate
pass cut short, the start-up alone past the limit, a flow killed at the deadline), and the
"before" of a night's re-allocation. Its objective is the spec's, from the same terms
the report uses.
"""

from __future__ import annotations

import numpy as np

from .candidates import Candidates
from .instance import Instance
from .objective import pair_distances, pair_terms
from .pipeline.types import Plan, Result
from .status import Status


def spec_terms(inst: Instance, assignment: np.ndarray) -> dict[str, float]:
    """The spec's objective terms of a per-child assignment (no stability term)."""
    w = inst.policy.weights
    placed = np.flatnonzero(assignment >= 0)
    p = assignment[placed]
    pair = pair_terms(inst, placed, p, pair_distances(inst, placed, p))
    out = {
        **{name: float(t.sum()) for name, t in pair.as_dict().items()},
        "unplaced": float(w.unplaced * inst.priority[assignment < 0].sum()),
        "sibling_split": 0.0,
    }
    if inst.policy.rules.split_siblings:
        g = inst.units.group_of_child
        ok = (g >= 0) & (assignment >= 0)
        if ok.any():
            pairs = np.unique(np.stack([g[ok], assignment[ok]]), axis=1)
            out["sibling_split"] = float(
                w.sibling_split * np.maximum(np.bincount(pairs[0]) - 1, 0).sum())
    return out


def spec_objective(inst: Instance, assignment: np.ndarray) -> float:
    """The spec's objective of a per-child assignment (no stability term)."""
    return sum(spec_terms(inst, assignment).values())


def status_quo_assignment(inst: Instance) -> np.ndarray:
    """Per child, its current placement (-1: waiting)."""
    return inst.current.astype(np.int64).copy()


def status_quo_plan(inst: Instance) -> Plan:
    """Nobody moves and no waiting child is placed: a plan every rule allows (a current
    placement is exempt for its own child, pins and the moves limit are kept), with its
    spec objective; the answer when nothing better is known."""
    assignment = status_quo_assignment(inst)
    return Plan(assignment, spec_objective(inst, assignment), -np.inf)


def keeps_run_rules(inst: Instance, assignment: np.ndarray) -> bool:
    """Pinned children stay where they are, and no child who may not lose a placement
    (`Instance.keep_placed`) is left without one: what a plan must keep beyond the pair
    rules and capacity."""
    assert inst.pinned is not None
    pinned = inst.pinned & (inst.current >= 0)
    if (assignment[pinned] != inst.current[pinned]).any():
        return False
    keep = inst.keep_placed[inst.units.unit_of]
    return not (assignment[keep] < 0).any()


def occupied(inst: Instance, assignment: np.ndarray) -> np.ndarray:
    """Beds used per placement: a child each, a solo child the whole placement."""
    used = np.bincount(assignment[assignment >= 0], minlength=inst.n_placements)
    solo_at = assignment[(assignment >= 0) & inst.solo]
    used[solo_at] = np.maximum(used[solo_at], inst.capacity[solo_at])
    return used.astype(np.int64)


def plan_result(inst: Instance, plan: Plan, runtime: float, seed: int = 0) -> Result:
    """`plan` reported as a solve stopped by its time limit. With no bound known, the
    bound is 0: no term of the objective is negative (weights, costs and distances are
    read as at least 0)."""
    bound = float(plan.bound) if np.isfinite(plan.bound) else 0.0
    gap = (plan.objective - bound) / max(abs(plan.objective), 1.0)
    none = np.zeros(0, dtype=np.int64)
    cands = Candidates(none, none, np.zeros(0), none, np.zeros(inst.units.n, dtype=np.int64),
                       None, {})
    return Result(status=Status.TIME_LIMIT, objective=plan.objective,
                  bound=bound, gap=float(gap), runtime=runtime,
                  seed=seed, assignment=plan.assignment, greedy_objective=plan.objective,
                  timings={"total": runtime}, stats={"stopped_by": "time limit"},
                  instance=inst, candidates=cands)
