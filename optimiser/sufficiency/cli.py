"""`placement sufficiency INSTANCE --out DIR`: the analysis, the plan and the statement."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..instance import InstanceError
from .run import Settings, analyse, write

EXIT_BAD_INPUT = 2


def cmd_sufficiency(args: argparse.Namespace) -> int:
    """Run the analysis and write the folder; 2 with every problem named on bad input."""
    def say(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    settings = Settings(recommendations=args.recommendations, budget=args.budget,
                        tries=args.tries, max_profiles=args.max_profiles,
                        time_limit=args.time_limit, resolve_time_limit=args.resolve_time_limit,
                        relative_gap=args.relative_gap, seed=args.seed, workers=args.workers,
                        full_resolves=args.full_resolves)
    try:
        if args.scenarios:
            from .scenarios import analyse_with_scenarios
            a = analyse_with_scenarios(args.instance, settings, args.scenarios,
                                       args.dask_workers, args.scheduler, say)
        else:
            a = analyse(args.instance, settings, say=say)
    except InstanceError as e:
        print(f"error: {args.instance}: the instance has problems:", file=sys.stderr)
        for p in e.problems:
            print(f"  {p}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from .statement import write_documents
    out = write(a, args.out, None if args.no_statement else write_documents)
    say(f"written to {out}/ (recruit.csv, plan.csv, breakdown.csv, bed_values.csv, "
        f"summary.json, solution/{'' if args.no_statement else ', statement.html, statement.pdf'})")
    return 0


def _positive(text: str) -> int:
    v = int(text)
    if v < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return v


def add_parser(sub: Any) -> None:
    """`placement sufficiency` on the command's subparsers."""
    p = sub.add_parser("sufficiency", help="unmet demand, the value of a bed, whom to recruit "
                       "where (verified), and the sufficiency statement drafted")
    p.add_argument("instance", type=Path, help="instance folder")
    p.add_argument("--out", required=True, help="output folder (written all or nothing)")
    p.add_argument("--recommendations", type=_positive, default=10,
                   help="profiles verified one by one for recruit.csv (default 10)")
    p.add_argument("--budget", type=_positive, default=10,
                   help="recruits in the greedy plan, each step verified (default 10)")
    p.add_argument("--tries", type=_positive, default=3,
                   help="profiles verified at each step of the plan (default 3)")
    p.add_argument("--max-profiles", type=_positive, default=300,
                   help="candidate profiles screened with the LP duals (default 300)")
    p.add_argument("--time-limit", type=float, default=60.0,
                   help="seconds for the first solve (default 60)")
    p.add_argument("--resolve-time-limit", type=float, default=30.0,
                   help="seconds for each search of a re-solve with profiles added (each "
                   "whole re-solve with --full-resolves), from the allocation before; a "
                   "saving not proven is a lower bound (default 30)")
    p.add_argument("--relative-gap", type=float, default=0.0,
                   help="relative gap at which those solves may stop (default 0: savings "
                   "proven exact where the solves end in time)")
    p.add_argument("--full-resolves", action="store_true",
                   help="solve each re-solve with the whole engine, even where the "
                   "incremental search from the plan before applies (slower)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=0, help="the engine's workers per solve")
    p.add_argument("--scenarios", type=_positive, default=0,
                   help="also test the recommendations on this many demand scenarios")
    p.add_argument("--dask-workers", type=int, default=None,
                   help="local Dask workers for the scenarios (0: in this process)")
    p.add_argument("--scheduler", default=None, help="an existing Dask scheduler address")
    p.add_argument("--no-statement", action="store_true",
                   help="tables only: no HTML or PDF")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_sufficiency)


__all__ = ["add_parser", "cmd_sufficiency", "main"]


def main(argv: list[str] | None = None) -> int:
    """`python -m optimiser.sufficiency.cli sufficiency ...` (the same parser as placement's)."""
    ap = argparse.ArgumentParser(prog="placement")
    add_parser(ap.add_subparsers(dest="command", required=True))
    args = ap.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
