"""The dense peer: the model an analyst would write in PuLP with CBC.

Which model: one binary x[c,p] for *every child-placement pair that passes the rules*
(the rules are applied before the model, as an analyst filtering a pandas merge would;
the pairs and their costs come from the same rule evaluator as the engine, so both solve
exactly the same problem), one unplaced binary u[c] per child, and every row written
one at a time with `prob += ...`:

- each child:       sum_p x[c,p] + u[c] == 1
- sibling groups:   x[c,p] == x[first,p] and u[c] == u[first] for every other member
                    (placed together); with `split_siblings`, y[g,p] >= x[c,p] and
                    s_g >= sum_p y[g,p] - 1 at sibling_split per s_g instead
- each placement:   sum_c use[c,p] x[c,p] <= capacity (a solo child uses all of it)

Objective in pounds per week (floats, no scaling), CBC with `gapRel=0` so that a
finished run is a proven optimum. Nothing else: no pruning, no pricing, no LP, no hint.
Re-allocation settings (pins, max_moves, min_saving, --previous) are not modelled.
"""

from __future__ import annotations

import importlib
import os
import tempfile
import time
import warnings
from typing import NamedTuple

import numpy as np

from ..backends import CBC_BOUND
from ..candidates import BlockPlan, evaluate_block, unit_blocks
from ..instance import Instance


class DenseResult(NamedTuple):
    """(objective, status, seconds, build seconds) first, so `[:4]` is the short answer;
    objective None when no solution was found."""

    objective: float | None
    status: str  # optimal | time_limit (solution, not proven) | no_solution
    seconds: float  # everything: pairs, PuLP build, CBC (incl. writing its file)
    build_seconds: float  # building the PuLP model only
    bound: float | None
    pair_seconds: float  # evaluating the rules for every pair
    variables: int
    constraints: int
    assignment: np.ndarray | None  # per child: placement index, -1 unplaced


def dense_pairs(inst: Instance) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every (child, placement) pair whose whole unit may go there: child, placement,
    the child's own pounds/week there, beds it uses. Sorted by child then placement."""
    units = inst.units
    cs: list[np.ndarray] = []
    ps: list[np.ndarray] = []
    objs: list[np.ndarray] = []
    uses: list[np.ndarray] = []
    for ub in unit_blocks(inst, BlockPlan(inst)):
        rows = np.concatenate([units.members(u) for u in ub.units])
        unit_row = np.repeat(np.arange(len(ub.units)), units.size[ub.units])
        pb = evaluate_block(inst, rows, ub.cols)
        ok = ub.feasible[unit_row]  # child rows x cols: its unit may go there
        r, c = np.nonzero(ok)
        cs.append(rows[r])
        ps.append(ub.cols[c])
        objs.append(pb.objective[r, c])
        solo = inst.solo[rows[r]]
        uses.append(np.where(solo, inst.capacity[ub.cols[c]], 1))
    if not cs:
        z = np.zeros(0, dtype=np.int64)
        return z, z, np.zeros(0), z
    child, place = np.concatenate(cs), np.concatenate(ps)
    order = np.lexsort((place, child))
    return (child[order].astype(np.int64), place[order].astype(np.int64),
            np.concatenate(objs)[order], np.concatenate(uses)[order].astype(np.int64))


