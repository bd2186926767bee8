"""Read an instance (a folder of CSV files, or one .xlsx workbook) into an `Instance`.

Every problem is collected and reported at once, each naming file, row and column,
because a council analyst fixing an export wants the whole list, not one error per run.
Row numbers are the line numbers a spreadsheet shows (the header is row 1).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .instance import Instance, InstanceError, Policy, Problem, Rules, Weights
from .rules import (
    ALL_RATINGS,
    DEFAULT_TYPES,
    FAITH_MATCH,
    GENDERS,
    PLACEMENT_TYPES,
    RATINGS,
)

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
# Optional columns that later features read; known, so they do not warn.
EXTRA_CHILD_COLUMNS = {"pinned", "placed_since"}
EXTRA_PLACEMENT_COLUMNS = {"on_hold_reason", "available_from"}

TABLES = ("children", "placements", "exclusions", "distances")


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[str] = []

    def add(self, file: str, row: int | None, column: str | None, message: str) -> None:
        self.problems.append(Problem(file, row, column, message))

    def rows(self, file: str, df: pd.DataFrame, mask: Any, column: str, message: Callable) -> None:
        """Report every row where `mask` is true; `message(value)` words it."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        values = df[column].to_numpy() if column in df.columns else None
        for i in np.flatnonzero(mask):
            v = values[i] if values is not None else None
            self.add(file, int(i) + 2, column, message(v))


# --------------------------------------------------------------------------- raw tables


def _read_tables(path: Path, out: _Collector) -> tuple[dict[str, pd.DataFrame], dict, str]:
    """Return the raw string tables, the policy mapping and the file-name style."""
    tables: dict[str, pd.DataFrame] = {}
    policy: dict = {}
    if path.is_dir():
        for name in TABLES:
            f = path / f"{name}.csv"
            if f.exists():
                try:
                    tables[name] = pd.read_csv(
                        f, dtype=str, keep_default_na=False, skipinitialspace=True,
                        encoding="utf-8-sig",
                    )
                except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
                    out.add(f"{name}.csv", None, None, f"cannot be read as CSV ({e})")
        pol = path / "policy.toml"
        if pol.exists():
            try:
                policy = tomllib.loads(pol.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
                out.add("policy.toml", None, None, f"is not valid TOML ({e})")
        return tables, policy, "csv"
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            sheets = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False)
        except Exception as e:  # openpyxl raises many kinds
            out.add(path.name, None, None, f"cannot be read as an Excel workbook ({e})")
            return tables, policy, "xlsx"
        by_lower = {k.strip().lower(): v for k, v in sheets.items()}
        for name in TABLES:
            if name in by_lower:
                tables[name] = by_lower[name].astype(str).replace("nan", "")
        if "policy" in by_lower:
            policy = _policy_from_sheet(by_lower["policy"], out)
        return tables, policy, "xlsx"
    out.add(str(path), None, None, "is neither an instance folder nor an .xlsx workbook")
    return tables, policy, "csv"


def _policy_from_sheet(df: pd.DataFrame, out: _Collector) -> dict:
    """Sheet `policy`: columns key (`weights.per_km`) and value, parsed as TOML values."""
    policy: dict = {}
    cols = [c.strip().lower() for c in df.columns]
    if "key" not in cols or "value" not in cols:
        out.add("policy sheet", None, None, "needs the columns key and value")
        return policy
    df.columns = cols
    for i, (key, value) in enumerate(zip(df["key"], df["value"], strict=True)):
        key, value = str(key).strip(), str(value).strip()
        if not key:
            continue
        section, _, name = key.partition(".")
        try:
            parsed = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = tomllib.loads(f"v = {value.lower()}")["v"] if value.lower() in (
                "true", "false") else value
        policy.setdefault(section, {})[name] = parsed
        del i
    return policy


def _fname(name: str, style: str) -> str:
    return f"{name}.csv" if style == "csv" else f"{name} sheet"


def _check_columns(df: pd.DataFrame, spec: dict[str, bool], extra: set[str], file: str,
                   out: _Collector) -> bool:
    df.columns = [str(c).strip() for c in df.columns]
    ok = True
    for col, required in spec.items():
        if required and col not in df.columns:
            out.add(file, 1, col, "required column is missing")
            ok = False
    for col in df.columns:
        if col not in spec and col not in extra:
            msg = f"{file}: unknown column {col!r} ignored"
            out.warnings.append(msg)
            log.warning(msg)
    for col in spec:
        if col not in df.columns:
            df[col] = ""
    for col in df.columns:
        df[col] = df[col].astype(str).str.strip()
    return ok


