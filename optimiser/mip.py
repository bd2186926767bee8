"""The restricted placement model as arrays, for CBC and for HiGHS with split_siblings.

`SolveOptions(backend="cbc")`, and `backend="highs"` when `split_siblings` is on (the
engine's own HiGHS route, `pipeline.highs_model.solve_milp`, has no spread variables). Both take the
same model from `restricted_model`:

- x_k per kept pair: the rows of `pipeline.rows.model_rows` (one per unit, capacity, departure,
  keep-placed and moves rows, a sparse matrix), pinned pairs fixed to 1;
- with `split_siblings`, the spread variables CP-SAT has: y[g,p] >= x_k for each pair of
  a group member, s_g >= sum_p y[g,p] - 1, cost sibling_split per s_g;
- integer coefficients in pence, as CP-SAT's, so "optimal" means the same thing.

CBC goes through PuLP, written from the matrix's rows as (variable, coefficient) lists,
never term by term with `+=`. HiGHS goes through `highspy` in a process of its own
(`optimiser/highs.py`): the `highspy` wheel and OR-Tools export clashing HiGHS symbols,
so whichever is imported second fails to load in one process (and PuLP imports
`highspy` when installed: OR-Tools first).
"""

from __future__ import annotations

import importlib
import os
import tempfile
import time
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .backends import CBC_BOUND
from .candidates import Candidates
from .highs import milp, quiet_stdout
from .instance import Instance
from .pipeline.plans import forced_pairs, moves_limit_rhs
from .pipeline.rows import model_rows
from .scaling import MONEY_SCALE, to_int


@dataclass(frozen=True)
class RestrictedModel:
    """min c.v  s.t.  a v <= b,  lb <= v <= ub,  v integer; v = (x, y, s)."""

    c: np.ndarray  # pence
    a: sparse.csr_matrix
    b: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    n_pairs: int  # the first n_pairs columns are x
    offset: float  # pounds: the unplaced total, added back to the objective
    y_of_pair: np.ndarray  # (pairs of group members, 2): pair index, y column
    y_group: np.ndarray  # per y column: its group's s column (0-based among the s)


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


def restricted_model(inst: Instance, cands: Candidates, forced: np.ndarray | None = None,
                     max_moves: int | None = None) -> RestrictedModel:
    """The model over `cands` with every row the engine uses, and the spread variables."""
    k = len(cands)
    rw = model_rows(inst, cands, moves_rhs=moves_limit_rhs(inst, max_moves))
    c = [to_int(cands.objective - inst.unit_unplaced[cands.unit])]
    lb = np.zeros(k)
    lb[forced_pairs(inst, cands, forced)] = 1.0
    lbs, ubs = [lb], [np.ones(k)]
    idx, col, col_group = _split_columns(inst, cands)
    a = rw.a.tocsr()
    b = rw.b
    if len(idx):
        n_y = len(col_group)
        groups, g_row = np.unique(col_group, return_inverse=True)
        n_g = len(groups)
        n_cols = k + n_y + n_g
        m1 = len(idx)
        # x_k - y_j <= 0
        r1 = np.repeat(np.arange(m1), 2)
        c1 = np.stack([idx, k + col], axis=1).ravel()
        v1 = np.tile([1.0, -1.0], m1)
        # sum_{j of g} y_j - s_g <= 1
        r2 = np.concatenate([m1 + g_row.ravel(), m1 + np.arange(n_g)])
        c2 = np.concatenate([k + np.arange(n_y), k + n_y + np.arange(n_g)])
        v2 = np.concatenate([np.ones(n_y), -np.ones(n_g)])
        extra = sparse.csr_matrix((np.concatenate([v1, v2]), (np.concatenate([r1, r2]),
                                                              np.concatenate([c1, c2]))),
                                  shape=(m1 + n_g, n_cols))
        a = sparse.vstack([sparse.hstack([a, sparse.csr_matrix((a.shape[0], n_y + n_g))]),
                           extra]).tocsr()
        b = np.concatenate([b, np.zeros(m1), np.ones(n_g)])
        c += [np.zeros(n_y, dtype=np.int64),
              np.full(n_g, int(to_int(inst.policy.weights.sibling_split)), dtype=np.int64)]
        counts = np.bincount(g_row.ravel(), minlength=n_g)
        lbs += [np.zeros(n_y), np.zeros(n_g)]
        ubs += [np.ones(n_y), np.maximum(counts - 1, 0).astype(float)]
        y_of_pair = np.stack([idx, col], axis=1)
        y_group = g_row.ravel().astype(np.int64)
    else:
        y_of_pair = np.zeros((0, 2), dtype=np.int64)
        y_group = np.zeros(0, dtype=np.int64)
    return RestrictedModel(np.concatenate(c).astype(np.int64), a, np.asarray(b, dtype=float),
                           np.concatenate(lbs), np.concatenate(ubs), k,
                           float(inst.unit_unplaced.sum()), y_of_pair, y_group)


