"""Cells parsed column by column: whole and decimal numbers, codes from a vocabulary,
lists of codes, ids, true/false, dates and references to another table. Every bad cell is
reported by file, row and column; the parsers return arrays with a default where a cell
is bad, so the load goes on and names every problem."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from optimiser.categories import HOLD_REASONS

from .collect import Collector

# largest weight or weekly cost read, in pounds per week: objectives are summed in whole
# pence (int64, optimiser/scaling.py) and min-cost flow scales its costs by the number
# of units; far beyond any real cost, far inside what both can hold exactly
MAX_POUNDS = 1e9
_INT_LIMIT = 2**31 - 1  # larger whole numbers are a typo, and would overflow int32 arrays


def _bound(lo: float | None, hi: float | None) -> str:
    """A range as problems word it: `0..25`, `1 or more`, `0..1,000,000,000`."""
    def num(v: float) -> str:
        return f"{v:,.0f}" if float(v).is_integer() and abs(v) >= 10_000 else f"{v}"

    return f"{num(lo)}..{num(hi)}" if lo is not None and hi is not None else f"{lo} or more"


def empty_cells(s: pd.Series) -> np.ndarray:
    """Which cells are empty (every cell is text: the reader's frames hold strings)."""
    return np.asarray(s.to_numpy(dtype=object) == "", dtype=bool)


def by_value(s: pd.Series, f: Callable[[str], Any], dtype: Any) -> np.ndarray:
    """`f` of every cell, computed once per distinct value (a column repeats a few
    codes thousands of times)."""
    values = s.tolist()
    of = {v: f(v) for v in set(values)}
    return np.array([of[v] for v in values], dtype=dtype)


def lower_cells(s: pd.Series) -> pd.Series:
    """The cells lower-cased, as a column of the same frame."""
    return pd.Series(by_value(s, str.lower, object), index=s.index, name=s.name, dtype=object)


def _numbers(s: pd.Series, empty: np.ndarray) -> np.ndarray:
    """The cells as numbers (NaN where empty or not a number)."""
    return pd.to_numeric(s.where(~empty), errors="coerce").to_numpy(dtype=float)


def parse_ints(df: pd.DataFrame, col: str, file: str, out: Collector, *, default: int | None,
               lo: int | None = None, hi: int | None = None,
               what: str = "a whole number") -> np.ndarray:
    """Whole numbers; `12.0` (Excel) is accepted, `8.5` and `ten` are not."""
    s = df[col]
    empty = empty_cells(s)
    num = _numbers(s, empty)
    finite = np.isfinite(num)
    bad_num = ~empty & (~finite | (np.where(finite, num, 0) % 1 != 0))
    if default is None:
        out.rows(file, df, empty, col, lambda v: "is required but empty")
    out.rows(file, df, bad_num, col, lambda v: f"{v!r} is not {what}")
    good = ~empty & ~bad_num
    huge = good & (np.abs(np.where(good, num, 0)) > _INT_LIMIT)
    out.rows(file, df, huge, col, lambda v: f"{v} is too large")
    good &= ~huge
    check_range(df, col, file, out, good, num, lo, hi)
    fill = default if default is not None else 0
    return np.where(good, np.where(good, num, 0), fill).astype(np.int64)


def parse_floats(df: pd.DataFrame, col: str, file: str, out: Collector, *, required: bool,
                 lo: float | None = None, hi: float | None = None,
                 default: float = np.nan) -> np.ndarray:
    """Decimal numbers; an empty cell takes `default` unless the column is required."""
    s = df[col]
    empty = empty_cells(s)
    num = _numbers(s, empty)
    bad = ~empty & ~np.isfinite(num)
    if required:
        out.rows(file, df, empty, col, lambda v: "is required but empty")
    out.rows(file, df, bad, col, lambda v: f"{v!r} is not a number")
    ok = ~bad & ~empty
    vals = np.where(ok, num, default)
    check_range(df, col, file, out, ok, vals, lo, hi)
    return vals


def check_range(df: pd.DataFrame, col: str, file: str, out: Collector, valid: np.ndarray,
                values: np.ndarray, lo: float | None, hi: float | None) -> None:
    """Every `valid` cell of `col` whose value lies outside [lo, hi], named (no bound: none)."""
    if lo is None and hi is None:
        return
    low = lo if lo is not None else -np.inf
    high = hi if hi is not None else np.inf
    outside = valid & ((values < low) | (values > high))
    bound = _bound(lo, hi)
    out.rows(file, df, outside, col, lambda v: f"{v} is out of range ({bound})")


def parse_choice(df: pd.DataFrame, col: str, file: str, out: Collector,
                 options: tuple[str, ...], *, default: str | None,
                 upper: bool = False) -> np.ndarray:
    """A code from a fixed vocabulary, matched case-insensitively (`Good` is `good`)."""
    norm = str.upper if upper else str.lower
    code_of = {o: i for i, o in enumerate(options)}
    fill = default or options[0]  # an empty cell's code (reported when required)
    empty = empty_cells(df[col])
    if default is None:
        out.rows(file, df, empty, col, lambda v: "is required but empty")
    codes = by_value(df[col], lambda v: code_of.get(norm(v) or fill, -1), np.int64)
    bad = codes < 0
    out.rows(file, df, bad, col, lambda v: f"{v!r} is not one of {', '.join(options)}")
    codes[bad] = 0
    return codes


_TRUTH = {"true": 1, "1": 1, "yes": 1, "false": 0, "0": 0, "no": 0, "": 0}


def parse_bools(df: pd.DataFrame, col: str, file: str, out: Collector) -> np.ndarray:
    """true/false (also yes/no, 1/0, any case); empty is false."""
    truth = by_value(df[col], lambda v: _TRUTH.get(v.lower(), -1), np.int8)
    out.rows(file, df, truth < 0, col, lambda v: f"{v!r} is not true or false")
    return truth == 1


_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ]00:00:00(?:\.0+)?)?$")


