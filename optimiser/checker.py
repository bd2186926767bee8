"""Independent checker of a solve against the interchange spec (version 1).

Why a separate module: the checker must catch the solver's mistakes, so it shares no
reading, candidate, rule-check or model code with the rest of the package. It reads the
instance and the solution itself (a few lines of pandas), recomputes every hard rule and
the objective straight from ``instance-format.md``, and compares with what the solver
wrote. Only the stable rule codes (:mod:`optimiser.rules`) and the format's vocabularies
(:mod:`optimiser.categories`) are shared, so that a report, a test and a log line say the
same thing; ``tests/rule_cases.py`` runs the checker and the engine on one table of cases.

The main checks are column-wise pandas operations (no per-row Python loop over all
children), so the work grows with the columns, not with Python loops; loops only run over
the violations found, the sibling groups that break, or the handful of policy keys.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimiser.categories import (
    ALL_RATINGS,
    DEFAULT_TYPES,
    EARTH_RADIUS_KM,
    FAITH_MATCH,
    GENDERS,
    NOT_RATED,
    PLACEMENT_TYPES,
    RATINGS,
    SUPPORTED_MIN_AGE,
    rating_allowed,
)
from optimiser.rules import PAIR_RULES, Rule

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

__all__ = ["FORMAT", "CheckReport", "Violation", "check", "format_report"]

FORMAT = "format"
"""Rule code of a malformed solution (missing/duplicate/unknown ids, wrong cost column...)."""

TERMS: tuple[str, ...] = ("cost", "distance", "faith_mismatch", "move", "unplaced", "sibling_split",
                          "out_of_area")
DEFAULT_WEIGHTS: dict[str, float] = {
    "cost": 1.0,
    "per_km": 5.0,
    "faith_mismatch": 200.0,
    "move": 500.0,
    "unplaced": 100000.0,
    "sibling_split": 1000.0,
    "out_of_area": 0.0,
}
DEFAULT_MIN_MOVE_KM = 10.0
STEP_DOWN_FROM = ("inhouse_residential", "external_residential", "secure")
STEP_DOWN_TO = ("inhouse_foster", "kinship_foster", "ifa_foster")
DEFAULT_MIN_RATING = "requires_improvement"
STATUSES: tuple[str, ...] = ("optimal", "feasible", "infeasible", "time_limit")
SUMMARY_KEYS: tuple[str, ...] = (
    "status",
    "objective",
    "best_bound",
    "gap",
    "solve_seconds",
    "placed",
    "unplaced",
    "total_weekly_cost",
    "mean_distance_km",
)
SUPPORTED = "supported_accommodation"
_SEP = "\x1f"  # joins two ids into one hashable key; cannot occur in a CSV id

CHILD_COLUMNS: tuple[str, ...] = (
    "child_id", "age", "gender", "home_lat", "home_lon", "sibling_group", "faith",
    "faith_match", "needs", "placement_types", "max_distance_km", "solo",
    "current_placement", "priority", "pinned", "authority",
)  # fmt: skip
CHILD_REQUIRED: tuple[str, ...] = ("child_id", "age", "gender", "home_lat", "home_lon")
PLACEMENT_COLUMNS: tuple[str, ...] = (
    "placement_id", "provider", "type", "vacancies", "age_min", "age_max", "genders",
    "faith", "needs_supported", "ofsted_rating", "lat", "lon", "weekly_cost", "block_contract",
    "on_hold_reason", "available_from", "reserved_for", "authority", "urn",
)  # fmt: skip
PLACEMENT_REQUIRED: tuple[str, ...] = (
    "placement_id", "type", "vacancies", "age_min", "age_max", "lat", "lon", "weekly_cost",
)  # fmt: skip


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Violation:
    """One broken hard rule; ids only, never names, so a report can be shared."""

    rule: str
    child_id: str | None
    placement_id: str | None
    detail: str


@dataclass(frozen=True)
class CheckReport:
    """Everything the checker recomputed, and where the solution disagrees with the spec."""

    ok: bool
    violations: tuple[Violation, ...]
    objective: float
    terms: dict[str, float]
    placed: int
    unplaced: int
    total_weekly_cost: float
    mean_distance_km: float
    summary_mismatches: tuple[str, ...] = ()
    review: tuple[str, ...] = ()


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Policy:
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    min_rating: str = DEFAULT_MIN_RATING
    split_siblings: bool = False
    move_only_in_child_interest: bool = True  # the spec's default, for every instance
    min_move_km: float = DEFAULT_MIN_MOVE_KM


@dataclass(frozen=True)
class _Instance:
    children: pd.DataFrame  # indexed by child_id, parsed columns
    placements: pd.DataFrame  # indexed by placement_id, parsed columns
    exclusions: frozenset[str]  # child_id + _SEP + placement_id
    distances: dict[str, float]  # child_id + _SEP + placement_id -> km
    policy: _Policy
    adjoining: frozenset[str] | None = None  # authority + _SEP + neighbour, both orders

    @property
    def move_rule(self) -> bool:
        """move_only_in_child_interest: as the policy says, on by default."""
        return self.policy.move_only_in_child_interest


def _clean(df: pd.DataFrame) -> pd.DataFrame:
    """Strings everywhere, stripped, '' for a missing cell: the spec's 'empty = not given'.
    Headers in any case and blank rows are read as the engine's reader reads them (an
    Excel export has both), so that every instance the engine solves can be checked."""
    df = df.copy()
    df.columns = [str(c).strip().lower() for c in df.columns]
    df = df.fillna("").astype(str)
    for col in df.columns:
        df[col] = df[col].map(_unquote).str.strip()
    if len(df.columns):
        df = df[(df != "").any(axis=1)].reset_index(drop=True)
    return df


def _unquote(text: str) -> str:
    """The spec's 1.1 neutralisation reversed: a leading ' before =, +, -, @, tab or CR."""
    if text[:1] == "'" and text.lstrip("'")[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return text[1:]
    return text


def _read_csv(path: Path) -> pd.DataFrame:
    """Ids stay text: dtype=str and keep_default_na=False keep an id like 'NA' or '007'."""
    return _clean(pd.read_csv(path, dtype=str, keep_default_na=False))


def _ensure_columns(df: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Optional columns absent from the file behave as all-empty."""
    for col in columns:
        if col not in df.columns:
            df[col] = ""
    return df