def _choice(inst: Instance, cands: Candidates, x: np.ndarray) -> np.ndarray | None:
    """Per unit the chosen pair (-1 unplaced); None if the values are not a choice."""
    sel = np.flatnonzero(x[: len(cands)] > 0.5)
    if len(np.unique(cands.unit[sel])) != len(sel):  # never pass on an infeasible answer
        return None
    chosen = np.full(inst.units.n, -1, dtype=np.int64)
    chosen[cands.unit[sel]] = sel
    return chosen


def _hint_values(model: RestrictedModel, hint: np.ndarray) -> np.ndarray:
    """A complete start (x, y, s) from a choice of pairs."""
    v = np.zeros(len(model.c))
    on = hint[hint >= 0]
    v[on] = 1.0
    k = model.n_pairs
    n_y = len(model.y_group)
    if n_y:
        used = model.y_of_pair[np.isin(model.y_of_pair[:, 0], on), 1]
        v[k + used] = 1.0
        n_g = len(model.c) - k - n_y
        spread = np.bincount(model.y_group, weights=v[k: k + n_y], minlength=n_g)
        v[k + n_y:] = np.maximum(spread - 1, 0)
    return v


def solve_cbc_placement(inst: Instance, cands: Candidates, time_limit: float, *,
                        forced: np.ndarray | None = None, max_moves: int | None = None,
                        hint: np.ndarray | None = None, workers: int = 0, seed: int = 0,
                        ) -> tuple[np.ndarray | None, bool, float, float]:
    """CBC through PuLP. Returns (choice per unit or None, proven optimal, bound in
    pounds incl. the unplaced offset (-inf when none), seconds spent building)."""
    importlib.import_module("ortools.sat.python.cp_model")
    import pulp

    t0 = time.perf_counter()
    offset = float(inst.unit_unplaced.sum())
    if len(cands) == 0:
        return np.full(inst.units.n, -1, dtype=np.int64), True, offset, 0.0
    model = restricted_model(inst, cands, forced, max_moves)
    prob = pulp.LpProblem("placement", pulp.LpMinimize)
    k = model.n_pairs
    cat = [pulp.LpBinary if j < k or model.ub[j] <= 1 else pulp.LpInteger
           for j in range(len(model.c))]
    v = [prob.add_variable(f"v{j}", float(model.lb[j]), float(model.ub[j]), cat=cat[j])
         for j in range(len(model.c))]
    a = model.a
    ptr, ind, val = a.indptr, a.indices, a.data
    for r in range(a.shape[0]):
        s, e = int(ptr[r]), int(ptr[r + 1])
        if s == e:
            continue
        expr = pulp.LpAffineExpression([(v[j], float(x)) for j, x in
                                        zip(ind[s:e].tolist(), val[s:e].tolist(), strict=True)])
        prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintLE, f"r{r}",
                                             float(model.b[r])))
    prob.setObjective(pulp.LpAffineExpression(zip(v, model.c.tolist(), strict=True)))
    warm = hint is not None and bool((hint >= 0).any())
    if warm:
        assert hint is not None
        for var, x0 in zip(v, _hint_values(model, hint).tolist(), strict=True):
            var.setInitialValue(round(x0))
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
    m = CBC_BOUND.search(text)
    bound = float(m.group(1)) / MONEY_SCALE + offset if m else -np.inf
    if not found:
        return None, False, bound, build
    chosen = _choice(inst, cands, np.array([var.varValue or 0.0 for var in v]))
    return chosen, proven and chosen is not None, bound, build


def solve_highs_placement(inst: Instance, cands: Candidates, time_limit: float, *,
                          forced: np.ndarray | None = None, max_moves: int | None = None,
                          ) -> tuple[np.ndarray | None, bool, float, float]:
    """HiGHS branch and cut (`highs.milp`: highspy) on the same arrays, spread variables
    included. Returns what `solve_cbc_placement` returns."""
    t0 = time.perf_counter()
    offset = float(inst.unit_unplaced.sum())
    if len(cands) == 0:
        return np.full(inst.units.n, -1, dtype=np.int64), True, offset, 0.0
    model = restricted_model(inst, cands, forced, max_moves)
    build = time.perf_counter() - t0
    with quiet_stdout():
        res = milp(model.c.astype(float), model.a, -np.inf, model.b, model.lb, model.ub,
                   np.ones(len(model.c)), {"time_limit": max(time_limit - build, 0.1),
                                           "mip_rel_gap": 0.0, "disp": False})
    dual = res.mip_dual_bound
    bound = (float(dual) / MONEY_SCALE + offset
             if dual is not None and np.isfinite(dual) else -np.inf)
    if res.x is None:
        return None, False, bound, build
    chosen = _choice(inst, cands, np.asarray(res.x))
    return chosen, res.status == 0 and chosen is not None, bound, build