def parse_dates(df: pd.DataFrame, col: str, file: str, out: Collector) -> np.ndarray:
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


def parse_hold_reasons(df: pd.DataFrame, col: str, file: str, out: Collector) -> np.ndarray:
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


def split_lists(s: pd.Series) -> list[list[str]]:
    """Each cell's `;`-separated entries, trimmed; an empty cell is an empty list."""
    values = s.tolist()
    of = {v: _entries(v) for v in set(values)}
    return [list(of[v]) for v in values]


def _entries(cell: str) -> list[str]:
    """A cell's `;`-separated entries, trimmed (none when empty)."""
    return [t.strip() for t in cell.split(";") if t.strip()] if cell else []


def parse_list_choice(df: pd.DataFrame, col: str, file: str, out: Collector,
                      options: tuple[str, ...], what: str,
                      norm: Callable[[str], str]) -> list[list[str]]:
    """A `;`-separated list of codes; each unknown entry is named as the analyst wrote it."""
    allowed = set(options)
    values = df[col].tolist()
    parsed = {v: _entries(v) for v in set(values)}  # each distinct cell once
    known = {v: ([norm(t) for t in items], [t for t in items if norm(t) not in allowed])
             for v, items in parsed.items()}
    lists: list[list[str]] = []
    for i, v in enumerate(values):
        normed, bad = known[v]
        if bad:
            names = ", ".join(repr(t) for t in bad)
            verb = f"is not a {what}" if len(bad) == 1 else f"are not {what}s"
            out.add(file, int(df.index[i]), col,
                    f"{names} {verb} (allowed: {', '.join(options)}; separate entries with ;)")
        lists.append(list(normed))
    return lists


def parse_ids(df: pd.DataFrame, col: str, file: str, out: Collector) -> np.ndarray:
    """Ids are kept as text exactly (after trimming): `007` and `NA` are ids, not numbers."""
    s = df[col]
    empty = empty_cells(s)
    out.rows(file, df, empty, col, lambda v: "is required but empty")
    dup = s.duplicated(keep="first").to_numpy() & ~empty
    first_row: dict[str, int] = {}
    if dup.any():  # where each duplicated id was first used
        for r, v in zip(df.index.tolist(), s.tolist(), strict=True):
            first_row.setdefault(v, int(r))
    out.rows(file, df, dup, col, lambda v: f"duplicate id {v!r} (already used at row "
             f"{first_row[v]})")
    return s.to_numpy(dtype=object)


def lookup_ids(df: pd.DataFrame, col: str, file: str, out: Collector, index: dict[str, int],
               what: str, where: str, *, optional: bool) -> np.ndarray:
    """Resolve ids against another table; an id not found there is an error."""
    s = df[col]
    codes = np.array([index.get(v, -1) for v in s.tolist()], dtype=np.int64)
    empty = empty_cells(s)
    if not optional:
        out.rows(file, df, empty, col, lambda v: "is required but empty")
    unknown = ~empty & (codes < 0)  # positions are 0 or more
    out.rows(file, df, unknown, col, lambda v: f"unknown {what} {v!r} (not in {where})")
    return codes
