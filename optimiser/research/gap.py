"""The generalized assignment problem (GAP): its solvers (the instances: `gap_instance`).

The engine's model is a capacitated assignment with per-pair resource use; the classic
GAP is its pure form, with public instances and published optima, so it is where the
engine's method is measured against references nobody on the team wrote.

Solvers (`solve_gap(..., backend=...)`), all built from arrays:

* ``cpsat`` -- ours: the LP relaxation (HiGHS) gives capacity duals lambda, hence the
  Lagrangian bound L = sum_j min_i (c_ij + lambda_i a_ij) - sum_i lambda_i b_i (valid for
  any lambda >= 0) and a reduced cost r_ij >= 0 per pair: every solution using (i, j)
  costs at least L + r_ij. A hint from the LP (regret greedy on Lagrangian costs, then
  shift/swap local search) gives an incumbent U. Pairs with L + r_ij > U - 1 are in no
  better solution (integer costs) and are left out, the incumbent's own pairs kept, so
  the restricted optimum is the true optimum. Then the knapsack Lagrangian
  (`gap_search`: relax "each job once" instead, one knapsack per agent, subgradient
  from the LP's job duals) gives a tighter L and exact per-pair prices that replace
  r_ij in that fixing. CP-SAT solves the restricted model from the hint with the
  objective domain [ceil L, U] (phase 1, all workers, about 10% of the time); then the
  full model runs on one worker beside the improvement loop: Lagrangian dives (fix
  agents to knapsack sets, re-optimise the multipliers, CP-SAT on the last agents'
  jobs), with LNS slices in between, both offering to the shared incumbent.
* ``plain`` -- the baseline: one Boolean per pair, exactly-one per job, knapsack per
  agent, nothing else; same workers and time.
* ``highs`` -- the MIP through highspy; ``cbc`` -- the MIP through PuLP's CBC.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..backends import (
    AssignmentModel,
    BackendResult,
    build_cpsat,
    lp_relaxation,
    solve_cbc,
    solve_cpsat,
    solve_highs,
)
from ..status import Status
from .gap_instance import BACKENDS, SENSES, GapInstance
from .gap_search import (
    knapsack_bound,
    knapsack_values,
    lagrangian_dive,
    lagrangian_start,
    local_search,
    regret_greedy,
)

CPSAT_PARAMS: dict[str, object] = {}  # extra CP-SAT parameters for our full-model searches


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class GapResult:
    """A solve in the instance's own sense: for 'max', the bound is an upper bound."""

    instance: str
    sense: str
    backend: str
    status: str
    objective: float | None
    bound: float | None
    seconds: float
    assignment: np.ndarray | None = field(default=None, repr=False)  # agent per job
    stats: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """The keys the CLI promises (objective, bound, status, seconds) and context."""
        return {"instance": self.instance, "sense": self.sense, "backend": self.backend,
                "status": self.status, "objective": self.objective, "bound": self.bound,
                "seconds": round(self.seconds, 4)}


def min_cost(inst: GapInstance, sense: str) -> np.ndarray:
    """The cost matrix of the minimisation solved for `sense` (max: negated)."""
    if sense not in SENSES:
        raise ValueError(f"sense must be 'min' or 'max', not {sense!r}")
    return inst.c if sense == "min" else -inst.c


def _assignment(model: AssignmentModel, chosen: np.ndarray) -> np.ndarray:
    """Agent per job from chosen pair indices (-1 where a job has none)."""
    x = np.full(model.n_jobs, -1, dtype=np.int64)
    x[model.job[chosen]] = model.agent[chosen]
    return x


def _pairs_of(model: AssignmentModel, x: np.ndarray) -> np.ndarray:
    """Pair indices of an assignment (agent per job); every pair must be in the model."""
    keys = model.job * model.n_agents + model.agent
    want = np.arange(model.n_jobs) * model.n_agents + x
    pos = np.searchsorted(keys, want)
    if len(keys) == 0 or np.any(pos >= len(keys)) or np.any(keys[np.minimum(
            pos, len(keys) - 1)] != want):
        raise ValueError("assignment uses a pair the model does not hold")
    return pos


