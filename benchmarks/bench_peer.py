"""Dense PuLP peer vs the engine: same instances, same time limit.

    python benchmarks/bench_peer.py --sizes small demo gen-1000 authority-2000 gen-5000 \
        --time-limit 120 --workers 2

Each (instance, side) runs in its own process, so peak RSS is that run's own (CBC runs
as a child process of it: its peak is reported apart). "ours" is `solve()` as the
command runs it (CP-SAT, or the min-cost flow when it applies); "ours-highs" the same
engine with `--backend highs` ("ours-cbc": `--backend cbc`); "ours-cpsat" with the fast
path off; "dense" is optimiser/research/dense.py: a binary per feasible child-placement pair, rows
written one by one with `+=`, CBC (PuLP's bundled binary, one thread: PuLP's default) with gapRel=0.
Results go to benchmarks/results/peer.json; a (size, side) pair already there with the
same time limit is not run again unless --force; `--table` prints the Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
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

WORK = ROOT / "benchmarks" / "work" / "peer"
# name -> shipped folder, or (children, placements, seed) for `placement generate`
SIZES: dict[str, str | tuple[int, int, int]] = {
    "small": "instances/small",
    "demo": "instances/demo",
    "gen-1000": (1000, 750, 1),
    "authority-2000": "instances/authority-2000",
    "gen-5000": (5000, 3700, 1),
    # authority-2000 with sibling groups and solo flags removed: a transportation
    # problem, where "ours" takes the min-cost-flow fast path
    "authority-2000-flat": "flat:instances/authority-2000",
}


SIDES = ("ours", "ours-highs", "ours-cbc", "ours-cpsat", "dense")


def instance_dir(name: str) -> Path:
    spec = SIZES[name]
    if isinstance(spec, str) and spec.startswith("flat:"):
        import shutil

        import pandas as pd

        folder = WORK / name
        if not (folder / "children.csv").exists():
            shutil.copytree(ROOT / spec[5:], folder, dirs_exist_ok=True)
            ch = pd.read_csv(folder / "children.csv", dtype=str, keep_default_na=False)
            ch["sibling_group"], ch["solo"] = "", "false"
            ch.to_csv(folder / "children.csv", index=False)
        return folder
    if isinstance(spec, str):
        return ROOT / spec
    from optimiser.generate import generate

    folder = WORK / name
    if not (folder / "children.csv").exists():
        n, m, seed = spec
        generate(folder, children=n, placements=m, seed=seed)
    return folder


def run_one(name: str, side: str, time_limit: float, workers: int, seed: int) -> dict[str, Any]:
    from optimiser import load_instance
    from optimiser.research.bench_backends import run_backend

    folder = instance_dir(name)
    t = time.perf_counter()
    inst = load_instance(folder)
    t_load = time.perf_counter() - t
    # the analyst's CBC runs on PuLP's default single thread
    backend = {"ours": "auto", "ours-highs": "highs", "ours-cbc": "cbc", "ours-cpsat": "cpsat",
               "dense": "pulp-dense"}[side]
    row = run_backend(inst, backend, time_limit, seed, 1 if side == "dense" else workers)
    row.update(size=name, side=side, folder=str(folder.relative_to(ROOT)),
               children=inst.n_children, placements=inst.n_placements, units=inst.units.n,
               load_seconds=t_load, time_limit=time_limit, workers=workers, seed=seed,
               peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               child_peak_rss_mib=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
               / 1024)
    return row


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


def table(doc: dict[str, Any], time_limit: float) -> str:
    """Markdown: per size, each side's status, objective, seconds; ours over the peer."""
    runs = {(r["size"], r["side"]): r for r in doc["runs"] if r["time_limit"] == time_limit}
    lines = ["| instance | children / units / placements | dense vars (build s) | side | "
             "status | objective (£/week) | bound | seconds | peak RSS MiB (CBC) | "
             "time ratio ours/peer | objective ours - peer |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in SIZES:
        peer = runs.get((name, "dense"))
        for side in SIDES:
            r = runs.get((name, side))
            if r is None or "objective" not in r:
                continue
            size = f"{r['children']:,} / {r['units']:,} / {r['placements']:,}"
            dv = (f"{peer['variables']:,} ({peer['build_seconds']:.1f})"
                  if peer and "variables" in peer else "-")
            ratio = diff = "-"
            if peer and side != "dense" and peer.get("objective") is not None:
                ratio = f"{r['seconds'] / peer['seconds']:.2f}"
                diff = f"{r['objective'] - peer['objective']:+,.2f}"
            rss = f"{r['peak_rss_mib']:,.0f}"
            if side == "dense":
                rss += f" ({r['child_peak_rss_mib']:,.0f})"
            lines.append(f"| {name} | {size} | {dv} | {side} | {r['status']} | "
                         f"{_money(r['objective'])} | {_money(r.get('bound'))} | "
                         f"{r['seconds']:.1f} | {rss} | {ratio} | {diff} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    ap.add_argument("--sides", nargs="+", default=list(SIDES), choices=list(SIDES))
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "peer.json"))
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--table", action="store_true", help="print the Markdown table only")
    ap.add_argument("--one", nargs=2, metavar=("SIZE", "SIDE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], args.time_limit, args.workers,
                                 args.seed)))
        return
    out = Path(args.out)
    doc: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {"runs": []}
    if args.table:
        print(table(doc, args.time_limit))
        return
    doc["machine"] = {"python": platform.python_version(), "cores": os.cpu_count(),
                      "platform": platform.platform()}
    for name in args.sizes:
        instance_dir(name)  # generate once, outside the timed runs
        for side in args.sides:
            done = [r for r in doc["runs"] if r["size"] == name and r["side"] == side
                    and r["time_limit"] == args.time_limit]
            if done and not args.force:
                continue
            stamp = provenance(ROOT)
            cmd = [sys.executable, __file__, "--one", name, side, "--time-limit",
                   str(args.time_limit), "--workers", str(args.workers), "--seed",
                   str(args.seed)]
            t = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            wall = time.perf_counter() - t
            if proc.returncode != 0:
                row: dict[str, Any] = {"size": name, "side": side, "status": "error",
                                       "time_limit": args.time_limit,
                                       "error": proc.stderr[-2000:]}
            else:
                row = json.loads(proc.stdout.strip().splitlines()[-1])
            row = {**stamp, **row}
            row.update(wall_seconds=wall, load_after=[round(x, 2) for x in os.getloadavg()],
                       command=" ".join(["python", "benchmarks/bench_peer.py", "--sizes", name,
                                         "--sides", side, "--time-limit",
                                         f"{args.time_limit:g}", "--workers",
                                         str(args.workers)]))
            doc["runs"] = [r for r in doc["runs"] if r.get("commit") and not (
                r["size"] == name and r["side"] == side and r["time_limit"] == args.time_limit)]
            doc["runs"].append(row)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(doc, indent=1, default=float) + "\n")
            print(f"{name:15s} {side:6s} {row.get('status')!s:14s} "
                  f"obj {row.get('objective')!s:>22s}  {row.get('seconds', 0):7.1f}s "
                  f"load {stamp['load_avg'][0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