TRUE_WORDS = ("true", "yes", "1")
FALSE_WORDS = ("", "false", "no", "0")


def _parse_bool(value: Any, what: str) -> bool:
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


def _bool_column(s: pd.Series, what: str) -> pd.Series:
    low = s.str.lower()
    bad = ~low.isin(TRUE_WORDS + FALSE_WORDS)
    if bad.any():
        raise ValueError(f"{what}: not true/false: {sorted(set(s[bad]))[:5]}")
    return low.isin(TRUE_WORDS)


def _number_column(df: pd.DataFrame, col: str, id_col: str, required: bool) -> pd.Series:
    """Float column, NaN when empty; a required empty cell or any non-number is an error."""
    s = df[col]
    num = pd.to_numeric(s.where(s != "", np.nan), errors="coerce").astype(float)
    bad = num.isna() & ((s != "") | required)
    if bad.any():
        ids = df.loc[bad, id_col].tolist()[:5]
        raise ValueError(f"{col}: missing or not a number for {id_col} {ids}")
    return num


def _check_enum(values: pd.Series, allowed: tuple[str, ...], what: str) -> None:
    bad = ~values.isin(allowed)
    if bad.any():
        raise ValueError(f"{what}: unknown value(s) {sorted(set(values[bad]))[:5]}")


def _explode(ids: pd.Series, lists: pd.Series) -> pd.DataFrame:
    """(id, item) rows of a ';'-separated list column, items stripped, empty items dropped."""
    s = pd.Series(lists.to_numpy(), index=ids.to_numpy()).str.split(";").explode()
    s = s.astype(str).str.strip()
    s = s[s != ""]
    return pd.DataFrame({"id": s.index.astype(str), "item": s.to_numpy()})


def _prepare_children(raw: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in CHILD_REQUIRED if c not in raw.columns]
    if missing:
        raise ValueError(f"children: missing required column(s) {missing}")
    ch = _ensure_columns(raw, CHILD_COLUMNS)
    if (ch["child_id"] == "").any():
        raise ValueError("children: a row has an empty child_id")
    dup = ch["child_id"].duplicated()
    if dup.any():
        raise ValueError(f"children: duplicate child_id {ch.loc[dup, 'child_id'].tolist()[:5]}")
    out = pd.DataFrame(index=pd.Index(ch["child_id"].to_numpy(), name="child_id"))
    for col in ("age", "home_lat", "home_lon"):
        out[col] = _number_column(ch, col, "child_id", required=True).to_numpy()
    out["max_distance_km"] = _number_column(ch, "max_distance_km", "child_id", False).to_numpy()
    prio = _number_column(ch, "priority", "child_id", required=False).fillna(1.0)
    out["priority"] = prio.to_numpy()
    out["gender"] = ch["gender"].str.upper().to_numpy()
    _check_enum(out["gender"], GENDERS, "children.gender")
    out["faith"] = ch["faith"].str.lower().to_numpy()
    fm = ch["faith_match"].str.lower()
    out["faith_match"] = fm.where(fm != "", "none").to_numpy()
    _check_enum(out["faith_match"], FAITH_MATCH, "children.faith_match")
    out["solo"] = _bool_column(ch["solo"], "children.solo").to_numpy()
    # re-allocation: a pinned child never leaves its current placement
    pin = ch["pinned"].str.lower()
    bad_pin = ~pin.isin(["", "true", "false", "yes", "no", "1", "0"])
    if bad_pin.any():
        bad = sorted(set(ch["pinned"][bad_pin]))[:5]
        raise ValueError(f"children.pinned: not true/false: {bad}")
    out["pinned"] = pin.isin(["true", "yes", "1"]).to_numpy()
    out["authority"] = ch["authority"].map(_area).to_numpy()
    for col in ("sibling_group", "needs", "current_placement"):
        out[col] = ch[col].to_numpy()
    types = ch["placement_types"].str.lower()
    out["placement_types"] = types.where(types != "", ";".join(DEFAULT_TYPES)).to_numpy()
    return out


