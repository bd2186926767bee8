"""The restricted model in CP-SAT, written straight into its proto from the pair arrays."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from ..candidates import Candidates
from ..instance import Instance
from ..scaling import MONEY_SCALE, to_int
from .plans import beds_left, forced_pairs, greedy, subset
from .rows import cut_rows
from .types import SolveOptions


def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of the runs of equal values in a sorted array."""
    if len(sorted_keys) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    starts = np.flatnonzero(np.diff(sorted_keys, prepend=sorted_keys[0] - 1))
    return starts, np.append(starts[1:], len(sorted_keys))


def build_model(inst: Instance, cands: Candidates, hint: np.ndarray | None,
                capacity: np.ndarray | None = None, *, forced: np.ndarray | None = None,
                moves_rhs: int | None = None) -> cp_model.CpModel:
    """Write the CP-SAT proto directly from the candidate arrays.

    `forced`: indices of pairs fixed to 1 (pinned units). `moves_rhs`: the moves row
    sum_k (moves_k - placed_k) x_k <= moves_rhs, i.e. max_moves minus the children
    already placed in the units the model decides (`--max-moves`).
    """
    k = len(cands)
    model = cp_model.CpModel()
    proto = model.proto
    if k:
        proto.merge_text_format("variables { domain: [0, 1] }\n" * k)
    if forced is not None:
        for kk in forced.tolist():
            dom = proto.variables[kk].domain
            dom.clear()
            dom.extend([1, 1])
    coef = to_int(cands.objective - inst.unit_unplaced[cands.unit])
    obj_vars: list[int] = list(range(k))
    obj_coefs: list[int] = coef.tolist()
    # one placement per unit
    starts, ends = _runs(cands.unit)
    must = inst.keep_placed
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if e - s > 1:
            proto.constraints.add().at_most_one.literals.extend(range(s, e))
        if must[int(cands.unit[s])]:  # already placed, may not be left unplaced
            proto.constraints.add().bool_or.literals.extend(range(s, e))
    cap = inst.capacity if capacity is None else capacity
    _add_capacity_rows(proto, cands, cap)
    _add_cut_rows(proto, inst, cands, cap)
    if moves_rhs is not None and k:
        mv = inst.pair_moves(cands.unit, cands.placement) - inst.unit_placed[cands.unit]
        nz = np.flatnonzero(mv)
        ct = proto.constraints.add().linear
        ct.vars.extend(nz.tolist())
        ct.coeffs.extend(mv[nz].tolist())
        ct.domain.extend([-(2**40), int(moves_rhs)])
    hint_vals: dict[int, int] = {}
    if hint is not None:
        for kk in hint[hint >= 0].tolist():
            hint_vals[kk] = 1
    if inst.policy.rules.split_siblings and k:
        _add_split(inst, cands, proto, obj_vars, obj_coefs, hint_vals, hint)
    proto.objective.vars.extend(obj_vars)
    proto.objective.coeffs.extend(obj_coefs)
    if hint is not None:
        n_vars = len(proto.variables)
        proto.solution_hint.vars.extend(range(n_vars))
        proto.solution_hint.values.extend([hint_vals.get(i, 0) for i in range(n_vars)])
    return model


def _add_capacity_rows(proto: Any, cands: Candidates, cap: np.ndarray) -> None:
    """A knapsack row per placement, only where the candidates could overflow it."""
    by_p = np.argsort(cands.placement, kind="stable")
    pp = cands.placement[by_p]
    pstarts, pends = _runs(pp)
    load = np.add.reduceat(cands.use[by_p], pstarts) if len(cands) else np.zeros(0)
    for s, e, ld in zip(pstarts.tolist(), pends.tolist(), load.tolist(), strict=True):
        p = int(pp[s])
        if ld <= cap[p]:
            continue
        ct = proto.constraints.add().linear
        ct.vars.extend(by_p[s:e].tolist())
        ct.coeffs.extend(cands.use[by_p[s:e]].tolist())
        ct.domain.extend([0, int(cap[p])])


