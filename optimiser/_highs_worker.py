"""Run one MIP with `highspy` in a process of its own: `python _highs_worker.py IN OUT`.

Why a process: the `highspy` wheel and OR-Tools both carry HiGHS, with clashing symbols,
so whichever is loaded second fails in that process. This file is run by path, never
imported as part of the package (which loads OR-Tools): it imports only the standard
library, numpy and highspy. IN is an .npz with the model as arrays (row-wise sparse
matrix, bounds, costs, integrality), the options and an optional starting solution; OUT
receives status, objective, dual bound and solution. Exit code 3: highspy is missing.
"""

from __future__ import annotations

import json
import os
import sys
import time

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)  # the package folder holds modules that must not shadow anything

import numpy as np  # noqa: E402

# scipy.optimize.milp's status codes, so callers read both routes alike
OPTIMAL, LIMIT, INFEASIBLE, UNBOUNDED, OTHER = 0, 1, 2, 3, 4


def main(src: str, dst: str) -> int:
    try:
        import highspy
    except ImportError:
        return 3
    d = np.load(src)
    opts = json.loads(str(d["options"]))
    if opts.get("nice") and hasattr(os, "nice"):
        # a run that only uses a core nobody else wants (a dive beside the root cuts)
        os.nice(int(opts["nice"]))
    n, m = len(d["c"]), len(d["row_lo"])
    h = highspy.Highs()
    h.setOptionValue("output_flag", bool(opts.get("disp", False)))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, m
    lp.col_cost_ = d["c"].astype(np.float64)
    lp.col_lower_, lp.col_upper_ = d["lb"].astype(np.float64), d["ub"].astype(np.float64)
    inf = highspy.kHighsInf
    lp.row_lower_ = np.where(np.isfinite(d["row_lo"]), d["row_lo"], -inf)
    lp.row_upper_ = np.where(np.isfinite(d["row_hi"]), d["row_hi"], inf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = d["start"].astype(np.int32)
    lp.a_matrix_.index_ = d["index"].astype(np.int32)
    lp.a_matrix_.value_ = d["value"].astype(np.float64)
    kinds = [highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger]
    lp.integrality_ = [kinds[int(k)] for k in d["integrality"]]
    h.passModel(lp)
    for key in ("time_limit", "mip_rel_gap", "random_seed"):
        if key in opts:
            h.setOptionValue(key, opts[key])
    for key, value in opts.get("highs", {}).items():  # any other HiGHS option, by name
        h.setOptionValue(key, value)
    if "presolve" in opts:
        h.setOptionValue("presolve", "on" if opts["presolve"] else "off")
    if "hint" in d.files:  # a complete starting solution: HiGHS checks and keeps it
        sol = highspy.HighsSolution()
        sol.col_value = d["hint"].astype(np.float64).tolist()
        h.setSolution(sol)
    cuts: dict[str, np.ndarray] = {}
    if opts.get("cut_pool"):
        # the cuts in HiGHS's LP when its root node ends (presolve off: over the model's
        # own columns); with "stop_after_cuts" the search ends there
        state = {"done": False}

        def on_event(kind: object, _msg: str, out: object, data_in: object, _u: object) -> None:
            if kind == highspy.cb.HighsCallbackType.kCallbackMipGetCutPool:
                if not state["done"]:
                    cuts.update(cut_start=np.array(out.cutpool_start),  # type: ignore[attr-defined]
                                cut_index=np.array(out.cutpool_index),  # type: ignore[attr-defined]
                                cut_value=np.array(out.cutpool_value),  # type: ignore[attr-defined]
                                cut_lower=np.array(out.cutpool_lower),  # type: ignore[attr-defined]
                                cut_upper=np.array(out.cutpool_upper))  # type: ignore[attr-defined]
                state["done"] = True
            elif (kind == highspy.cb.HighsCallbackType.kCallbackMipInterrupt and state["done"]
                  and opts.get("stop_after_cuts")):
                data_in.user_interrupt = True  # type: ignore[attr-defined]

        h.setCallback(on_event, None)
        h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipGetCutPool)
        if opts.get("stop_after_cuts"):
            h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
    stop_file = opts.get("stop_file")
    if stop_file and not opts.get("cut_pool"):
        # the caller may want the incumbent now (`Pending.stop`): a file it creates,
        # looked for at most every 0.05 s, ends the search as a time limit would (a model
        # has one callback: a cut-pool run, which stops at its root anyway, has none)
        seen = {"at": 0.0}

        def on_stop(_kind: object, _msg: str, _out: object, data_in: object,
                    _u: object) -> None:
            now = time.monotonic()
            if now - seen["at"] >= 0.05:
                seen["at"] = now
                if os.path.exists(stop_file):
                    data_in.user_interrupt = True  # type: ignore[attr-defined]

        h.setCallback(on_stop, None)
        h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
    h.run()
    ms = h.getModelStatus()
    info = h.getInfo()
    name = h.modelStatusToString(ms)
    s = highspy.HighsModelStatus
    status = {s.kOptimal: OPTIMAL, s.kTimeLimit: LIMIT, s.kIterationLimit: LIMIT,
              s.kSolutionLimit: LIMIT, s.kInterrupt: LIMIT, s.kInfeasible: INFEASIBLE,
              s.kUnbounded: UNBOUNDED, s.kUnboundedOrInfeasible: INFEASIBLE}.get(ms, OTHER)
    has_x = int(info.primal_solution_status) == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value, dtype=np.float64) if has_x else np.zeros(0)
    out: dict[str, object] = dict(
        status=status, message=f"HiGHS (highspy): {name}", has_x=has_x, x=x,
        fun=float(info.objective_function_value) if has_x else np.nan,
        bound=float(info.mip_dual_bound), nodes=int(info.mip_node_count),
        runtime=float(h.getRunTime()))
    out.update(cuts)
    np.savez(dst, **out)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
