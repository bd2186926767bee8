"""GAP benchmark: ours beside the plain CP-SAT model (and HiGHS, CBC) on OR-Library sets.

    python benchmarks/bench_gap.py --sets gap1-12 --backends cpsat plain --time-limit 10
    python benchmarks/bench_gap.py --sets gapa gapb gapc gapd --backends cpsat plain \\
        --time-limit 30

One CSV row per (file, problem, sense, backend, time limit, workers, seed), appended to
``benchmarks/results/gap.csv``; rows already there are skipped, so an interrupted run
resumes where it stopped (``--rerun`` drops them first, to measure changed code).
Senses come from best_known.csv (gap1-12 both ways, gapa-d minimisation) unless
--senses says otherwise. Every row records the commit it ran on ("-dirty": the code
differed from it), its UTC start, the cores and the load average then (the box is
shared). The summary per set and backend (and the targets) is printed and
written to gap_summary.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from optimiser.research.gap import solve_gap  # noqa: E402  (the repository is put on the path first)
from optimiser.research.gap_instance import (  # noqa: E402
    BACKENDS,
    SENSES,
    default_data_dir,
    read_best_known,
    read_gap,
)
from optimiser.research.provenance import CSV_FIELDS, csv_fields  # noqa: E402

FIELDS = ["instance", "problem", "sense", "backend", "status", "objective", "bound",
          "best_known", "gap_to_best", "gap_to_bound", "seconds", "time_limit", "workers",
          "seed", *CSV_FIELDS]
KEY = ("instance", "problem", "sense", "backend", "time_limit", "workers", "seed")
SET_ALIASES = {"gap1-12": [f"gap{k}" for k in range(1, 13)],
               "gapa-d": ["gapa", "gapb", "gapc", "gapd"]}


def expand_sets(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        for s in SET_ALIASES.get(name, [name]):
            if s not in out:
                out.append(s)
    return out


def gap_to_best(objective: float | None, best: float | None, sense: str) -> float | None:
    """Relative shortfall against the best known value; positive is worse."""
    if objective is None or best is None:
        return None
    diff = objective - best if sense == "min" else best - objective
    return diff / max(abs(best), 1.0)


def gap_to_bound(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None:
        return None
    return abs(objective - bound) / max(abs(objective), 1.0)


def done_keys(path: Path) -> set[tuple[str, ...]]:
    if not path.is_file():
        return set()
    with path.open(newline="") as fh:
        return {tuple(str(row[k]) for k in KEY) for row in csv.DictReader(fh)}


def drop_rows(path: Path, args: argparse.Namespace) -> int:
    """--rerun: remove the rows this invocation would write (same sets, problems, senses,
    backends, time limit, workers, seed), so they are measured again with today's code."""
    files = {f"orlib/{s}.txt" for s in expand_sets(args.sets)}
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))

    def hit(r: dict[str, str]) -> bool:
        return (r["instance"] in files and r["backend"] in args.backends
                and (not args.problems or int(r["problem"]) in args.problems)
                and (not args.senses or r["sense"] in args.senses)
                and r["time_limit"] == _fmt(args.time_limit)
                and r["workers"] == str(args.workers) and r["seed"] == str(args.seed))

    kept = [r for r in rows if not hit(r)]
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(kept)
    tmp.replace(path)
    return len(rows) - len(kept)


def _fmt(x: float) -> str:
    return f"{x:g}"