def _add_cut_rows(proto: Any, inst: Instance, cands: Candidates, cap: np.ndarray) -> None:
    """The cardinality cuts (rows.cut_rows): the LP relaxation CP-SAT's linear workers
    use gets the same cuts as the engine's LP."""
    c_idx, c_row, cut_p, cut_w = cut_rows(inst, cands, cap)
    if len(cut_p):
        order = np.argsort(c_row, kind="stable")
        rs, re_ = _runs(c_row[order])
        rhs = (cap[cut_p] // cut_w).tolist()
        for r, (s, e) in enumerate(zip(rs.tolist(), re_.tolist(), strict=True)):
            ct = proto.constraints.add().linear
            ct.vars.extend(c_idx[order[s:e]].tolist())
            ct.coeffs.extend([1] * (e - s))
            ct.domain.extend([0, int(rhs[r])])


def _add_split(inst: Instance, cands: Candidates, proto: object, obj_vars: list[int],
               obj_coefs: list[int], hint_vals: dict[int, int], hint: np.ndarray | None) -> None:
    """y[g,p] >= x[c,p]; s_g >= sum_p y[g,p] - 1; minimise sibling_split * s_g."""
    units = inst.units
    g_of_unit = units.group_of_child[units.order[units.start[:-1]]]
    g = g_of_unit[cands.unit]
    sizes = np.bincount(units.group_of_child[units.group_of_child >= 0],
                        minlength=len(units.group_names) + 1)
    grouped = (g >= 0) & (sizes[np.maximum(g, 0)] > 1)
    if not grouped.any():
        return
    idx = np.flatnonzero(grouped)
    gp, inv = np.unique(np.stack([g[idx], cands.placement[idx]]), axis=1, return_inverse=True)
    inv = inv.ravel()
    base = len(proto.variables)  # type: ignore[attr-defined]
    proto.merge_text_format("variables { domain: [0, 1] }\n" * gp.shape[1])  # type: ignore
    used_pairs: set[int] = set()
    if hint is not None:
        chosen_set = set(hint[hint >= 0].tolist())
        for j, kk in enumerate(idx.tolist()):
            if kk in chosen_set:
                used_pairs.add(int(inv[j]))
    for j, kk in enumerate(idx.tolist()):
        ct = proto.constraints.add()  # type: ignore[attr-defined]
        ct.enforcement_literal.append(kk)
        ct.bool_and.literals.append(base + int(inv[j]))
    split_w = int(to_int(inst.policy.weights.sibling_split))
    groups = np.unique(gp[0])
    for grp in groups.tolist():
        ys = (base + np.flatnonzero(gp[0] == grp)).tolist()
        s_var = len(proto.variables)  # type: ignore[attr-defined]
        proto.merge_text_format(  # type: ignore[attr-defined]
            f"variables {{ domain: [0, {max(len(ys) - 1, 0)}] }}")
        ct = proto.constraints.add().linear  # type: ignore[attr-defined]
        ct.vars.extend([s_var, *ys])
        ct.coeffs.extend([1] + [-1] * len(ys))
        ct.domain.extend([-1, 2**40])
        obj_vars.append(s_var)
        obj_coefs.append(split_w)
        if hint is not None:
            used = sum(1 for y in ys if (y - base) in used_pairs)
            for y in ys:
                hint_vals[y] = int((y - base) in used_pairs)
            hint_vals[s_var] = max(used - 1, 0)


class _Progress(cp_model.CpSolverSolutionCallback):
    def __init__(self, report: Callable[[str], None], offset: float):
        super().__init__()
        self.report = report
        self.offset = offset
        self.t0 = time.perf_counter()

    def on_solution_callback(self) -> None:
        obj = self.objective_value / MONEY_SCALE + self.offset
        bound = self.best_objective_bound / MONEY_SCALE + self.offset
        self.report(
            f"  {time.perf_counter() - self.t0:7.1f}s  solution £{obj:,.2f}/week"
            f"  bound £{bound:,.2f}"
        )


def run_cpsat(model: cp_model.CpModel, opts: SolveOptions, time_limit: float,
               offset: float, progress: Callable[[str], None] | None,
               ) -> tuple[cp_model.CpSolver, object]:
    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.max_time_in_seconds = max(time_limit, 0.05)
    prm.random_seed = opts.seed
    prm.cp_model_probing_level = 0  # probing costs seconds on 1e5 Booleans for little gain
    if opts.workers:
        prm.num_workers = opts.workers
    if opts.relative_gap:
        prm.relative_gap_limit = opts.relative_gap
    for key, value in opts.params.items():
        setattr(prm, key, value)
    cb = _Progress(progress, offset) if progress else None
    status = solver.solve(model, cb)
    return solver, status


def lp_dive(inst: Instance, cands: Candidates, lp_x: np.ndarray, opts: SolveOptions,
            time_limit: float, forced: np.ndarray | None = None,
            max_moves: int | None = None) -> np.ndarray:
    """Fix the pairs the LP chose whole, solve the small rest exactly: a strong incumbent."""
    units = inst.units
    whole = lp_x > 1 - 1e-6
    # free the neighbourhood of the fractional part: units at placements the LP splits
    frac_places = np.unique(cands.placement[(lp_x > 1e-6) & ~whole])
    fixed = np.flatnonzero(whole & ~np.isin(cands.placement, frac_places))
    chosen = np.full(units.n, -1, dtype=np.int64)
    chosen[cands.unit[fixed]] = fixed
    cap = beds_left(inst, cands, fixed)
    if inst.policy.rules.split_siblings:
        return chosen  # the split penalty couples children; keep the plain rounding
    open_units = chosen < 0
    rest = np.flatnonzero(open_units[cands.unit] & (cands.use <= cap[cands.placement]))
    if len(rest) == 0:
        return chosen
    sub = subset(cands, np.isin(np.arange(len(cands)), rest))
    sub_forced = forced_pairs(inst, sub, forced)
    moves_rhs = None
    if max_moves is not None:
        used = int(inst.pair_moves(cands.unit[fixed], cands.placement[fixed]).sum())
        moves_rhs = max_moves - used - int(inst.unit_placed[open_units].sum())
    first = sub_forced
    if max_moves is not None:
        stay = np.flatnonzero((inst.pair_moves(sub.unit, sub.placement) == 0)
                              & (inst.unit_placed[sub.unit] > 0))
        first = np.concatenate([sub_forced, stay])
    hint = greedy(inst, sub, capacity=cap, first=first)
    model = build_model(inst, sub, hint, capacity=cap, forced=sub_forced, moves_rhs=moves_rhs)
    solver, st = run_cpsat(model, opts, time_limit, 0.0, None)
    if st in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        vals = np.asarray(solver.response_proto.solution, dtype=np.int64)[: len(sub)]
        sel = np.flatnonzero(vals)
    else:
        sel = hint[hint >= 0]
    chosen[sub.unit[sel]] = rest[sel]
    return chosen
