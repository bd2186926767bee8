"""The `placement` command: a thin layer over the Python API.

Exit codes: 0 success, 1 a check failed, 2 bad input (nothing written), 4 `match`
stopped by its time limit (a partial answer, marked incomplete, printed:
`optimiser/match_stopped.py`).
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from .deadline import Deadline
    from .instance import Instance
    from .solver import Result
    from .timelimit import LastResort

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _load(path: str, quiet: bool = False, policy: str | None = None,
          ofsted: str | None = None, own_process: bool = False) -> Instance:
    """The instance, read: a program run's start-up is then over, and Python's cyclic
    garbage collector, which `main` paused for it, runs again."""
    from .reader import load_instance

    inst = load_instance(path, policy_file=policy, ofsted=ofsted)
    if own_process:
        gc.enable()
    if not quiet:
        for w in inst.warnings:
            print(f"warning: {w}", file=sys.stderr)
    return inst


# the share of the time limit kept for explaining why children are unplaced, when the
# solve runs to its limit (a solve that ends early leaves them the rest)
EXPLAIN_SHARE = 0.05
NO_TIME_LEFT = "the start-up and the reading took the time limit: the status quo"


def cmd_solve(args: argparse.Namespace) -> int:
    from .timelimit import LastResort
    from .writer import make_report, write_output, write_seconds

    if args.pool:
        from .pooling.cli import solve_pool

        if getattr(args, "own_process", False):
            gc.enable()  # paused by `main`: the pool reads its instance its own way
        return solve_pool(args)
    deadline = _deadline(args)

    def write_late(result: Result) -> None:
        report = make_report(result, deadline=0.0)
        write_output(report, args.out)
        print(format_summary(report.summary, report.assignments))

    armed = getattr(args, "own_process", False)  # the process is the command's to end
    with LastResort(deadline, write_late, args.seed, armed=armed) as guard:
        t0 = time.perf_counter()
        inst = _load(args.instance, args.quiet, args.policy, args.ofsted,
                     getattr(args, "own_process", False))
        t_load = time.perf_counter() - t0
        writing = write_seconds(inst)
        if not args.quiet:
            print(f"loaded {inst.n_children:,} children, {inst.n_placements:,} placements "
                  f"from {args.instance} ({t_load:.1f}s)", file=sys.stderr, flush=True)
        result = guard.too_late(inst, writing)
        if result is None:
            result = guard.final(_solve(args, inst, deadline, writing, guard))
        elif not args.quiet:
            print(NO_TIME_LEFT, file=sys.stderr)
        t = time.perf_counter()
        report = make_report(result, deadline=deadline.at() - writing)
        report.summary["timings_seconds"]["load"] = round(t_load, 3)
        guard.claim()
        write_output(report, args.out)
    t_write = time.perf_counter() - t
    print(format_summary(report.summary, report.assignments))
    tm = report.summary["timings_seconds"]
    print(f"\ntime: load {t_load:.2f}s, candidates {tm.get('candidates', 0):.2f}s, "
          f"LP and pricing {tm.get('lp', 0):.2f}s, hints {tm.get('greedy', 0):.2f}s, "
          f"build {tm.get('build', 0):.2f}s, solve {tm.get('solve', 0):.2f}s, "
          f"report+write {t_write:.2f}s")
    print(f"written to {args.out}/ (assignments.csv, summary.json)")
    return EXIT_OK


def _solve(args: argparse.Namespace, inst: Instance, deadline: Deadline, writing: float,
           guard: LastResort) -> Result:
    """`placement solve`'s engine run, in the time its limit leaves (the solver's import
    included: it is made only when there is time to use it)."""
    from .solver import SolveOptions, solve, stderr_progress

    params: dict[str, object] = {}
    for item in args.param or []:
        key, _, value = item.partition("=")
        params[key] = _coerce(value)
    opts = SolveOptions(
        time_limit=max(args.time_limit * (1 - EXPLAIN_SHARE) - writing, 0.0),
        started=deadline.started, seed=args.seed, workers=args.workers,
        candidate_limit=None if args.candidates == 0 else args.candidates,
        params=params, backend=args.backend, fast_path=not args.no_fast_path)
    return solve(inst, opts, progress=None if args.quiet else stderr_progress,
                 best=guard.best)


def _deadline(args: argparse.Namespace) -> Deadline:
    """The command's time limit, from when `main` started (now, for a parsed command
    called directly)."""
    from .deadline import Deadline

    started = getattr(args, "started", None)
    return Deadline(args.time_limit, time.perf_counter() if started is None else started)


def _coerce(value: str) -> object:
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def format_summary(s: dict, assignments: pd.DataFrame) -> str:
    gap = s.get("gap")
    rows = [
        ("status", s["status"]),
        ("children placed", f"{s['placed']:,} of {s['children']:,}"),
        ("unplaced", f"{s['unplaced']:,}"),
        ("weekly cost", f"£{s['total_weekly_cost']:,.2f}"),
        ("mean distance", f"{s['mean_distance_km']:.1f} km"),
        ("placed > 20 miles", f"{100 * s['share_over_20_miles']:.1f}%"),
        ("family-based", f"{100 * s['family_based_share']:.1f}%"),
        ("objective", f"£{s['objective']:,.2f}/week"),
        ("best bound", "n/a" if s["best_bound"] is None else f"£{s['best_bound']:,.2f}/week"),
        ("gap", "n/a" if gap is None else f"{100 * gap:.4f}%"),
        ("time", f"{s['solve_seconds']:.1f}s"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    unplaced = assignments[assignments["placement_id"] == ""]
    if len(unplaced):
        lines.append("\nunplaced, and why:")
        for reason, grp in unplaced.groupby("reason", sort=False):
            ids = ", ".join(grp["child_id"].head(6))
            more = f" (+{len(grp) - 6} more)" if len(grp) > 6 else ""
            lines.append(f"  {ids}{more}: {reason}")
    return "\n".join(lines)


def cmd_check(args: argparse.Namespace) -> int:
    from .checker import check, format_report

    try:
        report = check(args.instance, args.solution, policy_file=args.policy,
                       ofsted=args.ofsted)
    except (ValueError, OSError) as e:  # an input the checker cannot read: no traceback
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(format_report(report))
    return EXIT_OK if report.ok else EXIT_CHECK_FAILED


def cmd_generate(args: argparse.Namespace) -> int:
    from . import generate as gen

    if args.recipe:
        path = gen.generate_recipe(args.recipe)
        print(f"generated recipe {args.recipe} into {path}")
        return EXIT_OK
    if args.children is None or args.placements is None:
        print("error: give --children and --placements, or --recipe", file=sys.stderr)
        return EXIT_BAD_INPUT
    gen.generate(args.out, children=args.children, placements=args.placements, seed=args.seed,
                 authority=args.authority, placed_share=args.placed_share,
                 data_dir=args.data_dir)
    print(f"generated {args.children:,} children and {args.placements:,} placements "
          f"into {args.out}/")
    return EXIT_OK


MATCH_RESERVE = 0.3  # seconds kept back for ranking the referral itself and printing


def cmd_match(args: argparse.Namespace) -> int:
    """Rank placements for one referral (a child or a sibling group); exit 2 if unknown.
    With a time limit, a watchdog prints what there is, marked incomplete, and exits 4
    if the answer is not printed by the limit and its grace (the match module is imported
    under its guard: on a busy machine its import alone takes a while)."""
    import json

    from .match_stopped import MatchGuard

    if args.top is not None and args.top < 1:
        print("error: --top must be at least 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.time_limit is not None and args.time_limit <= 0:
        print("error: --time-limit must be positive", file=sys.stderr)
        return EXIT_BAD_INPUT
    deadline = _deadline(args)
    armed = getattr(args, "own_process", False)  # the process is the command's to end
    with MatchGuard(deadline, args.json, armed=armed) as guard:
        from .match import Matcher, UnknownReferral

        inst = _load(args.instance, quiet=True, ofsted=args.ofsted,
                     own_process=getattr(args, "own_process", False))
        guard.placements = inst.n_placements
        matcher = Matcher(inst)
        # the ranking without the cohort and the printing keep back a moment of their own
        left = None if args.time_limit is None else max(
            deadline.remaining() - MATCH_RESERVE - 20e-6 * inst.n_placements, 0.0)
        try:
            guard.referral = matcher.referral(args.child, args.group)
            res = matcher.rank(args.child, group=args.group, top=args.top,
                               cohort=args.cohort, no_approval=args.no_approval,
                               time_limit=left)
        except UnknownReferral as e:
            guard.claim()
            print(f"error: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        guard.result = res
        answer = json.dumps(res.to_dict(), indent=1) if args.json else res.text()
        guard.claim()
        print(answer)
    return EXIT_OK


def cmd_reallocate(args: argparse.Namespace) -> int:
    """Overnight re-allocation: fill void beds with few, justified moves."""
    import datetime as dt

    from .reallocate import (
        ReallocOptions,
        format_plan,
        make_plan,
        reallocate,
        tonight,
        write_plan,
    )
    from .timelimit import LastResort
    from .writer import write_output, write_seconds

    try:
        day = dt.date.fromisoformat(args.date) if args.date else None
    except ValueError:
        print(f"error: --date {args.date!r} is not a date (YYYY-MM-DD)", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.max_moves is not None and args.max_moves < 0:
        print("error: --max-moves must be 0 or more", file=sys.stderr)
        return EXIT_BAD_INPUT
    deadline = _deadline(args)

    def write_late(result: Result) -> None:
        report, tables = write_plan(result, args.out, deadline=0.0)
        print(format_summary(report.summary, report.assignments))
        print(format_plan(report.summary, tables["moves.csv"], tables["voids.csv"]))

    armed = getattr(args, "own_process", False)  # the process is the command's to end
    with LastResort(deadline, write_late, args.seed, armed=armed) as guard:
        inst = _load(args.instance, args.quiet, args.policy, args.ofsted,
                     getattr(args, "own_process", False))
        writing = 2 * write_seconds(inst)  # the moves, voids and chains besides the report
        opts = ReallocOptions(
            max_moves=args.max_moves, min_saving=args.min_saving, date=day,
            previous=args.previous, previous_weight=args.previous_weight,
            time_limit=max(args.time_limit * (1 - EXPLAIN_SHARE) - writing, 0.0),
            started=deadline.started, seed=args.seed, workers=args.workers,
            backend=args.backend)
        try:
            run = tonight(inst, opts)
        except (FileNotFoundError, ValueError) as e:
            guard.claim()
            print(f"error: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        result = guard.too_late(run, writing)
        if result is None:
            from .solver import stderr_progress  # the solver's import: only to use it

            result = guard.final(reallocate(inst, opts,
                                            progress=None if args.quiet else stderr_progress,
                                            best=guard.best, run=run))
        elif not args.quiet:
            print(NO_TIME_LEFT, file=sys.stderr)
        report, tables = make_plan(result, deadline=deadline.at() - writing)
        guard.claim()
        write_output(report, args.out, extra=tables)
    print(format_summary(report.summary, report.assignments))
    print(format_plan(report.summary, tables["moves.csv"], tables["voids.csv"]))
    print(f"\nwritten to {args.out}/ (assignments.csv, summary.json, moves.csv, voids.csv, "
          "chains.csv)")
    return EXIT_OK


CAPACITY_WRITE_SECONDS = 3.0  # plan.json, report.md and the figure (matplotlib's import)


def cmd_plan_capacity(args: argparse.Namespace) -> int:
    """Commissioning: beds to block-book per contract under uncertain demand."""
    from .commission import OverrideError
    from .commission.dist import SchedulerUnreachable
    from .commission.report import figure_png, run_plan_capacity, write_outputs
    from .commission.report import format_summary as capacity_summary
    from .commission.stopped import CapacityGuard

    if args.scenarios < 1:
        print("error: --scenarios must be at least 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.workers is not None and args.workers < 0:
        print("error: --workers must be 0 (in-process) or more", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.time_limit_per_scenario <= 0:
        print("error: --time-limit-per-scenario must be positive", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.time_limit is not None and args.time_limit <= 0:
        print("error: --time-limit must be positive", file=sys.stderr)
        return EXIT_BAD_INPUT
    deadline = _deadline(args)
    armed = getattr(args, "own_process", False)  # the process is the command's to end
    with CapacityGuard(deadline, args.out, args.instance, args.scenarios, armed) as guard:
        guard.command = _capacity_command(args)
        try:
            run = run_plan_capacity(args.instance, args.scenarios, seed=args.seed,
                                    time_limit_per_scenario=args.time_limit_per_scenario,
                                    sets=args.set or [], scheduler=args.scheduler,
                                    workers=args.workers, progress=not args.quiet,
                                    deadline=None if args.time_limit is None
                                    else deadline.at() - CAPACITY_WRITE_SECONDS,
                                    loaded=guard.loaded)
        except OverrideError as e:  # a --set naming nothing known, or a bad value
            guard.claim()
            print(f"error: --set {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except SchedulerUnreachable as e:
            guard.claim()
            print(f"error: --scheduler: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        run.command = guard.command
        guard.planned(run)
        figure = figure_png(run)  # the slow part, before the writing is claimed
        guard.claim()
        write_outputs(run, args.out, figure=figure)
    print(capacity_summary(run))
    print(f"\nwritten to {args.out}/ (plan.json, report.md, cost_curve.png)")
    return EXIT_OK


def _capacity_command(args: argparse.Namespace) -> str:
    """The command line of a plan-capacity run, as its report quotes it."""
    return " ".join(
        ["placement plan-capacity", args.instance, f"--scenarios {args.scenarios}",
         f"--out {args.out}", f"--seed {args.seed}",
         f"--time-limit-per-scenario {args.time_limit_per_scenario:g}"]
        + ([f"--time-limit {args.time_limit:g}"] if args.time_limit is not None else [])
        + ([f"--scheduler {args.scheduler}"] if args.scheduler else [])
        + ([f"--workers {args.workers}"] if args.workers is not None else [])
        + [f"--set {x}" for x in args.set or []])


# the commands defined here; the others' parsers import their modules (seconds on a busy
# machine, which a time limit counts), so a run of one of these builds only these
CORE_COMMANDS = ("solve", "check", "generate", "match", "reallocate", "plan-capacity")


def build_parser(full: bool = True) -> argparse.ArgumentParser:
    """`placement`'s parser: every command, or (not `full`) only `CORE_COMMANDS`."""
    ap = argparse.ArgumentParser(
        prog="placement",
        description="Allocate children in care to placements: optimal, checked, explained.")
    ap.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = ap.add_subparsers(dest="command", required=True)

    s = sub.add_parser("solve", help="allocate an instance and write the output folder")
    s.add_argument("instance", help="instance folder or .xlsx workbook")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--time-limit", type=float, default=60.0, help="seconds (default 60)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--workers", type=int, default=0, help="CP-SAT workers (0: all cores)")
    s.add_argument("--candidates", type=int, default=40,
                   help="cheapest placements kept per unit before pricing (0: keep all)")
    s.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="a CP-SAT parameter, e.g. --param log_search_progress=true")
    s.add_argument("--backend", choices=("auto", "cpsat", "highs", "cbc"), default="auto",
                   help="MIP solver of the restricted model (default auto: HiGHS up to 3,000 "
                        "units, CP-SAT above; highs and cbc take the same rows and reach "
                        "the same optimum)")
    s.add_argument("--no-fast-path", action="store_true",
                   help="never solve a transportation instance (no sibling group, no solo "
                        "child) as a min-cost flow")
    s.add_argument("--policy", default=None,
                   help="a policy.toml laid over the instance's own (e.g. models/policies/...)")
    s.add_argument("--pool", action="store_true",
                   help="a regional co-operative (children.authority given): each authority "
                        "alone and the pooled optimum, the gain shared by the Shapley value "
                        "(as `placement pool`); --time-limit is then each coalition's")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    s.set_defaults(func=cmd_solve)

    c = sub.add_parser("check", help="verify a solution against the spec, independently")
    c.add_argument("instance")
    c.add_argument("solution", help="output folder of a solve")
    c.add_argument("--policy", default=None, help="the same --policy the solve was given")
    c.set_defaults(func=cmd_check)

    g = sub.add_parser("generate", help="write a calibrated synthetic instance")
    g.add_argument("out", nargs="?", default="instances/generated")
    g.add_argument("--children", type=int)
    g.add_argument("--placements", type=int)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--authority", default=None)
    g.add_argument("--placed-share", type=float, default=0.0)
    g.add_argument("--data-dir", default=None, help="path to shared/data (optional)")
    g.add_argument("--recipe", default=None, help="a recipe name from instances/recipes.toml")
    g.set_defaults(func=cmd_generate)

    mt = sub.add_parser("match", help="rank the placements for one referral, with reasons")
    mt.add_argument("instance")
    who = mt.add_mutually_exclusive_group(required=True)
    who.add_argument("--child", help="child_id of the referral")
    who.add_argument("--group", help="sibling_group of the referral (placed together)")
    mt.add_argument("--top", type=int, default=None, help="show the K best (default: all)")
    mt.add_argument("--json", action="store_true", help="machine-readable output")
    mt.add_argument("--cohort", action="store_true",
                    help="rank by the whole waiting list's optimum (what the bed costs others)")
    mt.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                    help="end within this many seconds of starting (with --cohort, the "
                         "cohort's prices are then those found in time; an answer not "
                         "printed by the limit plus max(2 s, 5%%) is printed as it stands, "
                         "marked incomplete, exit 4; default: no limit)")
    mt.add_argument("--no-approval", action="store_true",
                    help="only placements that need no reg. 11 approval (in area, or no "
                         "authority given)")
    mt.set_defaults(func=cmd_match)

    ra = sub.add_parser("reallocate",
                        help="overnight plan: fill void beds, move children only for real gains")
    ra.add_argument("instance", help="instance folder or .xlsx workbook (with current placements)")
    ra.add_argument("--out", required=True, help="output folder")
    ra.add_argument("--max-moves", type=int, default=None,
                    help="at most N children already placed are moved or unplaced")
    ra.add_argument("--min-saving", type=float, default=None, metavar="POUNDS",
                    help="a placed child moves only if it gains this much a week itself "
                         "(cost + per_km x distance + faith terms)")
    ra.add_argument("--date", default=None, metavar="YYYY-MM-DD",
                    help="as-of date for available_from (default: today)")
    ra.add_argument("--previous", default=None, metavar="DIR",
                    help="yesterday's output folder: changing its proposals costs "
                         "--previous-weight per child")
    ra.add_argument("--previous-weight", type=float, default=100.0, metavar="POUNDS",
                    help="pounds/week per child whose proposal differs from --previous "
                         "(default 100)")
    ra.add_argument("--time-limit", type=float, default=60.0, help="seconds (default 60)")
    ra.add_argument("--seed", type=int, default=0)
    ra.add_argument("--workers", type=int, default=0, help="CP-SAT workers (0: all cores)")
    ra.add_argument("--backend", choices=("highs", "cpsat"), default="highs",
                    help="MIP solver of the restricted model (default highs: deterministic)")
    ra.add_argument("--policy", default=None, help="a policy.toml laid over the instance's own")
    ra.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    ra.set_defaults(func=cmd_reallocate)
    pc = sub.add_parser("plan-capacity",
                        help="commissioning: beds to block-book per contract, under uncertain "
                             "demand (two-stage stochastic, scenarios on Dask)")
    pc.add_argument("instance", help="commissioning folder (instance + contracts.csv, spot.csv, "
                                     "demand.toml or scenarios/)")
    pc.add_argument("--scenarios", type=int, default=200, help="demand scenarios (default 200)")
    pc.add_argument("--out", required=True, help="output folder (plan.json, report.md, "
                                                 "cost_curve.png)")
    pc.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                         "(default: a local cluster)")
    pc.add_argument("--workers", type=int, default=None,
                    help="local-cluster worker processes (default: one per core; "
                         "0: no Dask, in this process; ignored with --scheduler)")
    pc.add_argument("--seed", type=int, default=0, help="scenario sampling seed (default 0)")
    pc.add_argument("--time-limit-per-scenario", type=float, default=10.0, metavar="SECONDS",
                    help="time limit of each scenario's allocation solve (default 10)")
    pc.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                    help="end the whole run within this many seconds of starting: the plan "
                         "is made on the scenarios solved in time, and the report says how "
                         "many (default: no limit)")
    pc.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="what-if, repeatable: contracts.ID.price=3100, contracts.ID.beds=4, "
                         "spot.ID.weekly_cost=5200, demand.growth=0.05; the base and changed "
                         "plans are compared on the same scenarios")
    pc.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    pc.set_defaults(func=cmd_plan_capacity)
    for name in ("solve", "check", "match", "reallocate"):
        sub.choices[name].add_argument(
            "--ofsted", default=None, metavar="PATH",
            help="Ofsted's provider-level list: its rating is used for every placement "
                 "whose urn it holds (a warning where the register differs)")
    if not full:
        return ap
    from .research.cli_gap import add_parser as add_gap_parser

    add_gap_parser(sub)
    from .import903 import add_parser as add_import903_parser  # `placement import-903`

    add_import903_parser(sub)
    from .research.bench import add_parser as add_bench_parser  # `placement bench CONFIG`

    add_bench_parser(sub)
    from .service.cli import add_parsers as add_service_parsers  # serve, users, audit

    add_service_parsers(sub)
    from .sufficiency.cli import add_parser as add_sufficiency_parser  # `placement sufficiency`

    add_sufficiency_parser(sub)
    from .pooling.cli import add_parser as add_pool_parser  # `placement pool`

    add_pool_parser(sub)
    from .regions_cli import add_parser as add_region_parser  # `placement region`

    add_region_parser(sub)
    return ap


