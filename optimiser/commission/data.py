"""Commissioning inputs: an instance folder plus contracts.csv, spot.csv and demand.

Why a separate loader: the instance (today's children, placements, policy) is read by
`optimiser.reader.load_instance` unchanged; the commissioning files add the first-stage
options (candidate block contracts), the spot market that is always there in the second
stage, and the demand from which scenarios of children to place are drawn. Every problem
of every file is reported at once, with file, row and column (`InstanceError`), exactly
as the core reader does, so the CLI can exit 2 with the full list.

See models/commissioning.md for the columns, the model and the default calibration.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..instance import Instance, InstanceError, Problem
from ..reader import (
    Collector,
    check_columns,
    load_instance,
    parse_choice,
    parse_floats,
    parse_ids,
    parse_ints,
    parse_list_choice,
    read_csv_table,
)
from ..rules import ALL_RATINGS, GENDERS, PLACEMENT_TYPES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONTRACT_COLUMNS = {
    "contract_id": True,
    "provider": True,
    "type": True,
    "lat": True,
    "lon": True,
    "age_min": True,
    "age_max": True,
    "genders": False,
    "needs_supported": False,
    "faith": False,
    "ofsted_rating": False,
    "step": False,
    "min_beds": False,
    "max_beds": True,
    "weekly_price": True,
    "min_term_weeks": False,
    "current_beds": False,
}
SPOT_COLUMNS = {
    "spot_id": True,
    "type": True,
    "tier": True,
    "weekly_cost": True,
    "typical_distance_km": True,
    "provider": False,
    "needs_supported": False,
    "age_min": False,
    "age_max": False,
    "genders": False,
    "ofsted_rating": False,
    "max_beds": False,
}
TIERS = ("framework", "off_framework")
MAX_LEVELS = 200  # bed levels per contract: more is a typo (a step of 1 over 1,000 beds)


@dataclass(frozen=True)
class Contract:
    """A candidate block contract: beds bought by the week, whether used or not."""

    contract_id: str
    provider: str
    type: str
    lat: float
    lon: float
    age_min: int
    age_max: int
    genders: str  # `;` list as in placements.csv, "" = all
    needs_supported: str
    faith: str
    ofsted_rating: str
    step: int
    min_beds: int
    max_beds: int
    weekly_price: float  # per bed per week
    min_term_weeks: int
    current_beds: int  # booked today (the "against today's arrangements" baseline)
    fixed_beds: int | None = None  # a what-if `contracts.ID.beds=N`: the first stage is fixed
    row: int = 0  # line in contracts.csv, for messages

    @property
    def levels(self) -> tuple[int, ...]:
        """The first-stage choices: 0 (decline the contract) or min, min+step, ..., max.

        0 is always allowed because a candidate contract can be declined; min_beds is the
        smallest order if it is taken (`fixed_beds` overrides everything).
        """
        if self.fixed_beds is not None:
            return (self.fixed_beds,)
        lv = set(range(self.min_beds, self.max_beds + 1, self.step))
        lv.add(0)
        return tuple(sorted(lv))


@dataclass(frozen=True)
class Spot:
    """A spot-purchase option: a price and a typical distance, capacity unlimited by default."""

    spot_id: str
    provider: str
    type: str
    tier: str
    weekly_cost: float
    typical_distance_km: float
    needs_supported: str
    age_min: int
    age_max: int
    genders: str
    ofsted_rating: str
    max_beds: int | None  # None = unlimited
    row: int = 0


@dataclass(frozen=True)
class NeedRule:
    """P(tag) for a child of age in [age_min, age_max] (one line of the needs table)."""

    tag: str
    share: float
    age_min: int = 0
    age_max: int = 17


@dataclass(frozen=True)
class Area:
    """A home area: children's homes drawn around (lat, lon) within radius_km, by weight."""

    lat: float
    lon: float
    weight: float = 1.0
    radius_km: float = 5.0


