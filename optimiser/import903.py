"""`placement import-903`: children.csv from the SSDA903 return a council sends the DfE.

The return's header (one row per child: `CHILD`, `SEX`, `DOB`, and the council in `LA`)
and episodes (`CHILD`, `DECOM`, `DEC`, `PLACE`, `HOME_POST`, `PL_POST`, `URN`) give, for
every child with an episode open on the as-at date: its id, age, gender, home (the
centroid of the `HOME_POST` postcode district) and current placement (the register's
placement with that Ofsted `URN`, else the nearest of the `PLACE` code's types to the
`PL_POST` district). What the return does not hold (needs, faith, sibling groups, the care
plan's types, a distance limit) is listed per child in `to_complete.csv`. Every problem is
named by file, row and column, all at once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .instance import InstanceError, Problem
from .objective import haversine_km
from .reader import Collector, read_csv_table

Rec = dict[str, Any]  # one row of a table, by column
DATA_DIR_ENV = "PLACEMENT_DATA_DIR"
OUTCODES = Path("geography") / "postcode-outcodes.csv"
HEADER_COLUMNS = ("CHILD", "SEX", "DOB")
EPISODE_COLUMNS = ("CHILD", "DECOM", "PLACE", "HOME_POST")
SEX = {"1": "M", "2": "F"}  # the 903's codes
# PLACE codes and the register's types they can be; codes not listed are reported
PLACE_TYPES: dict[str, tuple[str, ...]] = {
    **{f"U{i}": ("kinship_foster",) for i in (1, 2, 3)},
    **{f"U{i}": ("inhouse_foster", "ifa_foster") for i in (4, 5, 6)},
    "K1": ("secure",),
    "K2": ("inhouse_residential", "external_residential"),
    "H5": ("supported_accommodation",),
    "K3": ("supported_accommodation",),
    "R3": ("parent_and_child",),
}
MATCH_KM = 15.0  # a placement postcode district's centroid is this near its placements
TO_COMPLETE = "needs;faith;faith_match;sibling_group;placement_types;max_distance_km"


def data_dir(given: str | Path | None = None) -> Path:
    """The public data: `given`, else $PLACEMENT_DATA_DIR, else ../shared/data."""
    if given is not None:
        return Path(given)
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def outcode_of(postcode: str) -> str:
    """'B15 2TT' -> 'B15'; 'B152TT' -> 'B15'; 'B15' -> 'B15'."""
    text = postcode.strip().upper()
    if " " in text:
        return text.split()[0]
    return text[:-3] if len(text) > 4 else text


def read_outcodes(root: Path) -> dict[str, tuple[float, float]]:
    df = pd.read_csv(root / OUTCODES, dtype={"outcode": str})
    df = df.dropna(subset=["outcode", "latitude", "longitude"])
    return {str(o).upper(): (float(a), float(b)) for o, a, b in
            zip(df["outcode"], df["latitude"], df["longitude"], strict=True)}


def parse_date(text: str) -> dt.date | None:
    """The 903 writes dd/mm/yyyy; YYYY-MM-DD is read too. None when none fits."""
    text = text.strip()
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S"):  # the last: an Excel date cell
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def age_on(dob: dt.date, day: dt.date) -> int:
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


@dataclass(frozen=True)
class Import903:
    """The children read, what each still needs, and the warnings."""

    children: pd.DataFrame
    to_complete: pd.DataFrame
    warnings: tuple[str, ...]


def _table(path: Path, sheet: str, out: Collector) -> pd.DataFrame | None:
    """A CSV, or a sheet of a workbook; headers kept in the 903's upper case."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        book = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False)
        by = {str(k).strip().lower(): v for k, v in book.items()}
        if sheet not in by:
            out.add(path.name, None, None, f"has no sheet {sheet!r}")
            return None
        df = by[sheet].astype(str).apply(lambda s: s.str.strip())
        df.index = pd.RangeIndex(2, len(df) + 2)
    else:
        got = read_csv_table(path, path.name, out)
        if got is None:
            return None
        df = got
    df.columns = [str(c).strip().upper() for c in df.columns]
    return df


def _records(df: pd.DataFrame) -> list[Rec]:
    return [{str(k): v for k, v in rec.items()} for rec in df.to_dict("records")]


def _require(df: pd.DataFrame, cols: tuple[str, ...], file: str, out: Collector) -> bool:
    missing = [c for c in cols if c not in df.columns]
    for c in missing:
        out.add(file, 1, c, "required column is missing")
    for c in ("LA", "DEC", "PL_POST", "URN"):
        if c not in df.columns:
            df[c] = ""
    return not missing


