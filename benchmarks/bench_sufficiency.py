"""Sufficiency benchmark: a 2,000-child authority's analysis with a verified 10-recruit plan.

    python benchmarks/bench_sufficiency.py [--timeout 1800] [-- extra sufficiency options]

Runs, in its own process, as a commissioner would:

    placement sufficiency instances/authority-2000 --out benchmarks/work/sufficiency-2000
        --recommendations 10 --budget 10

(through `python -m optimiser.sufficiency.cli`, the same parser, with the command's
defaults: re-solves incremental where the model allows, `-- --full-resolves` for the whole
engine each time), and measures the wall time to the written folder, with `uptime`
before and after (the 2 cores are shared), the commit, and the time split (the rest of
the wall time: start-up, reading, the tables and the statement) and how many verified
savings are exact (not lower bounds) from the folder's summary.json. Appends one record
to benchmarks/results/sufficiency.json.

Target: <= 5 minutes on this 2-core machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instances" / "authority-2000"
OUT = ROOT / "benchmarks" / "work" / "sufficiency-2000"
RESULTS = ROOT / "benchmarks" / "results" / "sufficiency.json"


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True).stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("extra", nargs="*", help="more sufficiency options (after --)")
    args = ap.parse_args()
    cmd = [sys.executable, "-m", "optimiser.sufficiency.cli", "sufficiency", str(INSTANCE),
           "--out", str(OUT), "--recommendations", "10", "--budget", "10", *args.extra]
    before = uptime()
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                              timeout=args.timeout)
        code, log = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as e:
        code, log = -1, (e.stderr.decode() if isinstance(e.stderr, bytes) else e.stderr or "")
    wall = time.perf_counter() - t0
    summary = json.loads((OUT / "summary.json").read_text()) if code == 0 else {}
    record = {"when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "command": " ".join(cmd[1:]), "commit": commit(), "exit": code,
              "wall_seconds": round(wall, 1),
              "uptime_before": before, "uptime_after": uptime(),
              "target_seconds": 300, "met": code == 0 and wall <= 300,
              "other_seconds": round(wall - sum(summary.get("seconds", {}).values()), 1),
              "summary": summary, "log_tail": log.strip().splitlines()[-8:]}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    RESULTS.write_text(json.dumps(old + [record], indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