@dataclass(frozen=True)
class Demand:
    """A year's arrivals (children starting to be looked after) and what they need.

    Defaults come from `optimiser.commission.demand.DEFAULTS` (public DfE figures and
    labelled assumptions; `demand.with_defaults`); `arrivals_per_year` None means
    starts_per_stock x the number of children in children.csv.
    """

    arrivals_per_year: float | None = None
    starts_per_stock: float = 33_050 / 83_630
    growth: float = 0.016
    growth_sd: float = 0.08
    years: float = 1.0
    age_bands: tuple[tuple[int, int, float], ...] = ()
    male_share: float = 0.564
    uasc_share: float = 0.063
    sibling_share: float = 0.40
    sibling_sizes: tuple[tuple[int, float], ...] = ()
    needs: tuple[NeedRule, ...] = ()
    residential_only_complex_11: float = 0.35
    foster_only_under_10: float = 0.45
    solo_complex_11: float = 0.25
    faith_preferred_share: float = 0.35
    areas: tuple[Area, ...] = ()  # empty: around the homes of the children in children.csv
    home_jitter_km: float = 3.0


DEMAND_SCALARS = {f.name for f in fields(Demand)
                  if f.name not in ("age_bands", "sibling_sizes", "needs", "areas")}


@dataclass(frozen=True, eq=False)
class CommissionData:
    """Everything a capacity plan needs; frozen, picklable (sent to every worker)."""

    source: str
    instance: Instance  # today's authority (children, placements, policy)
    placements_frame: pd.DataFrame = field(repr=False)  # placements.csv as read (text)
    policy_text: str = field(repr=False)
    contracts: tuple[Contract, ...]
    spot: tuple[Spot, ...]
    demand: Demand
    explicit: tuple[tuple[str, pd.DataFrame], ...] = field(default=(), repr=False)
    overrides: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    fingerprint: str = ""  # the files and the overrides
    files_fingerprint: str = ""  # the files only (what-if changes keep it)

    @property
    def contract_ids(self) -> tuple[str, ...]:
        return tuple(c.contract_id for c in self.contracts)

    def contract(self, cid: str) -> Contract:
        for c in self.contracts:
            if c.contract_id == cid:
                return c
        raise KeyError(cid)

    @property
    def current_beds(self) -> dict[str, int]:
        return {c.contract_id: c.current_beds for c in self.contracts}

    def block_cost(self, beds: dict[str, int]) -> float:
        """Weekly price of the booked beds (paid whether used or not)."""
        return float(sum(c.weekly_price * beds.get(c.contract_id, 0) for c in self.contracts))


# --------------------------------------------------------------------------- readers


def _text(df: pd.DataFrame, col: str) -> list[str]:
    return [str(v) for v in df[col].tolist()]


