"""CBC (through PuLP) on the restricted placement model: `SolveOptions(backend="cbc")`.

The same rows as the HiGHS backend (`solver._rows`: one per unit, capacity, departure,
keep-placed and moves rows, as a sparse matrix) and the same integer coefficients in
pence; with `split_siblings` also the spread variables CP-SAT has (y[g,p] >= x[c,p],
s_g >= sum_p y[g,p] - 1, cost sibling_split per s_g). The PuLP model is written from the
matrix's rows as (variable, coefficient) lists, never term by term with `+=`.

HiGHS is reached through SciPy, not `highspy`: the `highspy` wheel and OR-Tools export
clashing HiGHS symbols, so whichever is imported second fails to load in that process.
PuLP imports `highspy` when it is installed, hence OR-Tools is imported first here.
"""

from __future__ import annotations

import importlib
import os
import tempfile
import time
import warnings

import numpy as np

from .backends import _CBC_BOUND
from .candidates import Candidates
from .instance import Instance
from .scaling import MONEY_SCALE, to_int


def _split_columns(inst: Instance, cands: Candidates) -> tuple[np.ndarray, np.ndarray,
                                                               np.ndarray]:
    """For split_siblings: pairs of a group (index into cands), their (group, placement)
    column, and each such column's group. Empty when no group has two members."""
    units = inst.units
    z = np.zeros(0, dtype=np.int64)
    if not inst.policy.rules.split_siblings or len(cands) == 0:
        return z, z, z
    g = units.group_of_child[units.order[units.start[:-1]]][cands.unit]
    sizes = np.bincount(units.group_of_child[units.group_of_child >= 0],
                        minlength=len(units.group_names) + 1)
    idx = np.flatnonzero((g >= 0) & (sizes[np.maximum(g, 0)] > 1))
    if len(idx) == 0:
        return z, z, z
    gp, inv = np.unique(np.stack([g[idx], cands.placement[idx]]), axis=1, return_inverse=True)
    return idx, inv.ravel().astype(np.int64), gp[0].astype(np.int64)


def solve_cbc_placement(inst: Instance, cands: Candidates, time_limit: float, *,
                        forced: np.ndarray | None = None, max_moves: int | None = None,
                        hint: np.ndarray | None = None, workers: int = 0, seed: int = 0,
                        ) -> tuple[np.ndarray | None, bool, float, float]:
    """Returns (choice per unit or None, proven optimal, bound in pounds incl. the
    unplaced offset (-inf when none), seconds spent building the PuLP model)."""
    importlib.import_module("ortools.sat.python.cp_model")
    import pulp

    from .solver import _moves_rhs, _rows, forced_pairs

    t0 = time.perf_counter()
    units = inst.units
    k = len(cands)
    offset = float(inst.unit_unplaced.sum())
    if k == 0:
        return np.full(units.n, -1, dtype=np.int64), True, offset, 0.0
    coef = to_int(cands.objective - inst.unit_unplaced[cands.unit])
    rw = _rows(inst, cands, moves_rhs=_moves_rhs(inst, max_moves))
    prob = pulp.LpProblem("placement", pulp.LpMinimize)
    lb = np.zeros(k, dtype=np.int64)
    lb[forced_pairs(inst, cands, forced)] = 1
    x = [prob.add_variable(f"x{i}", int(lb[i]), 1, cat=pulp.LpBinary) for i in range(k)]
    obj_terms = list(zip(x, coef.tolist(), strict=True))
    a = rw.a.tocsr()
    ptr, ind, val = a.indptr, a.indices, a.data
    for r in range(a.shape[0]):
        s, e = int(ptr[r]), int(ptr[r + 1])
        if s == e:
            continue
        expr = pulp.LpAffineExpression([(x[j], float(v)) for j, v in
                                        zip(ind[s:e].tolist(), val[s:e].tolist(), strict=True)])
        prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintLE, f"r{r}", float(rw.b[r])))
    idx, col, col_group = _split_columns(inst, cands)
    y: list[pulp.LpVariable] = []
    if len(idx):
        y = [prob.add_variable(f"y{j}", 0, 1, cat=pulp.LpBinary) for j in range(len(col_group))]
        for kk, j in zip(idx.tolist(), col.tolist(), strict=True):
            prob.addConstraint(pulp.LpConstraint(
                pulp.LpAffineExpression([(x[kk], 1), (y[j], -1)]), pulp.LpConstraintLE,
                f"sp{kk}", 0))
        split_w = int(to_int(inst.policy.weights.sibling_split))
        order = np.argsort(col_group, kind="stable")
        groups, starts = np.unique(col_group[order], return_index=True)
        ends = np.append(starts[1:], len(order))
        for grp, s, e in zip(groups.tolist(), starts.tolist(), ends.tolist(), strict=True):
            sv = prob.add_variable(f"s{grp}", 0, max(e - s - 1, 0), cat=pulp.LpInteger)
            terms = [(y[j], 1) for j in order[s:e].tolist()] + [(sv, -1)]
            prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(terms),
                                                 pulp.LpConstraintLE, f"g{grp}", 1))
            obj_terms.append((sv, split_w))
    prob.setObjective(pulp.LpAffineExpression(obj_terms))
    warm = hint is not None and bool((hint >= 0).any())
    if warm:
        assert hint is not None
        on = set(hint[hint >= 0].tolist())
        for i, v in enumerate(x):
            v.setInitialValue(1 if i in on else 0)
        if y:
            used = {int(col[n]) for n, kk in enumerate(idx.tolist()) if kk in on}
            for j, v in enumerate(y):
                v.setInitialValue(1 if j in used else 0)
    build = time.perf_counter() - t0
    fd, log_path = tempfile.mkstemp(suffix=".log", prefix="cbc-")
    os.close(fd)
    try:
        with warnings.catch_warnings():  # PuLP 3 flags its bundled CBC as deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            cmd = pulp.PULP_CBC_CMD(msg=False, timeLimit=max(time_limit - build, 1.0),
                                    threads=workers or None, gapRel=0.0, logPath=log_path,
                                    warmStart=warm, options=[f"randomCbcSeed {seed + 1}"])
            prob.solve(cmd)
        with open(log_path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    finally:
        os.unlink(log_path)
    found = prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    proven = prob.sol_status == pulp.LpSolutionOptimal and "Stopped on time" not in text
    m = _CBC_BOUND.search(text)
    bound = float(m.group(1)) / MONEY_SCALE + offset if m else -np.inf
    if not found:
        return None, False, bound, build
    vals = np.array([v.varValue or 0.0 for v in x])
    sel = np.flatnonzero(vals > 0.5)
    chosen = np.full(units.n, -1, dtype=np.int64)
    chosen[cands.unit[sel]] = sel
    if len(np.unique(cands.unit[sel])) != len(sel):  # never pass on an infeasible answer
        return None, False, bound, build
    return chosen, proven, bound, build