def run(args: argparse.Namespace) -> list[dict[str, object]]:
    data = Path(args.data) if args.data else default_data_dir()
    if data is None or not (data / "gap" / "best_known.csv").is_file():
        sys.exit("shared/data/gap not found: pass --data or set PLACEMENT_DATA_DIR")
    gap_dir = data / "gap"
    best = read_best_known(gap_dir / "best_known.csv")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.rerun and out.is_file():
        drop_rows(out, args)
    if out.is_file() and out.stat().st_size:
        with out.open(newline="") as fh:
            if next(csv.reader(fh), []) != FIELDS:
                sys.exit(f"{out}: its columns differ from this script's: choose another --out")
    seen = done_keys(out)
    new_file = not out.is_file()
    rows: list[dict[str, object]] = []
    with out.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        if new_file:
            writer.writeheader()
        for set_name in expand_sets(args.sets):
            rel = f"orlib/{set_name}.txt"
            problems = read_gap(gap_dir / rel)
            for inst in problems:
                if args.problems and inst.problem not in args.problems:
                    continue
                senses = args.senses or [s for s in SENSES
                                         if (rel, inst.problem, s) in best]
                for sense in senses:
                    for backend in args.backends:
                        key = (rel, str(inst.problem), sense, backend,
                               _fmt(args.time_limit), str(args.workers), str(args.seed))
                        if key in seen:
                            continue
                        bk = best.get((rel, inst.problem, sense))
                        stamp = csv_fields(ROOT)
                        r = solve_gap(inst, sense, backend, args.time_limit, args.workers,
                                      args.seed)
                        bkv = None if bk is None else float(bk.value)
                        g_best = gap_to_best(r.objective, bkv, sense)
                        g_bound = gap_to_bound(r.objective, r.bound)
                        row: dict[str, object] = {
                            "instance": rel, "problem": inst.problem, "sense": sense,
                            "backend": backend, "status": r.status,
                            "objective": "" if r.objective is None else _fmt(r.objective),
                            "bound": "" if r.bound is None else _fmt(r.bound),
                            "best_known": "" if bkv is None else _fmt(bkv),
                            "gap_to_best": "" if g_best is None else f"{g_best:.6f}",
                            "gap_to_bound": "" if g_bound is None else f"{g_bound:.6f}",
                            "seconds": f"{r.seconds:.3f}",
                            "time_limit": _fmt(args.time_limit), "workers": args.workers,
                            "seed": args.seed, **stamp,
                        }
                        writer.writerow(row)
                        fh.flush()
                        rows.append(row)
                        print(f"{inst.name:8s} {sense} {backend:6s} {r.status:10s} "
                              f"obj {row['objective']:>8} bound {row['bound']:>8} "
                              f"best {row['best_known']:>6} gap "
                              f"{'' if g_best is None else f'{100 * g_best:.3f}%':>8} "
                              f"{r.seconds:6.2f}s load {stamp['load_1m']:.2f}", flush=True)
    return rows


def summarise(path: Path) -> dict[str, object]:
    """Per set x backend x sense x time limit: counts, times, gaps; and the targets."""
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    groups: dict[tuple[str, str, str, str], list[dict[str, str]]] = {}
    for r in rows:
        name = Path(r["instance"]).stem
        fam = "gap1-12" if name[3:].isdigit() else name
        groups.setdefault((fam, r["backend"], r["sense"], r["time_limit"]), []).append(r)
    table = []
    for (fam, backend, sense, tl), rs in sorted(groups.items()):
        gaps = [float(r["gap_to_best"]) for r in rs if r["gap_to_best"] != ""]
        secs = [float(r["seconds"]) for r in rs]
        table.append({
            "set": fam, "backend": backend, "sense": sense, "time_limit": float(tl),
            "runs": len(rs), "optimal": sum(r["status"] == "optimal" for r in rs),
            "no_solution": sum(r["objective"] == "" for r in rs),
            "at_best_known": sum(g <= 1e-12 for g in gaps),
            "within_0.1%": sum(g <= 0.001 for g in gaps),
            "mean_gap_to_best_pct": 100 * sum(gaps) / len(gaps) if gaps else None,
            "max_gap_to_best_pct": 100 * max(gaps) if gaps else None,
            "max_seconds": max(secs), "mean_seconds": sum(secs) / len(secs),
            "within_1s": sum(s <= 1.0 for s in secs),
            "commits": sorted({r["commit"] for r in rs}),
            "first_utc": min(r["utc"] for r in rs), "last_utc": max(r["utc"] for r in rs),
            "load_1m_range": [min(float(r["load_1m"]) for r in rs),
                              max(float(r["load_1m"]) for r in rs)],
        })
    return {"machine": {"cores": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version(),
                        "note": "shared machine: see each row's load average"},
            "table": table}


def print_table(summary: dict[str, object]) -> None:
    cols = ["set", "backend", "sense", "time_limit", "runs", "optimal", "within_0.1%",
            "mean_gap_to_best_pct", "max_gap_to_best_pct", "max_seconds", "within_1s"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in summary["table"]:  # type: ignore[attr-defined]
        cells = []
        for c in cols:
            v = row[c]
            cells.append("" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v))
        print("| " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", default=["gap1-12", "gapa-d"],
                    help="gap1 ... gap12, gapa ... gapd, or the aliases gap1-12, gapa-d")
    ap.add_argument("--backends", nargs="+", choices=BACKENDS, default=["cpsat", "plain"])
    ap.add_argument("--senses", nargs="+", choices=SENSES, default=None,
                    help="default: every sense best_known.csv lists for the problem")
    ap.add_argument("--problems", nargs="+", type=int, default=None,
                    help="only these 1-based problems of each file")
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=None, help="shared/data (default: as the tests)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gap.csv"))
    ap.add_argument("--summary-only", action="store_true", help="summarise the CSV, no runs")
    ap.add_argument("--rerun", action="store_true",
                    help="first drop the CSV rows this run would write, then measure them "
                         "again (after a change to a solver)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if not args.summary_only:
        run(args)
    if out.is_file():
        summary = summarise(out)
        out.with_name(out.stem + "_summary.json").write_text(json.dumps(summary, indent=2))
        print_table(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
