"""Pooling benchmark: a region's authorities alone and pooled, with the fair shares.

    python benchmarks/bench_pooling.py --children 20000 --workers 2 --method bracket \
        --samples 200 --precision 0.01 --budget 840
    python benchmarks/bench_pooling.py --children 1000 --workers 1 2 --method bracket \
        --samples 0

The region is Greater Manchester's ten boroughs (`optimiser.regions.build_region`,
seed 20): children split by the DfE counts, each borough drawn by the calibrated
generator on real geography (Ofsted's homes), ids prefixed by the borough. For each
worker count, `optimiser.pooling.run_pool` (what `placement pool` runs) solves every
authority alone and the region pooled, then the coalitions the Shapley value needs
(exact when --samples is 0, else up to that many sampled orders, stopping once every
share's standard error is at most --precision of the gain or when another batch would
end past --budget seconds) on a local Dask cluster, each coalition priced by --method
(solve: the engine's full solve; bracket: `optimiser.pooling.quick`), and
writes its report to benchmarks/work/pool-<children>-w<W>. The wall time is measured
around it, with `uptime` before and after (the 2 cores are shared). Each invocation
replaces its own (children, workers, method) rows of benchmarks/results/pooling.json.

Target: ten authorities and 20,000 children pooled against alone, with the fair shares,
in <= 15 minutes on this 2-core machine; and how it scales with Dask workers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from optimiser import checker  # noqa: E402  (the repository first)
from optimiser.pooling import run_pool  # noqa: E402
from optimiser.regions import build_region  # noqa: E402

WORK = ROOT / "benchmarks" / "work"
RESULTS = ROOT / "benchmarks" / "results" / "pooling.json"
REGION = "Greater Manchester"
TARGET_SECONDS = 900.0


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run(children: int, workers: int, samples: int, time_limit: float, time_scale: float,
        seed: int, method: str = "solve", precision: float | None = None,
        budget: float | None = None, gap: float = 0.0) -> dict[str, Any]:
    folder = WORK / f"region-gm-{children}"
    if not (folder / "children.csv").is_file():
        build_region(folder, REGION, children=children, seed=seed)
    out = WORK / f"pool-{children}-w{workers}"
    before = _load()
    t0 = time.perf_counter()
    res = run_pool(folder, out, time_limit=time_limit, samples=samples or None, seed=0,
                   workers=workers, max_time_scale=time_scale, progress=True,
                   method=method, precision=precision, budget=budget, gap=gap)
    wall = time.perf_counter() - t0
    after = _load()
    rep = checker.check(folder, out)  # the written pooled plan, checked independently
    sh, costs = res.shares, res.costs
    statuses = [s.status for s in costs.solved.values()]
    gaps = [(s.objective - s.bound) / max(abs(s.objective), 1.0) for s in costs.solved.values()]
    lo, hi = res.share_lo, res.share_hi
    return {
        "children": children, "authorities": len(res.split.names), "workers": workers,
        "method": method, "samples": sh.samples, "exact": sh.exact,
        "precision": precision, "budget": budget, "gap": gap, "time_limit": time_limit,
        "time_scale": time_scale, "wall_seconds": round(wall, 1),
        "within_target": wall <= TARGET_SECONDS,
        "coalitions_solved": len(costs.solved),
        "proven_optimal": statuses.count("optimal"),
        "largest_coalition_gap": round(max(gaps, default=0.0), 6),
        "median_coalition_gap": round(float(sorted(gaps)[len(gaps) // 2]), 6) if gaps else 0.0,
        "alone_total": round(float(sh.alone.sum()), 2), "pooled": round(sh.pooled, 2),
        "gain": round(sh.gain, 2),
        "pooled_from": [res.split.label(m) for m in costs.parts(res.split.grand)],
        "shares": {res.split.label(1 << i): round(float(v), 2)
                   for i, v in enumerate(sh.share)},
        "share_stderr": [round(float(v), 2) if math.isfinite(v) else None for v in sh.stderr],
        "largest_stderr_of_gain": round(float(sh.stderr.max()) / max(abs(sh.gain), 1.0), 6),
        "share_range": None if lo is None or hi is None else [
            [round(float(a), 2), round(float(b), 2)] for a, b in zip(lo, hi, strict=True)],
        "pooled_upper_lower": [round(costs.cost(res.split.grand), 2),
                               round(costs.lower(res.split.grand), 2)],
        "alone_lower": round(float(sum(costs.lower(1 << i)
                                       for i in range(res.split.n_players))), 2),
        "checker": {"ok": rep.ok, "objective": round(rep.objective, 2),
                    "unplaced": rep.unplaced,
                    "equals_pooled": abs(rep.objective - sh.pooled) <= 1e-6 * abs(rep.objective)},
        "largest_share_range_of_gain": None if lo is None or hi is None else round(
            float((hi - lo).max()) / max(abs(sh.gain), 1.0), 6),
        "stand_alone_check": {"individual": res.check.individual_ok,
                              "core": res.check.core_ok, "tested": res.check.tested},
        "timings_seconds": res.timings, "load_before": before, "load_after": after,
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv), "commit": _commit(),
    }


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--children", type=int, default=20000)
    ap.add_argument("--workers", type=int, nargs="+", default=[2])
    ap.add_argument("--samples", type=int, default=2, help="0: exact Shapley")
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--time-scale", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--method", choices=("solve", "bracket"), default="solve")
    ap.add_argument("--precision", type=float, default=None,
                    help="stop sampling once every standard error is this share of the gain")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds for the run: no batch of orders started past it")
    ap.add_argument("--gap", type=float, default=0.0,
                    help="relative gap at which a coalition counts as priced (0: prove)")
    args = ap.parse_args()
    rows = []
    for w in args.workers:
        row = run(args.children, w, args.samples, args.time_limit, args.time_scale, args.seed,
                  args.method, args.precision, args.budget, args.gap)
        print(json.dumps(row, indent=2), flush=True)
        rows.append(row)
    old = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        return r["children"], r["workers"], r.get("method", "solve")

    keep = [r for r in old if key(r) not in {key(r2) for r2 in rows}]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(keep + rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