def _read_contracts(path: Path, out: Collector, taken: set[str]) -> tuple[Contract, ...]:
    f = "contracts.csv"
    df = read_csv_table(path / f, f, out)
    if df is None or not check_columns(df, CONTRACT_COLUMNS, set(), f, out):
        return ()
    ids = parse_ids(df, "contract_id", f, out)
    out.rows(f, df, (df["provider"] == "").to_numpy(), "provider",
             lambda v: "is required but empty")
    ptype = parse_choice(df, "type", f, out, PLACEMENT_TYPES, default=None)
    lat = parse_floats(df, "lat", f, out, required=True, lo=-90, hi=90, default=0.0)
    lon = parse_floats(df, "lon", f, out, required=True, lo=-180, hi=180, default=0.0)
    amin = parse_ints(df, "age_min", f, out, default=None, lo=0, hi=25)
    amax = parse_ints(df, "age_max", f, out, default=None, lo=0, hi=25)
    parse_list_choice(df, "genders", f, out, GENDERS, "gender", str.upper)
    rating = parse_choice(df, "ofsted_rating", f, out, ALL_RATINGS, default="not_rated")
    step = parse_ints(df, "step", f, out, default=1, lo=1, what="a whole number of beds")
    bmin = parse_ints(df, "min_beds", f, out, default=0, lo=0, what="a whole number of beds")
    bmax = parse_ints(df, "max_beds", f, out, default=None, lo=0, what="a whole number of beds")
    price = parse_floats(df, "weekly_price", f, out, required=True, lo=0, default=0.0)
    term = parse_ints(df, "min_term_weeks", f, out, default=52, lo=0,
                      what="a whole number of weeks")
    cur = parse_ints(df, "current_beds", f, out, default=0, lo=0, what="a whole number of beds")
    bad_rows = {(p.row, p.column) for p in out.problems if p.file == f}
    rows = [int(r) for r in df.index]
    for i, r in enumerate(rows):
        if amin[i] > amax[i] and (r, "age_min") not in bad_rows and (r, "age_max") not in bad_rows:
            out.add(f, r, "age_max", f"{amax[i]} is below age_min ({amin[i]})")
        if (r, "min_beds") in bad_rows or (r, "max_beds") in bad_rows:
            continue
        if bmin[i] > bmax[i]:
            out.add(f, r, "max_beds", f"{bmax[i]} is below min_beds ({bmin[i]})")
        elif (bmax[i] - bmin[i]) // max(int(step[i]), 1) + 2 > MAX_LEVELS:
            out.add(f, r, "step", f"{step[i]} gives more than {MAX_LEVELS} bed levels between "
                    f"min_beds {bmin[i]} and max_beds {bmax[i]}: use a larger step")
        if (r, "current_beds") not in bad_rows and cur[i] > bmax[i]:
            out.add(f, r, "current_beds", f"{cur[i]} is above max_beds ({bmax[i]})")
        if ids[i] in taken:
            out.add(f, r, "contract_id", f"{ids[i]!r} is already a placement_id in "
                    "placements.csv (a booked bed becomes a placement with this id)")
    genders = _text(df, "genders")
    needs = _text(df, "needs_supported")
    faith = _text(df, "faith")
    prov = _text(df, "provider")
    return tuple(
        Contract(contract_id=str(ids[i]), provider=prov[i], type=PLACEMENT_TYPES[int(ptype[i])],
                 lat=float(lat[i]), lon=float(lon[i]), age_min=int(amin[i]),
                 age_max=int(amax[i]), genders=genders[i], needs_supported=needs[i],
                 faith=faith[i], ofsted_rating=ALL_RATINGS[int(rating[i])],
                 step=int(step[i]), min_beds=int(bmin[i]), max_beds=int(bmax[i]),
                 weekly_price=float(price[i]), min_term_weeks=int(term[i]),
                 current_beds=int(cur[i]), row=rows[i])
        for i in range(len(df)))


def _read_spot(path: Path, out: Collector, taken: set[str]) -> tuple[Spot, ...]:
    f = "spot.csv"
    df = read_csv_table(path / f, f, out)
    if df is None or not check_columns(df, SPOT_COLUMNS, set(), f, out):
        return ()
    ids = parse_ids(df, "spot_id", f, out)
    ptype = parse_choice(df, "type", f, out, PLACEMENT_TYPES, default=None)
    tier = parse_choice(df, "tier", f, out, TIERS, default=None)
    cost = parse_floats(df, "weekly_cost", f, out, required=True, lo=0, default=0.0)
    km = parse_floats(df, "typical_distance_km", f, out, required=True, lo=0, default=0.0)
    amin = parse_ints(df, "age_min", f, out, default=0, lo=0, hi=25)
    amax = parse_ints(df, "age_max", f, out, default=17, lo=0, hi=25)
    parse_list_choice(df, "genders", f, out, GENDERS, "gender", str.upper)
    rating = parse_choice(df, "ofsted_rating", f, out, ALL_RATINGS, default="not_rated")
    mb_empty = (df["max_beds"] == "").to_numpy()
    mb = parse_ints(df, "max_beds", f, out, default=0, lo=0, what="a whole number of beds")
    bad_rows = {(p.row, p.column) for p in out.problems if p.file == f}
    rows = [int(r) for r in df.index]
    for i, r in enumerate(rows):
        if amin[i] > amax[i] and (r, "age_min") not in bad_rows and (r, "age_max") not in bad_rows:
            out.add(f, r, "age_max", f"{amax[i]} is below age_min ({amin[i]})")
        if ids[i] in taken:
            out.add(f, r, "spot_id", f"{ids[i]!r} is already used as a placement_id or "
                    "contract_id")
        if "~" in str(ids[i]):
            out.add(f, r, "spot_id", f"{ids[i]!r}: '~' is reserved in spot ids")
    prov = _text(df, "provider")
    return tuple(
        Spot(spot_id=str(ids[i]), provider=prov[i] or f"spot ({TIERS[int(tier[i])]})",
             type=PLACEMENT_TYPES[int(ptype[i])], tier=TIERS[int(tier[i])],
             weekly_cost=float(cost[i]), typical_distance_km=float(km[i]),
             needs_supported=_text(df, "needs_supported")[i], age_min=int(amin[i]),
             age_max=int(amax[i]), genders=_text(df, "genders")[i],
             ofsted_rating=ALL_RATINGS[int(rating[i])],
             max_beds=None if mb_empty[i] else int(mb[i]), row=rows[i])
        for i in range(len(df)))


