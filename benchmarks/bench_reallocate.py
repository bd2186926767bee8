"""Re-allocation benchmark: the nightly plan of an authority and of a region.

    python benchmarks/bench_reallocate.py --sizes authority region --workers 2

Each (size, configuration) runs in its own process: generate the instance once (the
core recipes' sizes with 70% of children placed, `placed_share=0.7`), add the optional
re-allocation columns (a quarter of placed children pinned, 3% of placements with
vacancies on hold, 2% opening later; seeded), then load, `reallocate`, write the plan
and run the independent checker. Results go to benchmarks/results/reallocate.json.

Targets: 2,000 children proven optimal or within 0.5% in <= 30 s on 2 cores;
20,000 children in <= 5 minutes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from optimiser.research.provenance import provenance  # noqa: E402  (the repository first)

DAY = dt.date(2025, 6, 2)
# size -> generate() arguments and its time target (seconds)
SIZES: dict[str, tuple[dict[str, Any], float]] = {
    "authority": ({"children": 2000, "placements": 1500, "seed": 11}, 30.0),
    "region": ({"children": 20000, "placements": 15000, "seed": 20,
                "authority": "North West"}, 300.0),
}
# the nightly plan a manager signs off, and the variants around it
CONFIGS: dict[str, dict[str, Any]] = {
    "nightly": {"max_moves": 25, "min_saving": 100.0},
    "min-saving-only": {"min_saving": 100.0},
    "max-moves-only": {"max_moves": 25},
    "unlimited": {},
}


def instance(size: str, work: Path) -> Path:
    """Generate (once) the size's instance with 70% placed and the optional columns."""
    from optimiser.generate import generate
    from optimiser.variants import add_reallocation_columns

    kw, _ = SIZES[size]
    folder = work / f"realloc-{size}"
    if not (folder / "children.csv").exists():
        generate(folder, placed_share=0.7, **kw)
        add_reallocation_columns(folder, int(kw["seed"]), DAY)
    return folder


def run_one(size: str, config: str, work: Path, seed: int, workers: int,
            time_limit: float | None, backend: str) -> dict[str, Any]:
    import os

    from optimiser import load_instance
    from optimiser.checker import check
    from optimiser.reallocate import ReallocOptions, reallocate, write_plan

    kw, target = SIZES[size]
    limit = time_limit or target
    folder = instance(size, work)
    load_before = os.getloadavg()[0]
    t = time.perf_counter()
    inst = load_instance(folder)
    t_load = time.perf_counter() - t
    opts = ReallocOptions(date=DAY, time_limit=limit, seed=seed, workers=workers,
                          backend=backend, **CONFIGS[config])
    t = time.perf_counter()
    res = reallocate(inst, opts)
    t_solve = time.perf_counter() - t
    out = work / f"realloc-{size}-{config}-out"
    t = time.perf_counter()
    report, tables = write_plan(res, out)
    t_write = time.perf_counter() - t
    t = time.perf_counter()
    chk = check(folder, out)
    t_check = time.perf_counter() - t
    rl = report.summary["reallocation"]
    return {
        "size": size, "config": config, "options": CONFIGS[config], "backend": backend,
        "children": int(kw["children"]), "placements": int(kw["placements"]),
        "placed_before": rl["before"]["placed"], "pinned": rl["pinned"],
        "seed": seed, "workers": workers, "time_limit_s": limit, "target_s": target,
        "status": res.status, "objective": res.objective, "best_bound": res.bound,
        "gap": res.gap, "engine_s": round(res.runtime, 2), "load_s": round(t_load, 2),
        "reallocate_s": round(t_solve, 2), "write_s": round(t_write, 2),
        "check_s": round(t_check, 2), "check_ok": chk.ok,
        "within_target": bool(res.runtime <= target * 1.02
                              and (res.status == "optimal" or res.gap <= 0.005)),
        "moves": rl["moves"], "new_placements": rl["new_placements"], "chains": rl["chains"],
        "placed_after": rl["after"]["placed"],
        "weekly_cost_before": rl["before"]["total_weekly_cost"],
        "weekly_cost_after": rl["after"]["total_weekly_cost"],
        "voids": rl["voids"],
        "timings": {k: round(v, 2) for k, v in res.timings.items()},
        "pairs_in_model": res.stats.get("pairs_in_model"),
        # the LP stage: its method, rounds and the Lagrangian bound over every pair
        "lp_method": res.stats.get("lp_method"), "lp_rounds": res.stats.get("lp_rounds"),
        "lagrangian_bound": res.stats.get("lagrangian_bound"),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        # the machine may be shared: CPU seconds of this process and the load around it
        "cpu_s": round(resource.getrusage(resource.RUSAGE_SELF).ru_utime
                       + resource.getrusage(resource.RUSAGE_SELF).ru_stime, 1),
        "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["authority"], choices=list(SIZES))
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=None,
                    help="seconds per run (default: the size's target)")
    ap.add_argument("--backend", default="highs", choices=("highs", "cpsat"))
    ap.add_argument("--work", default=str(ROOT / "benchmarks" / "work"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "reallocate.json"))
    ap.add_argument("--one", nargs=2, metavar=("SIZE", "CONFIG"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.one:
        row = run_one(args.one[0], args.one[1], work, args.seed, args.workers,
                      args.time_limit, args.backend)
        print(json.dumps(row))
        return 0
    rows = []
    for size in args.sizes:
        instance(size, work)  # generate once, outside the timed runs
        for config in args.configs:
            cmd = [sys.executable, __file__, "--one", size, config, "--seed", str(args.seed),
                   "--workers", str(args.workers), "--work", str(work),
                   "--backend", args.backend]
            if args.time_limit:
                cmd += ["--time-limit", str(args.time_limit)]
            stamp = provenance(ROOT)
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return proc.returncode
            row = {**stamp, **json.loads(proc.stdout.strip().splitlines()[-1])}
            rows.append(row)
            print(f"{size:<9} {config:<16} {row['status']:<10} gap {100 * row['gap']:.4f}% "
                  f"engine {row['engine_s']:6.1f}s (target {row['target_s']:.0f}s) "
                  f"moves {row['moves']:>4} placed {row['placed_before']}->"
                  f"{row['placed_after']} check {'ok' if row['check_ok'] else 'FAILED'} "
                  f"(load {row['loadavg_1m'][0]:.1f})",
                  flush=True)
    result = {
        "benchmark": "reallocate",
        "command": "python benchmarks/bench_reallocate.py " + " ".join(sys.argv[1:]),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": _cpus()},
        "runs": rows,
    }
    out = Path(args.out)
    old = json.loads(out.read_text()) if out.exists() else {}
    if isinstance(old, dict) and old.get("runs"):  # earlier rows with a commit stay
        keep = [r for r in old["runs"] if r.get("commit") and (r["size"], r["config"]) not in
                {(r2["size"], r2["config"]) for r2 in rows}]
        result["runs"] = keep + rows
        # each run also records its own command, as runs accumulate over invocations
    for r in rows:
        r["command"] = result["command"]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"written to {out}")
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 0)


if __name__ == "__main__":
    sys.exit(main())
