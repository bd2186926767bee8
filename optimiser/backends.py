"""Assignment models written from arrays, and the solvers that take them.

An :class:`AssignmentModel` is the common core of the generalized assignment problem
and of the placement model: pairs (job, agent) with a cost and a resource use, each job
assigned exactly once (or at most once), each agent's load within its capacity. It is
held as flat numpy arrays so every backend builds its model in a few vectorised calls:
the CP-SAT proto is written directly (no Python object per pair), HiGHS gets sparse
matrices built in one call, and only CBC goes through PuLP, whose expressions are built
from (variable, coefficient) lists, not by ``+=`` term by term.

HiGHS is SciPy's copy (`linprog`, `milp`): the `highspy` wheel and OR-Tools export
clashing HiGHS symbols, so whichever is imported second fails to load in that process.

Every backend answers the same question and reports the same :class:`BackendResult`,
in minimisation form (the caller negates for a maximisation); "optimal" always means
proven by that solver on that model.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .status import Status

# the names other modules import; one status type (optimiser/status.py)
STATUSES = tuple(Status)


def _frozen(x: np.ndarray, dtype: type) -> np.ndarray:
    out: np.ndarray = np.array(x, dtype=dtype)  # a private copy, so freezing it touches no caller
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class AssignmentModel:
    """min sum cost*x  s.t.  each job in one pair (exactly or at most), agent loads <= cap.

    Pairs are sorted by (job, agent). Costs and uses are integers (CP-SAT needs them;
    scale money to pence before building one).
    """

    n_jobs: int
    n_agents: int
    job: np.ndarray
    agent: np.ndarray
    cost: np.ndarray
    use: np.ndarray
    capacity: np.ndarray
    exact: bool = True  # every job assigned (GAP); False: a job may stay out (cost 0)

    def __post_init__(self) -> None:
        k = len(self.job)
        for name in ("agent", "cost", "use"):
            if len(getattr(self, name)) != k:
                raise ValueError(f"AssignmentModel: {name} has {len(getattr(self, name))} "
                                 f"entries, job has {k}")
        if len(self.capacity) != self.n_agents:
            raise ValueError("AssignmentModel: capacity must have one entry per agent")
        job = np.asarray(self.job, dtype=np.int64)
        agent = np.asarray(self.agent, dtype=np.int64)
        if k and (job.min() < 0 or job.max() >= self.n_jobs or agent.min() < 0
                  or agent.max() >= self.n_agents):
            raise ValueError("AssignmentModel: job or agent index out of range")
        if k > 1 and np.any(np.diff(job * self.n_agents + agent) <= 0):
            raise ValueError("AssignmentModel: pairs must be sorted by (job, agent), no repeats")
        object.__setattr__(self, "job", _frozen(job, np.int64))
        object.__setattr__(self, "agent", _frozen(agent, np.int64))
        object.__setattr__(self, "cost", _frozen(self.cost, np.int64))
        object.__setattr__(self, "use", _frozen(self.use, np.int64))
        object.__setattr__(self, "capacity", _frozen(self.capacity, np.int64))

    @classmethod
    def dense(cls, cost: np.ndarray, use: np.ndarray, capacity: np.ndarray,
              drop_oversize: bool = False) -> AssignmentModel:
        """From agent-major matrices cost[m, n], use[m, n] (the GAP layout).

        `drop_oversize`: leave out pairs whose use exceeds the agent's whole capacity;
        exact (no feasible solution uses them), but the plain baseline keeps them all.
        """
        m, n = cost.shape
        job = np.repeat(np.arange(n, dtype=np.int64), m)
        agent = np.tile(np.arange(m, dtype=np.int64), n)
        c, a = cost.T.ravel(), use.T.ravel()
        if drop_oversize:
            keep = a <= np.asarray(capacity)[agent]
            job, agent, c, a = job[keep], agent[keep], c[keep], a[keep]
        return cls(n, m, job, agent, c, a, np.asarray(capacity))

    def __len__(self) -> int:
        return len(self.job)

    def subset(self, keep: np.ndarray) -> AssignmentModel:
        """The model restricted to the pairs where `keep` is true (order preserved)."""
        return AssignmentModel(self.n_jobs, self.n_agents, self.job[keep], self.agent[keep],
                               self.cost[keep], self.use[keep], self.capacity, self.exact)

    def job_starts(self) -> np.ndarray:
        """Offsets of each job's pairs: job j owns pairs [s[j], s[j+1])."""
        return np.searchsorted(self.job, np.arange(self.n_jobs + 1))

    def loads(self, chosen: np.ndarray) -> np.ndarray:
        """Agent loads of a set of chosen pair indices."""
        return np.bincount(self.agent[chosen], weights=self.use[chosen],
                           minlength=self.n_agents).astype(np.int64)

    def is_feasible(self, chosen: np.ndarray) -> bool:
        """True when the chosen pairs (indices) form a solution of the model."""
        chosen = np.asarray(chosen, dtype=np.int64)
        counts = np.bincount(self.job[chosen], minlength=self.n_jobs)
        ok_jobs = bool(np.all(counts == 1)) if self.exact else bool(np.all(counts <= 1))
        return ok_jobs and bool(np.all(self.loads(chosen) <= self.capacity))

    def value(self, chosen: np.ndarray) -> int:
        return int(self.cost[np.asarray(chosen, dtype=np.int64)].sum())