# --------------------------------------------------------------------------- parsers


def _ints(df: pd.DataFrame, col: str, file: str, out: _Collector, *, default: int | None,
          lo: int | None = None, hi: int | None = None, what: str = "a whole number") -> np.ndarray:
    s = df[col]
    empty = s == ""
    num = pd.to_numeric(s.where(~empty), errors="coerce")
    bad_num = (~empty & (num.isna() | (num % 1 != 0))).to_numpy()
    if default is None:
        out.rows(file, df, empty, col, lambda v: "is required but empty")
    out.rows(file, df, bad_num, col, lambda v: f"{v!r} is not {what}")
    vals = num.fillna(default if default is not None else 0).to_numpy()
    vals = np.where(bad_num, default if default is not None else 0, vals).astype(np.int64)
    if lo is not None or hi is not None:
        rng = ~bad_num & ~empty.to_numpy()
        low = lo if lo is not None else -(2**62)
        high = hi if hi is not None else 2**62
        outside = rng & ((vals < low) | (vals > high))
        bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        out.rows(file, df, outside, col, lambda v: f"{v} is out of range ({bound})")
    return vals


def _floats(df: pd.DataFrame, col: str, file: str, out: _Collector, *, required: bool,
            lo: float | None = None, hi: float | None = None, default: float = np.nan,
            ) -> np.ndarray:
    s = df[col]
    empty = s == ""
    num = pd.to_numeric(s.where(~empty), errors="coerce")
    bad = (~empty & (num.isna() | ~np.isfinite(num.fillna(0)))).to_numpy()
    if required:
        out.rows(file, df, empty, col, lambda v: "is required but empty")
    out.rows(file, df, bad, col, lambda v: f"{v!r} is not a number")
    vals = num.to_numpy(dtype=float)
    vals = np.where(empty.to_numpy() | bad, default, vals)
    ok = ~bad & ~empty.to_numpy()
    if lo is not None:
        out.rows(file, df, ok & (vals < lo), col, lambda v: f"{v} is below {lo}")
    if hi is not None:
        out.rows(file, df, ok & (vals > hi), col, lambda v: f"{v} is above {hi}")
    return vals


def _choice(df: pd.DataFrame, col: str, file: str, out: _Collector, options: tuple[str, ...],
            *, default: str | None, lower: bool = False) -> np.ndarray:
    s = df[col].str.lower() if lower else df[col]
    empty = (s == "").to_numpy()
    if default is None:
        out.rows(file, df, empty, col, lambda v: "is required but empty")
    s = s.where(~empty, default or options[0])
    bad = ~s.isin(options).to_numpy()
    out.rows(file, df, bad, col,
             lambda v: f"{v!r} is not one of {', '.join(options)}")
    codes = pd.Categorical(s, categories=list(options)).codes.astype(np.int64)
    return np.where(codes < 0, 0, codes)


def _bools(df: pd.DataFrame, col: str, file: str, out: _Collector) -> np.ndarray:
    s = df[col].str.lower()
    truthy = s.isin(["true", "1", "yes"]).to_numpy()
    falsy = s.isin(["false", "0", "no", ""]).to_numpy()
    out.rows(file, df, ~(truthy | falsy), col, lambda v: f"{v!r} is not true or false")
    return truthy


def _lists(s: pd.Series) -> list[list[str]]:
    return [[t.strip() for t in v.split(";") if t.strip()] if v else [] for v in s]


