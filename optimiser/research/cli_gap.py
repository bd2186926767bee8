"""`placement gap FILE`: solve a generalized assignment problem file.

Wired into the `placement` command by `optimiser/cli.py` through :func:`add_parser`; also
runs alone as ``python -m optimiser.research.cli_gap FILE ...``. Registering the command
needs no solver: without numba (the `research` extra) `placement gap` says how to
install it, and the rest of `placement` works.

Exit codes as for the rest of the command: 0 answered (whatever the status), 2 bad input,
3 the research extra is not installed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from . import INSTALL_HINT, missing_extra
from .gap_instance import BACKENDS, LAYOUTS, SENSES, GapFormatError, read_gap

if TYPE_CHECKING:
    from .gap import GapResult

EXIT_OK, EXIT_BAD_INPUT, EXIT_MISSING_EXTRA = 0, 2, 3


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `gap` sub-command on an argparse sub-parsers object."""
    g = subparsers.add_parser(
        "gap", help="solve a generalized assignment problem file (OR-Library or single)",
        description="Solve a GAP file: OR-Library multi-problem (leading count) or "
                    "single-problem layout. Prints objective, bound, status and seconds.")
    g.add_argument("file", help="GAP instance file")
    g.add_argument("--problem", type=int, default=None, metavar="K",
                   help="1-based problem in a multi-problem file (default: every problem)")
    g.add_argument("--sense", choices=SENSES, default="min",
                   help="minimise or maximise the cost (default min)")
    g.add_argument("--time-limit", type=float, default=30.0, metavar="S",
                   help="seconds per problem (default 30)")
    g.add_argument("--backend", choices=BACKENDS, default="cpsat",
                   help="cpsat: ours (LP-guided, LNS); plain: CP-SAT baseline; "
                        "highs; cbc (default cpsat)")
    g.add_argument("--workers", type=int, default=2, help="solver threads (default 2)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--layout", choices=LAYOUTS, default="auto",
                   help="file layout (default: whichever the token count fits)")
    g.add_argument("--json", action="store_true",
                   help="print JSON: an object with objective, bound, status, seconds "
                        "(a list of them when several problems are solved)")
    g.add_argument("--progress", action="store_true", help="search progress on stderr")
    g.set_defaults(func=cmd_gap)
    return g


def _line(r: GapResult) -> str:
    obj = "none" if r.objective is None else f"{r.objective:g}"
    bound = "none" if r.bound is None else f"{r.bound:g}"
    return (f"{r.instance}  sense {r.sense}  backend {r.backend}\n"
            f"  objective  {obj}\n  bound      {bound}\n  status     {r.status}\n"
            f"  seconds    {r.seconds:.3f}")


def cmd_gap(args: argparse.Namespace) -> int:
    """Solve the chosen problem(s) and print them; bad files give exit code 2."""
    try:
        problems = read_gap(args.file, layout=args.layout)
        if args.problem is not None:
            if not 1 <= args.problem <= len(problems):
                raise GapFormatError(args.file, f"holds {len(problems)} problem(s); "
                                                f"--problem {args.problem} is outside "
                                                f"1..{len(problems)}")
            problems = [problems[args.problem - 1]]
    except GapFormatError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.time_limit <= 0 or args.workers < 1:
        print("error: --time-limit must be positive and --workers at least 1",
              file=sys.stderr)
        return EXIT_BAD_INPUT

    try:
        from .gap import solve_gap
    except ImportError as e:
        if not missing_extra(e):
            raise
        print(f"error: placement gap needs numba: {INSTALL_HINT}", file=sys.stderr)
        return EXIT_MISSING_EXTRA

    def progress(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    results = []
    for inst in problems:
        r = solve_gap(inst, sense=args.sense, backend=args.backend,
                      time_limit=args.time_limit, workers=args.workers, seed=args.seed,
                      log=progress if args.progress else None)
        results.append(r)
        if not args.json:
            print(_line(r), flush=True)
    if args.json:
        out: object = results[0].to_json() if len(results) == 1 else [
            r.to_json() for r in results]
        print(json.dumps(out, indent=2))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="placement")
    add_parser(ap.add_subparsers(dest="command", required=True))
    args = ap.parse_args(["gap", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