def _toml_lines(text: str) -> dict[str, int]:
    """Line of each `key =` (last section-qualified name wins), for precise problems."""
    where: dict[str, int] = {}
    section = ""
    for n, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if s.startswith("["):
            section = s.strip("[]").strip()
        elif "=" in s and not s.startswith("#"):
            key = s.split("=", 1)[0].strip()
            where.setdefault(f"{section}.{key}" if section else key, n)
            where.setdefault(key, n)
    return where


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and bool(np.isfinite(v))


def parse_demand(raw: dict[str, Any], out: Collector, file: str = "demand.toml",
                 where: dict[str, int] | None = None) -> Demand:
    """The [demand] table (and its sub-tables) into a `Demand`; each bad value a problem."""
    where = where or {}

    def bad(key: str, value: Any, must: str) -> None:
        out.add(file, where.get(key), key, f"{value!r} must be {must}")

    d = raw.get("demand", raw)
    if not isinstance(d, dict):
        out.add(file, None, None, "needs a [demand] table")
        return Demand()
    kw: dict[str, Any] = {}
    shares = {"male_share", "uasc_share", "sibling_share", "residential_only_complex_11",
              "foster_only_under_10", "solo_complex_11", "faith_preferred_share"}
    for key, value in d.items():
        if key in ("age_bands", "sibling_sizes", "needs", "areas"):
            continue
        if key not in DEMAND_SCALARS:
            out.warn(f"{file}: unknown key demand.{key} ignored")
            continue
        if key == "arrivals_per_year" and value is not None:
            if not _number(value) or value < 0:
                bad(key, value, "a number of children, 0 or more")
                continue
        elif not _number(value):
            bad(key, value, "a number")
            continue
        elif key in shares and not 0 <= value <= 1:
            bad(key, value, "a share between 0 and 1")
            continue
        elif key in ("growth_sd", "home_jitter_km", "years", "starts_per_stock") and value < 0:
            bad(key, value, "0 or more")
            continue
        elif key == "growth" and value <= -1:
            bad(key, value, "above -1 (a yearly growth rate such as 0.05)")
            continue
        kw[key] = float(value)
    if "age_bands" in d:
        bands = []
        for i, b in enumerate(_table_list(d["age_bands"], file, "age_bands", out, where)):
            lo: Any = b.get("age_min")
            hi: Any = b.get("age_max")
            sh: Any = b.get("share")
            if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi <= 17):
                bad("age_bands", b, f"entry {i + 1}: age_min <= age_max, whole years 0..17")
            elif not _number(sh) or sh < 0:
                bad("age_bands", b, f"entry {i + 1}: share a number, 0 or more")
            else:
                bands.append((lo, hi, float(sh)))
        if bands and sum(s for _, _, s in bands) <= 0:
            bad("age_bands", d["age_bands"], "shares with a positive total")
        kw["age_bands"] = tuple(bands)
    if "sibling_sizes" in d:
        sizes = d["sibling_sizes"]
        ok: list[tuple[int, float]] = []
        if not isinstance(sizes, dict):
            bad("sibling_sizes", sizes, 'a table such as { "2" = 0.75, "3" = 0.18 }')
        else:
            for k, v in sizes.items():
                if not str(k).isdigit() or int(k) < 2 or not _number(v) or v < 0:
                    bad("sibling_sizes", {k: v}, "group size (2 or more) = share")
                else:
                    ok.append((int(k), float(v)))
        kw["sibling_sizes"] = tuple(sorted(ok))
    if "needs" in d:
        rules = []
        for i, n in enumerate(_table_list(d["needs"], file, "needs", out, where)):
            tag: Any = n.get("tag")
            sh = n.get("share")
            lo = n.get("age_min", 0)
            hi = n.get("age_max", 17)
            if not isinstance(tag, str) or not tag or ";" in tag:
                bad("needs", n, f"entry {i + 1}: tag a need tag such as complex_behaviour")
            elif not _number(sh) or not 0 <= sh <= 1:
                bad("needs", n, f"entry {i + 1}: share between 0 and 1")
            elif not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi <= 17):
                bad("needs", n, f"entry {i + 1}: age_min <= age_max, whole years 0..17")
            else:
                rules.append(NeedRule(tag.lower(), float(sh), lo, hi))
        kw["needs"] = tuple(rules)
    if "areas" in d:
        areas = []
        for i, a in enumerate(_table_list(d["areas"], file, "areas", out, where)):
            lat: Any = a.get("lat")
            lon: Any = a.get("lon")
            w: Any = a.get("weight", 1.0)
            r: Any = a.get("radius_km", 5.0)
            if not (_number(lat) and -90 <= lat <= 90 and _number(lon) and -180 <= lon <= 180):
                bad("areas", a, f"entry {i + 1}: lat and lon in degrees (WGS84)")
            elif not (_number(w) and w >= 0 and _number(r) and r >= 0):
                bad("areas", a, f"entry {i + 1}: weight and radius_km 0 or more")
            else:
                areas.append(Area(float(lat), float(lon), float(w), float(r)))
        kw["areas"] = tuple(areas)
    return Demand(**kw)


