"""Commissioning benchmark: how long to the block-booking recommendation.

    python benchmarks/bench_commission.py --scenarios 200 --workers 2 --timeout 1800
    python benchmarks/bench_commission.py --scenarios 20 --workers 1 2 0

A 2,000-child authority (instances/authority-2000: 2,000 children, 1,500 placements,
Leicestershire) made a commissioning instance by the engine's recipe
(`make_commission_instance`, seed 6): five candidate block contracts, a framework /
off-framework spot market, and the default demand model (a year's arrivals, calibrated on
the DfE tables: about 800 children a scenario). For each worker count the whole command
runs in its own process, as a commissioner would run it:

    placement plan-capacity benchmarks/work/commission-2000 --scenarios N
        --out benchmarks/work/commission-2000-sN-wW --workers W --seed 0
        --time-limit-per-scenario 10

and the wall time to the written recommendation is measured around it, together with
`uptime` before and after (the 2 cores are shared) and the progress log (kept in
benchmarks/work/commission-2000-sN-wW.log). `--timeout` stops a run (and its Dask
workers) and records it as timed out with its last progress lines. Each invocation
replaces its own (scenarios, workers) rows in benchmarks/results/commission.json.

Target: the recommendation in <= 10 minutes on this 2-core machine, and how it
scales with local-cluster workers.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from optimiser.research.provenance import provenance  # noqa: E402  (the repository first)

WORK = ROOT / "benchmarks" / "work"
RESULTS = ROOT / "benchmarks" / "results" / "commission.json"
INSTANCE = WORK / "commission-2000"
TARGET_SECONDS = 600.0
RECOMMENDATION = re.compile(r"^\[ *([\d.]+)s\] recommendation (\{.*\}): £([\d,.]+)/week")
BATCH_DONE = re.compile(r"^batch \d+ \[#*\] (\d+)/\1 ")  # a finished batch of solves


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"loadavg {os.getloadavg()}"


def build_instance(folder: Path = INSTANCE, seed: int = 6) -> dict[str, Any]:
    """authority-2000 made a commissioning instance by the engine's own recipe.

    `optimiser.commission.recipe.make_commission_instance` (the same recipe as
    instances/demo-commission): five candidate block contracts sized to the authority's
    arrivals, a framework / off-framework spot market and the default demand model.
    """
    from optimiser.commission.recipe import make_commission_instance

    src = ROOT / "instances" / "authority-2000"
    if folder.exists():
        shutil.rmtree(folder)
    make_commission_instance(src, folder, seed=seed)
    contracts = pd.read_csv(folder / "contracts.csv", dtype=str, keep_default_na=False)
    spot = pd.read_csv(folder / "spot.csv", dtype=str, keep_default_na=False)
    ch = pd.read_csv(folder / "children.csv", dtype=str, keep_default_na=False)
    pl = pd.read_csv(folder / "placements.csv", dtype=str, keep_default_na=False)
    return {"source": str(src.relative_to(ROOT)), "recipe_seed": seed,
            "children": int(len(ch)), "placements": int(len(pl)),
            "vacancies_kept": int(pl["vacancies"].astype(int).sum()),
            "contracts": contracts.to_dict("records"), "spot": spot.to_dict("records")}


def run_one(workers: int, scenarios: int, seed: int, tl: float,
            timeout: float | None) -> dict[str, Any]:
    """One `placement plan-capacity` in its own process group, timed from outside.

    On timeout the whole group (the command and its Dask workers) is stopped and the
    run is recorded as such, with the last progress lines it printed.
    """
    out = WORK / f"commission-2000-s{scenarios}-w{workers}"
    log_path = WORK / f"commission-2000-s{scenarios}-w{workers}.log"
    cmd = [sys.executable, "-m", "optimiser.cli", "plan-capacity", str(INSTANCE.relative_to(ROOT)),
           "--scenarios", str(scenarios), "--out", str(out.relative_to(ROOT)),
           "--workers", str(workers), "--seed", str(seed),
           "--time-limit-per-scenario", f"{tl:g}"]
    shown = " ".join(["placement", *cmd[3:]])
    stamp = provenance(ROOT)
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT,
                                start_new_session=True)
        try:
            stdout, _ = proc.communicate(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                stdout, _ = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                stdout, _ = proc.communicate()
            timed_out = True
    wall = time.perf_counter() - t0
    progress = log_path.read_text().splitlines()
    res: dict[str, Any] = {
        **stamp, "workers": workers, "scenarios": scenarios,
        "engine": "in-process (no Dask)" if workers == 0 else f"local Dask cluster, {workers} "
                  "worker process(es)",
        "command": shown, "exit_code": None if timed_out else proc.returncode,
        "timed_out_after_seconds": timeout if timed_out else None,
        "wall_seconds": round(wall, 1), "uptime_after": _uptime(),
    }
    parse_progress(res, progress)
    if timed_out or proc.returncode != 0:
        res["stderr_tail"] = progress[-15:]
        return res
    pj = json.loads((out / "plan.json").read_text())
    res.update({k: pj.get(k) for k in ("beds", "expected_weekly_cost", "interval",
                                      "expected_annual_cost", "share_out_of_area",
                                      "share_over_20_miles", "unplaced_mean", "ev_beds", "eev",
                                      "vss", "baseline", "method", "n_scenarios")})
    st = pj.get("stats", {})
    res["stats"] = {k: v for k, v in st.items() if isinstance(v, int | float | str)}
    res["plan_runtime_seconds"] = pj.get("runtime")
    res["within_target"] = wall <= TARGET_SECONDS
    res["summary"] = stdout
    return res


def parse_progress(res: dict[str, Any], progress: list[str]) -> None:
    """Fields read from a run's progress log (kept in benchmarks/work/)."""
    res["solve_batches_done"] = sum(1 for line in progress if BATCH_DONE.match(line))
    res["last_progress"] = [line for line in progress if not line.startswith("batch ")][-3:]
    for line in progress:  # "[  36.0s] recommendation {...}: £.../week on the sample"
        m = RECOMMENDATION.match(line)
        if m:
            res["recommendation_seconds"] = float(m.group(1))
            res["recommendation_beds"] = ast.literal_eval(m.group(2))
            res["recommendation_sample_weekly_cost"] = float(m.group(3).replace(",", ""))
            res["recommendation_within_target"] = float(m.group(1)) <= TARGET_SECONDS


