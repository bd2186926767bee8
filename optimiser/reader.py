"""Read an instance (a folder of CSV files, or one .xlsx workbook) into an `Instance`.

Every problem is collected and reported at once, each naming file, row and column,
because a council analyst fixing an export wants the whole list, not one error per run.
Row numbers are the line numbers a spreadsheet shows (the header is row 1); blank rows
are skipped but still counted, so the numbers match what the analyst sees.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .categories import (
    ALL_RATINGS,
    DEFAULT_TYPES,
    FAITH_MATCH,
    GENDERS,
    HOLD_REASONS,
    PLACEMENT_TYPES,
    RATINGS,
    FaithMatch,
)
from .instance import Instance, InstanceError, Policy, Problem, Rules, Weights
from .ofsted import read_ofsted
from .reader11 import (
    ADJOINING_COLUMNS,
    CHILD_COLUMNS_11,
    PLACEMENT_COLUMNS_11,
    read_format11,
)
from .safe_text import restore

# largest weight or weekly cost read, in pounds per week: objectives are summed in whole
# pence (int64, optimiser/scaling.py) and min-cost flow scales its costs by the number
# of units; far beyond any real cost, far inside what both can hold exactly
MAX_POUNDS = 1e9

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

log = logging.getLogger(__name__)

CHILD_COLUMNS = {
    "child_id": True,
    "age": True,
    "gender": True,
    "home_lat": True,
    "home_lon": True,
    "sibling_group": False,
    "faith": False,
    "faith_match": False,
    "needs": False,
    "placement_types": False,
    "max_distance_km": False,
    "solo": False,
    "current_placement": False,
    "priority": False,
}
PLACEMENT_COLUMNS = {
    "placement_id": True,
    "provider": True,
    "type": True,
    "vacancies": True,
    "age_min": True,
    "age_max": True,
    "genders": False,
    "faith": False,
    "needs_supported": False,
    "ofsted_rating": False,
    "lat": True,
    "lon": True,
    "weekly_cost": True,
    "block_contract": False,
}
EXCLUSION_COLUMNS = {"child_id": True, "placement_id": True, "reason": False}
DISTANCE_COLUMNS = {"child_id": True, "placement_id": True, "km": True}
# Optional columns of re-allocation (README "Optional columns for re-allocation"):
# parsed when present, defaults otherwise, so an ordinary instance is unchanged.
EXTRA_CHILD_COLUMNS = {"pinned", "placed_since", *CHILD_COLUMNS_11}
EXTRA_PLACEMENT_COLUMNS = {"on_hold_reason", "available_from", *PLACEMENT_COLUMNS_11}

TABLES = ("children", "placements", "exclusions", "distances", "adjoining")
_INT_LIMIT = 2**31 - 1  # larger whole numbers are a typo, and would overflow int32 arrays


class Collector:
    """Problems (errors) and warnings gathered over the whole load."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[str] = []

    def add(self, file: str, row: int | None, column: str | None, message: str) -> None:
        self.problems.append(Problem(file, row, column, message))

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        log.warning(message)

    def rows(self, file: str, df: pd.DataFrame, mask: Any, column: str,
             message: Callable[[Any], str]) -> None:
        """Report every row where `mask` is true; `message(value)` words it.

        The frame's index holds the spreadsheet row numbers (see `_frame`).
        """
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        values = df[column].to_numpy() if column in df.columns else None
        for i in np.flatnonzero(mask):
            v = values[i] if values is not None else None
            self.add(file, int(df.index[int(i)]), column, message(v))


# --------------------------------------------------------------------------- raw tables


def _frame(records: list[list[str]], file: str, out: Collector) -> pd.DataFrame | None:
    """Turn raw records (header first) into a string frame indexed by spreadsheet row.

    Blank rows are dropped but keep their numbers; short rows are padded (Excel's CSV
    export can drop trailing empty cells); a row with more values than the header is an
    error, even if the extras are empty, because its values may have shifted columns.
    """
    if not records or not any(c.strip() for c in records[0]):
        out.add(file, None, None, "is empty (the first row must be the header)")
        return None
    header = [c.replace("\ufeff", "").strip().lower() for c in records[0]]
    width = len(header)
    seen: set[str] = set()
    keep: list[int] = []
    for j, name in enumerate(header):
        if name == "":
            continue
        if name in seen:
            out.add(file, 1, name, "this column appears more than once")
            continue
        seen.add(name)
        keep.append(j)
    unnamed = [j for j, name in enumerate(header) if name == ""]
    all_kept = len(keep) == width
    data: list[list[str]] = []
    index: list[int] = []
    unnamed_used = False
    short: list[int] = []
    for r, rec in enumerate(records[1:], start=2):
        if not "".join(rec).strip():
            continue
        cells = rec
        if len(cells) > width:
            out.add(file, r, None, f"has {len(cells)} values but the header has {width} "
                    "columns (a stray comma or an unquoted comma inside a value?)")
            continue
        if len(cells) < width:
            short.append(r)
            cells = cells + [""] * (width - len(cells))
        if unnamed and not unnamed_used:
            unnamed_used = any(cells[j].strip() for j in unnamed)
        data.append(cells if all_kept else [cells[j] for j in keep])
        index.append(r)
    if short:
        out.warn(f"{file}: {len(short)} row(s) have fewer values than the header (first: row "
                 f"{short[0]}); the missing cells at the end are read as empty")
    if unnamed_used:
        out.warn(f"{file}: a column without a header has values; they are ignored")
    cols = [header[j] for j in keep]
    if not data:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    frame = pd.DataFrame(data, columns=cols, index=index, dtype=object)
    for c in cols:  # whitespace around values is an export artefact, never meaningful;
        # a leading ' before a formula start is the format's neutralisation, not the value
        frame[c] = frame[c].map(restore).str.strip()
    return frame


