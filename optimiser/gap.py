"""The generalized assignment problem (GAP): reader, solvers, best-known values.

The engine's model is a capacitated assignment with per-pair resource use; the classic
GAP is its pure form, with public instances and published optima, so it is where the
engine's method is measured against references nobody on the team wrote.

File layouts (see shared/data/README.md): OR-Library multi-problem files start with the
number of problems P; single-problem files (the Yagiura sets) hold one block without it.
A block is ``m n``, then c (m*n, agent-major), then a (m*n), then b (m). Line breaks
mean nothing, so the reader works on the token stream and checks the exact count.

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

import csv
import math
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .backends import (
    STATUS_FEASIBLE,
    STATUS_INFEASIBLE,
    STATUS_OPTIMAL,
    STATUS_TIME_LIMIT,
    AssignmentModel,
    BackendResult,
    build_cpsat,
    lp_relaxation,
    solve_cbc,
    solve_cpsat,
    solve_highs,
)
from .gap_search import (
    knapsack_bound,
    knapsack_values,
    lagrangian_dive,
    lagrangian_start,
    local_search,
)

BACKENDS = ("cpsat", "plain", "highs", "cbc")
SENSES = ("min", "max")
LAYOUTS = ("auto", "multi", "single")
REPO_ROOT = Path(__file__).resolve().parent.parent
CPSAT_PARAMS: dict[str, object] = {}  # extra CP-SAT parameters for our full-model searches


# --------------------------------------------------------------------------- instance


class GapFormatError(ValueError):
    """A GAP file that does not hold what it should; the message names file and place."""

    def __init__(self, file: str, message: str):
        self.file = file
        self.detail = message
        super().__init__(f"{file}: {message}")


@dataclass(frozen=True)
class GapInstance:
    """One GAP problem: cost c[m, n], resource use a[m, n], capacity b[m] (read-only)."""

    name: str
    c: np.ndarray
    a: np.ndarray
    b: np.ndarray
    source: str = ""  # file it was read from
    problem: int = 1  # 1-based position in that file

    def __post_init__(self) -> None:
        c = np.array(self.c, dtype=np.int64)
        a = np.array(self.a, dtype=np.int64)
        b = np.array(self.b, dtype=np.int64).ravel()
        if c.ndim != 2 or c.shape != a.shape or b.shape != (c.shape[0],):
            raise ValueError(f"GapInstance {self.name}: c and a must be m x n and b of "
                             f"length m (got {c.shape}, {a.shape}, {b.shape})")
        for arr in (c, a, b):
            arr.setflags(write=False)
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)

    @property
    def m(self) -> int:
        """Agents."""
        return int(self.c.shape[0])

    @property
    def n(self) -> int:
        """Jobs."""
        return int(self.c.shape[1])

    def objective(self, assignment: np.ndarray) -> int:
        """Cost of an assignment (agent per job); raises if it is not feasible."""
        x = np.asarray(assignment, dtype=np.int64)
        if x.shape != (self.n,) or x.min(initial=0) < 0 or x.max(initial=0) >= self.m:
            raise ValueError(f"{self.name}: an assignment needs one agent in 0..{self.m - 1} "
                             f"for each of the {self.n} jobs")
        jobs = np.arange(self.n)
        load = np.bincount(x, weights=self.a[x, jobs], minlength=self.m)
        over = np.flatnonzero(load > self.b)
        if len(over):
            i = int(over[0])
            raise ValueError(f"{self.name}: agent {i} loaded {int(load[i])} > capacity "
                             f"{int(self.b[i])}")
        return int(self.c[x, jobs].sum())


_TOKEN = re.compile(r"\S+")


class _Mismatch(Exception):
    """The tokens do not fit one layout; the text says where and why."""


def _where(text: str, index: int) -> str:
    """'token 12 (line 3)' for the 0-based token index, for error messages."""
    for k, mt in enumerate(_TOKEN.finditer(text)):
        if k == index:
            return f"token {index + 1} (line {text.count(chr(10), 0, mt.start()) + 1})"
    return f"token {index + 1} (end of file)"


def _block(vals: list[int], pos: int, k: int, text: str) -> tuple[tuple[np.ndarray, ...], int]:
    """Read one 'm n c a b' block at vals[pos]; returns (c, a, b) and the next position."""
    if pos + 2 > len(vals):
        raise _Mismatch(f"problem {k} is missing: the file ends at token {len(vals)}, "
                        f"before its 'm n' line (truncated, or fewer problems than declared)")
    m, n = vals[pos], vals[pos + 1]
    if m < 1 or n < 1:
        raise _Mismatch(f"problem {k}: m={m}, n={n} at {_where(text, pos)}: agents and jobs "
                        f"must be positive")
    need = 2 + 2 * m * n + m
    have = len(vals) - pos
    if have < need:
        raise _Mismatch(f"problem {k} (m={m}, n={n}) needs {need} tokens from "
                        f"{_where(text, pos)} but only {have} remain: file truncated")
    arr = np.asarray(vals[pos + 2: pos + need], dtype=np.int64)
    c = arr[: m * n].reshape(m, n)
    a = arr[m * n: 2 * m * n].reshape(m, n)
    b = arr[2 * m * n:]
    for label, x, off in (("a", a, pos + 2 + m * n), ("b", b, pos + 2 + 2 * m * n)):
        bad = np.flatnonzero(x.ravel() < 0)
        if len(bad):
            q = int(bad[0])
            at = f"[{q // n}][{q % n}]" if x.ndim == 2 else f"[{q}]"
            raise _Mismatch(f"problem {k}: {label}{at} = {int(x.ravel()[q])} at "
                            f"{_where(text, off + q)} is negative")
    return (c, a, b), pos + need


def _parse_multi(vals: list[int], text: str) -> list[tuple[np.ndarray, ...]]:
    if not vals:
        raise _Mismatch("empty")
    p = vals[0]
    if p < 1:
        raise _Mismatch(f"the leading problem count is {p}, not a positive number")
    pos, out = 1, []
    for k in range(1, p + 1):
        blk, pos = _block(vals, pos, k, text)
        out.append(blk)
    if pos != len(vals):
        raise _Mismatch(f"after the {p} declared problem(s), {len(vals) - pos} token(s) "
                        f"remain from {_where(text, pos)}: trailing data, or the leading "
                        f"count P={p} is wrong")
    return out


def _parse_single(vals: list[int], text: str) -> list[tuple[np.ndarray, ...]]:
    blk, pos = _block(vals, 0, 1, text)
    if pos != len(vals):
        raise _Mismatch(f"m={vals[0]}, n={vals[1]} makes {pos} tokens but the file has "
                        f"{len(vals)}: {len(vals) - pos} trailing token(s) from "
                        f"{_where(text, pos)}")
    return [blk]


def parse_gap(text: str, file: str = "<text>", layout: str = "auto") -> list[GapInstance]:
    """All problems of a GAP file's text. `layout`: 'auto', 'multi' (leading P), 'single'.

    'auto' accepts whichever layout the exact token count fits; a text that fits neither
    is refused with both reasons, one that fits both (never seen) asks for `layout`.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    tokens = text.split()
    if not tokens:
        raise GapFormatError(file, "empty file: no numbers")
    try:
        vals = [int(t) for t in tokens]
    except ValueError:
        bad = next(i for i, t in enumerate(tokens) if not re.fullmatch(r"[+-]?\d+", t))
        raise GapFormatError(file, f"{_where(text, bad)} is {tokens[bad]!r}, not an integer "
                                   f"(GAP files hold integers only)") from None
    results: dict[str, list[tuple[np.ndarray, ...]]] = {}
    reasons: dict[str, str] = {}
    for name, parse in (("multi", _parse_multi), ("single", _parse_single)):
        if layout in ("auto", name):
            try:
                results[name] = parse(vals, text)
            except _Mismatch as e:
                reasons[name] = str(e)
    if len(results) == 2:
        raise GapFormatError(file, "the tokens fit both the multi-problem and the "
                                   "single-problem layout; pass layout='multi' or 'single'")
    if not results:
        if layout != "auto":
            raise GapFormatError(file, f"not a {layout}-problem GAP file: {reasons[layout]}")
        raise GapFormatError(
            file, f"{len(vals)} tokens fit neither GAP layout. As a multi-problem file "
                  f"(leading count P={vals[0]}): {reasons['multi']}. As a single-problem "
                  f"file (m={vals[0]}, n={vals[1] if len(vals) > 1 else '?'}): "
                  f"{reasons['single']}.")
    (kind, blocks), = results.items()
    stem = Path(file).stem
    return [GapInstance(f"{stem}-{k}" if kind == "multi" else stem, c, a, b, file, k)
            for k, (c, a, b) in enumerate(blocks, start=1)]


