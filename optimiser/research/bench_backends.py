"""One entry point per placement backend, for the benchmark harness.

`run_backend(inst, backend, time_limit, seed, workers)` returns a plain dict with at
least `status`, `objective`, `bound`, `seconds` (pounds per week; None when there is no
solution or bound). Backends:

- "auto": `solve()` as the command runs it (min-cost-flow fast path when it applies)
- "cpsat", "highs", "cbc": the engine with that MIP solver, fast path off
- "mcf": the min-cost-flow fast path only; status "not_applicable" (and why) when the
  instance is not a transportation problem
- "pulp-dense": the dense PuLP/CBC peer (`dense`)
"""

from __future__ import annotations

import time
from typing import Any

from ..instance import Instance

BENCH_BACKENDS = ("auto", "cpsat", "highs", "cbc", "mcf", "pulp-dense")


def run_backend(inst: Instance, backend: str, time_limit: float, seed: int = 0,
                workers: int = 2) -> dict[str, Any]:
    """Solve `inst` with `backend`; a dict with status, objective, bound, seconds, ..."""
    if backend not in BENCH_BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; one of {', '.join(BENCH_BACKENDS)}")
    t0 = time.perf_counter()
    if backend == "pulp-dense":
        from .dense import solve_dense

        d = solve_dense(inst, time_limit, workers=workers, seed=seed)
        return {"status": d.status, "objective": d.objective, "bound": d.bound,
                "seconds": d.seconds, "backend_used": "pulp-dense",
                "build_seconds": d.build_seconds, "pair_seconds": d.pair_seconds,
                "variables": d.variables, "constraints": d.constraints}
    from ..solver import SolveOptions, solve

    if backend == "mcf":
        from ..flow import flow_blocker

        why = flow_blocker(inst)
        if why is not None:
            return {"status": "not_applicable", "objective": None, "bound": None,
                    "seconds": time.perf_counter() - t0, "backend_used": None, "why": why}
        opts = SolveOptions(time_limit=time_limit, seed=seed, workers=workers)
    elif backend == "auto":
        opts = SolveOptions(time_limit=time_limit, seed=seed, workers=workers)
    else:
        opts = SolveOptions(time_limit=time_limit, seed=seed, workers=workers,
                            backend=backend, fast_path=False)
    res = solve(inst, opts)
    out: dict[str, Any] = {
        "status": res.status, "objective": float(res.objective),
        "bound": float(res.bound) if res.bound == res.bound and abs(res.bound) != float("inf")
        else None,
        "seconds": time.perf_counter() - t0, "backend_used": res.stats.get("backend"),
        "gap": float(res.gap), "placed": res.placed, "unplaced": res.unplaced,
    }
    if backend == "mcf" and out["backend_used"] != "min_cost_flow":
        out["status"] = "not_applicable"  # the pair pool was too large to hold
        out["why"] = "pair pool too large"
    return out