def _prepare_placements(raw: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in PLACEMENT_REQUIRED if c not in raw.columns]
    if missing:
        raise ValueError(f"placements: missing required column(s) {missing}")
    pl = _ensure_columns(raw, PLACEMENT_COLUMNS)
    if (pl["placement_id"] == "").any():
        raise ValueError("placements: a row has an empty placement_id")
    dup = pl["placement_id"].duplicated()
    if dup.any():
        dups = pl.loc[dup, "placement_id"].tolist()[:5]
        raise ValueError(f"placements: duplicate placement_id {dups}")
    out = pd.DataFrame(index=pd.Index(pl["placement_id"].to_numpy(), name="placement_id"))
    for col in ("vacancies", "age_min", "age_max", "lat", "lon", "weekly_cost"):
        out[col] = _number_column(pl, col, "placement_id", required=True).to_numpy()
    out["type"] = pl["type"].str.lower().to_numpy()
    _check_enum(out["type"], PLACEMENT_TYPES, "placements.type")
    rating = pl["ofsted_rating"].str.lower()
    out["ofsted_rating"] = rating.where(rating != "", NOT_RATED).to_numpy()
    _check_enum(out["ofsted_rating"], ALL_RATINGS, "placements.ofsted_rating")
    genders = pl["genders"].str.upper()
    out["genders"] = genders.where(genders != "", ";".join(GENDERS)).to_numpy()
    out["faith"] = pl["faith"].str.lower().to_numpy()
    out["needs_supported"] = pl["needs_supported"].to_numpy()
    # re-allocation: held vacancies (any reason) and vacancies open only from a date
    out["on_hold_reason"] = pl["on_hold_reason"].to_numpy()
    out["reserved_for"] = pl["reserved_for"].to_numpy()
    out["authority"] = pl["authority"].map(_area).to_numpy()
    out["urn"] = pl["urn"].to_numpy()
    out["available_from"] = [_parse_date(v, f"placements.available_from ({pid})")
                             for v, pid in zip(pl["available_from"], pl["placement_id"],
                                               strict=True)]
    return out


def _area(name: str) -> str:
    """An authority as compared: GSS code or name, any case or spacing."""
    return " ".join(str(name).split()).lower()


_ISO_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ]00:00:00(?:\.0+)?)?$")


def _parse_date(value: str, what: str) -> dt.date | None:
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


def _policy_from_mapping(data: Mapping[str, Any]) -> _Policy:
    """The spec's [weights] and [rules] tables; unknown keys are ignored (the project may add)."""
    weights = dict(DEFAULT_WEIGHTS)
    for key, value in dict(data.get("weights", {})).items():
        if key in weights:
            weights[key] = float(value)
    rules = dict(data.get("rules", {}))
    floor = str(rules.get("min_ofsted_rating", DEFAULT_MIN_RATING)).strip().lower()
    if floor not in RATINGS:
        raise ValueError(f"policy: rules.min_ofsted_rating {floor!r} is not one of {RATINGS}")
    split = _parse_bool(rules.get("split_siblings", False), "policy: rules.split_siblings")
    move = _parse_bool(rules.get("move_only_in_child_interest", True),
                       "policy: rules.move_only_in_child_interest")
    km = float(rules.get("min_move_km", DEFAULT_MIN_MOVE_KM))
    return _Policy(weights=weights, min_rating=floor, split_siblings=split,
                   move_only_in_child_interest=move, min_move_km=km)


def _policy_from_sheet(sheet: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """An Excel `policy` sheet of dotted keys (`weights.per_km`) turned into the TOML shape."""
    sheet = _clean(sheet)
    if not {"key", "value"} <= set(sheet.columns):
        raise ValueError("policy sheet: needs columns 'key' and 'value'")
    data: dict[str, dict[str, Any]] = {}
    for key, value in zip(sheet["key"], sheet["value"], strict=True):
        if key == "" or "." not in key:
            continue
        table, name = key.split(".", 1)
        data.setdefault(table.strip(), {})[name.strip()] = value
    return data


def _pair_table(raw: pd.DataFrame | None, what: str) -> pd.DataFrame:
    if raw is None or raw.empty:
        return pd.DataFrame({"child_id": [], "placement_id": []}, dtype=str)
    missing = [c for c in ("child_id", "placement_id") if c not in raw.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}")
    return raw


def _ofsted_list(path: str | Path) -> dict[str, str]:
    """Ofsted's provider-level list: URN -> rating word, read on its own from the layout
    (title lines, then a header with URN and the overall judgement)."""
    lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    at = next((i for i, line in enumerate(lines) if line.startswith(("URN,", "Web link,URN,"))
               or ",URN," in line), None)
    if at is None:
        raise ValueError(f"{path}: no header row with URN")
    df = _clean(pd.read_csv(io.StringIO("\n".join(lines[at:])), dtype=str,
                            keep_default_na=False))
    overall = "overall experiences and progress of children and young people"
    words = {"outstanding": "outstanding", "good": "good",
             "requires improvement to be good": "requires_improvement",
             "requires improvement": "requires_improvement", "inadequate": "inadequate"}
    return {u: words.get(" ".join(j.split()).lower(), NOT_RATED)
            for u, j in zip(df["urn"], df[overall], strict=True) if u}


def _load_instance(path: str | Path, policy_file: str | Path | None = None,
                   ofsted: str | Path | None = None) -> _Instance:
    """A folder of CSV files plus policy.toml, or one .xlsx workbook with the same sheets.

    `policy_file` is laid over the instance's policy, key by key (as `solve --policy`).
    """
    path = Path(path)
    sheets: dict[str, pd.DataFrame | None]
    raw: dict[str, Any] = {}
    if path.is_dir():
        sheets = {}
        for name in ("children", "placements", "exclusions", "distances", "adjoining"):
            f = path / f"{name}.csv"
            sheets[name] = _read_csv(f) if f.exists() else None
        toml_path = path / "policy.toml"
        if toml_path.exists():
            with toml_path.open("rb") as fh:
                raw = tomllib.load(fh)
    elif path.suffix.lower() in (".xlsx", ".xlsm"):
        book = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False)
        by_name = {str(k).strip().lower(): v for k, v in book.items()}
        sheets = {
            n: (_clean(by_name[n]) if n in by_name else None)
            for n in ("children", "placements", "exclusions", "distances", "adjoining")
        }
        raw = _policy_from_sheet(by_name["policy"]) if "policy" in by_name else {}
    else:
        raise ValueError(f"instance {path} is neither a folder nor an .xlsx workbook")
    if policy_file is not None:
        with Path(policy_file).open("rb") as fh:
            for table, values in tomllib.load(fh).items():
                if isinstance(values, dict):
                    raw.setdefault(table, {}).update(values)
    policy = _policy_from_mapping(raw)
    if sheets["children"] is None or sheets["placements"] is None:
        raise ValueError(f"instance {path}: children and placements are required")
    children = _prepare_children(sheets["children"])
    placements = _prepare_placements(sheets["placements"])
    if ofsted is not None:  # Ofsted's rating wins for every urn its list holds
        listed = _ofsted_list(ofsted)
        found = placements["urn"].map(listed)
        placements["ofsted_rating"] = found.where(found.notna(), placements["ofsted_rating"])
    exc = _pair_table(sheets["exclusions"], "exclusions")
    exclusions = frozenset((exc["child_id"] + _SEP + exc["placement_id"]).tolist())
    dist = _pair_table(sheets["distances"], "distances")
    distances: dict[str, float] = {}
    if not dist.empty:
        if "km" not in dist.columns:
            raise ValueError("distances: missing column 'km'")
        km = _number_column(dist, "km", "child_id", required=True)
        keys = dist["child_id"] + _SEP + dist["placement_id"]
        distances = dict(zip(keys.tolist(), km.tolist(), strict=True))
    adjoining = None
    if sheets["adjoining"] is not None:
        adj = sheets["adjoining"]
        a, b = adj["authority"].map(_area), adj["neighbour"].map(_area)
        adjoining = frozenset((a + _SEP + b).tolist() + (b + _SEP + a).tolist())
    return _Instance(children, placements, exclusions, distances, policy, adjoining)


