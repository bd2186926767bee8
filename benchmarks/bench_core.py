"""Core-engine benchmark: authority and region scale, time split and peak memory.

    python benchmarks/bench_core.py --sizes authority region --out benchmarks/results
    python benchmarks/bench_core.py --sizes authority-proof   # time to a proof, 240 s limit
    python benchmarks/bench_core.py --sizes authority-warm    # a re-solve, one placement added

Each size runs in its own process (so peak RSS is that run's alone): generate (or reuse)
the instance, load, candidates, build, solve, write, check. In the same run, a baseline
for the authority size: a plain CP-SAT model over every feasible pair, built through the
Python modelling layer pair by pair, no pruning, no hint; our figures are reported as
ratios to it.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from optimiser.research.provenance import provenance  # noqa: E402  (the repository first)

# size -> (recipe in instances/recipes.toml, time limit of its target)
SIZES = {
    "authority": ("authority-2000", 30.0),
    "region": ("region-20000", 120.0),
    # not a target: how long the engine takes to prove authority-2000 optimal
    "authority-proof": ("authority-2000", 240.0),
    # not a target: authority-2000 with a placement appended, re-solved from the optimum
    # before (and its certified cuts), as the sufficiency analysis does 20-40 times
    "authority-warm": ("authority-2000", 30.0),
}


def run_one(name: str, work: Path, seed: int, workers: int, time_limit: float | None,
            baseline: bool) -> dict:
    """Run in a child process; returns the figures as a dict."""
    from optimiser import load_instance, solve
    from optimiser.checker import check
    from optimiser.generate import generate_recipe, recipe_kwargs
    from optimiser.writer import make_report, write_output

    recipe, limit = SIZES[name]
    limit = time_limit or limit
    if name == "authority-warm":
        return run_warm(work, seed, workers, limit)
    kw = recipe_kwargs(recipe)
    n, m = kw["children"], kw["placements"]
    t = time.perf_counter()
    inst_dir = generate_recipe(recipe, out_root=work)
    t_gen = time.perf_counter() - t
    t = time.perf_counter()
    inst = load_instance(inst_dir)
    t_load = time.perf_counter() - t
    res = solve(inst, time_limit=limit, seed=seed, workers=workers)
    t = time.perf_counter()
    report = make_report(res)
    out = work / f"{name}-out"
    write_output(report, out)
    t_write = time.perf_counter() - t
    t = time.perf_counter()
    chk = check(inst_dir, out)
    t_check = time.perf_counter() - t
    row = {
        "size": name, "recipe": recipe, "children": n, "placements": m, "seed": seed,
        "workers": workers,
        "time_limit": limit, "status": res.status, "objective": res.objective,
        "bound": res.bound, "gap": res.gap, "placed": res.placed, "unplaced": res.unplaced,
        "generate_s": t_gen, "load_s": t_load,
        "candidates_s": res.timings.get("candidates", 0.0),
        "greedy_s": res.timings.get("greedy", 0.0),
        "build_s": res.timings.get("build", 0.0), "solve_s": res.timings.get("solve", 0.0),
        "lp_pricing_s": res.timings.get("lp", 0.0), "engine_total_s": res.runtime,
        "write_s": t_write, "check_s": t_check, "check_ok": chk.ok,
        "pairs_evaluated": res.stats.get("pairs_evaluated"),
        "pairs_feasible": res.stats.get("pairs_feasible"),
        "pairs_kept": res.stats.get("pairs_kept"),
        "pairs_in_model": res.stats.get("pairs_in_model"),
        "lp_rounds": res.stats.get("lp_rounds"),
        "proof_pairs": res.stats.get("proof_pairs"),  # the proof stage's model, if it ran
        # the cut proof (optimiser/cutpool.py), if it ran: certified cuts, pricing rounds,
        # its bound over all pairs and the pairs its fixing left for the last MIP
        "cut_proof_cuts": res.stats.get("cut_proof_cuts"),
        "cut_proof_rounds": res.stats.get("cut_proof_rounds"),
        "cut_proof_bound": res.stats.get("cut_proof_bound"),
        "cut_proof_pairs": res.stats.get("cut_proof_pairs"),
        # this process only: HiGHS's worker processes (optimiser/highs.py) are not in it
        # (RUSAGE_CHILDREN reports the parent's RSS at fork time, not theirs)
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if baseline:
        row.update(plain_baseline(inst, limit, seed, workers))
    return row


def run_warm(work: Path, seed: int, workers: int, limit: float) -> dict:
    """authority-2000 solved (60 s), then with a copy of its first placement appended:
    cold, warm from the optimum, and warm from the optimum and its certified cuts, each
    in `limit` seconds (the time to a proof is the figure)."""
    import shutil

    import pandas as pd

    from optimiser import load_instance, solve
    from optimiser.generate import generate_recipe
    from optimiser.solver import SolveOptions

    inst_dir = generate_recipe("authority-2000", out_root=work)
    base = solve(load_instance(inst_dir), SolveOptions(time_limit=60.0, seed=seed,
                                                       workers=workers))
    plus = work / "authority-2000-plus-one"
    shutil.rmtree(plus, ignore_errors=True)
    shutil.copytree(inst_dir, plus)
    pl = pd.read_csv(plus / "placements.csv", dtype=str, keep_default_na=False)
    row = pl.iloc[[0]].copy()
    row["placement_id"] = "ADDED1"
    pd.concat([pl, row], ignore_index=True).to_csv(plus / "placements.csv", index=False)
    inst = load_instance(plus)
    out: dict = {"size": "authority-warm", "time_limit": limit, "seed": seed,
                 "workers": workers, "base_status": str(base.status),
                 "base_objective": base.objective, "base_s": base.runtime}
    for how, extra in (("cold", {}), ("warm", {"start": base.assignment}),
                       ("warm_cuts", {"start": base.assignment, "start_cuts": base.cuts})):
        res = solve(inst, SolveOptions(time_limit=limit, seed=seed, workers=workers,
                                       **extra))
        out.update({f"{how}_status": str(res.status), f"{how}_objective": res.objective,
                    f"{how}_bound": res.bound, f"{how}_s": res.runtime,
                    f"{how}_lp_pricing_s": res.timings.get("lp", 0.0),
                    f"{how}_solve_s": res.timings.get("solve", 0.0)})
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def plain_baseline(inst, limit: float, seed: int, workers: int) -> dict:  # type: ignore[no-untyped-def]
    """What an analyst would write first: every feasible pair a variable, built in loops."""
    import numpy as np
    from ortools.sat.python import cp_model

    from optimiser.candidates import build_candidates
    from optimiser.scaling import MONEY_SCALE

    t0 = time.perf_counter()
    cands, _ = build_candidates(inst, limit=None)
    units = inst.units
    w = inst.policy.weights
    model = cp_model.CpModel()
    xs = [model.new_bool_var(f"x{k}") for k in range(len(cands))]
    by_unit: dict[int, list] = {}
    by_place: dict[int, list] = {}
    for k in range(len(cands)):
        by_unit.setdefault(int(cands.unit[k]), []).append(xs[k])
        by_place.setdefault(int(cands.placement[k]), []).append((int(cands.use[k]), xs[k]))
    for lits in by_unit.values():
        model.add_at_most_one(lits)
    cap = inst.capacity
    for p, terms in by_place.items():
        model.add(sum(a * x for a, x in terms) <= int(cap[p]))
    coef = np.rint((cands.objective - w.unplaced * units.unplaced_cost[cands.unit])
                   * MONEY_SCALE).astype(np.int64)
    model.minimize(sum(int(c) * x for c, x in zip(coef, xs, strict=True)))
    t_build = time.perf_counter() - t0
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = limit
    solver.parameters.random_seed = seed
    if workers:
        solver.parameters.num_workers = workers
    t = time.perf_counter()
    st = solver.solve(model)
    t_solve = time.perf_counter() - t
    offset = float(w.unplaced * units.unplaced_cost.sum())
    has = st in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    return {
        "baseline_build_s": t_build, "baseline_solve_s": t_solve,
        "baseline_total_s": time.perf_counter() - t0,
        "baseline_status": solver.status_name(st),
        "baseline_objective": solver.objective_value / MONEY_SCALE + offset if has else None,
        "baseline_bound": solver.best_objective_bound / MONEY_SCALE + offset if has else None,
        "baseline_vars": len(xs),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["authority", "region"], choices=list(SIZES))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=None)
    ap.add_argument("--work", default=str(ROOT / "benchmarks" / "work"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.one:
        row = run_one(args.one, work, args.seed, args.workers, args.time_limit,
                      baseline=args.one == "authority" and not args.no_baseline)
        if "baseline_status" in row:
            row["baseline_peak_rss_mib"] = resource.getrusage(
                resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(row))
        return 0
    rows = []
    for size in args.sizes:
        cmd = [sys.executable, __file__, "--one", size, "--seed", str(args.seed),
               "--workers", str(args.workers), "--work", str(work)]
        if args.time_limit:
            cmd += ["--time-limit", str(args.time_limit)]
        if args.no_baseline:
            cmd.append("--no-baseline")
        print(f"running {size} ...", file=sys.stderr, flush=True)
        stamp = provenance(ROOT)  # the box is shared: the load at the start, and the code
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        row = {**stamp, **json.loads(proc.stdout.strip().splitlines()[-1])}
        row["load_1min_after"] = round(os.getloadavg()[0], 2)
        row["command"] = "python benchmarks/bench_core.py " + " ".join(sys.argv[1:])
        rows.append(row)
        print(json.dumps(row, indent=1), file=sys.stderr)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"machine": platform.platform(), "python": platform.python_version(),
            "rows": "each row: its commit, UTC start, cores and load average (provenance)"}
    path = out / "core.json"
    if path.exists():  # keep the rows of the sizes this run did not measure (with a commit)
        ran = {r["size"] for r in rows}
        rows = [r for r in json.loads(path.read_text())["rows"]
                if r["size"] not in ran and r.get("commit")] + rows
    path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    print(json.dumps({"meta": meta, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
