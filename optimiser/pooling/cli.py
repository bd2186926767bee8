"""`placement pool INSTANCE --out DIR`: what a regional co-operative gains, shared fairly."""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def cmd_pool(args: argparse.Namespace) -> int:
    if args.samples is not None and args.samples < 1:
        print("error: --samples must be at least 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.workers is not None and args.workers < 0:
        print("error: --workers must be 0 (in-process) or more", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not 0 <= args.gap < 1:
        print("error: --gap must be in [0, 1)", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.time_scale < 1:
        print("error: --time-scale must be at least 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.time_limit <= 0:
        print("error: --time-limit must be positive", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.precision is not None and not 0 < args.precision < 1:
        print("error: --precision must be in (0, 1)", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.budget is not None and args.budget <= 0:
        print("error: --budget must be positive", file=sys.stderr)
        return EXIT_BAD_INPUT
    return _run(args.instance, args.out, quiet=args.quiet, time_limit=args.time_limit,
                gap=args.gap, samples=args.samples, seed=args.seed, scheduler=args.scheduler,
                workers=args.workers, max_time_scale=args.time_scale,
                policy_file=args.policy, ofsted=args.ofsted, method=args.method,
                precision=args.precision, budget=args.budget)


def solve_pool(args: argparse.Namespace) -> int:
    """`placement solve INSTANCE --out DIR --pool`: the same run as `placement pool` with
    its defaults (exact shares up to ten authorities, a local Dask cluster), the solve's
    --time-limit per coalition, --seed, --policy and --ofsted; the pooled plan lands in
    DIR as a solve's (assignments.csv, summary.json) beside the pooling report."""
    return _run(args.instance, args.out, quiet=getattr(args, "quiet", False),
                time_limit=args.time_limit, seed=getattr(args, "seed", 0),
                policy_file=getattr(args, "policy", None), ofsted=getattr(args, "ofsted", None))


def _run(instance: str, out: str, *, quiet: bool, **kw: Any) -> int:
    from ..commission.dist import SchedulerUnreachable
    from ..instance import InstanceError
    from .run import run_pool
    from .split import PoolingError

    try:
        result = run_pool(instance, out, progress=not quiet, **kw)
    except (PoolingError, InstanceError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SchedulerUnreachable as e:
        print(f"error: --scheduler: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(summary_text(result))
    print(f"\nwritten to {out}/ (report.md, authorities.csv, lending.csv, "
          "coalitions.csv, pooling.json; the pooled plan in assignments.csv, summary.json)")
    return EXIT_OK


def summary_text(result: Any) -> str:
    """A few lines for the console: alone, pooled, the gain and the check."""
    sh, chk = result.shares, result.check
    how = "exact" if sh.exact else (
        f"{sh.samples} sampled orders, largest standard error £{float(sh.stderr.max()):,.2f}")
    return "\n".join([
        f"authorities: {len(result.split.names)}; coalitions solved: "
        f"{len(result.costs.solved)} ({result.seconds:.1f} s, {result.mapper})",
        f"alone: £{sh.alone.sum():,.2f}/week; pooled: £{sh.pooled:,.2f}/week; "
        f"gain: £{sh.gain:,.2f}/week (Shapley, {how})",
        f"coalitions proven optimal: "
        f"{sum(x.status == 'optimal' for x in result.costs.solved.values())}"
        f" of {len(result.costs.solved)}",
        "stand-alone check: " + ("passed" if chk.ok else
                                 "no authority worse off, but a group is" if chk.individual_ok
                                 else "FAILED: an authority bears more than alone"),
    ])


def add_parser(sub: Any) -> None:
    """`placement pool` on the command's subparsers."""
    p = sub.add_parser("pool", help="a regional co-operative: each authority alone and "
                       "pooled, the gain shared fairly (Shapley value)")
    p.add_argument("instance", help="a format 1.1 instance with children.authority")
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--time-limit", type=float, default=60.0,
                   help="seconds per coalition solve (default 60)")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="a coalition with k times the children of the largest authority "
                        "gets min(k, this) times the time limit (default 1: the same)")
    p.add_argument("--gap", type=float, default=0.0,
                   help="relative gap at which a coalition's solve may stop (default 0: "
                        "prove each optimal)")
    p.add_argument("--samples", type=int, default=None,
                   help="random orders for the Shapley value (default: exact up to ten "
                        "authorities, 200 orders above)")
    p.add_argument("--method", choices=("solve", "bracket"), default="solve",
                   help="how a coalition is priced: solve (the engine's full solve, "
                        "default) or bracket (for regional scale: the transportation "
                        "relaxation over every pair, to 0.01%% whatever --time-limit, its "
                        "Lagrangian bound and a plan rounded from it; each coalition's gap "
                        "reported, and the range of shares it allows)")
    p.add_argument("--precision", type=float, default=None,
                   help="sampling: stop once every share's standard error is at most this "
                        "fraction of the gain (e.g. 0.01)")
    p.add_argument("--budget", type=float, default=None,
                   help="sampling: seconds for the whole run; no batch of orders is "
                        "started that would end past it (alone and pooled are always "
                        "solved)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scheduler", default=None,
                   help="address of an existing Dask scheduler (default: a local cluster)")
    p.add_argument("--workers", type=int, default=None,
                   help="local Dask workers (default one per core; 0: in this process)")
    p.add_argument("--policy", default=None,
                   help="a policy.toml laid over the instance's own (as for solve)")
    p.add_argument("--ofsted", default=None, metavar="PATH",
                   help="Ofsted's provider-level list (as for solve)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_pool)