# --------------------------------------------------------------------------- helpers


def _haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distance, Earth radius 6371.0 km, as the spec says."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _close(a: float, b: float, rel: float, abs_: float) -> bool:
    return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= max(abs_, rel * abs(b))


def _num(x: Any) -> float:
    """A summary.json number, NaN when absent, null or not numeric (bools are not numbers)."""
    if isinstance(x, bool) or x is None:
        return math.nan
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _fmt(x: float) -> str:
    return f"{x:g}" if abs(x) < 1e15 else repr(x)


# --------------------------------------------------------------------------- checks


def _read_assignments(solution: Path, violations: list[Violation]) -> pd.DataFrame | None:
    """The solver's assignments.csv, or None (and one format violation) if unusable."""
    f = solution / "assignments.csv"
    if not f.exists():
        violations.append(Violation(FORMAT, None, None, f"no assignments.csv in {solution}"))
        return None
    asg = _read_csv(f)
    missing = [c for c in ("child_id", "placement_id") if c not in asg.columns]
    if missing:
        violations.append(
            Violation(FORMAT, None, None, f"assignments.csv lacks column(s) {missing}")
        )
        return None
    for col in ("weekly_cost", "distance_km"):
        if col not in asg.columns:
            violations.append(Violation(FORMAT, None, None, f"assignments.csv lacks column {col}"))
    return asg


def _effective_assignment(
    inst: _Instance, asg: pd.DataFrame | None, violations: list[Violation]
) -> pd.DataFrame:
    """One row per instance child: where the solution puts it ('' = unplaced).

    Missing, unknown or duplicated ids are format violations. A duplicated child counts
    by its first row; a missing child or an unknown placement counts as unplaced, so the
    objective stays comparable.
    """
    ids = inst.children.index
    eff = pd.DataFrame(index=ids)
    if asg is None:
        eff["placement_id"] = ""
        eff["given_cost"] = ""
        eff["given_km"] = ""
        eff["present"] = False
        return eff
    dup = asg["child_id"].duplicated(keep="first")
    for cid in pd.unique(asg.loc[dup, "child_id"]):
        violations.append(Violation(FORMAT, cid, None, f"child {cid} appears more than once"))
    first = asg.loc[~dup].set_index("child_id")
    unknown = ~first.index.isin(ids)
    for cid in first.index[unknown]:
        violations.append(Violation(FORMAT, cid, None, f"child {cid} is not in the instance"))
    present = ids.isin(first.index)
    for cid in ids[~present]:
        violations.append(
            Violation(FORMAT, cid, None, f"child {cid} is missing from assignments.csv")
        )
    first = first.reindex(ids)
    pid = first["placement_id"].fillna("").astype(str)
    bad_pid = (pid != "") & ~pid.isin(inst.placements.index)
    for cid, p in pid[bad_pid].items():
        violations.append(
            Violation(FORMAT, str(cid), p, f"child {cid} is assigned to unknown placement {p}")
        )
    eff["placement_id"] = pid.where(~bad_pid, "")
    for src, dst in (("weekly_cost", "given_cost"), ("distance_km", "given_km")):
        col = first[src] if src in first.columns else pd.Series("", index=ids, dtype=str)
        eff[dst] = col.fillna("").astype(str)
    eff["present"] = present
    return eff