def _table_list(v: Any, file: str, key: str, out: Collector,
                where: dict[str, int]) -> list[dict[str, Any]]:
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        out.add(file, where.get(key), key,
                f"must be a list of tables ([[demand.{key}]] entries), not {v!r}")
        return []
    return v


def _read_demand(path: Path, out: Collector) -> Demand:
    f = path / "demand.toml"
    if not f.exists():
        return Demand()
    try:
        text = f.read_text(encoding="utf-8-sig")
        raw = tomllib.loads(text)
    except UnicodeDecodeError:
        out.add("demand.toml", None, None, "is not UTF-8 text")
        return Demand()
    except tomllib.TOMLDecodeError as e:
        out.add("demand.toml", None, None, f"is not valid TOML: {e}")
        return Demand()
    return parse_demand(raw, out, "demand.toml", _toml_lines(text))


def _read_scenarios(path: Path, placements: Path, policy: Path | None, out: Collector
                    ) -> tuple[tuple[str, pd.DataFrame], ...]:
    """`scenarios/<name>/children.csv`, each checked by the core reader against today's
    placements (problems renamed to the scenario's file)."""
    root = path / "scenarios"
    if not root.is_dir():
        return ()
    found: list[tuple[str, pd.DataFrame]] = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        name = f"scenarios/{d.name}/children.csv"
        f = d / "children.csv"
        if not f.exists():
            out.add(name, None, None, "required file is missing")
            continue
        sub = Collector()
        frame = read_csv_table(f, name, sub)
        out.problems.extend(sub.problems)
        if frame is None:
            continue
        if "current_placement" in frame.columns and (frame["current_placement"] != "").any():
            r = int(frame.index[(frame["current_placement"] != "").to_numpy()][0])
            out.add(name, r, "current_placement", "scenario children are waiting for a "
                    "placement: leave current_placement empty")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "children.csv").write_bytes(f.read_bytes())
            (Path(tmp) / "placements.csv").write_bytes(placements.read_bytes())
            if policy is not None:
                (Path(tmp) / "policy.toml").write_bytes(policy.read_bytes())
            try:
                load_instance(tmp)
            except InstanceError as e:
                for p in e.problems:
                    if p.file == "children.csv":
                        out.problems.append(Problem(name, p.row, p.column, p.message))
                continue
        found.append((d.name, frame.reset_index(drop=True)))
    return tuple(found)


