"""Solve an instance: candidates -> greedy hint -> CP-SAT -> pricing proof -> Result.

The model (see models/formulation.md): one Boolean per kept (unit, placement) pair, at
most one placement per unit (leaving it unplaced is a priced option, so a solve is never
infeasible), a knapsack row per placement that can overflow, and with `split_siblings`
a spread count per sibling group. It is written straight into the CP-SAT proto from
numpy arrays; nothing is built pair by pair through the Python modelling layer.

Pruning to the cheapest pairs per unit is made exact by Lagrangian pricing: with the
LP duals pi of the capacity rows, L(pi) = sum_u min(U_u, min_p c_up + a_up pi_p) -
sum_p pi_p cap_p is a lower bound over *all* pairs; any solution using a dropped pair
costs at least L(pi) + its reduced cost. Dropped pairs that could beat the incumbent are
added back and the model re-solved, so "optimal" is a proof on the whole problem.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model
from scipy import sparse
from scipy.optimize import linprog

from .candidates import Candidates, PairPool, build_candidates, unit_blocks
from .instance import Instance
from .scaling import MONEY_SCALE, to_int

log = logging.getLogger(__name__)

STATUS_OPTIMAL = "optimal"
STATUS_FEASIBLE = "feasible"
STATUS_TIME_LIMIT = "time_limit"
STATUS_INFEASIBLE = "infeasible"


@dataclass(frozen=True)
class SolveOptions:
    time_limit: float = 60.0
    seed: int = 0
    workers: int = 0  # 0: all cores
    candidate_limit: int | None = 40  # cheapest pairs kept per unit before pricing
    max_pricing_rounds: int = 5
    hint: bool = True
    relative_gap: float = 0.0
    params: dict[str, object] = field(default_factory=dict)  # passed to CP-SAT


@dataclass(frozen=True)
class Result:
    """What a solve found. Money in pounds per week."""

    status: str
    objective: float
    bound: float
    gap: float
    runtime: float
    seed: int
    assignment: np.ndarray  # per child: placement index, -1 unplaced
    greedy_objective: float
    timings: dict[str, float]
    stats: dict[str, float]
    instance: Instance = field(repr=False)
    candidates: Candidates = field(repr=False)

    @property
    def placed(self) -> int:
        return int((self.assignment >= 0).sum())

    @property
    def unplaced(self) -> int:
        return int((self.assignment < 0).sum())


# --------------------------------------------------------------------------- pricing


def objective_of(inst: Instance, cands: Candidates, chosen: np.ndarray) -> float:
    """Exact objective of a unit-level choice (indices into cands, -1 = unplaced)."""
    w = inst.policy.weights
    units = inst.units
    placed = chosen >= 0
    total = float(cands.objective[chosen[placed]].sum())
    total += float(w.unplaced * units.unplaced_cost[~placed].sum())
    total += split_penalty(inst, unit_placement(cands, chosen))
    return total


def unit_placement(cands: Candidates, chosen: np.ndarray) -> np.ndarray:
    out = np.full(len(chosen), -1, dtype=np.int64)
    placed = chosen >= 0
    out[placed] = cands.placement[chosen[placed]]
    return out


def split_penalty(inst: Instance, unit_place: np.ndarray) -> float:
    """sibling_split x (placements a group is spread over - 1), split_siblings only."""
    if not inst.policy.rules.split_siblings:
        return 0.0
    units = inst.units
    g = units.group_of_child
    p = unit_place[units.unit_of]
    ok = (g >= 0) & (p >= 0)
    if not ok.any():
        return 0.0
    pairs = np.unique(np.stack([g[ok], p[ok]]), axis=1)
    spread = np.bincount(pairs[0])
    return float(inst.policy.weights.sibling_split * np.maximum(spread - 1, 0).sum())


def greedy(inst: Instance, cands: Candidates, lp_x: np.ndarray | None = None,
           capacity: np.ndarray | None = None) -> np.ndarray:
    """Largest saving over leaving unplaced first, capacity respected: a fast hint.

    With `lp_x` (the LP relaxation's values), pairs the LP chose come first: LP rounding.
    """
    units = inst.units
    w = inst.policy.weights
    saving = cands.objective - w.unplaced * units.unplaced_cost[cands.unit]
    keys = (cands.placement, saving) if lp_x is None else (cands.placement, saving,
                                                           -np.round(lp_x, 6))
    order = np.lexsort(keys)
    chosen = np.full(units.n, -1, dtype=np.int64)
    cu, cp, cw, sv = (cands.unit.tolist(), cands.placement.tolist(), cands.use.tolist(),
                      saving.tolist())
    rem = (inst.capacity if capacity is None else capacity).astype(np.int64).tolist()
    ch = chosen.tolist()
    for k in order.tolist():
        if sv[k] >= 0:
            continue
        u = cu[k]
        if ch[u] >= 0:
            continue
        p = cp[k]
        if rem[p] >= cw[k]:
            rem[p] -= cw[k]
            ch[u] = k
    return np.asarray(ch, dtype=np.int64)


def lp_duals(inst: Instance, cands: Candidates) -> tuple[np.ndarray, float, np.ndarray]:
    """Capacity duals (>= 0), value and solution of the restricted model's LP relaxation."""
    units = inst.units
    k = len(cands)
    pi = np.zeros(inst.n_placements)
    w = inst.policy.weights
    offset = float(w.unplaced * units.unplaced_cost.sum())
    x = np.zeros(k)
    if k == 0:
        return pi, offset, x
    c = cands.objective - w.unplaced * units.unplaced_cost[cands.unit]
    places, prow = np.unique(cands.placement, return_inverse=True)
    rows = np.concatenate([cands.unit, units.n + prow])
    cols = np.concatenate([np.arange(k), np.arange(k)])
    vals = np.concatenate([np.ones(k), cands.use.astype(float)])
    a = sparse.csr_matrix((vals, (rows, cols)), shape=(units.n + len(places), k))
    b = np.concatenate([np.ones(units.n), inst.capacity[places].astype(float)])
    res = linprog(c, A_ub=a, b_ub=b, bounds=(0, 1), method="highs")
    if res.status != 0:
        log.warning("LP relaxation did not solve (%s); pricing uses zero duals", res.message)
        return pi, -np.inf, x
    pi[places] = np.maximum(-res.ineqlin.marginals[units.n:], 0.0)
    return pi, float(res.fun) + offset, np.asarray(res.x)


@dataclass(frozen=True)
class Pricing:
    lagrangian_bound: float  # valid lower bound over every feasible pair
    min_dropped_rc: float  # smallest reduced cost among dropped pairs (inf: none)
    best_option: np.ndarray  # per unit: min(unplaced, min_p c + a pi) over every pair
    add_unit: np.ndarray
    add_placement: np.ndarray
    add_objective: np.ndarray
    add_use: np.ndarray


def _feasible_chunks(inst: Instance, pool: PairPool | None,
                     ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """All feasible pairs as (unit, placement, objective, use) chunks; whole units per chunk."""
    if pool is not None:
        yield pool.unit, pool.placement, pool.objective, pool.use
        return
    for ub in unit_blocks(inst):
        r, c = np.nonzero(ub.feasible)
        yield ub.units[r], ub.cols[c], ub.objective[r, c], ub.use[r, c]


def price(inst: Instance, cands: Candidates, pool: PairPool | None, pi: np.ndarray,
          incumbent: float | None = None, per_unit: int | None = 10) -> Pricing:
    """One pass over every feasible pair: the Lagrangian bound and the pairs to add back.

    `incumbent=None`: column generation for the LP (add pairs with negative reduced cost).
    Otherwise: add pairs that could lead to a solution better than `incumbent`.
    """
    units = inst.units
    w = inst.policy.weights
    unplaced = w.unplaced * units.unplaced_cost.astype(float)
    m_full = unplaced.copy()
    m_kept = unplaced.copy()
    np.minimum.at(m_kept, cands.unit, cands.objective + cands.use * pi[cands.placement])
    kept_sorted = np.sort(cands.unit * inst.n_placements + cands.placement)
    best: list[tuple[np.ndarray, ...]] = []
    for u, p, o, a in _feasible_chunks(inst, pool):
        rc = o + a * pi[p]
        np.minimum.at(m_full, u, rc)
        key = u * inst.n_placements + p
        pos = np.minimum(np.searchsorted(kept_sorted, key), max(len(kept_sorted) - 1, 0))
        dropped = kept_sorted[pos] != key if len(kept_sorted) else np.ones(len(key), bool)
        u, p, o, a, rc = u[dropped], p[dropped], o[dropped], a[dropped], rc[dropped]
        order = np.lexsort((p, rc, u))
        u, p, o, a, rc = u[order], p[order], o[order], a[order], rc[order]
        if per_unit is not None:
            first = np.searchsorted(u, u, side="left")
            sel = (np.arange(len(u)) - first) < per_unit
        else:
            sel = np.ones(len(u), dtype=bool)
        best.append((u[sel], p[sel], o[sel], a[sel], rc[sel]))
    lag = float(m_full.sum() - (pi * inst.capacity).sum())
    z = np.zeros(0, dtype=np.int64)
    if not best:
        return Pricing(lag, np.inf, m_full, z, z, np.zeros(0), z)
    du, dp, do, dw, drc = (np.concatenate(x) for x in zip(*best, strict=True))
    red = drc - m_full[du]
    min_rc = float(red.min()) if len(red) else np.inf
    if incumbent is None:
        add = drc < m_kept[du] - 1e-7 * np.maximum(1.0, np.abs(m_kept[du]))
    else:
        add = lag + red < incumbent - 1e-6 * max(1.0, abs(incumbent))
    return Pricing(lag, min_rc, m_full, du[add], dp[add], do[add], dw[add])


def _merge(cands: Candidates, pr: Pricing) -> Candidates:
    u = np.concatenate([cands.unit, pr.add_unit])
    p = np.concatenate([cands.placement, pr.add_placement])
    o = np.concatenate([cands.objective, pr.add_objective])
    w = np.concatenate([cands.use, pr.add_use])
    order = np.lexsort((p, u))
    stats = dict(cands.stats)
    stats["pairs_kept"] = float(len(u))
    return Candidates(u[order], p[order], o[order], w[order], cands.n_feasible, cands.limit,
                      stats)


# --------------------------------------------------------------------------- CP-SAT model


def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of the runs of equal values in a sorted array."""
    if len(sorted_keys) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    starts = np.flatnonzero(np.diff(sorted_keys, prepend=sorted_keys[0] - 1))
    return starts, np.append(starts[1:], len(sorted_keys))


def build_model(inst: Instance, cands: Candidates, hint: np.ndarray | None,
                capacity: np.ndarray | None = None) -> cp_model.CpModel:
    """Write the CP-SAT proto directly from the candidate arrays."""
    units = inst.units
    w = inst.policy.weights
    k = len(cands)
    model = cp_model.CpModel()
    proto = model.proto
    if k:
        proto.merge_text_format("variables { domain: [0, 1] }\n" * k)
    coef = to_int(cands.objective - w.unplaced * units.unplaced_cost[cands.unit])
    obj_vars: list[int] = list(range(k))
    obj_coefs: list[int] = coef.tolist()
    # one placement per unit
    starts, ends = _runs(cands.unit)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if e - s > 1:
            proto.constraints.add().at_most_one.literals.extend(range(s, e))
    # capacity rows, only where the candidates could overflow
    by_p = np.argsort(cands.placement, kind="stable")
    pp = cands.placement[by_p]
    pstarts, pends = _runs(pp)
    cap = inst.capacity if capacity is None else capacity
    load = np.add.reduceat(cands.use[by_p], pstarts) if k else np.zeros(0)
    for s, e, ld in zip(pstarts.tolist(), pends.tolist(), load.tolist(), strict=True):
        p = int(pp[s])
        if ld <= cap[p]:
            continue
        ct = proto.constraints.add().linear
        ct.vars.extend(by_p[s:e].tolist())
        ct.coeffs.extend(cands.use[by_p[s:e]].tolist())
        ct.domain.extend([0, int(cap[p])])
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


def _run_cpsat(model: cp_model.CpModel, opts: SolveOptions, time_limit: float,
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
            time_limit: float) -> np.ndarray:
    """Fix the pairs the LP chose whole, solve the small rest exactly: a strong incumbent."""
    units = inst.units
    whole = lp_x > 1 - 1e-6
    # free the neighbourhood of the fractional part: units at placements the LP splits
    frac_places = np.unique(cands.placement[(lp_x > 1e-6) & ~whole])
    fixed = np.flatnonzero(whole & ~np.isin(cands.placement, frac_places))
    chosen = np.full(units.n, -1, dtype=np.int64)
    chosen[cands.unit[fixed]] = fixed
    cap = inst.capacity.astype(np.int64) - np.bincount(
        cands.placement[fixed], weights=cands.use[fixed], minlength=inst.n_placements
    ).astype(np.int64)
    if inst.policy.rules.split_siblings:
        return chosen  # the split penalty couples children; keep the plain rounding
    open_units = chosen < 0
    rest = np.flatnonzero(open_units[cands.unit] & (cands.use <= cap[cands.placement]))
    if len(rest) == 0:
        return chosen
    sub = _subset(cands, np.isin(np.arange(len(cands)), rest))
    hint = greedy(inst, sub, capacity=cap)
    model = build_model(inst, sub, hint, capacity=cap)
    solver, st = _run_cpsat(model, opts, time_limit, 0.0, None)
    if st in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        vals = np.asarray(solver.response_proto.solution, dtype=np.int64)[: len(sub)]
        sel = np.flatnonzero(vals)
    else:
        sel = hint[hint >= 0]
    chosen[sub.unit[sel]] = rest[sel]
    return chosen


def _subset(cands: Candidates, keep: np.ndarray) -> Candidates:
    stats = dict(cands.stats)
    stats["pairs_in_model"] = float(keep.sum())
    return Candidates(cands.unit[keep], cands.placement[keep], cands.objective[keep],
                      cands.use[keep], cands.n_feasible, cands.limit, stats)


def solve(inst: Instance, options: SolveOptions | None = None, *,
          progress: Callable[[str], None] | None = None, **kw: object) -> Result:
    """Allocate children to placements; see the module docstring for the method."""
    opts = options or SolveOptions(**kw)  # type: ignore[arg-type]
    t_start = time.perf_counter()
    timings: dict[str, float] = {"candidates": 0.0, "lp": 0.0, "greedy": 0.0, "build": 0.0,
                                 "solve": 0.0}
    say = progress or (lambda s: None)
    units = inst.units
    w = inst.policy.weights
    offset = float(w.unplaced * units.unplaced_cost.sum())

    def elapsed() -> float:
        return time.perf_counter() - t_start

    t = time.perf_counter()
    cands, pool = build_candidates(inst, limit=opts.candidate_limit)
    timings["candidates"] = time.perf_counter() - t
    say(f"candidates: {len(cands):,} pairs kept of {int(cands.stats['pairs_feasible']):,} "
        f"feasible for {units.n:,} units ({timings['candidates']:.1f}s)")

    # 1. LP by column generation: duals pi give a bound over *all* pairs
    t = time.perf_counter()
    lag, pi, lp_x, pricing = -np.inf, np.zeros(inst.n_placements), None, None
    rounds = 0
    while len(cands):
        rounds += 1
        pi_r, lp_val, x_r = lp_duals(inst, cands)
        pr = price(inst, cands, pool, pi_r, None, per_unit=25)
        if pr.lagrangian_bound >= lag:
            lag, pi, pricing = pr.lagrangian_bound, pi_r, pr
        lp_x = x_r
        say(f"LP round {rounds}: LP £{lp_val:,.2f}, bound over all pairs "
            f"£{pr.lagrangian_bound:,.2f}, {len(pr.add_unit):,} pairs priced in")
        # stop when the LP over the kept pairs is within a penny-scale tolerance of the
        # bound over all pairs: more rounds cannot move either by more than that
        converged = lp_val - pr.lagrangian_bound <= max(1.0, 1e-6 * abs(lp_val))
        if len(pr.add_unit) == 0 or converged or elapsed() > 0.3 * opts.time_limit \
                or rounds >= opts.max_pricing_rounds * 4:
            break
        cands = _merge(cands, pr)
        lp_x = None
    timings["lp"] = time.perf_counter() - t

    # 2. hints: plain greedy, and greedy guided by the LP (rounding)
    t = time.perf_counter()
    start = greedy(inst, cands)
    greedy_obj = objective_of(inst, cands, start)
    best, best_obj = start, greedy_obj
    if lp_x is not None:
        for rounded in (greedy(inst, cands, lp_x),
                        lp_dive(inst, cands, lp_x, opts, min(5.0, 0.15 * opts.time_limit))):
            r_obj = objective_of(inst, cands, rounded)
            if r_obj < best_obj:
                best, best_obj = rounded, r_obj
    timings["greedy"] = time.perf_counter() - t
    say(f"greedy start £{greedy_obj:,.2f}/week; LP-rounded hint £{best_obj:,.2f}/week")

    # 3. reduced-cost fixing: a pair whose reduced cost exceeds (incumbent - bound) is in
    #    no better solution, so the model holds only the pairs that could matter
    proof_complete = True
    model_cands = cands
    min_excluded = np.inf
    if pricing is not None and np.isfinite(lag):
        t = time.perf_counter()
        extra = price(inst, cands, pool, pi, best_obj, per_unit=None if pool is not None else 50)
        proof_complete = pool is not None
        old = cands.unit * inst.n_placements + cands.placement
        if len(extra.add_unit):
            cands = _merge(cands, extra)
            new = cands.unit * inst.n_placements + cands.placement
            best = np.where(best >= 0, np.searchsorted(new, old[np.maximum(best, 0)]), -1)
        m_full = extra.best_option
        red = cands.objective + cands.use * pi[cands.placement] - m_full[cands.unit]
        slack = best_obj - lag
        keep = red <= slack + 1e-6 * max(1.0, abs(best_obj))
        if keep.sum() > max(3 * len(old), 200_000):
            # the incumbent is too far from the bound for fixing to bite: search the
            # column-generation pairs only (the bound below stays valid for all pairs)
            keep &= np.isin(cands.unit * inst.n_placements + cands.placement, old)
        keep[best[best >= 0]] = True
        if (~keep).any():
            min_excluded = float(red[~keep].min())
        # dropped pairs never added back all have lag + red >= incumbent
        min_excluded = min(min_excluded, slack) if proof_complete else min_excluded
        index = np.cumsum(keep) - 1
        best = np.where(best >= 0, index[np.maximum(best, 0)], -1).astype(np.int64)
        model_cands = _subset(cands, keep)
        timings["lp"] += time.perf_counter() - t
        say(f"reduced-cost fixing: {len(model_cands):,} of {len(cands):,} pairs can still "
            f"matter (gap £{slack:,.2f})")

    # 4. CP-SAT on what is left, from the hint
    t = time.perf_counter()
    model = build_model(inst, model_cands, best if opts.hint else None)
    timings["build"] = time.perf_counter() - t
    t = time.perf_counter()
    solver, cp_status = _run_cpsat(model, opts, opts.time_limit - elapsed(), offset, progress)
    timings["solve"] = time.perf_counter() - t
    cp_bound = -np.inf
    if cp_status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        vals = np.asarray(solver.response_proto.solution, dtype=np.int64)[: len(model_cands)]
        chosen = np.full(units.n, -1, dtype=np.int64)
        sel = np.flatnonzero(vals)
        chosen[model_cands.unit[sel]] = sel
        obj = objective_of(inst, model_cands, chosen)
        if obj < best_obj - 1e-9:
            best, best_obj = chosen, obj
        cp_bound = solver.best_objective_bound / MONEY_SCALE + offset
    if not model_cands.pruned:
        bound = max(cp_bound, lag)  # nothing left out: both bounds hold
    elif proof_complete:
        bound = max(lag, min(cp_bound, lag + min_excluded))
    else:
        bound = lag
    proven = cp_status == cp_model.OPTIMAL and (not model_cands.pruned or (
        proof_complete and lag + min_excluded >= best_obj - 1e-6 * max(1.0, abs(best_obj))))
    runtime = elapsed()
    timings["total"] = runtime
    if proven:
        status, bound = STATUS_OPTIMAL, best_obj
    else:
        status = STATUS_TIME_LIMIT if runtime >= opts.time_limit * 0.95 else STATUS_FEASIBLE
    bound = min(bound, best_obj) if np.isfinite(bound) else -np.inf
    gap = 0.0 if proven else (
        (best_obj - bound) / max(abs(best_obj), 1.0) if np.isfinite(bound) else float("inf"))
    assignment = unit_placement(model_cands, best)[units.unit_of]
    stats = dict(model_cands.stats)
    stats["lp_rounds"] = float(rounds)
    stats["lagrangian_bound"] = float(lag)
    stats["units"] = float(units.n)
    return Result(
        status=status, objective=best_obj, bound=float(bound), gap=float(gap),
        runtime=runtime, seed=opts.seed, assignment=assignment,
        greedy_objective=greedy_obj, timings=timings, stats=stats, instance=inst,
        candidates=model_cands,
    )


def stderr_progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
