"""Text a spreadsheet can never run as a formula (the format's rule for every file written).

A cell of free text (an id, a provider's name, a reason) that begins with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is written with a leading ``'``: a spreadsheet
shows it as text and never evaluates it. Reading reverses it (:func:`restore`), so an id
survives a write and a read unchanged. Numbers are never touched: only text columns of a
table are neutralised, so a negative longitude or saving stays a number.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def neutralise(value: Any) -> Any:
    """`value` with a leading `'` if it is text a spreadsheet could run; else unchanged."""
    if isinstance(value, str) and value.lstrip(QUOTE).startswith(FORMULA_STARTS):
        return QUOTE + value  # `'=x` too becomes `''=x`, so that reading gives it back
    return value


def restore(value: str) -> str:
    """The text before :func:`neutralise` (a `'` is dropped only before a formula start)."""
    if value.startswith(QUOTE) and value.lstrip(QUOTE).startswith(FORMULA_STARTS):
        return value[1:]
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` with every text cell neutralised; numeric columns left as they are.

    Call it before numbers are formatted as text, or a negative number would be quoted.
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            out[col] = s.map(neutralise)
    return out


def _number(text: str) -> bool:
    """A finite number as text (`-inf` or `-nan` is no number a spreadsheet knows)."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def read_text_table(path: str | Path) -> pd.DataFrame:
    """A CSV the engine wrote, every cell as text ('' when empty), neutralising undone."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    return df.map(restore)


def neutralise_cell(value: Any) -> Any:
    """A cell of a table held as text: neutralised unless it is a number (`-1.25` stays)."""
    return value if not isinstance(value, str) or _number(value) else neutralise(value)


def safe_text_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of a table held as text (as `read_text_table` gives it) with every cell that
    is not a number neutralised: an id `-P9` is quoted, a longitude `-1.25` is not."""
    return df.map(neutralise_cell)