def _fingerprint(path: Path, overrides: Iterable[str]) -> str:
    h = hashlib.sha1()
    for name in ("children.csv", "placements.csv", "policy.toml", "contracts.csv", "spot.csv",
                 "demand.toml"):
        f = path / name
        if f.exists():
            h.update(name.encode())
            h.update(f.read_bytes())
    sc = path / "scenarios"
    if sc.is_dir():
        for f in sorted(sc.glob("*/children.csv")):
            h.update(str(f.relative_to(path)).encode())
            h.update(f.read_bytes())
    for o in overrides:
        h.update(o.encode())
    return h.hexdigest()[:16]


def load_commission(path: str | Path) -> CommissionData:
    """Load an instance folder with contracts.csv, spot.csv and demand; all problems at once.

    Raises `InstanceError` (every problem, with file, row and column) when anything is
    wrong, including the instance's own files.
    """
    path = Path(path)
    if not path.is_dir():
        raise InstanceError([Problem(str(path), None, None,
                                     "is not a folder (a commissioning instance is a folder)")])
    out = Collector()
    inst: Instance | None = None
    try:
        inst = load_instance(path)
    except InstanceError as e:
        out.problems.extend(e.problems)
    taken: set[str] = set(inst.placement_ids.tolist()) if inst is not None else set()
    if not (path / "contracts.csv").exists():
        out.add("contracts.csv", None, None, "required file is missing")
        contracts: tuple[Contract, ...] = ()
    else:
        contracts = _read_contracts(path, out, taken)
    taken |= {c.contract_id for c in contracts}
    if not (path / "spot.csv").exists():
        out.add("spot.csv", None, None, "required file is missing (without a spot market "
                "a child with no bed is left unplaced)")
        spot: tuple[Spot, ...] = ()
    else:
        spot = _read_spot(path, out, taken)
    demand = _read_demand(path, out)
    explicit: tuple[tuple[str, pd.DataFrame], ...] = ()
    pol = path / "policy.toml"
    if inst is not None and (path / "placements.csv").exists():
        explicit = _read_scenarios(path, path / "placements.csv",
                                   pol if pol.exists() else None, out)
    if out.problems or inst is None:
        order = {f: i for i, f in enumerate(("children.csv", "placements.csv", "exclusions.csv",
                                             "distances.csv", "policy.toml", "contracts.csv",
                                             "spot.csv", "demand.toml"))}
        raise InstanceError(sorted(out.problems,
                                   key=lambda p: (order.get(p.file, len(order)), p.file,
                                                  p.row or 0)))
    sub = Collector()
    placements_frame = read_csv_table(path / "placements.csv", "placements.csv", sub)
    assert placements_frame is not None
    return CommissionData(
        source=str(path), instance=inst,
        placements_frame=placements_frame.reset_index(drop=True),
        policy_text=pol.read_text(encoding="utf-8-sig") if pol.exists() else "",
        contracts=contracts, spot=spot, demand=demand, explicit=explicit,
        warnings=tuple(inst.warnings) + tuple(out.warnings),
        fingerprint=_fingerprint(path, ()), files_fingerprint=_fingerprint(path, ()))


# --------------------------------------------------------------------------- what-if

CONTRACT_KEYS = {"price": "weekly_price", "weekly_price": "weekly_price", "beds": "fixed_beds",
                 "step": "step", "min_beds": "min_beds", "max_beds": "max_beds",
                 "current_beds": "current_beds", "min_term_weeks": "min_term_weeks"}
SPOT_KEYS = {"weekly_cost": "weekly_cost", "price": "weekly_cost",
             "typical_distance_km": "typical_distance_km", "max_beds": "max_beds"}


class OverrideError(ValueError):
    """A `--set KEY=VALUE` that names no known input or has a bad value."""


def _parse_value(key: str, text: str, *, integer: bool, allow_none: bool = False) -> Any:
    t = text.strip()
    if allow_none and t.lower() in ("", "none", "unlimited"):
        return None
    try:
        v = float(t)
    except ValueError:
        raise OverrideError(f"{key}={text}: {text!r} is not a number") from None
    if not np.isfinite(v):
        raise OverrideError(f"{key}={text}: not a finite number")
    if integer:
        if v % 1 != 0:
            raise OverrideError(f"{key}={text}: must be a whole number")
        return int(v)
    return v


