"""Files into text tables: a folder of UTF-8 CSV files or one .xlsx workbook, each table a
frame of strings indexed by the row number a spreadsheet shows (the header is row 1;
blank rows are skipped but still counted, so the numbers match what the analyst sees)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from optimiser.instance import InstanceError, Problem
from optimiser.safe_text import QUOTE, restore

from .collect import Collector
from .policy import policy_from_sheet, read_toml

TABLES = ("children", "placements", "exclusions", "distances", "adjoining")


@dataclass(frozen=True)
class FileNames:
    """How problems name each table: `children.csv` in a folder, `children sheet` in a
    workbook."""

    children: str
    placements: str
    exclusions: str
    distances: str
    adjoining: str
    policy: str
    kind: str  # "file" or "sheet"

    @classmethod
    def of(cls, style: str) -> FileNames:
        """The names for `style` "csv" or "xlsx"."""
        if style == "csv":
            return cls("children.csv", "placements.csv", "exclusions.csv", "distances.csv",
                       "adjoining.csv", "policy.toml", "file")
        return cls("children sheet", "placements sheet", "exclusions sheet",
                   "distances sheet", "adjoining sheet", "policy sheet", "sheet")

    def ordered(self) -> tuple[str, ...]:
        """Every name, in the order problems are reported."""
        return (self.children, self.placements, self.exclusions, self.distances,
                self.adjoining, self.policy)


def _header(first: list[str], file: str, out: Collector) -> tuple[list[str], list[int]]:
    """The header's column names and the positions kept (named, each name once)."""
    header = [c.replace("\ufeff", "").strip().lower() for c in first]
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
    return header, keep


def _rows(records: list[list[str]], header: list[str], keep: list[int], file: str,
          out: Collector) -> tuple[list[list[str]], list[int]]:
    """The data rows' kept cells and their row numbers."""
    width = len(header)
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
    return data, index


def _frame(records: list[list[str]], file: str, out: Collector) -> pd.DataFrame | None:
    """Turn raw records (header first) into a string frame indexed by spreadsheet row.

    Blank rows are dropped but keep their numbers; short rows are padded (Excel's CSV
    export can drop trailing empty cells); a row with more values than the header is an
    error, even if the extras are empty, because its values may have shifted columns.
    """
    if not records or not any(c.strip() for c in records[0]):
        out.add(file, None, None, "is empty (the first row must be the header)")
        return None
    header, keep = _header(records[0], file, out)
    data, index = _rows(records, header, keep, file, out)
    cols = [header[j] for j in keep]
    if not data:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    # column by column, each cell once: the frame is built from finished columns
    values = {c: _cells(column) for c, column in zip(cols, zip(*data, strict=True),
                                                      strict=True)}
    return pd.DataFrame(values, index=index, dtype=object)


def _cells(column: tuple[str, ...]) -> list[str]:
    """A column's cells as read: whitespace around a value is an export artefact, never
    meaningful; a leading ' before a formula start is the format's neutralisation, not
    the value."""
    # one search over the joined column tells whether any cell starts with the quote
    # (a cell holding the separator can only make it look, never hide one)
    if "\n" + QUOTE in "\n" + "\n".join(column):
        return [restore(v).strip() if v.startswith(QUOTE) else v.strip() for v in column]
    return list(map(str.strip, column))


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


RawTables = tuple[dict[str, pd.DataFrame], dict, dict[str, tuple[int, str | None]], str]


def read_tables(path: Path, out: Collector) -> RawTables:
    """Return the raw string tables, the policy mapping, where each policy key is, and style.

    The style ("csv" or "xlsx") decides how files are named in problems.
    """
    if path.is_dir():
        return _read_folder(path, out)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_workbook(path, out)
    raise InstanceError([Problem(str(path), None, None,
                                 "is neither an instance folder nor an .xlsx workbook")])


def _read_folder(path: Path, out: Collector) -> RawTables:
    tables: dict[str, pd.DataFrame] = {}
    policy: dict = {}
    where: dict[str, tuple[int, str | None]] = {}
    for name in TABLES:
        f = path / f"{name}.csv"
        if f.exists():
            frame = read_csv_table(f, f"{name}.csv", out)
            if frame is not None:
                tables[name] = frame
    pol = path / "policy.toml"
    if pol.exists():
        policy, where = read_toml(pol, out)
    return tables, policy, where, "csv"


def _read_workbook(path: Path, out: Collector) -> RawTables:
    tables: dict[str, pd.DataFrame] = {}
    policy: dict = {}
    where: dict[str, tuple[int, str | None]] = {}
    sheets = _read_xlsx(path)
    for name in TABLES:
        if name in sheets:
            frame = _frame(sheets[name], f"{name} sheet", out)
            if frame is not None:
                tables[name] = frame
    if "policy" in sheets:
        frame = _frame(sheets["policy"], "policy sheet", out)
        if frame is not None:
            policy, where = policy_from_sheet(frame, out)
    known = {*TABLES, "policy"}
    for name in sheets:
        if name not in known:
            out.warn(f"{path.name}: unknown sheet {name!r} ignored")
    return tables, policy, where, "xlsx"