def read_csv_table(f: Path, file: str, out: Collector) -> pd.DataFrame | None:
    """A UTF-8 CSV (a BOM is tolerated) read with the csv module to keep row numbers."""
    try:
        text = f.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        out.add(file, None, None, "is not UTF-8 text: in Excel, save it as 'CSV UTF-8'")
        return None
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), skipinitialspace=True))
    except csv.Error as e:
        out.add(file, None, None, f"cannot be read as CSV ({e})")
        return None
    return _frame(records, file, out)


def workbook_cell(v: Any) -> str:
    """An Excel cell as the text a CSV export would hold (`12.0` -> `12`, TRUE -> `true`)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    return str(v)


def _read_xlsx(path: Path) -> dict[str, list[list[str]]]:
    """Every sheet as raw text records, keyed by lower-case sheet name.

    Read with openpyxl directly (not pandas) so blank rows keep their row numbers and
    ids such as `NA` or `007` stay text.
    """
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds for a damaged file
        raise InstanceError([Problem(path.name, None, None,
                                     f"cannot be read as an Excel workbook ({e})")]) from e
    try:
        sheets: dict[str, list[list[str]]] = {}
        for ws in wb.worksheets:
            rows = [[workbook_cell(v) for v in row] for row in ws.iter_rows(values_only=True)]
            sheets[ws.title.strip().lower()] = rows
    finally:
        wb.close()
    return sheets


def _read_tables(path: Path, out: Collector
                 ) -> tuple[dict[str, pd.DataFrame], dict, dict[str, tuple[int, str | None]], str]:
    """Return the raw string tables, the policy mapping, where each policy key is, and style.

    The style ("csv" or "xlsx") decides how files are named in problems.
    """
    tables: dict[str, pd.DataFrame] = {}
    policy: dict = {}
    where: dict[str, tuple[int, str | None]] = {}
    if path.is_dir():
        for name in TABLES:
            f = path / f"{name}.csv"
            if f.exists():
                frame = read_csv_table(f, f"{name}.csv", out)
                if frame is not None:
                    tables[name] = frame
        pol = path / "policy.toml"
        if pol.exists():
            policy, where = _read_toml(pol, out)
        return tables, policy, where, "csv"
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        sheets = _read_xlsx(path)
        for name in TABLES:
            if name in sheets:
                frame = _frame(sheets[name], f"{name} sheet", out)
                if frame is not None:
                    tables[name] = frame
        if "policy" in sheets:
            frame = _frame(sheets["policy"], "policy sheet", out)
            if frame is not None:
                policy, where = _policy_from_sheet(frame, out)
        known = {*TABLES, "policy"}
        for name in sheets:
            if name not in known:
                out.warn(f"{path.name}: unknown sheet {name!r} ignored")
        return tables, policy, where, "xlsx"
    raise InstanceError([Problem(str(path), None, None,
                                 "is neither an instance folder nor an .xlsx workbook")])


_TOML_POS = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_SECTION = re.compile(r"^\s*\[\s*([A-Za-z0-9_-]+)\s*\]")
_TOML_KEY = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*=")


def _read_toml(f: Path, out: Collector) -> tuple[dict, dict[str, tuple[int, str | None]]]:
    """Parse policy.toml; also note the line of each `section.key`, for precise problems."""
    try:
        text = f.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        out.add("policy.toml", None, None, "is not UTF-8 text")
        return {}, {}
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        detail = str(e)
        m = _TOML_POS.search(detail)
        row = int(m.group(1)) if m else None
        if m:
            detail = f"{detail[: m.start()]} at character {m.group(2)}"
        out.add("policy.toml", row, None,
                f"is not valid TOML: {detail[:1].lower()}{detail[1:]} (text values need "
                'double quotes, e.g. min_ofsted_rating = "good"; numbers and true/false do not)')
        return {}, {}
    where: dict[str, tuple[int, str | None]] = {}
    section = ""
    for line_no, line in enumerate(text.splitlines(), start=1):
        if m := _TOML_SECTION.match(line):
            section = m.group(1)
        elif m := _TOML_KEY.match(line):
            key = m.group(1)
            where.setdefault(f"{section}.{key}" if section else key, (line_no, None))
    return data, where


def _policy_from_sheet(df: pd.DataFrame, out: Collector
                       ) -> tuple[dict, dict[str, tuple[int, str | None]]]:
    """Sheet `policy`: columns key (`weights.per_km`) and value, each value read as TOML."""
    policy: dict = {}
    where: dict[str, tuple[int, str | None]] = {}
    if "key" not in df.columns or "value" not in df.columns:
        out.add("policy sheet", 1, None, "needs the columns key and value")
        return policy, where
    for row, key, value in zip(df.index, df["key"], df["value"], strict=True):
        if not key:
            continue
        if not value:
            out.warn(f"policy sheet: {key} has no value; the default is used")
            continue
        section, dot, name = key.partition(".")
        if not dot or not name:
            out.add("policy sheet", int(row), "key",
                    f"{key!r} is not a section.key name such as weights.per_km")
            continue
        try:
            parsed = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value.lower() == "true" if value.lower() in ("true", "false") else value
        policy.setdefault(section, {})[name] = parsed
        where[key] = (int(row), "value")
    return policy, where


def _fname(name: str, style: str) -> str:
    return f"{name}.csv" if style == "csv" else f"{name} sheet"


def check_columns(df: pd.DataFrame, spec: dict[str, bool], extra: set[str], file: str,
                   out: Collector) -> bool:
    """Report missing required columns, warn on unknown ones, add empty optional ones."""
    ok = True
    for col, required in spec.items():
        if required and col not in df.columns:
            out.add(file, 1, col, "required column is missing")
            ok = False
    for col in df.columns:
        if col not in spec and col not in extra:
            out.warn(f"{file}: unknown column {col!r} ignored")
    for col in spec:
        if col not in df.columns:
            df[col] = ""
    return ok


# --------------------------------------------------------------------------- parsers


def _bound(lo: float | None, hi: float | None) -> str:
    def num(v: float) -> str:
        return f"{v:,.0f}" if float(v).is_integer() and abs(v) >= 10_000 else f"{v}"

    return f"{num(lo)}..{num(hi)}" if lo is not None and hi is not None else f"{lo} or more"


def parse_ints(df: pd.DataFrame, col: str, file: str, out: Collector, *, default: int | None,
          lo: int | None = None, hi: int | None = None, what: str = "a whole number") -> np.ndarray:
    """Whole numbers; `12.0` (Excel) is accepted, `8.5` and `ten` are not."""
    s = df[col]
    empty = (s == "").to_numpy()
    num = pd.to_numeric(s.where(~empty), errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(num)
    bad_num = ~empty & (~finite | (np.where(finite, num, 0) % 1 != 0))
    if default is None:
        out.rows(file, df, empty, col, lambda v: "is required but empty")
    out.rows(file, df, bad_num, col, lambda v: f"{v!r} is not {what}")
    good = ~empty & ~bad_num
    huge = good & (np.abs(np.where(good, num, 0)) > _INT_LIMIT)
    out.rows(file, df, huge, col, lambda v: f"{v} is too large")
    good &= ~huge
    if lo is not None or hi is not None:
        low = lo if lo is not None else -np.inf
        high = hi if hi is not None else np.inf
        outside = good & ((num < low) | (num > high))
        bound = _bound(lo, hi)
        out.rows(file, df, outside, col, lambda v: f"{v} is out of range ({bound})")
    fill = default if default is not None else 0
    return np.where(good, np.where(good, num, 0), fill).astype(np.int64)


def parse_floats(df: pd.DataFrame, col: str, file: str, out: Collector, *, required: bool,
            lo: float | None = None, hi: float | None = None, default: float = np.nan,
            ) -> np.ndarray:
    """Decimal numbers; an empty cell takes `default` unless the column is required."""
    s = df[col]
    empty = (s == "").to_numpy()
    num = pd.to_numeric(s.where(~empty), errors="coerce").to_numpy(dtype=float)
    bad = ~empty & ~np.isfinite(num)
    if required:
        out.rows(file, df, empty, col, lambda v: "is required but empty")
    out.rows(file, df, bad, col, lambda v: f"{v!r} is not a number")
    ok = ~bad & ~empty
    vals = np.where(ok, num, default)
    if lo is not None or hi is not None:
        low = lo if lo is not None else -np.inf
        high = hi if hi is not None else np.inf
        outside = ok & ((vals < low) | (vals > high))
        bound = _bound(lo, hi)
        out.rows(file, df, outside, col, lambda v: f"{v} is out of range ({bound})")
    return vals


def parse_choice(df: pd.DataFrame, col: str, file: str, out: Collector, options: tuple[str, ...],
            *, default: str | None, upper: bool = False) -> np.ndarray:
    """A code from a fixed vocabulary, matched case-insensitively (`Good` is `good`)."""
    s = df[col].str.upper() if upper else df[col].str.lower()
    empty = (s == "").to_numpy()
    if default is None:
        out.rows(file, df, empty, col, lambda v: "is required but empty")
    s = s.where(~empty, default or options[0])
    bad = ~s.isin(options).to_numpy()
    out.rows(file, df, bad, col, lambda v: f"{v!r} is not one of {', '.join(options)}")
    codes = pd.Categorical(s.where(~bad, options[0]), categories=list(options)).codes
    return codes.astype(np.int64)


def _bools(df: pd.DataFrame, col: str, file: str, out: Collector) -> np.ndarray:
    """true/false (also yes/no, 1/0, any case); empty is false."""
    s = df[col].str.lower()
    truthy = s.isin(["true", "1", "yes"]).to_numpy()
    falsy = s.isin(["false", "0", "no", ""]).to_numpy()
    out.rows(file, df, ~(truthy | falsy), col, lambda v: f"{v!r} is not true or false")
    return truthy


_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ]00:00:00(?:\.0+)?)?$")


def _dates(df: pd.DataFrame, col: str, file: str, out: Collector) -> np.ndarray:
    """Dates written YYYY-MM-DD (an Excel date cell reads the same); empty is None.

    Only the ISO form is accepted: 03/04/2025 is 3 April in England and 4 March in an
    American export, and a wrong guess would offer a bed a month early.
    """
    vals = np.full(len(df), None, dtype=object)
    if col not in df.columns:
        return vals
    for i, v in enumerate(df[col].tolist()):
        if v == "":
            continue
        m = _DATE.match(v)
        day = None
        if m:
            try:
                day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                day = None
        if day is None:
            out.add(file, int(df.index[i]), col,
                    f"{v!r} is not a date: write it as YYYY-MM-DD, e.g. 2025-03-31")
        else:
            vals[i] = day
    return vals


def _hold_reasons(df: pd.DataFrame, col: str, file: str, out: Collector) -> np.ndarray:
    """`on_hold_reason`: a known code (lower-cased) or free text; empty = beds offered.

    Free text still holds the beds (a warning lists it): whoever typed "carer in
    hospital" meant the bed not to be offered, and offering it is the costly mistake.
    """
    if col not in df.columns:
        return np.full(len(df), "", dtype=object)
    s = df[col]
    low = s.str.lower()
    known = low.isin(HOLD_REASONS).to_numpy()
    vals = np.where(known, low.to_numpy(dtype=object), s.to_numpy(dtype=object))
    free = (~known & (s != "").to_numpy())
    if free.any():
        rows = [int(r) for r in df.index[free][:5]]
        texts = ", ".join(repr(v) for v in pd.unique(s[free])[:5])
        out.warn(f"{file}: on_hold_reason {texts} (row(s) {', '.join(map(str, rows))}"
                 f"{', ...' if free.sum() > 5 else ''}) is not one of "
                 f"{', '.join(HOLD_REASONS)}; those vacancies are held all the same")
    return vals.astype(object)


def _lists(s: pd.Series) -> list[list[str]]:
    return [[t.strip() for t in v.split(";") if t.strip()] if v else [] for v in s.tolist()]


def _warn_tag_case(ch: pd.DataFrame, file: str, out: Collector, cneeds: list[list[str]],
                   pneeds: list[list[str]]) -> None:
    """Needs tags are matched exactly (the spec), so `Disability` is not `disability`: a
    child's tag that no placement supports, but that one does in another case, is almost
    certainly a typing slip that leaves the child with no placement at all. Warned, per
    tag with its first rows, and matched as written."""
    supported = {t for ts in pneeds for t in ts}
    folded: dict[str, set[str]] = {}
    for t in supported:
        folded.setdefault(t.lower(), set()).add(t)
    slips: dict[str, list[int]] = {}
    for r, ts in zip(ch.index, cneeds, strict=True):
        for t in ts:
            if t not in supported and t.lower() in folded:
                slips.setdefault(t, []).append(int(r))
    for t, rows in slips.items():
        near = ", ".join(repr(s) for s in sorted(folded[t.lower()]))
        out.warn(f"{file}: needs tag {t!r} (row(s) {', '.join(map(str, rows[:5]))}"
                 f"{', ...' if len(rows) > 5 else ''}) is in no placement's needs_supported, "
                 f"which has {near}: tags are matched exactly, case included, so no "
                 f"placement meets it")


def parse_list_choice(df: pd.DataFrame, col: str, file: str, out: Collector,
                 options: tuple[str, ...], what: str, norm: Callable[[str], str],
                 ) -> list[list[str]]:
    """A `;`-separated list of codes; each unknown entry is named as the analyst wrote it."""
    allowed = set(options)
    lists: list[list[str]] = []
    for i, items in enumerate(_lists(df[col])):
        bad = [t for t in items if norm(t) not in allowed]
        if bad:
            names = ", ".join(repr(t) for t in bad)
            verb = f"is not a {what}" if len(bad) == 1 else f"are not {what}s"
            out.add(file, int(df.index[i]), col,
                    f"{names} {verb} (allowed: {', '.join(options)}; separate entries with ;)")
        lists.append([norm(t) for t in items])
    return lists


def parse_ids(df: pd.DataFrame, col: str, file: str, out: Collector) -> np.ndarray:
    """Ids are kept as text exactly (after trimming): `007` and `NA` are ids, not numbers."""
    s = df[col]
    out.rows(file, df, (s == "").to_numpy(), col, lambda v: "is required but empty")
    dup = (s.duplicated(keep="first") & (s != "")).to_numpy()
    first_row: dict[str, int] = {}
    for r, v in zip(df.index.tolist(), s.tolist(), strict=True):
        first_row.setdefault(v, int(r))
    out.rows(file, df, dup, col, lambda v: f"duplicate id {v!r} (already used at row "
             f"{first_row[v]})")
    return s.to_numpy(dtype=object)


def _bitset(lists: list[list[str]], vocab: dict[str, int], words: int) -> np.ndarray:
    mask = np.zeros((len(lists), max(words, 1)), dtype=np.uint64)
    rows, bits = [], []
    for i, tags in enumerate(lists):
        for t in tags:
            rows.append(i)
            bits.append(vocab[t])
    if rows:
        r = np.asarray(rows)
        b = np.asarray(bits)
        one = np.left_shift(np.uint64(1), (b % 64).astype(np.uint64))
        np.bitwise_or.at(mask, (r, b // 64), one)
    return mask


def _lookup(df: pd.DataFrame, col: str, file: str, out: Collector, index: dict[str, int],
            what: str, where: str, *, optional: bool) -> np.ndarray:
    """Resolve ids against another table; an id not found there is an error."""
    s = df[col]
    codes = s.map(index)
    empty = (s == "").to_numpy()
    if not optional:
        out.rows(file, df, empty, col, lambda v: "is required but empty")
    unknown = ~empty & codes.isna().to_numpy()
    out.rows(file, df, unknown, col, lambda v: f"unknown {what} {v!r} (not in {where})")
    return codes.fillna(-1).to_numpy().astype(np.int64)


# --------------------------------------------------------------------------- policy


def _parse_policy(raw: dict, file: str, out: Collector,
                  where: dict[str, tuple[int, str | None]]) -> Policy:
    """Check the policy's types and values; unknown sections and keys only warn."""

    def bad(key: str, value: Any, must: str) -> None:
        row, column = where.get(key, (None, None))
        out.add(file, row, column, f"{key} is {value!r}, but must be {must}")

    weights: dict[str, float] = {}
    rules: dict[str, Any] = {}
    for section in raw:
        if section not in ("weights", "rules"):
            out.warn(f"{file}: unknown section [{section}] ignored")
    w_raw = raw.get("weights", {})
    if not isinstance(w_raw, dict):
        bad("weights", w_raw, "a section: write [weights] on a line of its own")
        w_raw = {}
    names = {f.name for f in fields(Weights)}
    for key, value in w_raw.items():
        name = f"weights.{key}"
        if key not in names:
            out.warn(f"{file}: unknown key {name} ignored")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            bad(name, value, "a number (pounds per week)")
        elif not np.isfinite(value) or value < 0 or value > MAX_POUNDS:
            bad(name, value, f"a number from 0 to {MAX_POUNDS:,.0f} (pounds per week)")
        else:
            weights[key] = float(value)
    r_raw = raw.get("rules", {})
    if not isinstance(r_raw, dict):
        bad("rules", r_raw, "a section: write [rules] on a line of its own")
        r_raw = {}
    for key, value in r_raw.items():
        name = f"rules.{key}"
        if key == "min_ofsted_rating":
            rating = value.strip().lower() if isinstance(value, str) else None
            if rating not in RATINGS:
                bad(name, value, f"one of {', '.join(RATINGS)}")
            else:
                rules[key] = rating
        elif key in ("split_siblings", "move_only_in_child_interest"):
            if not isinstance(value, bool):
                bad(name, value, "true or false (without quotes)")
            else:
                rules[key] = value
        elif key == "min_move_km":
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                    np.isfinite(value) and value >= 0):
                bad(name, value, "a distance in km, 0 or more")
            else:
                rules[key] = float(value)
        else:
            out.warn(f"{file}: unknown key {name} ignored")
    return Policy(weights=Weights(**weights), rules=Rules(**rules))