def solve_gap(inst: GapInstance, sense: str = "min", backend: str = "cpsat",
              time_limit: float = 30.0, workers: int = 2, seed: int = 0,
              log: Callable[[str], None] | None = None) -> GapResult:
    """Solve one GAP instance with one backend; the answer is re-priced and checked here.

    Every backend minimises `min_cost(inst, sense)`; objective and bound come back in
    the instance's sense, the objective always recomputed from the assignment.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if workers < 1:
        raise ValueError("workers must be at least 1")
    cost = min_cost(inst, sense)
    t0 = time.perf_counter()
    if backend == "cpsat":
        res = _solve_ours(inst, cost, time_limit, workers, seed, log)
        x = res.chosen
    else:
        model = AssignmentModel.dense(cost, inst.a, inst.b)
        runs: dict[str, Callable[..., BackendResult]] = {
            "plain": solve_cpsat, "highs": solve_highs, "cbc": solve_cbc}
        run = runs[backend]
        res = run(model, time_limit, workers=workers, seed=seed)
        x = None if res.chosen is None else _assignment(model, res.chosen)
    seconds = time.perf_counter() - t0
    objective = None if x is None else float(inst.objective(x))  # raises on an infeasible x
    bound = None
    if res.bound is not None and math.isfinite(res.bound):
        bound = float(res.bound) if sense == "min" else -float(res.bound)
    if res.status == Status.OPTIMAL:
        bound = objective
    return GapResult(inst.name, sense, backend, res.status, objective, bound, seconds, x,
                     dict(res.stats))


# --------------------------------------------------------------------------- ours


def lagrangian(model: AssignmentModel, lam: np.ndarray) -> tuple[float, np.ndarray]:
    """Bound L(lambda) with the knapsack rows relaxed, and each pair's reduced cost >= 0.

    L = sum_j min_i (c_ij + lambda_i a_ij) - sum_i lambda_i b_i is a lower bound for any
    lambda >= 0; a solution using pair (i, j) costs at least L + r_ij.
    """
    cl = model.cost + lam[model.agent] * model.use
    best = np.minimum.reduceat(cl, model.job_starts()[:-1])
    return float(best.sum() - lam @ model.capacity), cl - best[model.job]


def _hint(inst: GapInstance, cost: np.ndarray, model: AssignmentModel,
          lp_x: np.ndarray | None, lam: np.ndarray, deadline: float) -> np.ndarray | None:
    """Best of a few constructions (LP rounding first), each polished by local search."""
    m, n = cost.shape
    desir = cost + lam[:, None] * inst.a  # Lagrangian costs
    starts: list[np.ndarray | None] = []
    if lp_x is not None:
        x_lp = np.zeros((m, n))
        x_lp[model.agent, model.job] = lp_x
        whole = x_lp.max(axis=0) > 1 - 1e-6
        starts.append(regret_greedy(cost, inst.a, inst.b, desir,
                                    np.where(whole, x_lp.argmax(axis=0), -1)))
    starts.append(regret_greedy(cost, inst.a, inst.b, desir))
    starts.append(regret_greedy(cost, inst.a, inst.b, inst.a / np.maximum(inst.b, 1)[:, None]))
    best, best_v = None, math.inf
    jobs = np.arange(n)
    for x in starts:
        if x is None:
            continue
        x = local_search(cost, inst.a, inst.b, x, deadline)
        v = float(cost[x, jobs].sum())
        if v < best_v:
            best, best_v = x, v
    return best


class Incumbent:
    """The incumbent both searches see: the full model's callback and the LNS write it."""

    def __init__(self, x: np.ndarray, value: int):
        self.lock = threading.Lock()
        self.x = x.copy()
        self.value = value
        self.found_by: dict[str, int] = {}

    def offer(self, x: np.ndarray, value: int, who: str) -> bool:
        with self.lock:
            if value < self.value:
                self.x, self.value = x.copy(), value
                self.found_by[who] = self.found_by.get(who, 0) + 1
                return True
        return False

    def get(self) -> tuple[np.ndarray, int]:
        with self.lock:
            return self.x.copy(), self.value


