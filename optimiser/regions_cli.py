"""`placement region NAME --out DIR`: a calibrated region's instance (format 1.1), ready
for `placement solve --pool`, `placement pool` and `placement check`.

The region is a DfE region ("North West"), a group of `optimiser.regions.REGION_GROUPS`
("Greater Manchester") or a list of authorities (GSS codes or names). It is built on the
public data (`PLACEMENT_DATA_DIR`, default `../shared/data`): without them the region
would be drawn on the generator's embedded table, not on real geography, so the command
refuses.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def data_dir_or_reason(given: str | None) -> tuple[Path | None, str]:
    """The public data folder (`given`, else `PLACEMENT_DATA_DIR`, else `../shared/data`),
    or None and why not, in words."""
    from .generate import DATA_DIR_ENV, REPO_ROOT, default_data_dir

    if given is not None:
        path: Path | None = Path(given) if Path(given).is_dir() else None
        where = f"--data-dir {given}"
    else:
        path = default_data_dir()
        env = os.environ.get(DATA_DIR_ENV)
        where = (f"{DATA_DIR_ENV}={env}" if env
                 else f"{REPO_ROOT.parent / 'shared' / 'data'} ({DATA_DIR_ENV} not set)")
    if path is None:
        return None, (f"the public data folder is not there: {where}; a calibrated region "
                      f"needs the DfE counts and real geography (set {DATA_DIR_ENV})")
    return path, ""


def cmd_region(args: argparse.Namespace) -> int:
    from .regions import build_region, region_members

    data_dir, why = data_dir_or_reason(args.data_dir)
    if data_dir is None:
        print(f"error: {why}", file=sys.stderr)
        return EXIT_BAD_INPUT
    region: str | list[str] = args.region[0] if len(args.region) == 1 else list(args.region)
    try:
        members = region_members(region, data_dir)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    children = args.children if args.children is not None else sum(
        m.children_in_care for m in members)
    placements = args.placements if args.placements is not None else (
        round(children * args.placements_per_child)
        if args.placements_per_child is not None else None)
    problem = _check_sizes(children, placements, len(members), args.placed_share)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        tables = build_region(args.out, region, children=children, placements=placements,
                              seed=args.seed, data_dir=data_dir,
                              placed_share=args.placed_share)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(summary_text(members, tables, args.out))
    return EXIT_OK


def _check_sizes(children: int, placements: int | None, n_members: int,
                 placed_share: float) -> str:
    """Why these sizes cannot be drawn ("" when they can)."""
    if children < n_members:
        return (f"--children {children}: the region has {n_members} authorities, each "
                "needs at least one child")
    if placements is not None and placements < n_members:
        return (f"{placements} placements: the region has {n_members} authorities, each "
                "needs at least one placement")
    if not 0.0 <= placed_share <= 1.0:
        return "--placed-share must be in [0, 1]"
    return ""


def summary_text(members: list[Any], tables: dict[str, Any], out: str) -> str:
    """A few lines for the console: the members, children and placements of each."""
    kids = tables["children"]["authority"].value_counts()
    rows = tables["placements"]["authority"].value_counts()
    lines = [f"{len(members)} authorities, {len(tables['children']):,} children, "
             f"{len(tables['placements']):,} placements, "
             f"{len(tables['adjoining'])} borders:"]
    lines += [f"  {m.code} {m.name}: {int(kids.get(m.code, 0)):,} children, "
              f"{int(rows.get(m.code, 0)):,} placements lie in it or are its own"
              for m in members]
    outside = len(tables["placements"]) - int(sum(rows.get(m.code, 0) for m in members))
    if outside:
        lines.append(f"  {outside:,} placements lie outside these authorities (the market's "
                     "beds over the border)")
    lines.append(f"written to {out}/ (for placement pool, solve --pool, check)")
    return "\n".join(lines)


def add_parser(sub: Any) -> None:
    """`placement region` on the command's subparsers."""
    p = sub.add_parser("region", help="a calibrated region's instance (format 1.1): its "
                       "authorities on real geography, children split by the DfE counts")
    p.add_argument("region", nargs="+",
                   help='a DfE region ("North West"), a group ("Greater Manchester") or '
                        "GSS codes or names of English authorities")
    p.add_argument("--out", required=True, help="instance folder (written all or nothing)")
    p.add_argument("--children", type=int, default=None,
                   help="children in all, split over the authorities by the DfE counts "
                        "(default: the DfE count of children looked after in the region)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--placements", type=int, default=None,
                      help="placement rows in all, split likewise")
    size.add_argument("--placements-per-child", type=float, default=None,
                      help="placement rows per child (default 0.75, the regional recipe); "
                           "fewer makes beds scarcer and leaves more children unplaced")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the first authority's draw (the k-th draws with seed+k)")
    p.add_argument("--placed-share", type=float, default=0.0,
                   help="share of children already in a placement (default 0)")
    p.add_argument("--data-dir", default=None,
                   help="the public data (default $PLACEMENT_DATA_DIR, else ../shared/data)")
    p.set_defaults(func=cmd_region)
