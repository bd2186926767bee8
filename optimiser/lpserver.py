"""One HiGHS LP kept warm across the rounds of column generation (`_lp_worker.py`).

Why: column generation and the cut proof re-solve the restricted LP round after round,
and SciPy's `linprog` starts each from nothing. Between two rounds the LP only grows:
pairs priced in, clique and certified cuts added. The server keeps HiGHS's model and
basis in a process of its own and, per solve, sends only the rows and columns it has not
seen, keyed by what they are (a unit's row, a placement's capacity row, a clique
(p, a, s), a pair). A solve that drops a row or
column it had, or changes a cost, bound or right-hand side, starts again from nothing:
the answer never depends on what came before, only its speed does.

Any failure (highspy missing, the worker gone, a status other than optimal) returns
None, and the caller solves with SciPy as before.
"""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

import numpy as np
from scipy import sparse

log = logging.getLogger(__name__)

WORKER = Path(__file__).with_name("_lp_worker.py")


class LpServer:
    """A warm HiGHS LP: `solve` takes the whole model with row and column keys, and
    returns (x, row duals, objective) in the caller's order."""

    def __init__(self) -> None:
        self.err: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.err)
        self.solves = self.warm = 0
        self.last_status = ""  # HiGHS's model status of the last solve
        self._clear()

    def _clear(self) -> None:
        self.row_keys = np.zeros(0, dtype=np.int64)
        self.col_keys = np.zeros(0, dtype=np.int64)
        self.b = np.zeros(0)
        self.c = np.zeros(0)
        self.lb = np.zeros(0)
        self.ub = np.zeros(0)

    def _call(self, *cmd: Any) -> Any:
        assert self.proc is not None and self.proc.stdin is not None
        assert self.proc.stdout is not None
        pickle.dump(cmd, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.flush()
        return pickle.load(self.proc.stdout)

    def close(self) -> None:
        if self.proc is not None:
            try:
                if self.proc.poll() is None:
                    assert self.proc.stdin is not None
                    pickle.dump(("quit",), self.proc.stdin)
                    self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired, ValueError):
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        self.err.close()

    def __enter__(self) -> LpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def solve(self, c: np.ndarray, lb: np.ndarray, ub: np.ndarray, a: sparse.spmatrix,
              b: np.ndarray, row_keys: np.ndarray, col_keys: np.ndarray,
              time_limit: float) -> tuple[np.ndarray, np.ndarray, float] | None:
        """min c.x s.t. a x <= b, lb <= x <= ub: (x, HiGHS's row duals (<= 0 on binding
        rows, as SciPy's marginals), objective), or None (the caller uses SciPy)."""
        self.last_status = ""  # only a solve that runs sets it: never the last one's
        if self.proc is None:
            return None
        try:
            return self._solve(c, lb, ub, sparse.csr_matrix(a), b, row_keys, col_keys,
                               time_limit)
        except (OSError, EOFError, pickle.UnpicklingError, ValueError) as e:
            self.err.seek(0)
            tail = self.err.read().decode(errors="replace").strip().splitlines()[-1:]
            code = self.proc.poll()
            why = ("highspy is not installed" if code == 3 else
                   f"{type(e).__name__}" + (f": {tail[0]}" if tail else ""))
            log.warning("the warm LP server failed (%s): SciPy's LP from now on", why)
            self.close()
            return None

    def _solve(self, c: np.ndarray, lb: np.ndarray, ub: np.ndarray, a: sparse.csr_matrix,
               b: np.ndarray, row_keys: np.ndarray, col_keys: np.ndarray,
               time_limit: float) -> tuple[np.ndarray, np.ndarray, float] | None:
        m, k = a.shape
        if len(np.unique(row_keys)) < m or len(np.unique(col_keys)) < k:
            return None  # keys must name rows and columns one to one
        pos_r = _positions(row_keys, self.row_keys)
        pos_c = _positions(col_keys, self.col_keys)
        warm = (pos_r is not None and pos_c is not None and len(self.col_keys) > 0
                and np.array_equal(b[pos_r], self.b) and np.array_equal(c[pos_c], self.c)
                and np.array_equal(lb[pos_c], self.lb) and np.array_equal(ub[pos_c], self.ub))
        if not warm:
            self._call("reset")
            self._clear()
            pos_r = pos_c = np.zeros(0, dtype=np.int64)
        assert pos_r is not None and pos_c is not None
        new_r = np.setdiff1d(np.arange(m), pos_r, assume_unique=True)
        new_c = np.setdiff1d(np.arange(k), pos_c, assume_unique=True)
        if len(new_r):
            rows = a[new_r][:, pos_c].tocsr()
            self._call("add_rows", np.full(len(new_r), -np.inf), b[new_r], rows.indptr,
                       rows.indices, rows.data)
        order_r = np.concatenate([pos_r, new_r])
        if len(new_c):
            cols = a[order_r][:, new_c].tocsc()
            self._call("add_cols", c[new_c], lb[new_c], ub[new_c], cols.indptr,
                       cols.indices, cols.data)
        order_c = np.concatenate([pos_c, new_c])
        self.row_keys, self.col_keys = row_keys[order_r], col_keys[order_c]
        self.b, self.c = b[order_r], c[order_c]
        self.lb, self.ub = lb[order_c], ub[order_c]
        reply = self._call("solve", max(time_limit, 0.1))
        self.solves += 1
        self.warm += int(warm)
        if not isinstance(reply, dict) or not reply.get("ok"):
            self.last_status = str(reply.get("status") if isinstance(reply, dict) else reply)
            log.info("warm LP: %s", self.last_status)
            return None
        self.last_status = str(reply["status"])
        x = np.empty(k)
        x[order_c] = reply["x"]
        dual = np.empty(m)
        dual[order_r] = reply["row_dual"]
        log.info("warm LP: %s start, %d rows and %d columns added, %d iterations",
                 "warm" if warm else "cold", len(new_r), len(new_c), reply["iterations"])
        return x, dual, float(reply["fun"])


def _positions(keys: np.ndarray, known: np.ndarray) -> np.ndarray | None:
    """Where each of `known` is in `keys` (None when one is missing)."""
    if not len(known):
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    at = np.searchsorted(keys[order], known)
    at = np.minimum(at, len(keys) - 1)
    if len(keys) == 0 or not np.array_equal(keys[order][at], known):
        return None
    return order[at].astype(np.int64)


__all__ = ["LpServer"]
