"""Behaviour check: every case's status and objective, to compare two versions of the engine.

    python benchmarks/behaviour.py --out benchmarks/results/behaviour-<commit>.jsonl
    python benchmarks/behaviour.py --compare benchmarks/results/behaviour-<commit>.jsonl

Solves the shipped instances (and re-allocates demo-placed) and generated ones drawn with
fixed seeds, each with a limit generous enough to end proven optimal and one worker (so
HiGHS runs no race and CP-SAT searches deterministically). Writes one JSON line per case:
case, status, objective and bound (to the penny), the model objective in pence that the
solvers optimise (`flow.plan_pence`: each pair's coefficient rounded to the penny), and
the seconds it took (for reading, never compared).

`--compare FILE` exits 1 listing every case whose status or pence objective differs from
FILE's, with one exception, listed but not failed: both runs proven optimal, their pence
objectives within the engine's own proof tolerance (a bound within 1e-6 of the plan, the
relative tolerance `search.outcome` proves with). Which of such plans a run ends with can
depend on timing: HiGHS's root cuts run beside the dive, and the dive stops when their
bound is ready, so two runs of the same code on a large authority can end on two plans
a few pounds apart, both proven. A pounds objective that differs with the same pence is
listed too (the same optimum, another plan: the pairs' roundings differ).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TIME_LIMIT = 300.0
WORKERS = 1
DATE = dt.date(2026, 1, 5)  # re-allocation runs on a fixed day, not today
PROOF_TOLERANCE = 1e-6  # relative: a bound this close to the plan proves it optimal


@dataclass(frozen=True)
class Generated:
    """A generated instance: `generate()`'s arguments and what is changed after it."""

    children: int
    placements: int
    seed: int
    placed_share: float = 0.0
    singles: bool = False  # no sibling group and no solo child: the min-cost-flow route
    reallocation: bool = False  # pins and hold columns added, solved by `reallocate`
    max_moves: int | None = None


GENERATED = {
    "gen-200-s11": Generated(200, 170, 11),
    "gen-600-singles-s12": Generated(600, 500, 12, singles=True),
    "gen-800-placed-s13": Generated(800, 650, 13, placed_share=0.6, reallocation=True,
                                    max_moves=40),
    "gen-1000-placed-s14": Generated(1000, 850, 14, placed_share=0.3),
    "gen-1500-s16": Generated(1500, 1300, 16),
}
SHIPPED = ("tiny", "small", "demo", "demo-placed", "authority-2000")


def _write_generated(spec: Generated, folder: Path) -> Path:
    import numpy as np

    from optimiser.generate import generate, write_instance
    from optimiser.variants import add_reallocation_columns

    tables = generate(None, children=spec.children, placements=spec.placements,
                      seed=spec.seed, placed_share=spec.placed_share, data_dir=None)
    if spec.singles:
        ch = tables["children"]
        tables["children"] = ch.assign(sibling_group=None, solo=np.zeros(len(ch), dtype=bool))
    write_instance(folder, tables)
    if spec.reallocation:
        add_reallocation_columns(folder, spec.seed, DATE)
    return folder


def _solve(folder: Path) -> Any:
    from optimiser.reader import load_instance
    from optimiser.solver import SolveOptions, solve

    inst = load_instance(folder)
    return solve(inst, SolveOptions(time_limit=TIME_LIMIT, workers=WORKERS, seed=0))


def _reallocate(folder: Path, max_moves: int | None = None) -> Any:
    from optimiser.reader import load_instance
    from optimiser.reallocate import ReallocOptions, reallocate

    inst = load_instance(folder)
    opts = ReallocOptions(time_limit=TIME_LIMIT, workers=WORKERS, seed=0, date=DATE,
                          max_moves=max_moves)
    return reallocate(inst, opts)


def cases(work: Path) -> list[tuple[str, Callable[[], Any]]]:
    """(name, thunk returning a solver Result), in the order they are run."""
    out: list[tuple[str, Callable[[], Any]]] = []
    for name in SHIPPED:
        folder = ROOT / "instances" / name
        out.append((name, lambda f=folder: _solve(f)))
    out.append(("demo-placed:reallocate",
                lambda: _reallocate(ROOT / "instances" / "demo-placed")))
    for name, spec in GENERATED.items():
        def run(name: str = name, spec: Generated = spec) -> Any:
            folder = work / name
            if not (folder / "children.csv").is_file():
                _write_generated(spec, folder)
            if spec.reallocation:
                return _reallocate(folder, spec.max_moves)
            return _solve(folder)
        out.append((name, run))
    return out


def row(name: str, result: Any, seconds: float) -> dict[str, Any]:
    """The compared figures of one case (money to the penny)."""
    from optimiser.flow import plan_pence

    pence = plan_pence(result.instance, result.candidates, result.assignment)
    return {"case": name, "status": str(getattr(result.status, "value", result.status)),
            "objective": round(float(result.objective), 2),
            "pence": int(pence),
            "bound": round(float(result.bound), 2),
            "backend": str(result.stats.get("backend", "")),
            "seconds": round(seconds, 1)}


def differences(new: list[dict[str, Any]], old: list[dict[str, Any]]
                ) -> tuple[list[str], list[str]]:
    """(one line per case whose status or pence objective differs, or that is missing on
    a side; one line per case whose pounds alone differ)."""
    before = {r["case"]: r for r in old}
    after = {r["case"]: r for r in new}
    differ, notes = [], []
    for case in sorted(set(before) | set(after)):
        a, b = before.get(case), after.get(case)
        if a is None or b is None:
            differ.append(f"{case}: only in {'the new run' if a is None else 'the baseline'}")
            continue
        was = f"was {a['status']} £{a['objective']:,.2f} ({a['pence']}p)"
        now = f"now {b['status']} £{b['objective']:,.2f} ({b['pence']}p)"
        tol = PROOF_TOLERANCE * max(1.0, abs(a["pence"]))
        if (a["status"] == b["status"] == "optimal" and a["pence"] != b["pence"]
                and abs(a["pence"] - b["pence"]) <= tol):
            notes.append(f"{case}: both proven, within the proof's tolerance: {was}, {now}")
        elif (a["status"], a["pence"]) != (b["status"], b["pence"]):
            differ.append(f"{case}: {was}, {now}")
        elif a["objective"] != b["objective"]:
            notes.append(f"{case}: same pence optimum, another plan: {was}, {now}")
    return differ, notes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="write the JSON lines here")
    ap.add_argument("--compare", type=Path, help="baseline JSON lines to compare with")
    ap.add_argument("--only", nargs="*", help="run only these cases")
    ap.add_argument("--instances", type=Path,
                    help="keep the generated instances here and reuse them (so two versions "
                         "solve the same files even if the generator changes)")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="behaviour-") as tmp:
        for name, thunk in cases(args.instances or Path(tmp)):
            if args.only and name not in args.only:
                continue
            t0 = time.perf_counter()
            result = thunk()
            r = row(name, result, time.perf_counter() - t0)
            rows.append(r)
            print(json.dumps(r), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    if args.compare:
        old = [json.loads(line) for line in args.compare.read_text().splitlines() if line]
        if args.only:
            old = [r for r in old if r["case"] in args.only]
        diff, notes = differences(rows, old)
        for line in notes:
            print(f"NOTE {line}", file=sys.stderr)
        for line in diff:
            print(f"DIFFERS {line}", file=sys.stderr)
        print(f"{len(rows) - len(diff)} of {len(rows)} cases as in {args.compare}"
              if not diff else f"{len(diff)} case(s) differ from {args.compare}",
              file=sys.stderr)
        return 1 if diff else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
