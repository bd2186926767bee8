"""HiGHS branch and cut through `highspy`, in a process of its own.

Every HiGHS MIP of the engine (placement backend `highs`, the HiGHS route's dives and
proofs, the GAP backend `highs`) goes through `milp`, which takes the model as arrays
(a sparse matrix, never row by row) and answers like `scipy.optimize.milp` (fields `x`,
`fun`, `status`, `mip_dual_bound`, `message`; status 0 optimal, 1 time limit, 2
infeasible, 3 unbounded, 4 other), so the callers read one result type.

Why a process: the `highspy` wheel and OR-Tools carry clashing HiGHS symbols, so they
cannot be loaded in one process; `_highs_worker.py` runs by path with only numpy and
highspy. A starting solution (`hint`) goes to HiGHS as one, which SciPy cannot pass.
Where highspy is not installed, or the worker fails before solving, SciPy's HiGHS
(the same solver, without the hint) is used instead, with a warning.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

log = logging.getLogger(__name__)

WORKER = Path(__file__).with_name("_highs_worker.py")
START_SECONDS = 30.0  # allowance over the time limit for the worker to start and write


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """HiGHS's MIP prints debugging lines to the C stdout without presolve: drop them,
    so the command's own output (and a JSON on stdout) stays clean."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real file descriptor (an embedding host): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


@dataclass(frozen=True)
class MilpResult:
    x: np.ndarray | None
    fun: float | None
    status: int
    mip_dual_bound: float | None
    message: str
    route: str  # "highspy" or "scipy"
    mip_node_count: int | None = None
    # option "cut_pool": HiGHS's cuts at the end of its root node, as rows
    # lower <= a x <= upper (a: CSR arrays start, index, value); None when not asked for
    # or not reached (highspy only)
    cuts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None


def milp(c: np.ndarray, a: sparse.spmatrix | np.ndarray, row_lo: np.ndarray | float,
         row_hi: np.ndarray | float, lb: np.ndarray, ub: np.ndarray,
         integrality: np.ndarray, options: dict[str, object],
         hint: np.ndarray | None = None, route: str = "highspy") -> MilpResult:
    """min c.x  s.t.  row_lo <= a x <= row_hi,  lb <= x <= ub,  x_j integer where
    integrality_j = 1. Options: time_limit, mip_rel_gap, presolve, disp, random_seed.

    `route="scipy"` skips the process (and its start-up cost): for callers that solve
    thousands of small MIPs, such as the commissioning scenarios."""
    a = sparse.csr_matrix(a)
    n, m = len(c), a.shape[0]
    lo = np.broadcast_to(np.asarray(row_lo, dtype=float), (m,))
    hi = np.broadcast_to(np.asarray(row_hi, dtype=float), (m,))
    if route != "scipy" and os.environ.get("PLACEMENT_HIGHS") != "scipy":
        res = _highspy(c, a, lo, hi, lb, ub, integrality, options, hint)
        if res is not None:
            return res
    return _scipy(c, a, lo, hi, lb, ub, integrality, options, n)