def solve_dense(inst: Instance, time_limit: float, *, workers: int = 1, seed: int = 0,
                msg: bool = False) -> DenseResult:
    """Build and solve the dense model; `time_limit` covers build and CBC together."""
    if inst.reallocation.active or (inst.pinned is not None and inst.pinned.any()):
        raise ValueError("dense peer: re-allocation settings and pinned children are not "
                         "modelled")
    importlib.import_module("ortools.sat.python.cp_model")  # before PuLP (highspy clash)
    import pulp

    t0 = time.perf_counter()
    child, place, obj, use = dense_pairs(inst)
    pair_seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    w = inst.policy.weights
    n, m = inst.n_children, inst.n_placements
    prob = pulp.LpProblem("dense_placement", pulp.LpMinimize)
    x: dict[tuple[int, int], pulp.LpVariable] = {}

    def out_of_time(i: int) -> bool:
        """Checked every 20,000 items: building alone can outlast the time limit."""
        return i % 20_000 == 0 and time.perf_counter() - t0 > time_limit

    def gave_up() -> DenseResult:
        took = time.perf_counter() - t0
        return DenseResult(None, "time_limit", took, time.perf_counter() - t1, None,
                           pair_seconds, len(x), 0, None)

    for i, (c, p) in enumerate(zip(child.tolist(), place.tolist(), strict=True)):
        x[c, p] = prob.add_variable(f"x_{c}_{p}", 0, 1, cat=pulp.LpBinary)
        if out_of_time(i + 1):
            return gave_up()
    u = [prob.add_variable(f"u_{c}", 0, 1, cat=pulp.LpBinary) for c in range(n)]
    cost = dict(zip(zip(child.tolist(), place.tolist(), strict=True), obj.tolist(),
                    strict=True))
    objective = pulp.lpSum(cost[k] * v for k, v in x.items()) + pulp.lpSum(
        w.unplaced * float(inst.priority[c]) * u[c] for c in range(n))
    by_child: list[list[int]] = [[] for _ in range(n)]
    by_place: list[list[tuple[int, int]]] = [[] for _ in range(m)]
    for c, p, a in zip(child.tolist(), place.tolist(), use.tolist(), strict=True):
        by_child[c].append(p)
        by_place[p].append((c, a))
    for c in range(n):
        prob += pulp.lpSum(x[c, p] for p in by_child[c]) + u[c] == 1, f"child_{c}"
        if out_of_time(c + 1):
            return gave_up()
    groups: dict[str, list[int]] = {}
    for c, g in enumerate(inst.sibling_group.tolist()):
        if g:
            groups.setdefault(str(g), []).append(c)
    split = inst.policy.rules.split_siblings
    for gi, members in enumerate(groups.values()):
        if len(members) < 2:
            continue
        if not split:
            first = members[0]
            for c in members[1:]:
                for p in by_child[first]:  # same unit: the same feasible placements
                    prob += x[c, p] == x[first, p], f"sib_{c}_{p}"
                prob += u[c] == u[first], f"sibu_{c}"
        else:
            ys = {}
            for c in members:
                for p in by_child[c]:
                    if p not in ys:
                        ys[p] = prob.add_variable(f"y_{gi}_{p}", 0, 1, cat=pulp.LpBinary)
                    prob += ys[p] >= x[c, p], f"spread_{c}_{p}"
            s = prob.add_variable(f"s_{gi}", 0, None, cat=pulp.LpContinuous)
            prob += s >= pulp.lpSum(ys.values()) - 1, f"split_{gi}"
            objective += w.sibling_split * s
    cap = inst.capacity
    for p in range(m):
        if by_place[p]:
            prob += pulp.lpSum(a * x[c, p] for c, a in by_place[p]) <= int(cap[p]), f"cap_{p}"
        if out_of_time(p + 1):
            return gave_up()
    prob += objective
    build = time.perf_counter() - t1
    n_vars, n_rows = prob.numVariables(), prob.numConstraints()
    left = time_limit - (time.perf_counter() - t0)
    if left <= 0:
        return DenseResult(None, "time_limit", time.perf_counter() - t0, build, None,
                           pair_seconds, n_vars, n_rows, None)
    fd, log_path = tempfile.mkstemp(suffix=".log", prefix="dense-cbc-")
    os.close(fd)
    try:
        with warnings.catch_warnings():  # PuLP 3 flags its bundled CBC as deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            prob.solve(pulp.PULP_CBC_CMD(msg=msg, timeLimit=max(left, 1.0), gapRel=0.0,
                                         threads=workers, logPath=log_path,
                                         options=[f"randomCbcSeed {seed + 1}"]))
        with open(log_path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    finally:
        os.unlink(log_path)
    seconds = time.perf_counter() - t0
    found = prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    proven = prob.sol_status == pulp.LpSolutionOptimal and "Stopped on time" not in text
    mb = CBC_BOUND.search(text)
    bound = float(mb.group(1)) if mb else None
    if not found:
        return DenseResult(None, "no_solution", seconds, build, bound, pair_seconds, n_vars,
                           n_rows, None)
    assignment = np.full(n, -1, dtype=np.int64)
    for (c, p), v in x.items():
        if (v.varValue or 0.0) > 0.5:
            assignment[c] = p
    value = float(pulp.value(prob.objective))
    status = "optimal" if proven else "time_limit"
    return DenseResult(value, status, seconds, build, value if proven else bound,
                       pair_seconds, n_vars, n_rows, assignment)