def _placed_frame(inst: _Instance, eff: pd.DataFrame) -> pd.DataFrame:
    """Placed children joined with their placement's columns (prefixed p_) and the distance."""
    placed = eff.index[eff["placement_id"] != ""]
    m = inst.children.loc[placed].copy()
    m["placement_id"] = eff.loc[placed, "placement_id"]
    m["given_cost"] = eff.loc[placed, "given_cost"]
    m["given_km"] = eff.loc[placed, "given_km"]
    m["present"] = eff.loc[placed, "present"]
    m = m.join(inst.placements.add_prefix("p_"), on="placement_id")
    km = _haversine_km(
        m["home_lat"].to_numpy(float),
        m["home_lon"].to_numpy(float),
        m["p_lat"].to_numpy(float),
        m["p_lon"].to_numpy(float),
    )
    m["pair"] = m.index.to_series().astype(str) + _SEP + m["placement_id"]
    override = m["pair"].map(inst.distances) if inst.distances else None
    m["km"] = km if override is None else override.fillna(pd.Series(km, index=m.index))
    m["km"] = m["km"].astype(float)
    return m


def _column_checks(
    m: pd.DataFrame, columns: set[str], tol: float, violations: list[Violation]
) -> None:
    """The solver's own weekly_cost/distance_km columns must repeat the instance's numbers.

    A column absent from the file was already reported once; it is not reported per row.
    """
    rows = m[m["present"]]
    for given_col, true_col, abs_tol, what in (
        ("given_cost", "p_weekly_cost", 0.0, "weekly_cost"),
        ("given_km", "km", 1e-3, "distance_km"),
    ):
        if what not in columns:
            continue
        given = pd.to_numeric(rows[given_col].where(rows[given_col] != "", np.nan), "coerce")
        true = rows[true_col].astype(float)
        allowed = np.maximum(tol * np.maximum(1.0, true.abs()), abs_tol)
        bad = given.isna() | ((given - true).abs() > allowed)
        for cid, pid, said, truth in zip(
            rows.index[bad], rows.loc[bad, "placement_id"], rows.loc[bad, given_col], true[bad],
            strict=True,
        ):  # fmt: skip
            violations.append(
                Violation(
                    FORMAT,
                    str(cid),
                    str(pid),
                    f"child {cid} at {pid}: {what} says {said or 'nothing'}, "
                    f"the instance gives {_fmt(float(truth))}",
                )
            )


def _pair_rule_masks(inst: _Instance, m: pd.DataFrame) -> dict[Rule, pd.Series]:
    """A boolean 'broken' column per per-pair rule, computed column-wise over placed rows."""
    idx = m.index
    pl = inst.placements
    masks: dict[Rule, pd.Series] = {}
    masks[Rule.SUPPORTED_UNDER_16] = (m["p_type"] == SUPPORTED) & (m["age"] < SUPPORTED_MIN_AGE)

    child_types = _explode(m.index.to_series(), m["placement_types"])
    ok_types = set((child_types["id"] + _SEP + child_types["item"]).tolist())
    keys = idx.to_series().astype(str) + _SEP + m["p_type"]
    masks[Rule.PLACEMENT_TYPE] = ~keys.isin(ok_types)

    masks[Rule.AGE_RANGE] = (m["age"] < m["p_age_min"]) | (m["age"] > m["p_age_max"])

    pg = _explode(pl.index.to_series(), pl["genders"])
    ok_genders = set((pg["id"] + _SEP + pg["item"]).tolist())
    masks[Rule.GENDER] = ~(m["placement_id"] + _SEP + m["gender"]).isin(ok_genders)

    masks[Rule.NEEDS] = pd.Series(False, index=idx)
    needs = _explode(idx.to_series(), m["needs"])
    if not needs.empty:
        pn = _explode(pl.index.to_series(), pl["needs_supported"])
        supported = set((pn["id"] + _SEP + pn["item"]).tolist())
        at = needs["id"].map(m["placement_id"])
        unmet = needs[~(at + _SEP + needs["item"]).isin(supported)]
        masks[Rule.NEEDS] = pd.Series(idx.isin(unmet["id"]), index=idx)

    required = m["faith_match"] == "required"
    masks[Rule.FAITH_REQUIRED] = required & ((m["faith"] == "") | (m["p_faith"] != m["faith"]))

    allowed = {r: rating_allowed(r, inst.policy.min_rating) for r in ALL_RATINGS}
    masks[Rule.OFSTED_RATING] = ~m["p_ofsted_rating"].map(allowed).astype(bool)

    masks[Rule.EXCLUSION] = m["pair"].isin(inst.exclusions)
    masks[Rule.MAX_DISTANCE] = m["max_distance_km"].notna() & (
        m["km"] > m["max_distance_km"] + 1e-9
    )
    masks[Rule.RESERVED] = _not_named(m)
    return {rule: pd.Series(np.asarray(masks[rule], dtype=bool), index=idx) for rule in PAIR_RULES}


def _not_named(m: pd.DataFrame) -> pd.Series:
    """The placement is reserved (reserved_for) and names neither the child nor its group."""
    out = []
    for cid, group, names in zip(m.index, m["sibling_group"], m["p_reserved_for"], strict=True):
        listed = {x.strip() for x in str(names).split(";") if x.strip()}
        out.append(bool(listed) and str(cid) not in listed and (group == "" or group not in listed))
    return pd.Series(out, index=m.index, dtype=bool)