class _FullSearch(threading.Thread):
    """CP-SAT on the whole reduced model in a thread; improving solutions go to `shared`.

    The model holds every pair that can be in a solution better than the incumbent, plus
    the incumbent's own, so its optimum is the true optimum and its bound is valid.
    """

    def __init__(self, model: AssignmentModel, shared: Incumbent, lower: int,
                 time_limit: float, workers: int, seed: int,
                 cuts: tuple[np.ndarray, np.ndarray] | None = None):
        super().__init__(daemon=True)
        from ortools.sat.python import cp_model

        x, value = shared.get()
        self.model = model
        self.cp = build_cpsat(model, _pairs_of(model, x), (lower, value))
        if cuts is not None:
            _add_cuts(self.cp, model, *cuts)
        self.solver = cp_model.CpSolver()
        prm = self.solver.parameters
        prm.max_time_in_seconds = max(time_limit, 0.01)
        prm.num_workers = workers
        prm.random_seed = seed
        for key, val in CPSAT_PARAMS.items():
            setattr(prm, key, val)
        self.status: int = -1
        self.bound = -math.inf

        class _Callback(cp_model.CpSolverSolutionCallback):
            def on_solution_callback(cb) -> None:  # noqa: N805 (the outer self is needed)
                vals = np.asarray(cb.response_proto.solution, dtype=np.int64)
                chosen = np.flatnonzero(vals[: len(model)])
                shared.offer(_assignment(model, chosen), int(model.cost[chosen].sum()), "full")

        self.callback = _Callback()

    def run(self) -> None:
        from ortools.sat.python import cp_model

        st = self.solver.solve(self.cp, self.callback)  # type: ignore[arg-type]
        self.status = int(st)
        if st in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.bound = float(self.solver.best_objective_bound)

    @property
    def proven(self) -> bool:
        from ortools.sat.python import cp_model

        return self.status == cp_model.OPTIMAL

    def stop(self) -> None:
        self.solver.stop_search()
        self.join()


USE_CUTS = False  # knapsack cuts in the full CP-SAT model: they slow its search more than
# their bound helps it
KNAPSACK_CELLS = 50_000_000  # DP table cells (max capacity x jobs) the knapsack step allows
CUT_SCALE = 100  # the Lagrangian cuts' coefficients, in 1/100 of a cost unit


def _add_cuts(cp: object, model: AssignmentModel, u: np.ndarray, kval: np.ndarray) -> None:
    """Per agent i: sum_j ceil(S (c_ij - u_j)) x_ij >= floor(-S K_i(u)) (valid, rounded
    outwards), so CP-SAT's LP relaxation reaches the knapsack bound L(u)."""
    proto = cp.proto  # type: ignore[attr-defined]
    coef = np.ceil(CUT_SCALE * (model.cost - u[model.job]) - 1e-9).astype(np.int64)
    order = np.argsort(model.agent, kind="stable")
    starts = np.searchsorted(model.agent[order], np.arange(model.n_agents + 1))
    for i in range(model.n_agents):
        idx = order[starts[i]: starts[i + 1]]
        if len(idx) == 0:
            continue
        ct = proto.constraints.add().linear
        ct.vars.extend(idx.tolist())
        ct.coeffs.extend(coef[idx].tolist())
        lo = int(np.floor(-CUT_SCALE * kval[i] - 1e-6))
        ct.domain.extend([lo, max(lo, int(np.maximum(coef[idx], 0).sum()))])