@dataclass(frozen=True)
class BackendResult:
    """A solve of an AssignmentModel, minimisation form. `chosen`: pair indices or None."""

    status: Status
    objective: float | None
    bound: float | None
    seconds: float
    chosen: np.ndarray | None
    stats: dict[str, float] = field(default_factory=dict)


def _status(found: bool, proven: bool, infeasible: bool, timed_out: bool) -> Status:
    if infeasible:
        return Status.INFEASIBLE
    if proven and found:
        return Status.OPTIMAL
    return Status.TIME_LIMIT if timed_out or not found else Status.FEASIBLE


# --------------------------------------------------------------------------- CP-SAT


def build_cpsat(model: AssignmentModel, hint: np.ndarray | None = None,
                objective_domain: tuple[int, int] | None = None) -> object:
    """Write the CP-SAT proto straight from the arrays; returns a cp_model.CpModel.

    One Boolean per pair, an exactly-one (or at-most-one) per job, a knapsack row per
    agent whose pairs could overflow it. `hint`: chosen pair indices, given complete.
    `objective_domain`: [lower, upper] known for the objective (a valid bound and an
    incumbent's value), which CP-SAT uses to propagate and to stop at a proven bound.
    """
    from ortools.sat.python import cp_model

    k = len(model)
    cp = cp_model.CpModel()
    proto = cp.proto
    if k:
        proto.merge_text_format("variables { domain: [0, 1] }\n" * k)
    starts = model.job_starts()
    for j in range(model.n_jobs):
        s, e = int(starts[j]), int(starts[j + 1])
        if model.exact:
            proto.constraints.add().exactly_one.literals.extend(range(s, e))
        elif e - s > 1:
            proto.constraints.add().at_most_one.literals.extend(range(s, e))
    by_agent = np.argsort(model.agent, kind="stable")
    a_starts = np.searchsorted(model.agent[by_agent], np.arange(model.n_agents + 1))
    load = np.bincount(model.agent, weights=model.use, minlength=model.n_agents)
    for i in range(model.n_agents):
        s, e = int(a_starts[i]), int(a_starts[i + 1])
        if e == s or load[i] <= model.capacity[i]:
            continue
        ct = proto.constraints.add().linear
        idx = by_agent[s:e]
        ct.vars.extend(idx.tolist())
        ct.coeffs.extend(model.use[idx].tolist())
        ct.domain.extend([0, int(model.capacity[i])])
    proto.objective.vars.extend(range(k))
    proto.objective.coeffs.extend(model.cost.tolist())
    if objective_domain is not None:
        proto.objective.domain.extend([int(objective_domain[0]), int(objective_domain[1])])
    if hint is not None:
        vals = np.zeros(k, dtype=np.int64)
        vals[np.asarray(hint, dtype=np.int64)] = 1
        proto.solution_hint.vars.extend(range(k))
        proto.solution_hint.values.extend(vals.tolist())
    return cp


def solve_cpsat(model: AssignmentModel, time_limit: float, workers: int = 2, seed: int = 0,
                hint: np.ndarray | None = None,
                objective_domain: tuple[int, int] | None = None,
                params: dict[str, object] | None = None, log: bool = False) -> BackendResult:
    """CP-SAT on the array-written model. With no hint and no domain: the plain model."""
    from ortools.sat.python import cp_model

    t0 = time.perf_counter()
    cp = build_cpsat(model, hint, objective_domain)
    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.max_time_in_seconds = max(time_limit - (time.perf_counter() - t0), 0.01)
    prm.num_workers = workers
    prm.random_seed = seed
    prm.log_search_progress = log
    for key, value in (params or {}).items():
        setattr(prm, key, value)
    st = solver.solve(cp)  # type: ignore[arg-type]
    seconds = time.perf_counter() - t0
    found = st in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    chosen = None
    objective = bound = None
    if found:
        vals = np.asarray(solver.response_proto.solution, dtype=np.int64)[: len(model)]
        chosen = np.flatnonzero(vals)
        objective = float(model.value(chosen))
        bound = float(solver.best_objective_bound)
    elif st != cp_model.INFEASIBLE and np.isfinite(solver.best_objective_bound):
        bound = float(solver.best_objective_bound)
    status = _status(found, st == cp_model.OPTIMAL, st == cp_model.INFEASIBLE,
                     solver.wall_time >= prm.max_time_in_seconds * 0.98)
    if status == Status.OPTIMAL:
        bound = objective
    return BackendResult(status, objective, bound, seconds, chosen,
                         {"cpsat_wall": solver.wall_time, "pairs": float(len(model))})