def import_903(header: Path, episodes: Path, placements: Path, as_at: dt.date, *,
               root: Path | None = None, authority: str | None = None) -> Import903:
    """Read the return against the register `placements` (a placements.csv); raise
    `InstanceError` with every problem."""
    out = Collector()
    hf = header.name if header.suffix.lower() == ".csv" else f"{header.name} header"
    ef = episodes.name if episodes.suffix.lower() == ".csv" else f"{episodes.name} episodes"
    head = _table(header, "header", out)
    eps = _table(episodes, "episodes", out)
    reg = read_csv_table(placements, placements.name, out)
    if head is None or eps is None or reg is None:
        raise InstanceError(out.problems)
    ok = _require(head, HEADER_COLUMNS, hf, out) & _require(eps, EPISODE_COLUMNS, ef, out)
    for col in ("placement_id", "type", "lat", "lon"):
        if col not in reg.columns:
            out.add(placements.name, 1, col, "required column is missing")
            ok = False
    if not ok:
        raise InstanceError(out.problems)
    codes = read_outcodes(data_dir(root))
    open_eps = _open_episodes(eps, ef, as_at, out)
    rows, todo = [], []
    seen: set[str] = set()
    for r, rec in zip(head.index.tolist(), _records(head), strict=True):
        cid = rec["CHILD"]
        if cid == "":
            out.add(hf, int(r), "CHILD", "is required but empty")
            continue
        if cid in seen:
            out.add(hf, int(r), "CHILD", f"{cid!r} is given twice")
            continue
        seen.add(cid)
        if cid not in open_eps:
            continue  # not in care on the as-at date
        child = _child(rec, int(r), hf, as_at, out)
        er, ep = open_eps[cid]
        home = codes.get(outcode_of(ep["HOME_POST"]))
        if home is None:
            out.add(ef, er, "HOME_POST", f"{ep['HOME_POST']!r} is no known postcode district")
            continue
        place = _current(ep, er, ef, reg, codes, out)
        la = rec["LA"] or (authority or "")
        rows.append({**child, "home_lat": home[0], "home_lon": home[1],
                     "current_placement": place, "authority": la})
        todo.append({"child_id": cid, "to_complete": TO_COMPLETE})
    for cid in sorted(set(open_eps) - seen):
        out.add(ef, open_eps[cid][0], "CHILD", f"{cid!r} has no row in the header")
    if out.problems:
        raise InstanceError(sorted(out.problems, key=lambda p: (p.file, p.row or 0)))
    cols = ["child_id", "age", "gender", "home_lat", "home_lon", "current_placement",
            "authority"]
    return Import903(pd.DataFrame(rows, columns=cols),
                     pd.DataFrame(todo, columns=["child_id", "to_complete"]),
                     tuple(out.warnings))


def _open_episodes(eps: pd.DataFrame, ef: str, as_at: dt.date, out: Collector
                   ) -> dict[str, tuple[int, Rec]]:
    """Per child, the (row, episode) open on `as_at` (started on or before, not ended)."""
    found: dict[str, tuple[int, Rec]] = {}
    for r, ep in zip(eps.index.tolist(), _records(eps), strict=True):
        start = parse_date(ep["DECOM"])
        end = parse_date(ep["DEC"]) if ep["DEC"] else None
        if start is None:
            out.add(ef, int(r), "DECOM", f"{ep['DECOM']!r} is not a date (dd/mm/yyyy)")
            continue
        if ep["DEC"] and end is None:
            out.add(ef, int(r), "DEC", f"{ep['DEC']!r} is not a date (dd/mm/yyyy)")
            continue
        if start <= as_at and (end is None or end > as_at):
            if ep["CHILD"] in found:
                out.add(ef, int(r), "DECOM", f"child {ep['CHILD']!r} has two episodes open on "
                        f"{as_at.isoformat()} (the other at row {found[ep['CHILD']][0]})")
            else:
                found[ep["CHILD"]] = (int(r), ep)
    return found


def _child(rec: Rec, r: int, hf: str, as_at: dt.date, out: Collector) -> dict:
    dob = parse_date(rec["DOB"])
    age = 0
    if dob is None:
        out.add(hf, r, "DOB", f"{rec['DOB']!r} is not a date (dd/mm/yyyy)")
    else:
        age = age_on(dob, as_at)
        if not 0 <= age <= 17:
            out.add(hf, r, "DOB", f"gives age {age} on {as_at.isoformat()}; a child in care "
                    "is 0 to 17")
    gender = SEX.get(rec["SEX"])
    if gender is None:
        out.add(hf, r, "SEX", f"{rec['SEX']!r} is not a 903 sex code (1 male, 2 female)")
    return {"child_id": rec["CHILD"], "age": age, "gender": gender or ""}


