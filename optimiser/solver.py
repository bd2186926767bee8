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
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model
from scipy import sparse
from scipy.optimize import linprog

from .candidates import Candidates, build_candidates, unit_blocks
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


def greedy(inst: Instance, cands: Candidates) -> np.ndarray:
    """Largest saving over leaving unplaced first; capacity respected; a fast hint."""
    units = inst.units
    w = inst.policy.weights
    saving = cands.objective - w.unplaced * units.unplaced_cost[cands.unit]
    order = np.lexsort((cands.placement, saving))
    remaining = inst.capacity.astype(np.int64).copy()
    chosen = np.full(units.n, -1, dtype=np.int64)
    cu, cp, cw, sv = (cands.unit.tolist(), cands.placement.tolist(), cands.use.tolist(),
                      saving.tolist())
    rem = remaining.tolist()
    ch = chosen.tolist()
    for k in order.tolist():
        if sv[k] >= 0:
            break
        u = cu[k]
        if ch[u] >= 0:
            continue
        p = cp[k]
        if rem[p] >= cw[k]:
            rem[p] -= cw[k]
            ch[u] = k
    return np.asarray(ch, dtype=np.int64)


def lp_duals(inst: Instance, cands: Candidates) -> np.ndarray:
    """Capacity duals (>= 0) of the LP relaxation of the restricted model."""
    units = inst.units
    k = len(cands)
    pi = np.zeros(inst.n_placements)
    if k == 0:
        return pi
    w = inst.policy.weights
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
        return pi
    pi[places] = np.maximum(-res.ineqlin.marginals[units.n:], 0.0)
    return pi


@dataclass(frozen=True)
class Pricing:
    lagrangian_bound: float
    min_dropped_rc: float  # smallest reduced cost among dropped pairs (inf: none)
    add_unit: np.ndarray
    add_placement: np.ndarray
    add_objective: np.ndarray
    add_use: np.ndarray


def price(inst: Instance, cands: Candidates, pi: np.ndarray, incumbent: float,
          per_unit: int = 10) -> Pricing:
    """One pass over every feasible pair: the Lagrangian bound and the pairs to add back."""
    units = inst.units
    w = inst.policy.weights
    m_u = w.unplaced * units.unplaced_cost.astype(float)
    kept = cands.unit * inst.n_placements + cands.placement
    kept_sorted = np.sort(kept)
    dropped: list[tuple[np.ndarray, ...]] = []
    for ub in unit_blocks(inst):
        rc = np.where(ub.feasible, ub.objective + ub.use * pi[ub.cols][None, :], np.inf)
        m_u[ub.units] = np.minimum(m_u[ub.units], rc.min(axis=1) if rc.shape[1] else np.inf)
        r, c = np.nonzero(ub.feasible)
        key = ub.units[r] * inst.n_placements + ub.cols[c]
        pos = np.searchsorted(kept_sorted, key)
        is_kept = (pos < len(kept_sorted)) & (kept_sorted[np.minimum(pos, len(kept_sorted) - 1)]
                                              == key)
        r, c = r[~is_kept], c[~is_kept]
        dropped.append((ub.units[r], ub.cols[c], ub.objective[r, c], ub.use[r, c], rc[r, c]))
    lag = float(m_u.sum() - (pi * inst.capacity).sum())
    if not dropped:
        z = np.zeros(0, dtype=np.int64)
        return Pricing(lag, np.inf, z, z, np.zeros(0), z)
    du, dp, do, dw, drc = (np.concatenate(x) for x in zip(*dropped, strict=True))
    red = drc - m_u[du]
    min_rc = float(red.min()) if len(red) else np.inf
    improving = lag + red < incumbent - 1e-6
    du, dp, do, dw, red = du[improving], dp[improving], do[improving], dw[improving], red[
        improving]
    # the most promising few per unit
    order = np.lexsort((red, du))
    du, dp, do, dw, red = du[order], dp[order], do[order], dw[order], red[order]
    first = np.concatenate([[0], np.flatnonzero(np.diff(du)) + 1]) if len(du) else np.zeros(
        0, dtype=np.int64)
    rank = np.arange(len(du)) - np.repeat(first, np.diff(np.append(first, len(du))))
    sel = rank < per_unit
    return Pricing(lag, min_rc, du[sel], dp[sel], do[sel], dw[sel])


def _merge(cands: Candidates, pr: Pricing) -> Candidates:
    u = np.concatenate([cands.unit, pr.add_unit])
    p = np.concatenate([cands.placement, pr.add_placement])
    o = np.concatenate([cands.objective, pr.add_objective])
    w = np.concatenate([cands.use, pr.add_use])
    order = np.lexsort((p, o, u))
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


def build_model(inst: Instance, cands: Candidates, hint: np.ndarray | None) -> cp_model.CpModel:
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
    cap = inst.capacity
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
               ) -> tuple[cp_model.CpSolver, int]:
    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.max_time_in_seconds = max(time_limit, 0.05)
    prm.random_seed = opts.seed
    if opts.workers:
        prm.num_workers = opts.workers
    if opts.relative_gap:
        prm.relative_gap_limit = opts.relative_gap
    for key, value in opts.params.items():
        setattr(prm, key, value)
    cb = _Progress(progress, offset) if progress else None
    status = solver.solve(model, cb)
    return solver, status