# --------------------------------------------------------------------------- HiGHS


def _matrices(model: AssignmentModel) -> tuple[object, object]:
    """Job rows (one 1 per pair) and agent rows (use per pair) as sparse matrices."""
    from scipy import sparse

    k = len(model)
    cols = np.arange(k)
    jobs = sparse.csr_matrix((np.ones(k), (model.job, cols)), shape=(model.n_jobs, k))
    agents = sparse.csr_matrix((model.use.astype(np.float64), (model.agent, cols)),
                               shape=(model.n_agents, k))
    return jobs, agents


@dataclass(frozen=True)
class LpRelaxation:
    """The LP relaxation: x per pair, value, capacity duals (>= 0), job duals; `status`
    'optimal', 'infeasible' or 'time_limit' (then x and duals are zeros, value -inf)."""

    status: Status
    x: np.ndarray
    value: float
    capacity_dual: np.ndarray
    job_dual: np.ndarray
    seconds: float


def lp_relaxation(model: AssignmentModel, time_limit: float = 60.0) -> LpRelaxation:
    """HiGHS dual simplex on the relaxation (SciPy's `linprog`)."""
    from scipy import sparse
    from scipy.optimize import linprog

    t0 = time.perf_counter()
    jobs, agents = _matrices(model)
    eq = {"A_eq": jobs, "b_eq": np.ones(model.n_jobs)} if model.exact else {}
    a_ub = agents if model.exact else sparse.vstack([jobs, agents])
    b_ub = model.capacity.astype(np.float64) if model.exact else np.concatenate(
        [np.ones(model.n_jobs), model.capacity.astype(np.float64)])
    res = linprog(model.cost.astype(np.float64), A_ub=a_ub, b_ub=b_ub, bounds=(0, 1),
                  method="highs-ds", options={"time_limit": float(max(time_limit, 0.01))},
                  **eq)
    if res.status != 0:
        status = Status.INFEASIBLE if res.status == 2 else Status.TIME_LIMIT
        return LpRelaxation(status, np.zeros(len(model)), -np.inf, np.zeros(model.n_agents),
                            np.zeros(model.n_jobs), time.perf_counter() - t0)
    cap_marg = np.asarray(res.ineqlin.marginals)
    if model.exact:
        job_dual = np.asarray(res.eqlin.marginals)
    else:
        job_dual, cap_marg = cap_marg[: model.n_jobs], cap_marg[model.n_jobs:]
    return LpRelaxation(Status.OPTIMAL, np.asarray(res.x), float(res.fun),
                        np.maximum(-cap_marg, 0.0), job_dual, time.perf_counter() - t0)


def solve_highs(model: AssignmentModel, time_limit: float, workers: int = 2, seed: int = 0,
                log: bool = False) -> BackendResult:
    """The MIP through HiGHS (`highs.milp`: highspy in its own process, the sparse
    matrices built from the arrays).

    HiGHS's branch and bound is serial; `workers` is accepted for a uniform signature.
    """
    from scipy import sparse

    from .highs import milp

    t0 = time.perf_counter()
    jobs, agents = _matrices(model)
    a = sparse.vstack([sparse.csr_matrix(jobs), sparse.csr_matrix(agents)]).tocsr()
    lo = np.concatenate([np.full(model.n_jobs, 1.0 if model.exact else 0.0),
                         np.full(model.n_agents, -np.inf)])
    hi = np.concatenate([np.ones(model.n_jobs), model.capacity.astype(np.float64)])
    res = milp(model.cost.astype(np.float64), a, lo, hi, np.zeros(len(model)),
               np.ones(len(model)), np.ones(len(model)),
               {"time_limit": float(max(time_limit, 0.01)), "mip_rel_gap": 0.0,
                "disp": log, "random_seed": seed})
    seconds = time.perf_counter() - t0
    found = res.x is not None
    chosen = None
    objective = bound = None
    if found:
        chosen = np.flatnonzero(np.asarray(res.x) > 0.5)
        objective = float(model.value(chosen))
    dual = res.mip_dual_bound
    if dual is not None and np.isfinite(dual) and res.status != 2:
        bound = float(np.ceil(dual - 1e-6))
    status = _status(found, res.status == 0, res.status == 2, res.status == 1)
    if status == Status.OPTIMAL:
        bound = objective
    nodes = res.mip_node_count
    return BackendResult(status, objective, bound, seconds, chosen,
                         {"nodes": float(nodes or 0), "pairs": float(len(model))})


