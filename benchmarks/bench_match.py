"""Matcher benchmark: one referral against a national register, and the cohort view.

    python benchmarks/bench_match.py --out benchmarks/results

1. National register: 50,000 placements (``optimiser.generate.generate``, England), loaded
   once; then 1,000 referrals (random children; a child in a sibling group brings its
   group) ranked with ``Matcher.rank(child, top=10)``: median, p95, p99 and max in ms.
   A further 100 referrals are timed for the complete answer (no ``top``, every ruled-out
   placement with its reason, as JSON text), the form the CLI's ``--json`` prints.
2. Cohort view on a 2,000-child authority (1,500 placements, the ``authority-2000``
   arguments): the one-off whole-list model, then ``rank(..., cohort=True)`` for 20
   referrals in the same process, and the command line end to end (process start to
   output, including imports and loading) for 5 referrals.

Figures go to ``<out>/match.json``. Timings are wall clock on a shared machine: each part
records its commit, UTC start, cores and load average (and the load at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from optimiser.research.provenance import provenance  # noqa: E402  (the repository first)


def _ms(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs) * 1000.0
    return {"n": len(a), "median_ms": round(float(np.median(a)), 2),
            "p95_ms": round(float(np.percentile(a, 95)), 2),
            "p99_ms": round(float(np.percentile(a, 99)), 2),
            "max_ms": round(float(a.max()), 2), "mean_ms": round(float(a.mean()), 2)}


def _instance(work: Path, name: str, **kw: object) -> Path:
    from optimiser.generate import generate

    folder = work / name
    if not (folder / "children.csv").exists():
        generate(folder, **kw)  # type: ignore[arg-type]
    return folder


def national(work: Path, referrals: int, seed: int) -> dict:
    """Rank `referrals` random referrals against 50,000 placements, after one load."""
    from optimiser import load_instance
    from optimiser.match import Matcher

    folder = _instance(work, f"national-50000-s{seed}", children=3000, placements=50000,
                       seed=seed, authority="England")
    t = time.perf_counter()
    inst = load_instance(folder)
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    matcher = Matcher(inst)
    t_init = time.perf_counter() - t
    rng = np.random.default_rng(seed)
    ids = inst.child_ids[rng.integers(0, inst.n_children, referrals + 100)].tolist()
    for cid in ids[:20]:  # warm-up: first-call allocations, caches
        matcher.rank(cid, top=10)
    times, ranked, sizes = [], [], []
    for cid in ids[:referrals]:
        t = time.perf_counter()
        res = matcher.rank(cid, top=10)
        times.append(time.perf_counter() - t)
        ranked.append(res.ranked_total)
        sizes.append(len(res.referral.members))
    full = []
    for cid in ids[referrals:]:
        t = time.perf_counter()
        text = json.dumps(matcher.rank(cid).to_dict())
        full.append(time.perf_counter() - t)
        assert text
    return {
        "instance": str(folder.relative_to(ROOT)) if folder.is_relative_to(ROOT) else str(folder),
        "children": inst.n_children, "placements": inst.n_placements,
        "load_s": round(t_load, 3), "matcher_init_s": round(t_init, 4),
        "rank_top10": _ms(times),
        "complete_json": _ms(full),
        "referrals_with_siblings": int(sum(s > 1 for s in sizes)),
        "median_placements_ranked": float(np.median(ranked)),
    }


def cohort(work: Path, referrals: int, cli_runs: int) -> dict:
    """The cohort view on a 2,000-child authority: in process, and the CLI end to end."""
    from optimiser import load_instance
    from optimiser.match import Matcher

    folder = _instance(work, "authority-2000-s11", children=2000, placements=1500, seed=11)
    inst = load_instance(folder)
    matcher = Matcher(inst)
    t = time.perf_counter()
    model = matcher.cohort_model()
    t_base = time.perf_counter() - t
    rng = np.random.default_rng(7)
    singles = [c for c in inst.child_ids.tolist()
               if not inst.sibling_group[inst.child_index[c]]]
    groups = sorted(matcher.group_members)
    picks = [("child", c) for c in rng.choice(singles, referrals - referrals // 4,
                                              replace=False).tolist()]
    picks += [("group", g) for g in rng.choice(groups, referrals // 4, replace=False).tolist()]
    per: dict[str, list[float]] = {"child": [], "group": []}
    flagged = 0
    exact_top = 0
    for kind, ref in picks:
        t = time.perf_counter()
        res = (matcher.rank(ref, top=10, cohort=True) if kind == "child"
               else matcher.rank(group=ref, top=10, cohort=True))
        per[kind].append(time.perf_counter() - t)
        flagged += any(r.cohort is not None and r.cohort.leaves_unplaced for r in res.ranked)
        exact_top += bool(res.ranked and res.ranked[0].cohort and res.ranked[0].cohort.exact)
    cli = []
    for kind, ref in picks[:cli_runs - 1] + picks[-1:]:
        cmd = [sys.executable, "-m", "optimiser.cli", "match", str(folder),
               f"--{kind}", ref, "--top", "10", "--cohort"]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        cli.append({"referral": f"{kind} {ref}", "seconds": round(time.perf_counter() - t, 3),
                    "exit": proc.returncode})
    return {
        "instance": str(folder.relative_to(ROOT)) if folder.is_relative_to(ROOT) else str(folder),
        "children": inst.n_children, "placements": inst.n_placements,
        "base_model_s": round(t_base, 3),
        "base_objective": round(model.base_objective, 2),
        "lower_bound": round(model.lower_bound, 2),
        "rank_cohort_child": _ms(per["child"]),
        "rank_cohort_group": _ms(per["group"]),
        "referrals_with_a_child_left_unplaced_in_top10": flagged,
        "referrals_whose_first_entry_is_exact": exact_top,
        "cli_end_to_end": cli,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--referrals", type=int, default=1000)
    ap.add_argument("--cohort-referrals", type=int, default=20)
    ap.add_argument("--cli-runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--work", default=str(ROOT / "benchmarks" / "work"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    stamp = provenance(ROOT)
    rows = {"national": {**stamp, **national(work, args.referrals, args.seed)}}
    print(json.dumps(rows["national"], indent=1), file=sys.stderr, flush=True)
    stamp = provenance(ROOT)
    rows["cohort"] = {**stamp, **cohort(work, args.cohort_referrals, args.cli_runs)}
    print(json.dumps(rows["cohort"], indent=1), file=sys.stderr, flush=True)
    meta = {"machine": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_start": [round(x, 2) for x in load0],
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
            "wall_s": round(time.perf_counter() - t0, 1),
            "command": "python benchmarks/bench_match.py " + " ".join(sys.argv[1:])}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    doc = {"meta": meta, **rows}
    (out / "match.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