def _fixed_model(model: AssignmentModel, red: np.ndarray, lag: float, x: np.ndarray,
                 value: int, red_out: np.ndarray | None = None) -> AssignmentModel:
    """Reduced-cost fixing: keep pairs with L + r <= U - 1 (integer costs) and x's own.

    `red_out` (per pair): the bound's rise when the pair is left out; where L + it
    exceeds U - 1 every better solution uses the pair, so its job keeps only that pair.
    """
    tol = 1e-6 * max(1.0, abs(value))
    keep = lag + red <= value - 1 + tol
    if red_out is not None:
        forced = keep & (lag + red_out > value - 1 + tol)
        if forced.any():
            job_forced = np.zeros(model.n_jobs, dtype=bool)
            job_forced[model.job[forced]] = True
            keep &= forced | ~job_forced[model.job]
    keep[_pairs_of(model, x)] = True
    return model.subset(keep)


def _solve_ours(inst: GapInstance, cost: np.ndarray, time_limit: float, workers: int,
                seed: int, log: Callable[[str], None] | None) -> BackendResult:
    """LP -> Lagrangian bounds and hint -> short full CP-SAT -> full CP-SAT beside dives
    and LNS."""
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    say = log or (lambda s: None)
    stats: dict[str, float] = {}

    def left() -> float:
        return deadline - time.perf_counter()

    m, n = cost.shape
    model = AssignmentModel.dense(cost, inst.a, inst.b, drop_oversize=True)
    if np.any(np.bincount(model.job, minlength=n) == 0):
        say("a job fits no agent's whole capacity: infeasible")
        return BackendResult(Status.INFEASIBLE, None, None, time.perf_counter() - t0, None,
                             stats)
    lp = lp_relaxation(model, time_limit=max(0.5 * left(), 0.01))
    if lp is not None and lp.status == Status.INFEASIBLE:
        say("the LP relaxation is infeasible, so is the problem")
        return BackendResult(Status.INFEASIBLE, None, None, time.perf_counter() - t0, None,
                             stats)
    solved_lp = lp if lp is not None and lp.status == Status.OPTIMAL else None
    lam = solved_lp.capacity_dual if solved_lp is not None else np.zeros(m)
    lag, red = lagrangian(model, lam)
    stats["lp_bound"] = lag
    say(f"LP/Lagrangian bound {lag:.2f} ({time.perf_counter() - t0:.2f}s)")
    x0 = _hint(inst, cost, model, None if solved_lp is None else solved_lp.x, lam,
               time.perf_counter() + min(1.0 + m * n / 50_000, 0.1 * time_limit))
    red_out: np.ndarray | None = None
    cuts: tuple[np.ndarray, np.ndarray] | None = None
    lns_u: np.ndarray | None = None
    iter_seconds = 0.0
    red_dense = np.full((m, n), np.inf)
    red_dense[model.agent, model.job] = red
    if x0 is not None and left() > 0 and int(inst.b.max(initial=0)) * n <= KNAPSACK_CELLS:
        # the knapsack Lagrangian: a tighter bound, exact per-pair prices, a second start
        u0 = solved_lp.job_dual if solved_lp is not None else \
            (cost + lam[:, None] * inst.a).min(axis=0).astype(float)
        v0 = int(cost[x0, np.arange(n)].sum())
        t_kn = time.perf_counter()
        kl, u, d_in, d_out, kst = knapsack_bound(
            cost, inst.a, inst.b, u0, v0, time.perf_counter() + min(3.0, 0.1 * left()))
        iter_seconds = (time.perf_counter() - t_kn) / max(kst["kn_iterations"], 1.0)
        stats.update(kst)
        say(f"knapsack bound {kl:.2f} after {kst['kn_iterations']:.0f} steps "
            f"({time.perf_counter() - t0:.2f}s)")
        if kl > lag:
            lag, red, red_out = kl, d_in[model.agent, model.job], d_out[model.agent, model.job]
            red_dense[model.agent, model.job] = red
            lns_u = u
            if USE_CUTS:
                cuts = (u, knapsack_values(cost, inst.a, inst.b, u))
        x1 = lagrangian_start(cost, inst.a, inst.b, u, d_in)
        if x1 is not None:
            x1 = local_search(cost, inst.a, inst.b, x1, time.perf_counter() + 0.5)
            v1 = int(cost[x1, np.arange(n)].sum())
            stats["kn_start"] = float(v1)
            if v1 < v0:
                x0 = x1
    lower = math.ceil(lag - 1e-6 * max(1.0, abs(lag)))
    if x0 is None:  # no construction fitted: let CP-SAT look for a first solution
        say("no constructive start found; CP-SAT from scratch")
        res = solve_cpsat(model, left(), workers, seed, objective_domain=(lower, 2**62))
        chosen = None if res.chosen is None else _assignment(model, res.chosen)
        bound = None if res.bound is None else max(float(res.bound), float(lower))
        return BackendResult(res.status, res.objective, bound, time.perf_counter() - t0,
                             chosen, stats)
    jobs = np.arange(n)
    shared = Incumbent(x0, int(cost[x0, jobs].sum()))
    stats["hint"] = float(shared.value)
    say(f"hint {shared.value} ({time.perf_counter() - t0:.2f}s)")
    bound = float(lower)
    proven = shared.value <= lower
    # phase 1: the full reduced model with every worker, long enough for easy instances
    if not proven and left() > 0:
        x, value = shared.get()
        sub = _fixed_model(model, red, lag, x, value, red_out)
        stats["pairs_phase1"] = float(len(sub))
        full = _FullSearch(sub, shared, lower, min(left(), max(1.0, 0.1 * time_limit)),
                           workers, seed, cuts)
        full.run()
        proven = full.proven
        bound = max(bound, full.bound)
        say(f"phase 1: {len(sub)} of {len(model)} pairs, best {shared.value}, "
            f"bound {bound:.0f} ({time.perf_counter() - t0:.2f}s)")
    # phase 2: the full model beside LNS (one worker each), the incumbent shared
    if not proven and left() > 0.05:
        x, value = shared.get()
        sub = _fixed_model(model, red, lag, x, value, red_out)
        stats["pairs_phase2"] = float(len(sub))
        if workers >= 2:
            full = _FullSearch(sub, shared, math.ceil(bound), left(), workers - 1, seed + 1,
                               cuts)
            full.start()
            stats.update(_improve(inst, cost, red_dense, lag, shared, deadline, seed,
                                  lambda: not full.is_alive(), lns_u, iter_seconds))
            if full.is_alive():
                full.stop()
        else:  # one worker: LNS for most of the time, then the full model from its result
            stats.update(_improve(inst, cost, red_dense, lag, shared,
                                  time.perf_counter() + 0.7 * left(), seed, lambda: False,
                                  lns_u, iter_seconds))
            x, value = shared.get()
            full = _FullSearch(_fixed_model(model, red, lag, x, value, red_out), shared,
                               math.ceil(bound), left(), 1, seed + 1, cuts)
            full.run()
        proven = full.proven
        bound = max(bound, full.bound)
    x, value = shared.get()
    if proven or value <= math.ceil(bound - 1e-9):
        status, bound = Status.OPTIMAL, float(value)
    else:
        status = Status.TIME_LIMIT if left() <= 0.02 * time_limit + 0.05 else Status.FEASIBLE
    stats.update({f"found_by_{k}": float(v) for k, v in shared.found_by.items()})
    say(f"done: {status}, {value}, bound {bound:.0f} ({time.perf_counter() - t0:.2f}s)")
    return BackendResult(status, float(value), bound, time.perf_counter() - t0, x, stats)