class Pending:
    """A HiGHS solve running in its worker process; `result()` waits for it. Why: a
    second core can solve one model while this process works on another."""

    def __init__(self, c: np.ndarray, a: sparse.csr_matrix, lo: np.ndarray,
                 hi: np.ndarray, lb: np.ndarray, ub: np.ndarray, integrality: np.ndarray,
                 options: dict[str, object], hint: np.ndarray | None):
        self.limit = float(options.get("time_limit", 1e9))  # type: ignore[arg-type]
        self.c = np.asarray(c, dtype=float)
        self.started = time.perf_counter()
        self.runtime: float | None = None  # HiGHS's run time, once `result()` read it
        self.closed = False  # the answer was read, or the solve cancelled
        self.tmp = tempfile.TemporaryDirectory(prefix="placement-highs-")
        self.src, self.dst = Path(self.tmp.name) / "in.npz", Path(self.tmp.name) / "out.npz"
        self.stop_file = Path(self.tmp.name) / "stop"
        if not options.get("cut_pool"):
            options = {**options, "stop_file": str(self.stop_file)}
        arrays = {"c": np.asarray(c, dtype=float), "start": a.indptr, "index": a.indices,
                  "value": a.data.astype(float), "row_lo": lo, "row_hi": hi,
                  "lb": np.asarray(lb, dtype=float), "ub": np.asarray(ub, dtype=float),
                  "integrality": np.asarray(integrality, dtype=np.int8),
                  "options": np.array(json.dumps(options))}
        if hint is not None:
            arrays["hint"] = np.asarray(hint, dtype=float)
        np.savez(self.src, **arrays)
        self.proc = subprocess.Popen([sys.executable, str(WORKER), str(self.src),
                                      str(self.dst)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)

    def wait(self, timeout: float) -> bool:
        """Whether the solve ended within `timeout` seconds (its answer is not read)."""
        end = time.perf_counter() + timeout
        while self.proc.poll() is None:
            if time.perf_counter() >= end:
                return False
            time.sleep(0.05)
        return True

    def stop(self) -> None:
        """Ask HiGHS to end its search now; `result()` then returns its incumbent (status
        time limit), as at a time limit. Why: the caller may know before the limit that
        a good plan now is worth more than a better one later."""
        if self.proc.poll() is None:
            self.stop_file.touch()

    def cancel(self) -> None:
        """Stop the worker and remove its files (a result no longer wanted). Safe to call
        again, or after `result()`: a solve's clean-up may call it whatever happened."""
        if self.closed:
            return
        self.closed = True
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()
        self.tmp.cleanup()

    def result(self) -> MilpResult | None:
        """The worker's answer, or None when it could not solve (then SciPy does)."""
        if self.closed:
            return None
        try:
            _, err = self.proc.communicate(timeout=self.limit + START_SECONDS)
        except subprocess.TimeoutExpired:
            self.cancel()
            log.warning("HiGHS (highspy) overran its time limit by %.0f s: no result",
                        START_SECONDS)
            return MilpResult(None, None, 1, None, "HiGHS (highspy): killed", "highspy")
        self.closed = True
        try:
            if self.proc.returncode == 3:
                log.warning("highspy is not installed: HiGHS through SciPy instead")
                return None
            if self.proc.returncode != 0 or not self.dst.exists():
                log.warning("HiGHS (highspy) worker failed (exit %d): SciPy's HiGHS instead. %s",
                            self.proc.returncode, err.strip().splitlines()[-1:] or "")
                return None
            d = np.load(self.dst)
            self.runtime = float(d["runtime"]) if "runtime" in d.files else None
            has_x = bool(d["has_x"])
            bound = float(d["bound"])
            cuts = None
            if "cut_start" in d.files:
                cuts = (np.array(d["cut_start"]), np.array(d["cut_index"]),
                        np.array(d["cut_value"]), np.array(d["cut_lower"]),
                        np.array(d["cut_upper"]))
            x = np.array(d["x"]) if has_x else None
            fun = float(d["fun"]) if x is not None else None
            status, message = int(d["status"]), str(d["message"])
            if x is not None and fun is not None and status == 0 and not attains(self.c, x, fun):
                # seen with presolve on and a start solution: "optimal" with the optimum's
                # value, but the start solution as the answer. Its plan stands, not a proof
                log.info("HiGHS (highspy) reported optimal with a solution that does not "
                         "attain its objective: taken as a plan, not a proof")
                status, message = 4, message + " (solution not attaining its objective)"
                fun = float(self.c @ x)
            return MilpResult(x, fun, status,
                              bound if np.isfinite(bound) else None, message,
                              "highspy", int(d["nodes"]), cuts)
        finally:
            self.tmp.cleanup()


def attains(c: np.ndarray, x: np.ndarray, fun: float) -> bool:
    """Whether `x` has the objective value `fun` (up to rounding in the sum)."""
    return bool(abs(float(c @ x) - fun) <= 1e-9 * max(1.0, float(np.abs(c) @ np.abs(x))))


def milp_start(c: np.ndarray, a: sparse.spmatrix | np.ndarray, row_lo: np.ndarray | float,
               row_hi: np.ndarray | float, lb: np.ndarray, ub: np.ndarray,
               integrality: np.ndarray, options: dict[str, object],
               hint: np.ndarray | None = None) -> Pending:
    """`milp` through highspy, started and not waited for (no SciPy fallback)."""
    a = sparse.csr_matrix(a)
    m = a.shape[0]
    lo = np.broadcast_to(np.asarray(row_lo, dtype=float), (m,))
    hi = np.broadcast_to(np.asarray(row_hi, dtype=float), (m,))
    return Pending(c, a, lo, hi, lb, ub, integrality, options, hint)


def _highspy(c: np.ndarray, a: sparse.csr_matrix, lo: np.ndarray, hi: np.ndarray,
             lb: np.ndarray, ub: np.ndarray, integrality: np.ndarray,
             options: dict[str, object], hint: np.ndarray | None) -> MilpResult | None:
    """The worker's answer, or None when it could not solve (then SciPy does)."""
    return Pending(c, a, lo, hi, lb, ub, integrality, options, hint).result()


def _scipy(c: np.ndarray, a: sparse.csr_matrix, lo: np.ndarray, hi: np.ndarray,
           lb: np.ndarray, ub: np.ndarray, integrality: np.ndarray,
           options: dict[str, object], n: int) -> MilpResult:
    from scipy.optimize import Bounds, LinearConstraint
    from scipy.optimize import milp as scipy_milp

    opts = {k: v for k, v in options.items() if k in ("time_limit", "mip_rel_gap",
                                                        "presolve", "disp")}
    res = scipy_milp(np.asarray(c, dtype=float), constraints=LinearConstraint(a, lo, hi),
                     integrality=np.asarray(integrality), bounds=Bounds(lb, ub),
                     options=opts)
    bound = getattr(res, "mip_dual_bound", None)
    return MilpResult(None if res.x is None else np.asarray(res.x), res.fun, int(res.status),
                      None if bound is None or not np.isfinite(bound) else float(bound),
                      str(res.message), "scipy", getattr(res, "mip_node_count", None))


__all__ = ["MilpResult", "Pending", "milp", "milp_start"]