def _current(ep: Rec, r: int, ef: str, reg: pd.DataFrame,
             codes: dict[str, tuple[float, float]], out: Collector) -> str:
    """The register's placement of the episode: by URN, else by postcode and type."""
    if ep["URN"] and "urn" in reg.columns:
        hit = reg.index[reg["urn"] == ep["URN"]]
        if len(hit) == 1:
            return str(reg.at[hit[0], "placement_id"])
    types = PLACE_TYPES.get(ep["PLACE"].upper())
    if types is None:
        out.warn(f"{ef}: row {r}, column PLACE: {ep['PLACE']!r} has no placement type in "
                 "the register; the child is read as waiting")
        return ""
    at = codes.get(outcode_of(ep["PL_POST"])) if ep["PL_POST"] else None
    if at is None:
        out.warn(f"{ef}: row {r}, column PL_POST: no URN match and no known postcode "
                 "district; the child is read as waiting")
        return ""
    cand = reg[reg["type"].isin(types)]
    if cand.empty:
        return ""
    km = haversine_km(np.array([at[0]]), np.array([at[1]]), cand["lat"].astype(float).to_numpy(),
                      cand["lon"].astype(float).to_numpy())
    best = int(np.argmin(km))
    if km[best] > MATCH_KM:
        out.warn(f"{ef}: row {r}, column PL_POST: no {'/'.join(types)} placement within "
                 f"{MATCH_KM:g} km; the child is read as waiting")
        return ""
    return str(cand["placement_id"].iloc[best])


def write_import(result: Import903, placements: Path, out: Path) -> Path:
    """The instance folder: children.csv, the register as placements.csv, to_complete.csv;
    the register's text is neutralised as it is copied (it may come from anywhere)."""
    from .safe_text import read_text_table, safe_frame, safe_text_frame

    register = safe_text_frame(read_text_table(placements))
    out.mkdir(parents=True, exist_ok=True)
    safe_frame(result.children).to_csv(out / "children.csv", index=False)
    safe_frame(result.to_complete).to_csv(out / "to_complete.csv", index=False)
    register.to_csv(out / "placements.csv", index=False)
    return out


def cmd_import903(args: argparse.Namespace) -> int:
    """Exit 0 with the instance written, 2 with every problem listed (nothing written)."""
    try:
        as_at = dt.date.fromisoformat(args.as_at)
    except ValueError:
        print(f"error: --as-at {args.as_at!r} is not a date (YYYY-MM-DD)", file=sys.stderr)
        return 2
    header = Path(args.header)
    episodes = Path(args.episodes) if args.episodes else header  # one workbook
    try:
        got = import_903(header, episodes, Path(args.placements), as_at,
                         root=args.data_dir, authority=args.authority)
    except (InstanceError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for w in got.warnings:
        print(f"warning: {w}", file=sys.stderr)
    out = write_import(got, Path(args.placements), Path(args.out))
    print(f"{len(got.children)} children in care on {as_at.isoformat()} written to {out}/ "
          "(children.csv, placements.csv; to_complete.csv lists what the return does not "
          "hold)")
    return 0


def add_parser(sub: Any) -> None:
    """`placement import-903` on the command's subparsers."""
    p = sub.add_parser("import-903", help="children.csv from an SSDA903 return (header, "
                       "episodes) and the placement register")
    p.add_argument("--header", required=True,
                   help="the return's header (CSV, or an .xlsx workbook with sheets header "
                        "and episodes)")
    p.add_argument("--episodes", help="the return's episodes (CSV); omit with a workbook")
    p.add_argument("--as-at", required=True, help="the date (YYYY-MM-DD) children are in care")
    p.add_argument("--placements", required=True, help="the register (a placements.csv)")
    p.add_argument("--out", required=True, help="instance folder to write")
    p.add_argument("--data-dir", default=None,
                   help="public data (default: $PLACEMENT_DATA_DIR or ../shared/data)")
    p.add_argument("--authority", default=None,
                   help="the responsible authority where the header has no LA column")
    p.set_defaults(func=cmd_import903)


__all__ = ["Import903", "InstanceError", "Problem", "add_parser", "import_903",
           "write_import"]