DIVE_SHARE = 0.75  # of phase 2's improvement time: Lagrangian dives; the rest LNS
DIVE_SLICE = 3.0  # seconds of dives between LNS slices
DIVE_MIN_KEEP = 1  # fewest agents a dive leaves to the exact residual solve


def _improve(inst: GapInstance, cost: np.ndarray, red: np.ndarray, lag: float,
             shared: Incumbent, deadline: float, seed: int, stop: Callable[[], bool],
             u: np.ndarray | None, iter_seconds: float = 0.0) -> dict[str, float]:
    """Lagrangian dives and LNS in turns (LNS alone without the knapsack multipliers).

    The dives' share of the time starts at DIVE_SHARE and follows what pays: a turn in
    which only the LNS improved the incumbent moves time to it, and the other way round
    (dives pay where the knapsack bound is tight; on large instances, where one dive
    takes seconds, LNS does).
    """
    if u is None or DIVE_SHARE <= 0:
        return lns(inst, cost, red, lag, shared, deadline, seed, stop)
    stats: dict[str, float] = {}
    state: dict[str, float] = {"iter_seconds": iter_seconds}
    share = DIVE_SHARE
    turn = 0
    while time.perf_counter() < deadline - 0.02 and not stop():
        now = time.perf_counter()
        d_slice = DIVE_SLICE * share / DIVE_SHARE
        got: dict[str, float] = {}
        for k, v in dives(inst, cost, red, lag, u, shared, min(deadline, now + d_slice),
                          seed + 7919 * turn, stop, state, hard_deadline=deadline).items():
            stats[k] = stats.get(k, 0.0) + v
            got[k] = v
        l_end = min(deadline, time.perf_counter() + d_slice * (1 - share) / share)
        if share < 1 and time.perf_counter() < l_end:
            for k, v in lns(inst, cost, red, lag, shared, l_end, seed + turn, stop,
                            u=u).items():
                stats[k] = stats.get(k, 0.0) + v if k != "lns_k" else v
                got[k] = v
        dive_won = got.get("dive_improvements", 0.0) > 0
        lns_won = got.get("lns_improvements", 0.0) > 0
        if dive_won and not lns_won:
            share = min(0.9, share + 0.1)
        elif lns_won and not dive_won:
            share = max(0.2, share - 0.2)
        turn += 1
    stats["dive_keep"] = state.get("keep", 0.0)
    stats["dive_share"] = share
    return stats