def add_speedups(runs: list[dict[str, Any]]) -> None:
    """Speed-up against one worker on the same number of scenarios: of the time to the
    recommendation (known even when the command fails later), and of the whole command."""
    for r in runs:
        one = next((b for b in runs if b["workers"] == 1 and b["scenarios"] == r["scenarios"]),
                   None)
        if one is None:
            continue
        if r.get("recommendation_seconds") and one.get("recommendation_seconds"):
            r["recommendation_speedup_vs_1_worker"] = round(
                one["recommendation_seconds"] / r["recommendation_seconds"], 2)
        if r["exit_code"] == 0 and one["exit_code"] == 0:
            r["speedup_vs_1_worker"] = round(one["wall_seconds"] / r["wall_seconds"], 2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--scenarios", type=int, default=200)
    ap.add_argument("--workers", type=int, nargs="+", default=[2, 1],
                    help="local-cluster worker counts to run (0: in-process, no Dask)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit-per-scenario", type=float, default=10.0)
    ap.add_argument("--timeout", type=float, default=None,
                    help="stop a run after this many seconds (recorded as timed out)")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--reparse", action="store_true",
                    help="run nothing: re-read the kept progress logs of the recorded runs")
    args = ap.parse_args(argv)
    path = Path(args.out)
    old = json.loads(path.read_text()) if path.exists() else {}
    if args.reparse:
        for r in old.get("runs", []):
            log = WORK / f"commission-2000-s{r['scenarios']}-w{r['workers']}.log"
            if log.exists():
                parse_progress(r, log.read_text().splitlines())
        add_speedups(old.get("runs", []))
        path.write_text(json.dumps(old, indent=1) + "\n")
        return 0
    inst = build_instance()
    runs = [r for r in old.get("runs", []) if r.get("commit")  # earlier rows with a commit
            and not (r.get("scenarios") == args.scenarios and r.get("workers") in args.workers)]
    for w in args.workers:
        print(f"{args.scenarios} scenarios, workers={w}: running ...", file=sys.stderr,
              flush=True)
        r = run_one(w, args.scenarios, args.seed, args.time_limit_per_scenario, args.timeout)
        r["bench_command"] = ("python benchmarks/bench_commission.py "
                              + " ".join(argv if argv is not None else sys.argv[1:]))
        print(f"  exit {r['exit_code']}, {r['wall_seconds']} s, beds {r.get('beds')}",
              file=sys.stderr, flush=True)
        runs.append(r)
    add_speedups(runs)
    runs.sort(key=lambda r: (r["scenarios"], r["workers"]))
    result = {
        "benchmark": "commission",
        "updated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "instance": {"folder": str(INSTANCE.relative_to(ROOT)), **inst},
        "seed": args.seed, "time_limit_per_scenario": args.time_limit_per_scenario,
        "target_seconds": TARGET_SECONDS, "runs": runs,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"written {path}", file=sys.stderr)
    return 0 if all(r["exit_code"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