# --------------------------------------------------------------------------- main


def _fail(out: Collector, files: tuple[str, ...]) -> InstanceError:
    """The error to raise, problems grouped by file and in row order, as an analyst fixes them."""
    rank = {f: i for i, f in enumerate(files)}
    return InstanceError(
        sorted(out.problems, key=lambda p: (rank.get(p.file, len(rank)), p.row or 0)))


def load_instance(path: str | Path, *, policy: Policy | None = None,
                  policy_file: str | Path | None = None,
                  ofsted: str | Path | None = None) -> Instance:
    """Load and validate an instance; raise `InstanceError` listing every problem.

    `policy`, when given, replaces the instance's own policy (what-if runs);
    `policy_file` (a policy.toml, e.g. a preset from models/policies/) is laid over it:
    its keys win, the instance's other keys stay. `ofsted` (Ofsted's provider-level
    list) gives the rating of every placement whose `urn` it holds.
    """
    path = Path(path)
    out = Collector()
    if not path.exists():
        raise InstanceError([Problem(str(path), None, None, "no such folder or file")])
    tables, raw_policy, where, style = _read_tables(path, out)
    if policy_file is not None:
        pf_path = Path(policy_file)
        if not pf_path.is_file():
            out.add(str(pf_path), None, None, "no such policy file")
        else:
            over, _ = _read_toml(pf_path, out)
            merged = {k: dict(v) if isinstance(v, dict) else v for k, v in raw_policy.items()}
            for section, values in over.items():
                if isinstance(values, dict) and isinstance(merged.get(section), dict):
                    merged[section].update(values)
                else:
                    merged[section] = values
            raw_policy = merged
    cf, pf = _fname("children", style), _fname("placements", style)
    ef, df_ = _fname("exclusions", style), _fname("distances", style)
    af = _fname("adjoining", style)
    polf = "policy.toml" if style == "csv" else "policy sheet"
    files = (cf, pf, ef, df_, af, polf)
    pol = policy if policy is not None else _parse_policy(raw_policy, polf, out, where)
    kind = "file" if style == "csv" else "sheet"
    # Only a missing (or unreadable) required table stops the load here: everything
    # else is checked on, so one run lists every problem.
    required_missing = False
    for name, f in (("children", cf), ("placements", pf)):
        if name not in tables:
            required_missing = True
            if not any(p.file == f for p in out.problems):
                out.add(f, None, None, f"required {kind} is missing")
    if required_missing:
        raise _fail(out, files)

    ch = tables["children"]
    pl = tables["placements"]
    ok = check_columns(ch, CHILD_COLUMNS, EXTRA_CHILD_COLUMNS, cf, out)
    ok &= check_columns(pl, PLACEMENT_COLUMNS, EXTRA_PLACEMENT_COLUMNS, pf, out)
    ex = tables.get("exclusions", pd.DataFrame({c: [] for c in EXCLUSION_COLUMNS}, dtype=object))
    ok &= check_columns(ex, EXCLUSION_COLUMNS, set(), ef, out)
    dist = tables.get("distances", pd.DataFrame({c: [] for c in DISTANCE_COLUMNS}, dtype=object))
    ok &= check_columns(dist, DISTANCE_COLUMNS, set(), df_, out)
    adj = tables.get("adjoining")
    if adj is not None:
        ok &= check_columns(adj, ADJOINING_COLUMNS, set(), af, out)
    for frame, extra in ((ch, CHILD_COLUMNS_11), (pl, PLACEMENT_COLUMNS_11)):
        for col in extra:
            if col not in frame.columns:
                frame[col] = ""
    if not ok:
        raise _fail(out, files)

    # ---- placements
    pids = parse_ids(pl, "placement_id", pf, out)
    pindex = {p: i for i, p in enumerate(pids) if p != ""}
    out.rows(pf, pl, (pl["provider"] == "").to_numpy(), "provider",
             lambda v: "is required but empty")
    ptype = parse_choice(pl, "type", pf, out, PLACEMENT_TYPES, default=None)
    vac = parse_ints(pl, "vacancies", pf, out, default=None, lo=0, what="a whole number of beds")
    amin = parse_ints(pl, "age_min", pf, out, default=None, lo=0, hi=25)
    amax = parse_ints(pl, "age_max", pf, out, default=None, lo=0, hi=25)
    age_problem = {(p.row, p.column) for p in out.problems if p.file == pf}
    for i in np.flatnonzero(amin > amax):
        row = int(pl.index[int(i)])
        if (row, "age_min") not in age_problem and (row, "age_max") not in age_problem:
            out.add(pf, row, "age_max", f"{amax[i]} is below age_min ({amin[i]})")
    glists = parse_list_choice(pl, "genders", pf, out, GENDERS, "gender", str.upper)
    gmask = np.array(
        [sum(1 << GENDERS.index(x) for x in set(g) if x in GENDERS) if g else 7 for g in glists],
        dtype=np.uint8,
    )
    rating = parse_choice(pl, "ofsted_rating", pf, out, ALL_RATINGS, default="not_rated")
    lat = parse_floats(pl, "lat", pf, out, required=True, lo=-90, hi=90, default=0.0)
    lon = parse_floats(pl, "lon", pf, out, required=True, lo=-180, hi=180, default=0.0)
    cost = parse_floats(pl, "weekly_cost", pf, out, required=True, lo=0, hi=MAX_POUNDS,
                   default=0.0)
    on_hold = _hold_reasons(pl, "on_hold_reason", pf, out)
    available_from = _dates(pl, "available_from", pf, out)

    # ---- children
    cids = parse_ids(ch, "child_id", cf, out)
    cindex = {c: i for i, c in enumerate(cids) if c != ""}
    age = parse_ints(ch, "age", cf, out, default=None, lo=0, hi=17, what="an age in whole years")
    gender = parse_choice(ch, "gender", cf, out, GENDERS, default=None, upper=True)
    hlat = parse_floats(ch, "home_lat", cf, out, required=True, lo=-90, hi=90, default=0.0)
    hlon = parse_floats(ch, "home_lon", cf, out, required=True, lo=-180, hi=180, default=0.0)
    fm = parse_choice(ch, "faith_match", cf, out, FAITH_MATCH, default="none")
    cfaith_s = ch["faith"].str.lower()
    out.rows(cf, ch, (fm == FaithMatch.REQUIRED) & (cfaith_s == "").to_numpy(), "faith",
             lambda v: "is empty, but faith_match is required: give the child's faith")
    out.rows(cf, ch, (fm == FaithMatch.PREFERRED) & (cfaith_s == "").to_numpy(), "faith",
             lambda v: "is empty, but faith_match is preferred: give the child's faith "
                       "or set faith_match to none")
    types_l = parse_list_choice(ch, "placement_types", cf, out, PLACEMENT_TYPES, "placement type",
                           str.lower)
    default_tmask = sum(1 << PLACEMENT_TYPES.index(t) for t in DEFAULT_TYPES)
    tmask = np.array(
        [sum(1 << PLACEMENT_TYPES.index(t) for t in set(ts) if t in PLACEMENT_TYPES)
         if ts else default_tmask for ts in types_l],
        dtype=np.uint16,
    )
    maxd = parse_floats(ch, "max_distance_km", cf, out, required=False, lo=0, default=np.inf)
    solo = _bools(ch, "solo", cf, out)
    current = _lookup(ch, "current_placement", cf, out, pindex, "placement", pf, optional=True)
    prio = parse_ints(ch, "priority", cf, out, default=1, lo=1)
    pinned = (_bools(ch, "pinned", cf, out) if "pinned" in ch.columns
              else np.zeros(len(ch), dtype=bool))
    placed_since = _dates(ch, "placed_since", cf, out)
    _check_pinned(ch, cf, out, pinned, current, pol)

    # ---- vocabularies (faith is compared case-insensitively)
    pfaith_s = pl["faith"].str.lower()
    faiths = tuple(sorted(set(cfaith_s[cfaith_s != ""]) | set(pfaith_s[pfaith_s != ""])))
    fidx = {f: i for i, f in enumerate(faiths)}
    cneeds = _lists(ch["needs"])
    pneeds = _lists(pl["needs_supported"])
    _warn_tag_case(ch, cf, out, cneeds, pneeds)
    tags = tuple(sorted({t for ts in cneeds for t in ts} | {t for ts in pneeds for t in ts}))
    tidx = {t: i for i, t in enumerate(tags)}
    words = (len(tags) + 63) // 64

    # ---- relations
    ex_c = _lookup(ex, "child_id", ef, out, cindex, "child", cf, optional=False)
    ex_p = _lookup(ex, "placement_id", ef, out, pindex, "placement", pf, optional=False)
    d_c = _lookup(dist, "child_id", df_, out, cindex, "child", cf, optional=False)
    d_p = _lookup(dist, "placement_id", df_, out, pindex, "placement", pf, optional=False)
    d_km = parse_floats(dist, "km", df_, out, required=True, lo=0, default=0.0)
    if len(dist):
        first: dict[tuple[str, str], int] = {}
        for r, c, p in zip(dist.index, dist["child_id"], dist["placement_id"], strict=True):
            if (c, p) in first:
                out.add(df_, int(r), "placement_id", f"child {c!r} and placement {p!r} are "
                        f"already given at row {first[(c, p)]}")
            else:
                first[(c, p)] = int(r)

    f11, problems, warnings = read_format11(
        ch, pl, adj, (cf, pf, af), _policy_keys(raw_policy), ptype)
    for problem in problems:
        out.add(*problem)
    for warning in warnings:
        out.warn(warning)
    if pol.rules.move_only_in_child_interest and not pol.rules.split_siblings:
        _warn_siblings_apart(ch, cf, current, out)
    if ofsted is not None:
        try:
            listed = read_ofsted(ofsted)
        except (OSError, ValueError) as e:
            out.add(str(ofsted), None, None, str(e))
        else:
            rating = _ofsted_ratings(rating, pl, pf, listed, out)

    if out.problems:
        raise _fail(out, files)

    inst = Instance(
        source=str(path),
        policy=pol,
        child_ids=cids,
        age=age.astype(np.int16),
        gender=gender.astype(np.int8),
        home_lat=hlat,
        home_lon=hlon,
        sibling_group=ch["sibling_group"].to_numpy(dtype=object),
        faith=cfaith_s.map(lambda f: fidx.get(f, -1)).to_numpy().astype(np.int32),
        faith_match=fm.astype(np.int8),
        needs=_bitset(cneeds, tidx, words),
        types_allowed=tmask,
        max_distance_km=maxd,
        solo=solo,
        current=current.astype(np.int32),
        priority=prio.astype(np.int32),
        placement_ids=pids,
        provider=pl["provider"].to_numpy(dtype=object),
        ptype=ptype.astype(np.int8),
        vacancies=vac.astype(np.int32),
        age_min=amin.astype(np.int16),
        age_max=amax.astype(np.int16),
        genders_allowed=gmask,
        pfaith=pfaith_s.map(lambda f: fidx.get(f, -1)).to_numpy().astype(np.int32),
        needs_supported=_bitset(pneeds, tidx, words),
        rating=rating.astype(np.int8),
        lat=lat,
        lon=lon,
        weekly_cost=cost,
        block_contract=pl["block_contract"].to_numpy(dtype=object),
        excl_child=ex_c.astype(np.int32),
        excl_placement=ex_p.astype(np.int32),
        excl_reason=ex["reason"].to_numpy(dtype=object),
        dist_child=d_c.astype(np.int32),
        dist_placement=d_p.astype(np.int32),
        dist_km=d_km,
        faiths=faiths,
        need_tags=tags,
        warnings=tuple(out.warnings),
        pinned=pinned & (current >= 0),
        placed_since=placed_since,
        on_hold=on_hold,
        available_from=available_from,
        authority=f11.authority,
        pauthority=f11.pauthority,
        authorities=f11.authorities,
        authority_labels=f11.authority_labels,
        adjoining=f11.adjoining,
        reserved_for=f11.reserved_for,
        reserve_child=f11.reserve_child,
        reserve_placement=f11.reserve_placement,
        urn=f11.urn,
        format_11=f11.used,
    )
    return inst