def _pair_detail(rule: Rule, row: Mapping[Any, Any], cid: str, inst: _Instance) -> str:
    """Plain-English reason for one broken pair rule; ids and numbers only."""
    p = row["placement_id"]
    if rule is Rule.SUPPORTED_UNDER_16:
        why = f"age {row['age']:g} is under {SUPPORTED_MIN_AGE} in supported accommodation"
    elif rule is Rule.PLACEMENT_TYPE:
        why = f"type {row['p_type']} is not in the care plan ({row['placement_types']})"
    elif rule is Rule.AGE_RANGE:
        why = f"age {row['age']:g} outside {row['p_age_min']:g}-{row['p_age_max']:g}"
    elif rule is Rule.GENDER:
        why = f"gender {row['gender']} not in {row['p_genders']}"
    elif rule is Rule.NEEDS:
        have = {t.strip() for t in str(row["p_needs_supported"]).split(";")}
        unmet = [t.strip() for t in str(row["needs"]).split(";") if t.strip() not in have]
        why = f"need(s) {';'.join(unmet)} not supported"
    elif rule is Rule.FAITH_REQUIRED:
        why = (
            f"faith {row['faith'] or '(none given)'} required, "
            f"placement faith is {row['p_faith'] or '(none given)'}"
        )
    elif rule is Rule.OFSTED_RATING:
        why = f"rating {row['p_ofsted_rating']} is below {inst.policy.min_rating}"
    elif rule is Rule.EXCLUSION:
        why = "pair is in exclusions"
    elif rule is Rule.RESERVED:
        why = f"the placement is reserved for {row['p_reserved_for']}"
    else:  # MAX_DISTANCE
        why = f"{row['km']:.3f} km exceeds the limit of {row['max_distance_km']:g} km"
    return f"child {cid} at {p}: {why}"


def _pair_rules(
    inst: _Instance, m: pd.DataFrame, violations: list[Violation], review: list[str]
) -> None:
    """Per-pair rules; a child kept in its own current placement goes to review instead."""
    masks = _pair_rule_masks(inst, m)
    kept = m["current_placement"] == m["placement_id"]
    notes: dict[str, list[str]] = {}
    for rule in PAIR_RULES:
        broken = m[masks[rule]]
        for cid, row, stays in zip(
            broken.index, broken.to_dict("records"), kept[masks[rule]], strict=True
        ):
            detail = _pair_detail(rule, row, str(cid), inst)
            if stays:
                notes.setdefault(str(cid), []).append(f"{rule.value} ({detail})")
            else:
                violations.append(Violation(rule.value, str(cid), str(row["placement_id"]), detail))
    for cid, items in notes.items():
        review.append(
            f"child {cid} stays in current placement {str(m.at[cid, 'placement_id'])}, which now "
            f"breaks: " + "; ".join(items)
        )


def _offered_vacancies(inst: _Instance, day: dt.date) -> pd.Series:
    """Vacancies offered on `day`: none while on hold or before `available_from`."""
    pl = inst.placements
    later = pl["available_from"].map(lambda d: d is not None and d > day).astype(bool)
    held = (pl["on_hold_reason"] != "") | later
    return pl["vacancies"].where(~held, 0.0)


def _capacity_and_solo(inst: _Instance, m: pd.DataFrame, violations: list[Violation],
                       day: dt.date) -> None:
    """Capacity = offered vacancies + current residents in the instance; a solo child
    lives alone. A held or not-yet-available vacancy is never a bed (re-allocation)."""
    counts = m["placement_id"].value_counts()
    residents = inst.children["current_placement"].value_counts()
    vac = _offered_vacancies(inst, day).reindex(counts.index)
    held = (inst.placements["vacancies"].reindex(counts.index) - vac).astype(float)
    res = residents.reindex(counts.index).fillna(0)
    over = counts > vac + res
    for p in counts.index[over]:
        note = f"; {held[p]:g} held vacancies do not count" if held[p] else ""
        violations.append(
            Violation(
                Rule.CAPACITY.value,
                None,
                str(p),
                f"placement {p} has {counts[p]} children assigned but capacity "
                f"{int(vac[p] + res[p])} ({vac[p]:g} vacancies + {int(res[p])} current "
                f"residents{note})",
            )
        )
    n_at = m["placement_id"].map(counts)
    solo = m[m["solo"] & (n_at > 1)]
    for cid in solo.index:
        p = str(solo.at[cid, "placement_id"])
        violations.append(
            Violation(
                Rule.SOLO.value,
                str(cid),
                p,
                f"child {cid} must be alone but {p} has {int(n_at[cid])} children assigned",
            )
        )


def _closed_to_newcomers(inst: _Instance, m: pd.DataFrame, violations: list[Violation],
                         day: dt.date) -> None:
    """A placement on hold, or whose vacancies open after `day`, takes no new child (its
    residents may stay): capacity alone would let a newcomer take a leaver's bed."""
    pl = inst.placements
    hold = pl["on_hold_reason"].astype(str).to_dict()
    opening: dict[str, dt.date | None] = {str(k): v for k, v in pl["available_from"].items()}
    new = m[m["placement_id"] != m["current_placement"]]
    for cid, p in zip(new.index, new["placement_id"], strict=True):
        reason = hold[p]
        opens = opening[p]
        if reason:
            violations.append(Violation(Rule.ON_HOLD.value, str(cid), str(p),
                                        f"child {cid} is new to {p}, which is on hold "
                                        f"({reason})"))
        elif opens is not None and opens > day:
            violations.append(Violation(Rule.NOT_YET_AVAILABLE.value, str(cid), str(p),
                                        f"child {cid} is new to {p}, whose vacancies open on "
                                        f"{opens.isoformat()} (after {day.isoformat()})"))


