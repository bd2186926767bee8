"""A HiGHS LP kept alive between solves: `python _lp_worker.py`, driven over its pipes.

Why: column generation re-solves an LP that only grows (pairs priced in, cuts added).
SciPy's `linprog` starts every solve from nothing; HiGHS keeps its basis when rows or
columns are added, and re-solves from it in a fraction of the time. Why a process: the
`highspy` wheel and OR-Tools carry clashing HiGHS symbols (see `_highs_worker.py`). Run
by path, never imported by the package: only the standard library, numpy and highspy.

Protocol: the parent writes pickled tuples to stdin and reads one pickled reply per
command from the worker's original stdout (HiGHS's own prints go to stderr):
("add_rows", lower, upper, start, index, value), ("add_cols", cost, lower, upper,
start, index, value), ("solve", time_limit), ("reset",), ("quit",). Exit code 3:
highspy is missing.
"""

from __future__ import annotations

import os
import pickle
import sys

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)  # the package folder holds modules that must not shadow anything

import numpy as np  # noqa: E402


def _fresh(highspy: object) -> object:
    h = highspy.Highs()  # type: ignore[attr-defined]
    h.setOptionValue("output_flag", False)
    return h


def main() -> int:
    try:
        import highspy
    except ImportError:
        return 3
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything HiGHS prints must not corrupt the replies
    requests = sys.stdin.buffer
    h = _fresh(highspy)
    inf = highspy.kHighsInf
    while True:
        try:
            cmd = pickle.load(requests)
        except EOFError:
            return 0
        kind = cmd[0]
        reply: object = None
        if kind == "quit":
            return 0
        if kind == "reset":
            h = _fresh(highspy)
        elif kind == "add_rows":
            lo, hi, start, index, value = cmd[1:]
            h.addRows(len(hi), np.where(np.isfinite(lo), lo, -inf),  # type: ignore[attr-defined]
                      np.where(np.isfinite(hi), hi, inf), len(value),
                      start[:-1].astype(np.int32), index.astype(np.int32),
                      value.astype(np.float64))
        elif kind == "add_cols":
            cost, lo, hi, start, index, value = cmd[1:]
            h.addCols(len(cost), cost.astype(np.float64), lo.astype(np.float64),  # type: ignore[attr-defined]
                      hi.astype(np.float64), len(value), start[:-1].astype(np.int32),
                      index.astype(np.int32), value.astype(np.float64))
        elif kind == "solve":
            # HiGHS's time limit is on its run clock, which adds up over the runs of one
            # model: the limit of this solve is counted from where the clock stands
            h.setOptionValue("time_limit",  # type: ignore[attr-defined]
                             float(h.getRunTime()) + float(cmd[1]))  # type: ignore[attr-defined]
            h.run()  # type: ignore[attr-defined]
            ms = h.getModelStatus()  # type: ignore[attr-defined]
            ok = ms == highspy.HighsModelStatus.kOptimal
            sol = h.getSolution()  # type: ignore[attr-defined]
            info = h.getInfo()  # type: ignore[attr-defined]
            reply = {"ok": bool(ok), "status": h.modelStatusToString(ms),  # type: ignore[attr-defined]
                     "fun": float(info.objective_function_value),
                     "iterations": int(info.simplex_iteration_count),
                     "x": np.asarray(sol.col_value, dtype=np.float64) if ok else None,
                     "row_dual": np.asarray(sol.row_dual, dtype=np.float64) if ok else None}
        else:
            reply = {"error": f"unknown command {kind!r}"}
        pickle.dump(reply, replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()


if __name__ == "__main__":
    raise SystemExit(main())