def _warn_siblings_apart(ch: pd.DataFrame, file: str, current: np.ndarray,
                         out: Collector) -> None:
    """Under move_only_in_child_interest a placed child is never left unplaced; a sibling
    group that does not live together can keep that only if some move reunites it."""
    homes: dict[str, set[int]] = {}
    for g, c in zip(ch["sibling_group"].tolist(), current.tolist(), strict=True):
        if g:
            homes.setdefault(g, set()).add(int(c))
    apart = sorted(g for g, at in homes.items() if len(at) > 1 and max(at) >= 0)
    if apart:
        out.warn(f"{file}: {len(apart)} sibling group(s) with a child placed do not all live "
                 f"in one placement (first: {apart[0]!r}); placed together or not at all, "
                 "they may be left unplaced, which move_only_in_child_interest forbids")


def _ofsted_ratings(rating: np.ndarray, pl: pd.DataFrame, pf: str, listed: dict[str, str],
                    out: Collector) -> np.ndarray:
    """Ofsted's rating for each placement whose urn the list holds; a warning where the
    register's own rating differs, or where a urn is not in the list."""
    rating = rating.copy()
    for j, (row, urn, given) in enumerate(zip(pl.index, pl["urn"], pl["ofsted_rating"],
                                              strict=True)):
        if not urn:
            continue
        word = listed.get(urn)
        if word is None:
            out.warn(f"{pf}: row {row}, column urn: {urn} is not in Ofsted's list; the "
                     "register's rating is used")
            continue
        if given and given.lower() != word:
            out.warn(f"{pf}: row {row}, column ofsted_rating: the register says "
                     f"{given.lower()}, Ofsted's list says {word} (URN {urn}); Ofsted's is "
                     "used")
        rating[j] = ALL_RATINGS.index(word)
    return rating