def _ids(df: pd.DataFrame, col: str, file: str, out: _Collector) -> np.ndarray:
    s = df[col]
    out.rows(file, df, (s == "").to_numpy(), col, lambda v: "id is empty")
    dup = (s.duplicated(keep="first") & (s != "")).to_numpy()
    first_row = {v: i + 2 for i, v in reversed(list(enumerate(s)))}
    out.rows(file, df, dup, col, lambda v: f"duplicate id {v!r} (first at row {first_row[v]})")
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
        np.bitwise_or.at(mask, (r, b // 64), np.left_shift(np.uint64(1), (b % 64).astype(np.uint64)))
    return mask


def _lookup(df: pd.DataFrame, col: str, file: str, out: _Collector, index: dict[str, int],
            what: str, *, optional: bool) -> np.ndarray:
    s = df[col]
    codes = s.map(index)
    empty = (s == "").to_numpy()
    if not optional:
        out.rows(file, df, empty, col, lambda v: "is required but empty")
    unknown = (~empty & codes.isna().to_numpy())
    out.rows(file, df, unknown, col, lambda v: f"unknown {what} {v!r}")
    return codes.fillna(-1).to_numpy().astype(np.int64)


# --------------------------------------------------------------------------- policy


def _parse_policy(raw: dict, file: str, out: _Collector) -> Policy:
    weights: dict[str, float] = {}
    rules: dict[str, Any] = {}
    known = {"weights", "rules"}
    for section in raw:
        if section not in known:
            out.warnings.append(f"{file}: unknown section [{section}] ignored")
    w_raw = raw.get("weights", {})
    if not isinstance(w_raw, dict):
        out.add(file, None, "weights", "must be a table [weights]")
        w_raw = {}
    names = {f.name for f in fields(Weights)}
    for key, value in w_raw.items():
        if key not in names:
            out.warnings.append(f"{file}: unknown key weights.{key} ignored")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            out.add(file, None, f"weights.{key}",
                    f"must be a number (pounds per week), got {type(value).__name__} {value!r}")
        elif value < 0 or not np.isfinite(value):
            out.add(file, None, f"weights.{key}", f"must be a finite number >= 0, got {value}")
        else:
            weights[key] = float(value)
    r_raw = raw.get("rules", {})
    if not isinstance(r_raw, dict):
        out.add(file, None, "rules", "must be a table [rules]")
        r_raw = {}
    for key, value in r_raw.items():
        if key == "min_ofsted_rating":
            if not isinstance(value, str) or value not in RATINGS:
                out.add(file, None, "rules.min_ofsted_rating",
                        f"must be one of {', '.join(RATINGS)}, got {value!r}")
            else:
                rules[key] = value
        elif key == "split_siblings":
            if not isinstance(value, bool):
                out.add(file, None, "rules.split_siblings",
                        f"must be true or false, got {type(value).__name__} {value!r}")
            else:
                rules[key] = value
        else:
            out.warnings.append(f"{file}: unknown key rules.{key} ignored")
    return Policy(weights=Weights(**weights), rules=Rules(**rules))


# --------------------------------------------------------------------------- main


def load_instance(path: str | Path, *, policy: Policy | None = None) -> Instance:
    """Load and validate an instance; raise `InstanceError` listing every problem.

    `policy`, when given, overrides the instance's own policy.toml (what-if runs).
    """
    path = Path(path)
    out = _Collector()
    if not path.exists():
        raise InstanceError([Problem(str(path), None, None, "does not exist")])
    tables, raw_policy, style = _read_tables(path, out)
    cf, pf = _fname("children", style), _fname("placements", style)
    ef, df_ = _fname("exclusions", style), _fname("distances", style)
    polf = "policy.toml" if style == "csv" else "policy sheet"
    for name, f in (("children", cf), ("placements", pf)):
        if name not in tables and not any(p.file == f for p in out.problems):
            out.add(f, None, None, "is required but missing")
    if out.problems:
        raise InstanceError(out.problems)

    ch = tables["children"]
    pl = tables["placements"]
    ok = _check_columns(ch, CHILD_COLUMNS, EXTRA_CHILD_COLUMNS, cf, out)
    ok &= _check_columns(pl, PLACEMENT_COLUMNS, EXTRA_PLACEMENT_COLUMNS, pf, out)
    ex = tables.get("exclusions", pd.DataFrame({c: [] for c in EXCLUSION_COLUMNS}, dtype=str))
    ok &= _check_columns(ex, EXCLUSION_COLUMNS, set(), ef, out)
    dist = tables.get("distances", pd.DataFrame({c: [] for c in DISTANCE_COLUMNS}, dtype=str))
    ok &= _check_columns(dist, DISTANCE_COLUMNS, set(), df_, out)
    pol = policy if policy is not None else _parse_policy(raw_policy, polf, out)
    if not ok:
        raise InstanceError(out.problems)

    # ---- placements
    pids = _ids(pl, "placement_id", pf, out)
    pindex = {p: i for i, p in enumerate(pids) if p != ""}
    out.rows(pf, pl, (pl["provider"] == "").to_numpy(), "provider", lambda v: "is required but empty")
    ptype = _choice(pl, "type", pf, out, PLACEMENT_TYPES, default=None)
    vac = _ints(pl, "vacancies", pf, out, default=None, lo=0, what="a whole number of beds")
    amin = _ints(pl, "age_min", pf, out, default=None, lo=0, hi=25)
    amax = _ints(pl, "age_max", pf, out, default=None, lo=0, hi=25)
    out.rows(pf, pl, amin > amax, "age_max", lambda v: f"{v} is below age_min")
    glists = _lists(pl["genders"])
    gbad = [i for i, g in enumerate(glists) if any(x not in GENDERS for x in g)]
    out.rows(pf, pl, np.isin(np.arange(len(pl)), gbad), "genders",
             lambda v: f"{v!r} has a gender other than F, M, X")
    gmask = np.array(
        [sum(1 << GENDERS.index(x) for x in set(g) if x in GENDERS) if g else 7 for g in glists],
        dtype=np.uint8,
    )
    rating = _choice(pl, "ofsted_rating", pf, out, ALL_RATINGS, default="not_rated", lower=True)
    lat = _floats(pl, "lat", pf, out, required=True, lo=-90, hi=90, default=0.0)
    lon = _floats(pl, "lon", pf, out, required=True, lo=-180, hi=180, default=0.0)
    cost = _floats(pl, "weekly_cost", pf, out, required=True, lo=0, default=0.0)

    # ---- children
    cids = _ids(ch, "child_id", cf, out)
    cindex = {c: i for i, c in enumerate(cids) if c != ""}
    age = _ints(ch, "age", cf, out, default=None, lo=0, hi=17, what="an age in whole years")
    gender = _choice(ch, "gender", cf, out, GENDERS, default=None)
    hlat = _floats(ch, "home_lat", cf, out, required=True, lo=-90, hi=90, default=0.0)
    hlon = _floats(ch, "home_lon", cf, out, required=True, lo=-180, hi=180, default=0.0)
    fm = _choice(ch, "faith_match", cf, out, ("none", "preferred", "required"), default="none",
                 lower=True)
    cfaith_s = ch["faith"].str.lower()
    out.rows(cf, ch, (fm == 2) & (cfaith_s == "").to_numpy(), "faith",
             lambda v: "faith_match is required but no faith is given")
    types_l = _lists(ch["placement_types"])
    tbad = np.array([any(t not in PLACEMENT_TYPES for t in ts) for ts in types_l], dtype=bool)
    out.rows(cf, ch, tbad, "placement_types",
             lambda v: f"{v!r} names a type other than {', '.join(PLACEMENT_TYPES)}")
    default_tmask = sum(1 << PLACEMENT_TYPES.index(t) for t in DEFAULT_TYPES)
    tmask = np.array(
        [sum(1 << PLACEMENT_TYPES.index(t) for t in set(ts) if t in PLACEMENT_TYPES)
         if ts else default_tmask for ts in types_l],
        dtype=np.uint16,
    )
    maxd = _floats(ch, "max_distance_km", cf, out, required=False, lo=0, default=np.inf)
    solo = _bools(ch, "solo", cf, out)
    current = _lookup(ch, "current_placement", cf, out, pindex, "placement", optional=True)
    prio = _ints(ch, "priority", cf, out, default=1, lo=1)

    # ---- vocabularies (faith is compared case-insensitively)
    pfaith_s = pl["faith"].str.lower()
    faiths = tuple(sorted(set(cfaith_s[cfaith_s != ""]) | set(pfaith_s[pfaith_s != ""])))
    fidx = {f: i for i, f in enumerate(faiths)}
    cneeds = _lists(ch["needs"])
    pneeds = _lists(pl["needs_supported"])
    tags = tuple(sorted({t for ts in cneeds for t in ts} | {t for ts in pneeds for t in ts}))
    tidx = {t: i for i, t in enumerate(tags)}
    words = (len(tags) + 63) // 64

    # ---- relations
    ex_c = _lookup(ex, "child_id", ef, out, cindex, "child", optional=False)
    ex_p = _lookup(ex, "placement_id", ef, out, pindex, "placement", optional=False)
    d_c = _lookup(dist, "child_id", df_, out, cindex, "child", optional=False)
    d_p = _lookup(dist, "placement_id", df_, out, pindex, "placement", optional=False)
    d_km = _floats(dist, "km", df_, out, required=True, lo=0, default=0.0)
    if len(dist):
        pair = pd.Series(list(zip(dist["child_id"], dist["placement_id"], strict=True)))
        out.rows(df_, dist, pair.duplicated().to_numpy(), "placement_id",
                 lambda v: f"the pair ({v!r}) is given more than once")

    if out.problems:
        raise InstanceError(out.problems)

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
    )
    return inst