TIMED = ("solve", "reallocate", "match", "plan-capacity")  # commands with a time limit
# the commands that read their instance first (`_load`): in a program run their start-up,
# the imports and the reading, makes hundreds of thousands of objects that all stay, so
# Python's cyclic garbage collector is paused until the instance is read: it would only
# walk over them, again and again, finding nothing to free
READ_FIRST = ("solve", "reallocate", "match")


def main(argv: list[str] | None = None) -> int:
    """The command line. Run as a program (`argv` None), a time limit counts from the start
    of the process and a watchdog keeps it; called with `argv` from Python (a test, a
    notebook), it counts from the call and never ends the caller's process."""
    from .deadline import process_started

    started = process_started() if argv is None else time.perf_counter()
    words = [w for w in (sys.argv[1:] if argv is None else argv) if not w.startswith("-")]
    paused = argv is None and bool(words) and words[0] in READ_FIRST
    if paused:
        gc.disable()  # until the instance is read (`_load`), or the command ends
    try:
        return _run(argv, started, words)
    finally:
        if paused:
            gc.enable()


def _run(argv: list[str] | None, started: float, words: list[str]) -> int:
    """`main`'s command, parsed and run."""
    from .instance import InstanceError

    args = build_parser(full=not words or words[0] not in CORE_COMMANDS).parse_args(argv)
    args.started, args.own_process = started, argv is None
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        code = int(args.func(args))
        if args.own_process and args.command in TIMED and getattr(args, "time_limit", None):
            from .watchdog import end_process

            end_process(code)  # the output is written: the tear-down is not waited for
        return code
    except InstanceError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # the reader of stdout went away (`placement check ... | head`): not an error
        # of ours; silence the flush at exit as well
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