def _policy_keys(raw: dict) -> set[str]:
    """`section.key` of every key the policy gives."""
    return {f"{section}.{key}" for section, values in raw.items() if isinstance(values, dict)
            for key in values}


def _check_pinned(ch: pd.DataFrame, file: str, out: Collector, pinned: np.ndarray,
                  current: np.ndarray, pol: Policy) -> None:
    """A pinned child must have a current placement (else it is only a warning: the pin
    is ignored), and pinned siblings kept together cannot live in different placements."""
    waiting = pinned & (current < 0)
    if waiting.any():
        rows = ", ".join(str(int(r)) for r in ch.index[waiting][:5])
        out.warn(f"{file}: {int(waiting.sum())} child(ren) pinned without a current_placement "
                 f"(row(s) {rows}); the pin is ignored, they are waiting children")
    if pol.rules.split_siblings:
        return
    groups = ch["sibling_group"].to_numpy(dtype=object)
    first: dict[str, tuple[int, str]] = {}
    for i in np.flatnonzero(pinned & (current >= 0) & (groups != "")):
        g = str(groups[i])
        here = (int(current[i]), str(ch["current_placement"].iloc[i]))
        if g not in first:
            first[g] = here
        elif first[g][0] != here[0]:
            out.add(file, int(ch.index[int(i)]), "pinned",
                    f"pinned at {here[1]}, but a sibling in group {g!r} is pinned at "
                    f"{first[g][1]}; siblings are placed together, so both cannot stay")