def read_gap(path: str | Path, layout: str = "auto") -> list[GapInstance]:
    """Every problem in a GAP file (either layout)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="strict")
    except FileNotFoundError:
        raise GapFormatError(str(p), "no such file") from None
    except UnicodeDecodeError as e:
        raise GapFormatError(str(p), f"not a text file ({e.reason} at byte {e.start})") \
            from None
    except IsADirectoryError:
        raise GapFormatError(str(p), "is a directory, not a GAP file") from None
    return parse_gap(text, str(p), layout)


def load_gap(path: str | Path, problem: int | None = None,
             layout: str = "auto") -> GapInstance:
    """One problem (1-based) of a GAP file; `problem` may be omitted for one-problem files."""
    probs = read_gap(path, layout)
    if problem is None:
        if len(probs) > 1:
            raise GapFormatError(str(path), f"holds {len(probs)} problems: choose one with "
                                            f"problem=1..{len(probs)} (--problem K)")
        return probs[0]
    if not 1 <= problem <= len(probs):
        raise GapFormatError(str(path), f"holds {len(probs)} problem(s); problem {problem} "
                                        f"is outside 1..{len(probs)}")
    return probs[problem - 1]


# --------------------------------------------------------------------------- best known


def default_data_dir() -> Path | None:
    """`$PLACEMENT_DATA_DIR`, else `../shared/data` beside the repository, if it exists."""
    env = os.environ.get("PLACEMENT_DATA_DIR")
    path = Path(env) if env else REPO_ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None


@dataclass(frozen=True)
class BestKnown:
    value: int
    proven: bool
    source: str


def read_best_known(path: str | Path) -> dict[tuple[str, int, str], BestKnown]:
    """best_known.csv as {(instance relative to gap/, problem 1-based, sense): value}."""
    out: dict[tuple[str, int, str], BestKnown] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            key = (row["instance"], int(row["problem_index"]), row["sense"])
            out[key] = BestKnown(int(row["best_known"]),
                                 row["optimal_proven"].strip().lower() == "true",
                                 row.get("source", ""))
    return out


# --------------------------------------------------------------------------- heuristics
# Dense m x n arrays throughout: the GAP is dense, and whole-matrix numpy passes are
# what make these fast in Python. `cost` is always the minimisation form.


def regret_greedy(cost: np.ndarray, a: np.ndarray, b: np.ndarray, desir: np.ndarray,
                  start: np.ndarray | None = None) -> np.ndarray | None:
    """Martello-Toth style: the job with the largest regret goes to its best agent first.

    `desir` ranks agents per job (lower is better; Lagrangian costs c + lambda a work
    well). `start`: a partial assignment (-1 open) to complete. None when stuck.
    """
    m, n = cost.shape
    x = np.full(n, -1, dtype=np.int64) if start is None else start.copy()
    rem = b.astype(np.int64) - np.bincount(x[x >= 0], weights=a[x[x >= 0], np.flatnonzero(
        x >= 0)], minlength=m).astype(np.int64)
    if np.any(rem < 0):
        return None
    open_jobs = np.flatnonzero(x < 0)
    big = np.float64(np.abs(desir).max() * 4 + 1e6)
    while len(open_jobs):
        d = np.where(a[:, open_jobs] <= rem[:, None], desir[:, open_jobs], np.inf)
        two = np.partition(d, 1, axis=0)[:2] if m > 1 else np.vstack([d, np.full_like(d,
                                                                                    np.inf)])
        if not np.all(np.isfinite(two[0])):
            return None
        regret = np.where(np.isfinite(two[1]), two[1] - two[0], big)
        q = int(np.argmax(regret))
        j = int(open_jobs[q])
        i = int(np.argmin(d[:, q]))
        x[j] = i
        rem[i] -= a[i, j]
        open_jobs = np.delete(open_jobs, q)
    return x


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
    if res.status == STATUS_OPTIMAL:
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


class _Shared:
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

    def __init__(self, model: AssignmentModel, shared: _Shared, lower: int,
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


USE_CUTS = False  # knapsack cuts in the full CP-SAT model: slower on gap1-12, no gain on gapd
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
        return BackendResult(STATUS_INFEASIBLE, None, None, time.perf_counter() - t0, None,
                             stats)
    lp = lp_relaxation(model, time_limit=max(0.5 * left(), 0.01))
    if lp is not None and lp.status == STATUS_INFEASIBLE:
        say("the LP relaxation is infeasible, so is the problem")
        return BackendResult(STATUS_INFEASIBLE, None, None, time.perf_counter() - t0, None,
                             stats)
    solved_lp = lp if lp is not None and lp.status == STATUS_OPTIMAL else None
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
    shared = _Shared(x0, int(cost[x0, jobs].sum()))
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
        status, bound = STATUS_OPTIMAL, float(value)
    else:
        status = STATUS_TIME_LIMIT if left() <= 0.02 * time_limit + 0.05 else STATUS_FEASIBLE
    stats.update({f"found_by_{k}": float(v) for k, v in shared.found_by.items()})
    say(f"done: {status}, {value}, bound {bound:.0f} ({time.perf_counter() - t0:.2f}s)")
    return BackendResult(status, float(value), bound, time.perf_counter() - t0, x, stats)


DIVE_SHARE = 0.75  # of phase 2's improvement time: Lagrangian dives; the rest LNS
DIVE_SLICE = 3.0  # seconds of dives between LNS slices
DIVE_MIN_KEEP = 1  # fewest agents a dive leaves to the exact residual solve


def _improve(inst: GapInstance, cost: np.ndarray, red: np.ndarray, lag: float,
             shared: _Shared, deadline: float, seed: int, stop: Callable[[], bool],
             u: np.ndarray | None, iter_seconds: float = 0.0) -> dict[str, float]:
    """Lagrangian dives and LNS in turns (LNS alone without the knapsack multipliers).

    The dives' share of the time starts at DIVE_SHARE and follows what pays: a turn in
    which only the LNS improved the incumbent moves time to it, and the other way round
    (on gapd the dives find the improvements; on 80 x 1600 instances, where one dive
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
          shared: _Shared, deadline: float, seed: int, stop: Callable[[], bool],
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
            if res.status == STATUS_OPTIMAL and res.seconds < 0.3 * res_time:
                keep = min(keep + 0.25, float(m))
            elif res.status != STATUS_OPTIMAL:
                keep = max(keep - 0.5, float(DIVE_MIN_KEEP))
            if res.chosen is not None:
                y[free[sub.job[res.chosen]]] = sub.agent[res.chosen]
            elif res.status == STATUS_TIME_LIMIT and len(free) > 2 * n / m:
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
        status = STATUS_INFEASIBLE if st == cp_model.INFEASIBLE else STATUS_TIME_LIMIT
        return BackendResult(status, None, None, solver.wall_time, None, {})
    chosen = np.flatnonzero(np.asarray(solver.response_proto.solution,
                                       dtype=np.int64)[: len(sub)])
    return BackendResult(STATUS_OPTIMAL if st == cp_model.OPTIMAL else STATUS_FEASIBLE,
                         float(sub.value(chosen)), float(solver.best_objective_bound),
                         solver.wall_time, chosen, {})


def lns(inst: GapInstance, cost: np.ndarray, red: np.ndarray, lag: float, shared: _Shared,
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
            res = BackendResult(STATUS_OPTIMAL, None, float(low), 0.0, None, {})
        else:
            res = _solve_sub(sub, min(sub_time, deadline - time.perf_counter()), seed + its,
                             _pairs_of(sub, x[free]), (low, cur), sub_cuts)
        if res.objective is not None and res.objective < cur and res.chosen is not None:
            y = x.copy()
            y[free[sub.job[res.chosen]]] = sub.agent[res.chosen]
            if shared.offer(y, value - cur + int(res.objective), "lns"):
                improved += 1
        # aim at most steps proven: a proven step is a neighbourhood searched in full
        k = min(k + 0.15, float(m)) if res.status == STATUS_OPTIMAL else max(k - 0.3, 2.0)
    return {"lns_iterations": float(its), "lns_improvements": float(improved), "lns_k": k}