def _pinned(inst: _Instance, eff: pd.DataFrame, violations: list[Violation]) -> None:
    """A pinned child with a current placement must stay in it (unplaced is a move too)."""
    ch = inst.children
    pinned = ch["pinned"] & (ch["current_placement"] != "")
    moved = pinned & (eff["placement_id"] != ch["current_placement"])
    for cid in ch.index[moved]:
        home = str(ch.at[cid, "current_placement"])
        now = str(eff.at[cid, "placement_id"]) or "no placement"
        violations.append(
            Violation(
                Rule.PINNED.value,
                str(cid),
                str(eff.at[cid, "placement_id"]) or None,
                f"child {cid} is pinned to {home} but is assigned "
                f"to {now}",
            )
        )


def _moves_in_child_interest(inst: _Instance, eff: pd.DataFrame, m: pd.DataFrame,
                             violations: list[Violation]) -> None:
    """move_only_in_child_interest: a placed child is never left unplaced, and moves only
    nearer home by min_move_km, to its faith, down from residential or secure care to a
    foster family, or away from a current placement that now breaks one of its rules."""
    if not inst.move_rule:
        return
    ch = inst.children
    placed = ch["current_placement"] != ""
    for cid in ch.index[placed & (eff["placement_id"] == "")]:
        violations.append(Violation(
            Rule.MOVE_NOT_IN_CHILD_INTEREST.value, str(cid), None,
            f"child {cid} lives at {ch.at[cid, 'current_placement']!s} and is left without a "
            "placement"))
    moved = m[(m["current_placement"] != "") & (m["current_placement"] != m["placement_id"])]
    if moved.empty:
        return
    home_eff = pd.DataFrame({"placement_id": moved["current_placement"], "given_cost": "",
                             "given_km": "", "present": True}, index=moved.index)
    home = _placed_frame(inst, home_eff)
    masks = _pair_rule_masks(inst, home)
    breaks = pd.Series(False, index=home.index)
    for rule in PAIR_RULES:
        breaks |= masks[rule]
    closer = home["km"] - moved["km"] >= inst.policy.min_move_km - 1e-9
    wants = moved["faith_match"].isin(["preferred", "required"]) & (moved["faith"] != "")
    faith = wants & (moved["p_faith"] == moved["faith"]) & (home["p_faith"] != moved["faith"])
    step = home["p_type"].isin(STEP_DOWN_FROM) & moved["p_type"].isin(STEP_DOWN_TO)
    ok = closer | faith | step | breaks
    for cid in moved.index[~ok]:
        violations.append(Violation(
            Rule.MOVE_NOT_IN_CHILD_INTEREST.value, str(cid), str(moved.at[cid, "placement_id"]),
            f"child {cid} moves from {moved.at[cid, 'current_placement']!s} to "
            f"{moved.at[cid, 'placement_id']!s} for no reason of its own (not "
            f"{inst.policy.min_move_km:g} km nearer home, not its faith, no step-down, and "
            "its placement breaks none of its rules)"))


def _out_of_area(m: pd.DataFrame) -> int:
    """Placed children whose placement's authority differs from theirs (both given)."""
    given = (m["authority"] != "") & (m["p_authority"] != "")
    return int((given & (m["authority"] != m["p_authority"])).sum())


def _as_of(solution: Path, date: str | dt.date | None) -> dt.date:
    """The as-of date for `available_from`: given, else the solve's (summary.json
    `reallocation.date` or `as_of`), else today."""
    if isinstance(date, dt.date):
        return date
    if date:
        return dt.date.fromisoformat(date)
    f = solution / "summary.json"
    try:
        s = json.loads(f.read_text(encoding="utf-8")) if f.exists() else {}
    except (OSError, json.JSONDecodeError):
        s = {}
    if isinstance(s, dict):
        r = s.get("reallocation")
        for v in ((r or {}).get("date") if isinstance(r, dict) else None, s.get("as_of")):
            if isinstance(v, str):
                try:
                    return dt.date.fromisoformat(v)
                except ValueError:
                    pass
    return dt.date.today()


def _siblings(inst: _Instance, eff: pd.DataFrame, violations: list[Violation]) -> int:
    """Whole-group rule (split_siblings false), or the count of extra placements (true)."""
    group = inst.children["sibling_group"]
    g = pd.DataFrame({"group": group, "placement_id": eff["placement_id"]})
    g = g[g["group"] != ""]
    if g.empty:
        return 0
    if inst.policy.split_siblings:
        placed = g[g["placement_id"] != ""]
        spread = placed.groupby("group")["placement_id"].nunique()
        return int((spread - 1).clip(lower=0).sum())
    distinct = g.groupby("group")["placement_id"].nunique()
    split = g[g["group"].isin(distinct.index[distinct > 1])]
    for grp, members in split.groupby("group", sort=True):
        where = ", ".join(
            f"{cid} {'at ' + p if p else 'unplaced'}" for cid, p in members["placement_id"].items()
        )
        violations.append(
            Violation(
                Rule.SIBLINGS_TOGETHER.value,
                None,
                None,
                f"sibling group {grp} is not placed together: {where}",
            )
        )
    return 0