def dives(inst: GapInstance, cost: np.ndarray, red: np.ndarray, lag: float, u: np.ndarray,
          shared: Incumbent, deadline: float, seed: int, stop: Callable[[], bool],
          state: dict[str, float], hard_deadline: float | None = None) -> dict[str, float]:
    """Randomised Lagrangian dives (`lagrangian_dive`), the last few agents solved exactly.

    A dive fixes agents to knapsack sets at multipliers re-optimised for what is left,
    until `keep` agents remain; their jobs go to CP-SAT (one worker), restricted to
    pairs that can be in a solution better than the incumbent U and with the residual's
    knapsack bound as its lower bound. `keep` adapts like LNS's k: up while the residual
    solves are proven quickly, down when they time out. Dives whose fixed cost plus
    residual bound cannot come under U (plus a small margin for the polish) stop early.
    No dive starts after `deadline`; one under way may run on to `hard_deadline`. The
    subgradient steps per dive step are cut on large instances (state['iter_seconds'],
    the time of one pass over all knapsacks) so that a dive takes about 1.5 s at most.
    """
    rng = np.random.default_rng(seed)
    m, n = cost.shape
    jobs = np.arange(n)
    a, b = inst.a, inst.b
    keep = state.get("keep", float(max(DIVE_MIN_KEEP, min(m - 1, round(20 * m / n)))))
    res_time = 0.5
    desir = np.where(np.isfinite(red), red, 1e12)
    hard = deadline if hard_deadline is None else max(deadline, hard_deadline)
    iters = int(np.clip(1.5 / (min(m, 30) * max(state.get("iter_seconds", 0.0), 1e-9)), 8, 40))
    n_dives = n_done = improved = 0
    while time.perf_counter() < deadline - 0.02 and not stop():
        x, value = shared.get()
        margin = max(1, int(0.002 * abs(value)))
        cap = value - 1 + margin
        n_dives += 1
        part = lagrangian_dive(cost, a, b, u, cap, rng, iters=iters,
                               noise=float(rng.uniform(0.1, 1.0)), keep_agents=int(keep),
                               deadline=hard)
        if part is None:
            continue
        free = np.flatnonzero(part < 0)
        done = part >= 0
        fixed = int(cost[part[done], jobs[done]].sum())
        y = part.copy()
        if len(free):
            rem = b - np.bincount(part[done], weights=a[part[done], jobs[done]],
                                  minlength=m).astype(np.int64)
            ok = (a[:, free] <= rem[:, None]) & (lag + red[:, free] <= cap + 1e-6)
            if not ok.any(axis=0).all():
                continue
            job_idx, agent_idx = np.nonzero(ok.T)
            sub = AssignmentModel(len(free), m, job_idx, agent_idx,
                                  cost[agent_idx, free[job_idx]], a[agent_idx, free[job_idx]],
                                  rem)
            big = int(np.abs(cost).max()) * (n + 1) + 1
            kval = knapsack_values(np.where(ok, cost[:, free], big), a[:, free], rem, u[free])
            low = math.ceil(float(u[free].sum() - kval.sum()) - 1e-6)
            if fixed + low > cap:
                continue
            t_res = min(res_time, hard - time.perf_counter())
            if t_res <= 0.01:
                break
            res = _solve_sub(sub, t_res, seed + n_dives, None, (low, cap - fixed),
                             (u[free], kval))
            if res.status == Status.OPTIMAL and res.seconds < 0.3 * res_time:
                keep = min(keep + 0.25, float(m))
            elif res.status != Status.OPTIMAL:
                keep = max(keep - 0.5, float(DIVE_MIN_KEEP))
            if res.chosen is not None:
                y[free[sub.job[res.chosen]]] = sub.agent[res.chosen]
            elif res.status == Status.TIME_LIMIT and len(free) > 2 * n / m:
                # a large residual CP-SAT could not settle (big instances): complete it
                # greedily by pair price instead, the polish below may still make it
                completed = regret_greedy(cost, a, b, desir, part)
                if completed is None:
                    continue
                y = completed
            else:
                continue
        n_done += 1
        v = int(cost[y, jobs].sum())
        if v >= value + margin:
            continue
        y = local_search(cost, a, b, y, time.perf_counter() + 0.05)
        v = int(cost[y, jobs].sum())
        if shared.offer(y, v, "dive"):
            improved += 1
    state["keep"] = keep
    return {"dives": float(n_dives), "dives_complete": float(n_done),
            "dive_improvements": float(improved)}