def apply_overrides(data: CommissionData, sets: Iterable[str]) -> CommissionData:
    """A new `CommissionData` with what-if changes, without touching any file.

    Keys: `contracts.ID.price|weekly_price|beds|step|min_beds|max_beds|current_beds`
    (`beds` fixes that contract's first stage), `spot.ID.weekly_cost|price|
    typical_distance_km|max_beds`, `demand.FIELD` (a number, e.g. `demand.growth=0.05`).
    An unknown key or a bad value raises `OverrideError` naming it.
    """
    contracts = {c.contract_id: c for c in data.contracts}
    spots = {s.spot_id: s for s in data.spot}
    demand = data.demand
    done: list[str] = []
    for item in sets:
        if "=" not in item:
            raise OverrideError(f"{item!r}: write KEY=VALUE, e.g. contracts.BLK1.price=3100")
        key, value = (s.strip() for s in item.split("=", 1))
        parts = key.split(".")
        if parts[0] == "contracts" and len(parts) == 3:
            cid, what = parts[1], parts[2]
            if cid not in contracts:
                raise OverrideError(f"{key}: no contract {cid!r} in contracts.csv "
                                    f"(known: {', '.join(contracts) or 'none'})")
            if what not in CONTRACT_KEYS:
                raise OverrideError(f"{key}: unknown contract field {what!r} (known: "
                                    f"{', '.join(sorted(CONTRACT_KEYS))})")
            attr = CONTRACT_KEYS[what]
            v = _parse_value(key, value, integer=attr != "weekly_price")
            if v < 0:
                raise OverrideError(f"{key}={value}: must be 0 or more")
            if attr == "step" and v < 1:
                raise OverrideError(f"{key}={value}: a step is at least 1 bed")
            c = replace(contracts[cid], **{attr: v})
            if c.min_beds > c.max_beds:
                raise OverrideError(f"{key}={value}: min_beds {c.min_beds} above max_beds "
                                    f"{c.max_beds}")
            contracts[cid] = c
        elif parts[0] == "spot" and len(parts) == 3:
            sid, what = parts[1], parts[2]
            if sid not in spots:
                raise OverrideError(f"{key}: no spot option {sid!r} in spot.csv "
                                    f"(known: {', '.join(spots) or 'none'})")
            if what not in SPOT_KEYS:
                raise OverrideError(f"{key}: unknown spot field {what!r} (known: "
                                    f"{', '.join(sorted(SPOT_KEYS))})")
            attr = SPOT_KEYS[what]
            v = _parse_value(key, value, integer=attr == "max_beds",
                             allow_none=attr == "max_beds")
            if v is not None and v < 0:
                raise OverrideError(f"{key}={value}: must be 0 or more")
            spots[sid] = replace(spots[sid], **{attr: v})
        elif parts[0] == "demand" and len(parts) == 2:
            what = parts[1]
            if what not in DEMAND_SCALARS:
                raise OverrideError(f"{key}: unknown demand field {what!r} (known: "
                                    f"{', '.join(sorted(DEMAND_SCALARS))})")
            v = _parse_value(key, value, integer=False)
            out = Collector()
            checked = parse_demand({"demand": {what: v}}, out, "--set")
            if out.problems:
                raise OverrideError(f"{key}={value}: {out.problems[0].message}")
            demand = replace(demand, **{what: getattr(checked, what)})
        else:
            raise OverrideError(f"{key}: unknown key (use contracts.ID.FIELD, spot.ID.FIELD "
                                "or demand.FIELD)")
        done.append(f"{key}={value}")
    all_over = data.overrides + tuple(done)
    h = hashlib.sha1((data.fingerprint + "|" + "|".join(all_over)).encode()).hexdigest()[:16]
    return replace(data, contracts=tuple(contracts[c.contract_id] for c in data.contracts),
                   spot=tuple(spots[s.spot_id] for s in data.spot), demand=demand,
                   overrides=all_over, fingerprint=h)