def _check_summary(
    solution: Path, placed: int, unplaced: int, objective: float, cost: float, mean_km: float
) -> list[str]:
    """summary.json must agree with the recomputed figures and with its own gap formula."""
    f = solution / "summary.json"
    if not f.exists():
        return []
    try:
        s = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return [f"summary.json is not valid JSON: {exc}"]
    if not isinstance(s, dict):
        return ["summary.json is not a JSON object"]
    out = [f"{k}: missing from summary.json" for k in SUMMARY_KEYS if k not in s]
    status = s.get("status")
    if "status" in s and status not in STATUSES:
        out.append(f"status: {status!r} is not one of {', '.join(STATUSES)}")
    infeasible = status == "infeasible"

    for key, mine in (("placed", placed), ("unplaced", unplaced)):
        if key in s and _num(s[key]) != mine:
            out.append(f"{key}: summary says {s[key]}, checker computes {mine}")
    floats: list[tuple[str, float]] = [("total_weekly_cost", cost), ("mean_distance_km", mean_km)]
    if not infeasible:
        floats.insert(0, ("objective", objective))
    for key, mine_f in floats:
        if key in s and not _close(_num(s[key]), mine_f, 1e-6, 0.01):
            out.append(f"{key}: summary says {s[key]}, checker computes {_fmt(mine_f)}")

    if infeasible or not all(k in s for k in ("objective", "best_bound", "gap")):
        return out
    obj, bound, gap = _num(s["objective"]), _num(s["best_bound"]), _num(s["gap"])
    if not math.isfinite(gap):
        out.append(f"gap: summary says {s['gap']}, not a number")
        return out
    if math.isfinite(obj) and math.isfinite(bound):
        expected = (obj - bound) / max(abs(obj), 1.0)
        if abs(gap - expected) > 1e-6:
            out.append(
                f"gap: summary says {s['gap']}, (objective - best_bound) / max(|objective|, 1) "
                f"= {expected:.9g}"
            )
    if gap < -1e-9:
        out.append(f"gap: summary says {s['gap']}, a gap may not be negative")
    if status == "optimal" and abs(gap) > 1e-6:
        out.append(f"gap: summary says {s['gap']} but status is optimal (gap must be 0)")
    return out


# --------------------------------------------------------------------------- entry points


def check(instance: str | Path, solution: str | Path, *, tol: float = 1e-6,
          policy_file: str | Path | None = None,
          date: str | dt.date | None = None,
          ofsted: str | Path | None = None) -> CheckReport:
    """Recompute every hard rule and the objective of `solution` from the spec alone.

    `instance`: a folder of CSV files (+ policy.toml) or an .xlsx workbook.
    `solution`: a folder with assignments.csv and optionally summary.json.
    `tol`: relative tolerance on the solution's weekly_cost/distance_km columns.
    `date`: as-of date for `available_from` (default: the solve's, else today).
    """
    inst = _load_instance(instance, policy_file, ofsted)
    solution = Path(solution)
    violations: list[Violation] = []
    review: list[str] = []

    asg = _read_assignments(solution, violations)
    eff = _effective_assignment(inst, asg, violations)
    m = _placed_frame(inst, eff)
    _column_checks(m, set() if asg is None else set(asg.columns), tol, violations)
    _pair_rules(inst, m, violations, review)
    day = _as_of(solution, date)
    _capacity_and_solo(inst, m, violations, day)
    _closed_to_newcomers(inst, m, violations, day)
    _pinned(inst, eff, violations)
    _moves_in_child_interest(inst, eff, m, violations)
    spread = _siblings(inst, eff, violations)

    w = inst.policy.weights
    ch = inst.children
    unplaced_mask = eff["placement_id"] == ""
    preferred_miss = (m["faith_match"] == "preferred") & (
        (m["p_faith"] == "") | (m["p_faith"] != m["faith"])
    )
    moved = (m["current_placement"] != "") & (m["current_placement"] != m["placement_id"])
    total_cost = float(m["p_weekly_cost"].sum())
    total_km = float(m["km"].sum())
    terms = {
        "cost": w["cost"] * total_cost,
        "distance": w["per_km"] * total_km,
        "faith_mismatch": w["faith_mismatch"] * float(preferred_miss.sum()),
        "move": w["move"] * float(moved.sum()),
        "unplaced": w["unplaced"] * float(ch.loc[unplaced_mask, "priority"].sum()),
        "sibling_split": w["sibling_split"] * spread if inst.policy.split_siblings else 0.0,
        "out_of_area": w["out_of_area"] * _out_of_area(m),
    }
    objective = float(sum(terms[t] for t in TERMS))
    placed = len(m)
    unplaced = int(unplaced_mask.sum())
    mean_km = total_km / placed if placed else 0.0
    mismatches = _check_summary(solution, placed, unplaced, objective, total_cost, mean_km)
    return CheckReport(
        ok=not violations and not mismatches,
        violations=tuple(violations),
        objective=objective,
        terms={t: float(terms[t]) for t in TERMS},
        placed=placed,
        unplaced=unplaced,
        total_weekly_cost=total_cost,
        mean_distance_km=mean_km,
        summary_mismatches=tuple(mismatches),
        review=tuple(review),
    )


def format_report(report: CheckReport) -> str:
    """A short plain-English text for the command line; ids only, never names."""
    lines = [
        "OK: the solution respects every hard rule"
        if report.ok
        else f"FAILED: {len(report.violations)} violation(s), "
        f"{len(report.summary_mismatches)} summary mismatch(es)",
        f"Objective: £{report.objective:,.2f} per week",
    ]
    lines += [f"  {t:<15} £{v:,.2f}" for t, v in report.terms.items()]
    lines.append(
        f"Placed {report.placed}, unplaced {report.unplaced}; total weekly cost "
        f"£{report.total_weekly_cost:,.2f}; mean distance {report.mean_distance_km:.2f} km"
    )
    if report.violations:
        lines.append("Violations:")
        lines += [f"  [{v.rule}] {v.detail}" for v in report.violations]
    if report.summary_mismatches:
        lines.append("Summary mismatches:")
        lines += [f"  {s}" for s in report.summary_mismatches]
    if report.review:
        lines.append("For review (kept in a current placement that now breaks a rule):")
        lines += [f"  {r}" for r in report.review]
    return "\n".join(lines)