def _solve_sub(sub: AssignmentModel, time_limit: float, seed: int, hint: np.ndarray | None,
               domain: tuple[int, int],
               cuts: tuple[np.ndarray, np.ndarray] | None) -> BackendResult:
    """One LNS step: CP-SAT, one worker, from the hint, with the Lagrangian cuts."""
    from ortools.sat.python import cp_model

    cp = build_cpsat(sub, hint, domain)
    if cuts is not None:
        _add_cuts(cp, sub, *cuts)
    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.max_time_in_seconds = max(time_limit, 0.01)
    prm.num_workers = 1
    prm.random_seed = seed
    st = solver.solve(cp)  # type: ignore[arg-type]
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        status = Status.INFEASIBLE if st == cp_model.INFEASIBLE else Status.TIME_LIMIT
        return BackendResult(status, None, None, solver.wall_time, None, {})
    chosen = np.flatnonzero(np.asarray(solver.response_proto.solution,
                                       dtype=np.int64)[: len(sub)])
    return BackendResult(Status.OPTIMAL if st == cp_model.OPTIMAL else Status.FEASIBLE,
                         float(sub.value(chosen)), float(solver.best_objective_bound),
                         solver.wall_time, chosen, {})


def lns(inst: GapInstance, cost: np.ndarray, red: np.ndarray, lag: float, shared: Incumbent,
        deadline: float, seed: int, stop: Callable[[], bool],
        sub_time: float = 0.3, u: np.ndarray | None = None) -> dict[str, float]:
    """Large-neighbourhood search: free all jobs of k related agents, re-solve exactly.

    The freed jobs may go to any agent with room left, so each step is a small GAP solved
    by CP-SAT (one worker) from the current assignment, restricted to pairs that can be in
    a better solution (L + r_ij <= U - 1). Agents are related when the jobs of one have a
    small Lagrangian reduced cost `red` [m, n] on the other. k adapts: it grows while the
    steps are proven optimal within `sub_time` and shrinks faster when they are not.
    """
    rng = np.random.default_rng(seed)
    m, n = cost.shape
    jobs = np.arange(n)
    k = min(3.0, float(m))
    finite = red[np.isfinite(red)]
    close = red <= (np.quantile(finite, 0.15) if len(finite) else 0.0)
    x, value = shared.get()
    rel = np.zeros((m, m))
    its = improved = 0
    stale = True
    while time.perf_counter() < deadline - 0.02 and not stop():
        its += 1
        gx, gv = shared.get()
        if gv < value or stale:
            x, value, stale = gx, gv, False
            for i in range(m):
                rel[i] = close[:, x == i].sum(axis=1)
            rel = rel + rel.T + 1e-3
        kk = max(1, min(int(round(k)), m))
        i0 = int(rng.integers(m))
        w = rel[i0].copy()
        w[i0] = 0.0
        others = rng.choice(m, size=kk - 1, replace=False, p=w / w.sum()) if kk > 1 else []
        agents = np.concatenate([[i0], np.asarray(others, dtype=np.int64)])
        free = np.flatnonzero(np.isin(x, agents))
        if len(free) == 0:
            continue
        load = np.bincount(x, weights=inst.a[x, jobs], minlength=m).astype(np.int64)
        cap = inst.b - load + np.bincount(x[free], weights=inst.a[x[free], free],
                                          minlength=m).astype(np.int64)
        ok = (inst.a[:, free] <= cap[:, None]) & (lag + red[:, free] <= value - 1 + 1e-6)
        ok[x[free], np.arange(len(free))] = True
        job_idx, agent_idx = np.nonzero(ok.T)
        sub = AssignmentModel(len(free), m, job_idx, agent_idx, cost[agent_idx, free[job_idx]],
                              inst.a[agent_idx, free[job_idx]], cap)
        cur = int(cost[x[free], free].sum())
        low = int(np.minimum.reduceat(sub.cost, sub.job_starts()[:-1]).sum())
        sub_cuts = None
        if u is not None:
            # the knapsack bound of the sub-problem at u: a lower bound and LP cuts
            big = int(np.abs(cost).max()) * (n + 1) + 1
            kval = knapsack_values(np.where(ok, cost[:, free], big), inst.a[:, free], cap,
                                   u[free])
            low = max(low, math.ceil(float(u[free].sum() - kval.sum()) - 1e-6))
            sub_cuts = (u[free], kval)
        if low >= cur:
            res = BackendResult(Status.OPTIMAL, None, float(low), 0.0, None, {})
        else:
            res = _solve_sub(sub, min(sub_time, deadline - time.perf_counter()), seed + its,
                             _pairs_of(sub, x[free]), (low, cur), sub_cuts)
        if res.objective is not None and res.objective < cur and res.chosen is not None:
            y = x.copy()
            y[free[sub.job[res.chosen]]] = sub.agent[res.chosen]
            if shared.offer(y, value - cur + int(res.objective), "lns"):
                improved += 1
        # aim at most steps proven: a proven step is a neighbourhood searched in full
        k = min(k + 0.15, float(m)) if res.status == Status.OPTIMAL else max(k - 0.3, 2.0)
    return {"lns_iterations": float(its), "lns_improvements": float(improved), "lns_k": k}
