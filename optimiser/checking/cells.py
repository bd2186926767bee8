"""The spec's cells turned into values: text, booleans, numbers, dates, lists, areas.

Written apart from the engine's reader on purpose (the checker shares no reading code):
empty means "not given", ids stay text, a list is ';'-separated, and the 1.1
neutralisation of formula-like cells is undone before a value is read.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SEP = "\x1f"
"""Joins two ids into one hashable key; cannot occur in a CSV id."""

TRUE_WORDS = ("true", "yes", "1")
FALSE_WORDS = ("", "false", "no", "0")

_ISO_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ]00:00:00(?:\.0+)?)?$")


def clean_table(df: pd.DataFrame) -> pd.DataFrame:
    """Strings everywhere, stripped, '' for a missing cell: the spec's 'empty = not given'.
    Headers in any case and blank rows are read as the engine's reader reads them (an
    Excel export has both), so that every instance the engine solves can be checked."""
    df = df.copy()
    df.columns = [str(c).strip().lower() for c in df.columns]
    df = df.fillna("").astype(str)
    for col in df.columns:
        df[col] = df[col].map(unquote).str.strip()
    if len(df.columns):
        df = df[(df != "").any(axis=1)].reset_index(drop=True)
    return df


def unquote(text: str) -> str:
    """The spec's 1.1 neutralisation reversed: a leading ' before =, +, -, @, tab or CR."""
    if text[:1] == "'" and text.lstrip("'")[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return text[1:]
    return text


def read_csv(path: Path) -> pd.DataFrame:
    """Ids stay text: dtype=str and keep_default_na=False keep an id like 'NA' or '007'."""
    return clean_table(pd.read_csv(path, dtype=str, keep_default_na=False))


def ensure_columns(df: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Optional columns absent from the file behave as all-empty."""
    for col in columns:
        if col not in df.columns:
            df[col] = ""
    return df


def parse_bool(value: Any, what: str) -> bool:
    """'true'/'false' in any case (also yes/no, 1/0, as the reader; or a real boolean
    from Excel); empty means false."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in FALSE_WORDS:
        return False
    if text in TRUE_WORDS:
        return True
    raise ValueError(f"{what}: {value!r} is not true/false")


def bool_column(s: pd.Series, what: str) -> pd.Series:
    """A column of true/false words (any case); anything else is an error."""
    low = s.str.lower()
    bad = ~low.isin(TRUE_WORDS + FALSE_WORDS)
    if bad.any():
        raise ValueError(f"{what}: not true/false: {sorted(set(s[bad]))[:5]}")
    return low.isin(TRUE_WORDS)


def number_column(df: pd.DataFrame, col: str, id_col: str, required: bool) -> pd.Series:
    """Float column, NaN when empty; a required empty cell or any non-number is an error."""
    s = df[col]
    num = pd.to_numeric(s.where(s != "", np.nan), errors="coerce").astype(float)
    bad = num.isna() & ((s != "") | required)
    if bad.any():
        ids = df.loc[bad, id_col].tolist()[:5]
        raise ValueError(f"{col}: missing or not a number for {id_col} {ids}")
    return num


def check_enum(values: pd.Series, allowed: tuple[str, ...], what: str) -> None:
    """Every value one of the format's words, or an error naming the first few others."""
    bad = ~values.isin(allowed)
    if bad.any():
        raise ValueError(f"{what}: unknown value(s) {sorted(set(values[bad]))[:5]}")


def explode(ids: pd.Series, lists: pd.Series) -> pd.DataFrame:
    """(id, item) rows of a ';'-separated list column, items stripped, empty items dropped."""
    s = pd.Series(lists.to_numpy(), index=ids.to_numpy()).str.split(";").explode()
    s = s.astype(str).str.strip()
    s = s[s != ""]
    return pd.DataFrame({"id": s.index.astype(str), "item": s.to_numpy()})


def area(name: str) -> str:
    """An authority as compared: GSS code or name, any case or spacing."""
    return " ".join(str(name).split()).lower()


def parse_date(value: str, what: str) -> dt.date | None:
    """YYYY-MM-DD (an Excel cell may add T00:00:00); empty is None."""
    text = str(value).strip()
    if text == "":
        return None
    m = _ISO_DAY.match(text)
    try:
        if m:
            return dt.date.fromisoformat(m.group(1))
    except ValueError:
        pass
    raise ValueError(f"{what}: {value!r} is not a date (YYYY-MM-DD)")