def solve(inst: Instance, options: SolveOptions | None = None, *,
          progress: Callable[[str], None] | None = None, **kw: object) -> Result:
    """Allocate children to placements; see the module docstring for the method."""
    opts = options or SolveOptions(**kw)  # type: ignore[arg-type]
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    say = progress or (lambda s: None)
    units = inst.units
    w = inst.policy.weights

    t = time.perf_counter()
    cands = build_candidates(inst, limit=opts.candidate_limit)
    timings["candidates"] = time.perf_counter() - t
    say(f"candidates: {len(cands):,} pairs kept of {int(cands.stats['pairs_feasible']):,} "
        f"feasible for {units.n:,} units ({timings['candidates']:.1f}s)")

    offset = float(w.unplaced * units.unplaced_cost.sum())
    t = time.perf_counter()
    start = greedy(inst, cands)
    greedy_obj = objective_of(inst, cands, start)
    timings["greedy"] = time.perf_counter() - t
    say(f"greedy start: £{greedy_obj:,.2f}/week")

    best = start
    best_obj = greedy_obj
    bound = -np.inf
    status = STATUS_FEASIBLE
    timings["build"] = timings["solve"] = timings["pricing"] = 0.0
    rounds = 0
    while True:
        rounds += 1
        t = time.perf_counter()
        hint = best if opts.hint else None
        model = build_model(inst, cands, hint)
        timings["build"] += time.perf_counter() - t
        remaining = opts.time_limit - (time.perf_counter() - t_start)
        t = time.perf_counter()
        solver, cp_status = _run_cpsat(model, opts, remaining, offset, progress)
        timings["solve"] += time.perf_counter() - t
        restricted_bound = -np.inf
        if cp_status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            vals = np.asarray(solver.response_proto.solution, dtype=np.int64)[: len(cands)]
            chosen = np.full(units.n, -1, dtype=np.int64)
            sel = np.flatnonzero(vals)
            chosen[cands.unit[sel]] = sel
            obj = objective_of(inst, cands, chosen)
            if obj < best_obj - 1e-9:
                best, best_obj = chosen, obj
            restricted_bound = solver.best_objective_bound / MONEY_SCALE + offset
        proven_restricted = cp_status == cp_model.OPTIMAL
        if not cands.pruned:
            bound = restricted_bound
            status = STATUS_OPTIMAL if proven_restricted else STATUS_FEASIBLE
            break
        # pricing: is any dropped pair worth having?
        t = time.perf_counter()
        pi = lp_duals(inst, cands)
        pr = price(inst, cands, pi, best_obj)
        timings["pricing"] += time.perf_counter() - t
        say(f"pricing round {rounds}: Lagrangian bound £{pr.lagrangian_bound:,.2f}, "
            f"{len(pr.add_unit):,} dropped pairs could improve")
        bound = min(restricted_bound, pr.lagrangian_bound + pr.min_dropped_rc)
        out_of_time = time.perf_counter() - t_start >= opts.time_limit
        if len(pr.add_unit) == 0:
            status = STATUS_OPTIMAL if proven_restricted else STATUS_FEASIBLE
            break
        if out_of_time or rounds >= opts.max_pricing_rounds:
            bound = min(bound, pr.lagrangian_bound)
            status = STATUS_FEASIBLE
            break
        # map the incumbent onto the enlarged candidate set
        old_keys = cands.unit * inst.n_placements + cands.placement
        cands = _merge(cands, pr)
        new_keys = cands.unit * inst.n_placements + cands.placement
        lookup = dict(zip(new_keys.tolist(), range(len(new_keys)), strict=True))
        best = np.where(best >= 0, [lookup[int(old_keys[b])] if b >= 0 else -1
                                    for b in best.tolist()], -1).astype(np.int64)
    runtime = time.perf_counter() - t_start
    timings["total"] = runtime
    if status != STATUS_OPTIMAL and runtime >= opts.time_limit * 0.98:
        status = STATUS_TIME_LIMIT
    if status == STATUS_OPTIMAL:
        bound = best_obj
    bound = min(bound, best_obj) if np.isfinite(bound) else -np.inf
    gap = 0.0 if status == STATUS_OPTIMAL else (
        (best_obj - bound) / max(abs(best_obj), 1.0) if np.isfinite(bound) else float("inf"))
    assignment = np.full(inst.n_children, -1, dtype=np.int64)
    up = unit_placement(cands, best)
    assignment[:] = up[units.unit_of]
    stats = dict(cands.stats)
    stats["pricing_rounds"] = float(rounds)
    stats["units"] = float(units.n)
    return Result(
        status=status, objective=best_obj, bound=float(bound), gap=float(gap),
        runtime=runtime, seed=opts.seed, assignment=assignment,
        greedy_objective=greedy_obj, timings=timings, stats=stats, instance=inst,
        candidates=cands,
    )


def stderr_progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