# --------------------------------------------------------------------------- CBC (PuLP)

CBC_BOUND = re.compile(r"^(?:Lower bound|Best possible):\s*(-?[\d.eE+-]+)", re.M)


SMALL_CBC_PAIRS = 10_000  # below it CBC runs on one thread


def solve_cbc(model: AssignmentModel, time_limit: float, workers: int = 2, seed: int = 0,
              log: bool = False) -> BackendResult:
    """The MIP through PuLP's bundled CBC; the bound is read from CBC's own log."""
    # PuLP imports `highspy` when present, and OR-Tools cannot load after it (clashing
    # HiGHS symbols): make sure OR-Tools is in the process first.
    importlib.import_module("ortools.sat.python.cp_model")
    import pulp

    t0 = time.perf_counter()
    k = len(model)
    prob = pulp.LpProblem("assignment", pulp.LpMinimize)
    x = [prob.add_variable(f"x{p}", 0, 1, cat=pulp.LpBinary) for p in range(k)]
    prob += pulp.LpAffineExpression(zip(x, model.cost.tolist(), strict=True))
    starts = model.job_starts()
    for j in range(model.n_jobs):
        terms = pulp.LpAffineExpression([(x[p], 1) for p in range(starts[j], starts[j + 1])])
        prob += (terms == 1) if model.exact else (terms <= 1), f"job{j}"
    by_agent = np.argsort(model.agent, kind="stable")
    a_starts = np.searchsorted(model.agent[by_agent], np.arange(model.n_agents + 1))
    use = model.use.tolist()
    for i in range(model.n_agents):
        idx = by_agent[a_starts[i]:a_starts[i + 1]].tolist()
        if idx:
            prob += (pulp.LpAffineExpression([(x[p], use[p]) for p in idx])
                     <= int(model.capacity[i])), f"agent{i}"
    fd, log_path = tempfile.mkstemp(suffix=".log", prefix="cbc-")
    os.close(fd)
    try:
        remaining = max(time_limit - (time.perf_counter() - t0), 1.0)
        with warnings.catch_warnings():  # PuLP 3 flags its bundled CBC as deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            # one thread on a small model: a parallel CBC run was seen to stall on a
            # 21-pair model until its time limit, and threads buy nothing there
            threads = 1 if k < SMALL_CBC_PAIRS else workers
            cmd = pulp.PULP_CBC_CMD(msg=False, timeLimit=remaining, threads=threads,
                                    gapRel=0.0, logPath=log_path,
                                    options=[f"randomCbcSeed {seed + 1}"])
            prob.solve(cmd)
        with open(log_path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        if log:
            print(text, file=sys.stderr)
    finally:
        os.unlink(log_path)
    seconds = time.perf_counter() - t0
    found = prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    chosen = None
    objective = bound = None
    if found:
        vals = np.array([v.varValue or 0.0 for v in x])
        chosen = np.flatnonzero(vals > 0.5)
        if model.is_feasible(chosen):
            objective = float(model.value(chosen))
        else:  # PuLP reports what CBC wrote; never pass on an infeasible answer
            found, chosen = False, None
    proven = prob.sol_status == pulp.LpSolutionOptimal and "Stopped on time" not in text
    infeasible = prob.sol_status == pulp.LpSolutionInfeasible or prob.status == -1
    m = CBC_BOUND.search(text)
    if m and not infeasible:
        bound = float(np.ceil(float(m.group(1)) - 1e-6))
    # stopped on time (a loaded machine) with CBC's own bound already at the incumbent:
    # that is a proof, whatever the stop reason says
    proven = proven or (objective is not None and bound is not None and bound >= objective)
    status = _status(found, proven, infeasible and not found, "time" in text.lower()
                     and not proven)
    if status == Status.OPTIMAL:
        bound = objective
    return BackendResult(status, objective, bound, seconds, chosen, {"pairs": float(k)})
