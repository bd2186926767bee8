"""Calibrated, seeded, vectorised generator of synthetic placement instances.

Why: the engine needs realistic instances at every scale (a 12-child example for the docs,
an authority's list, all of England) without any real child's data. Everything is drawn
with numpy from one `numpy.random.default_rng(seed)`, calibrated on the public figures in
`optimiser.calibration`, so the same arguments give byte-identical files on any machine.
Children and placements are drawn first and the current placements last, so an instance
with `placed_share > 0` has the same children and placements as the one without.

The instances are format 1.1: each child's and placement's `authority` (GSS code), a
kinship carer reserved for the family it was drawn for (and living only with it),
`placed_since` for a child already placed, and `adjoining.csv` for the children's
authorities; the 1.1 policy keys are written out with their defaults.

Public API: `generate`, `generate_recipe`, `load_recipes`, `recipe_kwargs`,
`write_instance`, `instance_stats`, `default_data_dir`, `RECIPES_PATH`.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from optimiser import calibration as cal
from optimiser.categories import (
    ALL_RATINGS,
    DEFAULT_TYPES,
    EARTH_RADIUS_KM,
    GENDERS,
    PLACEMENT_TYPES,
    SUPPORTED_MIN_AGE,
    FaithMatch,
    Rating,
)
from optimiser.objective import haversine_km
from optimiser.registry import DEFINITIONS, Fit, Pairs, Scope
from optimiser.safe_text import safe_frame

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO_ROOT = Path(__file__).resolve().parent.parent
RECIPES_PATH = REPO_ROOT / "instances" / "recipes.toml"
DATA_DIR_ENV = "PLACEMENT_DATA_DIR"

# The spec's policy defaults (instance-format.md), written into every instance.
POLICY_TOML = """\
# Policy of the authority: the defaults of the interchange format (version 1.1), written out.
# Everything is in pounds per week.

[weights]
cost = 1.0              # multiplier on weekly_cost
per_km = 5.0            # pounds-per-week equivalent of one km from home
faith_mismatch = 200.0  # a child with faith_match = preferred placed where faith differs
move = 500.0            # a child with a current_placement moved elsewhere
unplaced = 100000.0     # a child left unplaced, per priority point
sibling_split = 1000.0  # only with split_siblings = true
out_of_area = 0.0       # a child placed outside its own authority

[rules]
min_ofsted_rating = "requires_improvement"
split_siblings = false
move_only_in_child_interest = true  # a placed child moves only for a reason of its own
min_move_km = 10.0
"""
# placed_since is drawn back from this fixed day, so that a recipe's files never change
PLACED_AS_OF = dt.date(2026, 12, 1)
PLACED_DAYS = (14, 6 * 365)  # how long ago a child moved in: two weeks to six years
# Two authorities adjoin where their centroids are closer than this many times the sum of
# their radii (sqrt(area / pi)): a stand-in for a real boundary list, which the embedded
# table does not hold (around Leicestershire it finds 8 of its 9 neighbours, misses
# Lincolnshire, and adds Nottingham and Derby).
ADJOINING_FACTOR = 1.2
MIN_RATING = "requires_improvement"

KM_PER_DEG = math.pi * EARTH_RADIUS_KM / 180.0
# England's box (Lizard to Berwick, Land's End to Lowestoft): points are clipped into it.
LAT_BOX = (49.9, 55.8)
LON_BOX = (-5.7, 1.76)

TYPE_INDEX = {t: i for i, t in enumerate(PLACEMENT_TYPES)}
T_INHOUSE, T_KIN, T_IFA = (TYPE_INDEX[t] for t in ("inhouse_foster", "kinship_foster",
                                                    "ifa_foster"))
T_IN_RES, T_EXT_RES = TYPE_INDEX["inhouse_residential"], TYPE_INDEX["external_residential"]
T_SUPPORTED, T_SECURE, T_PC = (TYPE_INDEX[t] for t in ("supported_accommodation", "secure",
                                                       "parent_and_child"))
DEFAULT_TYPE_MASK = sum(1 << TYPE_INDEX[t] for t in DEFAULT_TYPES)
FAMILY_MASK = (1 << T_INHOUSE) | (1 << T_KIN) | (1 << T_IFA)
RESIDENTIAL_MASK = (1 << T_IN_RES) | (1 << T_EXT_RES)

NEED_BIT = {tag: 1 << i for i, tag in enumerate(cal.NEED_TAGS)}
GENDER_BIT = {g: 1 << i for i, g in enumerate(GENDERS)}
ALL_GENDERS_MASK = (1 << len(GENDERS)) - 1
RATING_INDEX = {r: i for i, r in enumerate(ALL_RATINGS)}


def _faith_names() -> tuple[str, ...]:
    names = {f for f, _ in cal.FAITHS} | {f for f, _ in cal.UASC_FAITHS}
    for prof in cal.TYPES.values():
        names |= {f for f, _ in prof.faiths}
    return ("", *sorted(names))


FAITH_NAMES = _faith_names()  # code 0 = no faith
FAITH_INDEX = {f: i for i, f in enumerate(FAITH_NAMES)}

_OFSTED_RATING = {
    "Outstanding": "outstanding",
    "Good": "good",
    "Requires improvement to be good": "requires_improvement",
    "Inadequate": "inadequate",
}
# Ofsted spellings that match no name in the geography file (see shared/data/README.md).
_NAME_VARIANTS = {
    "bournemouth, christchurch & poole": "E06000058",
    "southend on sea": "E06000033",
}
_CUMBRIA_SPLIT = ("E06000063", "E06000064")  # Cumberland, Westmorland and Furness


# --- small vectorised helpers ---------------------------------------------------------------


def _table(options: tuple[tuple[Any, float], ...]) -> tuple[np.ndarray, np.ndarray]:
    values = np.array([v for v, _ in options])
    p = np.array([w for _, w in options], dtype=float)
    return values, p / p.sum()


def _choice(rng: np.random.Generator, options: tuple[tuple[Any, float], ...],
            size: int) -> np.ndarray:
    values, p = _table(options)
    return values[rng.choice(len(values), size=size, p=p)]


def _code_or_none(rng: np.random.Generator, options: tuple[tuple[str, float], ...],
                  index: dict[str, int], size: int) -> np.ndarray:
    """Codes of `options` drawn with their (absolute) probabilities; 0 for the remainder."""
    codes = np.zeros(size, dtype=np.int64)
    u = rng.random(size)
    if not options:
        return codes
    edges = np.cumsum([w for _, w in options])
    k = np.searchsorted(edges, u, side="right")
    hit = k < len(options)
    lookup = np.array([index[v] for v, _ in options])
    codes[hit] = lookup[k[hit]]
    return codes


def _offset(lat: np.ndarray, lon: np.ndarray, dist_km: np.ndarray,
            bearing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move points by a distance and bearing (flat-earth approximation, fine below 300 km)."""
    dlat = dist_km * np.cos(bearing) / KM_PER_DEG
    dlon = dist_km * np.sin(bearing) / (KM_PER_DEG * np.cos(np.radians(lat)))
    return np.clip(lat + dlat, *LAT_BOX), np.clip(lon + dlon, *LON_BOX)


def _disc(rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray,
          radius_km: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    n = len(lat)
    r = np.asarray(radius_km) * np.sqrt(rng.random(n))
    return _offset(lat, lon, r, rng.random(n) * 2 * math.pi)


def _xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Unit vectors: Euclidean order on them is great-circle order (for the k-d trees)."""
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def _largest_remainder(total: int, shares: np.ndarray) -> np.ndarray:
    raw = shares / shares.sum() * total
    counts = np.floor(raw).astype(np.int64)
    rest = total - counts.sum()
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:rest]] += 1
    return counts


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    width = max(width, len(str(n)))
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def _mask_lookup(names: tuple[str, ...], empty_for_all: bool = False) -> np.ndarray:
    """String of every bit mask over `names` ("a;b"), for vectorised formatting."""
    full = (1 << len(names)) - 1
    out = []
    for mask in range(1 << len(names)):
        if empty_for_all and mask == full:
            out.append("")
        else:
            out.append(";".join(n for i, n in enumerate(names) if mask >> i & 1))
    return np.array(out, dtype=object)


NEEDS_TEXT = _mask_lookup(cal.NEED_TAGS)
TYPES_TEXT = _mask_lookup(PLACEMENT_TYPES)
GENDERS_TEXT = _mask_lookup(GENDERS, empty_for_all=True)


# --- the world: authorities and (optionally) real children's homes -------------------------


@dataclass(frozen=True)
class _World:
    """Authorities (embedded table, real coordinates when given) and real homes if any."""

    code: np.ndarray
    name: np.ndarray
    region: np.ndarray
    cla: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    radius_km: np.ndarray
    homes: np.ndarray  # children's homes located in each authority
    home_rows: pd.DataFrame | None  # real homes: auth, places, rating, sector, secure

    def select(self, authority: str | None) -> tuple[np.ndarray, np.ndarray]:
        """Indices and weights (children in care) of the authorities an instance covers:
        one authority (name or GSS code), a region, "London" or "England"."""
        key = (authority or cal.DEFAULT_AUTHORITY).strip().lower()
        names = np.char.lower(self.name.astype(str))
        regions = np.char.lower(self.region.astype(str))
        by_name = np.flatnonzero((names == key) | (np.char.lower(self.code.astype(str)) == key))
        if key == "england":
            idx = np.arange(len(self.code))
        elif key == "london":
            idx = np.flatnonzero(np.char.endswith(regions, "london"))
        else:
            idx = by_name if by_name.size else np.flatnonzero(regions == key)
        if idx.size == 0:
            raise ValueError(
                f"unknown authority {authority!r}: give an English local authority "
                f"(e.g. {cal.DEFAULT_AUTHORITY!r}), a region ({', '.join(cal.REGIONS)}), "
                "'London' or 'England'"
            )
        w = self.cla[idx].astype(float)
        if w.sum() <= 0:
            w = np.ones(len(idx))
        return idx, w / w.sum()


def default_data_dir() -> Path | None:
    """`$PLACEMENT_DATA_DIR`, else `../shared/data` next to the repository, if it exists."""
    env = os.environ.get(DATA_DIR_ENV)
    path = Path(env) if env else REPO_ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None


def _county_fixed_coordinates(geo: pd.DataFrame) -> pd.DataFrame:
    """Replace county (CTY) centroids by the area-weighted mean of their districts'.

    Why: in `uk_local_authorities_current.csv` many county centroids are far off (Lancashire
    by ~190 km, Suffolk ~100 km, Leicestershire ~80 km), while districts and unitaries agree
    with the postcodes of the providers Ofsted lists there.
    """
    geo = geo.copy()
    current = geo["current-authority"].astype(str).str.lower().eq("true")
    districts = geo[(geo["local-authority-type"] == "NMD") & current & (geo["area"] > 0)]
    w = districts["area"]
    sums = pd.DataFrame({"w": w, "lat": districts["lat"] * w, "lon": districts["long"] * w,
                         "county": districts["county-la"]}).groupby("county").sum()
    county = geo["local-authority-type"].eq("CTY") & geo["local-authority-code"].isin(
        sums.index)
    code = geo.loc[county, "local-authority-code"]
    geo.loc[county, "lat"] = (code.map(sums["lat"]) / code.map(sums["w"])).to_numpy()
    geo.loc[county, "long"] = (code.map(sums["lon"]) / code.map(sums["w"])).to_numpy()
    return geo


def _load_world(data_dir: str | Path | None) -> _World:
    table = pd.DataFrame([asdict(a) for a in cal.AUTHORITIES])
    home_rows = None
    aliases = {n.lower(): c for n, c in zip(table["name"], table["code"], strict=True)}
    if data_dir is not None:
        root = Path(data_dir)
        geo_path = root / "geography" / "uk_local_authorities_current.csv"
        if geo_path.is_file():
            geo = _county_fixed_coordinates(pd.read_csv(geo_path))
            geo = geo[geo["lat"].notna()]
            by_code = geo.drop_duplicates("gss-code").set_index("gss-code")
            known = table["code"].isin(by_code.index)
            table.loc[known, "lat"] = table.loc[known, "code"].map(by_code["lat"]).round(5)
            table.loc[known, "lon"] = table.loc[known, "code"].map(by_code["long"]).round(5)
            # Names -> codes; the authorities of the table first, so that e.g. "Bristol"
            # maps to the current council rather than a predecessor.
            geo = geo.assign(_ours=~geo["gss-code"].isin(table["code"]))
            geo = geo.sort_values("_ours", kind="stable")
            for code, nice, official, alt in zip(geo["gss-code"], geo["nice-name"],
                                                 geo["official-name"],
                                                 geo["alt-names"].fillna(""), strict=True):
                for nm in [nice, official, *str(alt).split(",")]:
                    aliases.setdefault(str(nm).strip().lower(), code)
        aliases.update(_NAME_VARIANTS)
        prov_path = root / "ofsted" / "provider_at_march.csv"
        if prov_path.is_file():
            home_rows = _read_homes(prov_path, table, aliases)
            counts = np.bincount(home_rows["auth"][~home_rows["secure"]], minlength=len(table))
            table["homes"] = counts
    radius = np.clip(np.sqrt(table["area_km2"].to_numpy(float) / math.pi), 2.0, 30.0)
    return _World(
        code=table["code"].to_numpy(object),
        name=table["name"].to_numpy(object),
        region=table["region"].to_numpy(object),
        cla=table["children_in_care"].to_numpy(float),
        lat=table["lat"].to_numpy(float),
        lon=table["lon"].to_numpy(float),
        radius_km=radius,
        homes=table["homes"].to_numpy(float),
        home_rows=home_rows,
    )


def _read_homes(path: Path, table: pd.DataFrame, aliases: dict[str, str]) -> pd.DataFrame:
    """Ofsted's children's homes (and secure homes) at 31 March 2023, by authority index."""
    raw = pd.read_csv(path, skiprows=3, encoding="utf-8-sig")
    kind = raw["Provision type"].astype(str).str.strip().str.lower()
    keep = kind.isin(["children's home", "secure children's home"]) & raw["Places"].notna()
    raw = raw[keep].reset_index(drop=True)
    la = raw["Local authority"].astype(str).str.strip().str.lower()
    codes = la.map(aliases)
    cumbria = np.flatnonzero((la == "cumbria").to_numpy())
    codes.iloc[cumbria[0::2]] = _CUMBRIA_SPLIT[0]
    codes.iloc[cumbria[1::2]] = _CUMBRIA_SPLIT[1]
    index = pd.Series(np.arange(len(table)), index=table["code"].to_numpy())
    auth = codes.map(index)
    rating = (raw["Overall experiences and progress of children and young people"]
              .astype(str).str.strip().map(_OFSTED_RATING).fillna("not_rated"))
    out = pd.DataFrame({
        "auth": auth,
        "places": raw["Places"].astype(float),
        "rating": rating.map(RATING_INDEX),
        "local_authority_run": raw["Sector"].astype(str).str.strip().eq("Local Authority"),
        "secure": kind[keep].reset_index(drop=True).str.startswith("secure"),
    })
    out = out[out["auth"].notna() & (out["places"] >= 1)]
    out["auth"] = out["auth"].astype(np.int64)
    out["places"] = out["places"].astype(np.int64)
    return out.sort_values(["auth", "places", "rating"], kind="stable").reset_index(drop=True)


# --- children -------------------------------------------------------------------------------


@dataclass
class _Children:
    """Children in internal order; units are sibling groups or single children."""

    unit: np.ndarray  # per child
    age: np.ndarray
    gender: np.ndarray  # index into GENDERS
    needs: np.ndarray  # bit mask over NEED_TAGS
    size: np.ndarray  # per unit
    start: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    authority: np.ndarray
    faith: np.ndarray
    faith_match: np.ndarray  # FaithMatch code
    types: np.ndarray  # bit mask over PLACEMENT_TYPES; 0 = not given
    max_km: np.ndarray  # nan = not given
    solo: np.ndarray
    priority: np.ndarray
    min_age: np.ndarray
    max_age: np.ndarray
    u_needs: np.ndarray
    u_genders: np.ndarray
    current: np.ndarray  # per unit: placement index or -1


def _ages(rng: np.random.Generator, size: int) -> np.ndarray:
    bands = cal.AGE_BANDS
    w = np.array([b[2] for b in bands], dtype=float)
    band = rng.choice(len(bands), size=size, p=w / w.sum())
    lo = np.array([b[0] for b in bands])[band]
    hi = np.array([b[1] for b in bands])[band]
    return lo + np.floor(rng.random(size) * (hi - lo + 1)).astype(np.int64)


def _step(age: np.ndarray, steps: tuple[tuple[int, float], ...]) -> np.ndarray:
    """P(.) by age from (from_age, p) steps."""
    edges = np.array([a for a, _ in steps])
    return np.array([p for _, p in steps])[np.searchsorted(edges, age, side="right") - 1]


def _draw_children(rng: np.random.Generator, n: int, world: _World, sel: np.ndarray,
                   sel_w: np.ndarray) -> _Children:
    sizes, size_p = _table(cal.SIBLING_SIZES)
    n_groups = int(round(n * cal.SIBLING_SHARE / float(sizes @ size_p)))
    gsize = rng.choice(sizes, size=n_groups, p=size_p).astype(np.int64)
    gsize = gsize[np.cumsum(gsize) <= n]
    size = np.concatenate([gsize, np.ones(n - int(gsize.sum()), dtype=np.int64)])
    n_units = len(size)
    start = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
    unit = np.repeat(np.arange(n_units), size)
    pos = np.arange(n) - start[unit]
    single = size == 1

    authority = sel[rng.choice(len(sel), size=n_units, p=sel_w)]
    lat, lon = _disc(rng, world.lat[authority], world.lon[authority],
                     world.radius_km[authority])

    p_uasc = min(1.0, cal.UASC_SHARE * n / max(int(single.sum()), 1))
    uasc = single & (rng.random(n_units) < p_uasc)

    # Ages: the eldest from the DfE profile, younger siblings 0-4 years apart.
    eldest = _ages(rng, n_units)
    eldest = np.where(uasc, _choice(rng, cal.UASC_AGES, n_units), eldest)
    gap = _choice(rng, cal.SIBLING_AGE_GAPS, n).astype(np.int64)
    gap[pos == 0] = 0
    cum = np.cumsum(gap)
    offset = cum - cum[start[unit]]
    span = offset[start + size - 1]
    eldest = np.minimum(np.maximum(eldest, span), 17)
    age = np.clip(eldest[unit] - offset, 0, 17)

    r = rng.random(n)
    male_cut = cal.X_SHARE + (1 - cal.X_SHARE) * cal.MALE_SHARE
    gender = np.where(r < cal.X_SHARE, GENDERS.index("X"),
                      np.where(r < male_cut, GENDERS.index("M"), GENDERS.index("F")))
    uasc_gender = np.where(rng.random(n) < cal.UASC_MALE_SHARE, GENDERS.index("M"),
                           GENDERS.index("F"))
    child_uasc = uasc[unit]
    gender = np.where(child_uasc, uasc_gender, gender)

    needs = np.zeros(n, dtype=np.int64)
    needs |= np.where(rng.random(n) < cal.P_DISABILITY, NEED_BIT["disability"], 0)
    needs |= np.where(rng.random(n) < _step(age, cal.P_COMPLEX_BY_AGE),
                      NEED_BIT["complex_behaviour"], 0)
    needs |= np.where(rng.random(n) < _step(age, cal.P_EMOTIONAL_BY_AGE),
                      NEED_BIT["emotional_wellbeing"], 0)
    needs |= np.where(child_uasc, NEED_BIT["uasc"], 0)
    young_mother = (~child_uasc & single[unit] & (gender == GENDERS.index("F")) & (age >= 15)
                    & (rng.random(n) < cal.P_PARENT_AND_CHILD))
    needs |= np.where(young_mother, NEED_BIT["parent_and_child"], 0)

    min_age = np.minimum.reduceat(age, start)
    max_age = np.maximum.reduceat(age, start)
    u_needs = np.bitwise_or.reduceat(needs, start)
    u_genders = np.bitwise_or.reduceat(1 << gender, start)
    complex_ = (u_needs & NEED_BIT["complex_behaviour"]) != 0
    mother = (u_needs & NEED_BIT["parent_and_child"]) != 0

    faith_idx = FAITH_INDEX
    faith = np.where(uasc, _code_or_none(rng, cal.UASC_FAITHS, faith_idx, n_units),
                     _code_or_none(rng, cal.FAITHS, faith_idx, n_units))
    match_idx = {m.word: int(m) for m in FaithMatch}
    faith_match = np.where(faith > 0, _code_or_none(rng, cal.FAITH_MATCH, match_idx, n_units), 0)

    # Care plans: which placement types are acceptable (0 = the spec's default list).
    r1, r2, r3 = rng.random(n_units), rng.random(n_units), rng.random(n_units)
    types = np.zeros(n_units, dtype=np.int64)
    types[(max_age < 10) & (r1 < cal.P_FOSTER_ONLY_UNDER_10)] = FAMILY_MASK
    teen_complex = single & complex_ & ~mother
    secure = teen_complex & (min_age >= 12) & (r2 < cal.P_SECURE_COMPLEX_12)
    res_only = (teen_complex & (min_age >= 11) & ~secure
                & (r2 < cal.P_SECURE_COMPLEX_12 + cal.P_RESIDENTIAL_ONLY_COMPLEX_11))
    types[res_only] = RESIDENTIAL_MASK
    types[secure] = 1 << T_SECURE
    supported_plan = single & (min_age >= SUPPORTED_MIN_AGE) & (
        (uasc & (r3 < cal.P_SUPPORTED_PLAN_UASC))
        | (~uasc & ~complex_ & ~mother & (r3 < cal.P_SUPPORTED_PLAN_16)))
    types[supported_plan] = (1 << T_INHOUSE) | (1 << T_IFA) | (1 << T_SUPPORTED)
    types[mother] = 1 << T_PC

    r4 = rng.random(n_units)
    solo = single & ~mother & (
        (complex_ & (min_age >= 11) & (r4 < cal.P_SOLO_COMPLEX_11)) | (r4 > 1 - cal.P_SOLO_OTHER))

    p_limit = np.where(res_only, cal.P_MAX_DISTANCE_RESIDENTIAL_ONLY,
                       np.where(uasc, cal.P_MAX_DISTANCE_UASC, cal.P_MAX_DISTANCE))
    p_limit = np.where(secure, 0.0, p_limit)
    limit = _choice(rng, cal.MAX_DISTANCE_KM, n_units).astype(float)
    max_km = np.where(rng.random(n_units) < p_limit, limit, np.nan)
    priority = _choice(rng, cal.PRIORITIES, n_units).astype(np.int64)

    return _Children(unit=unit, age=age, gender=gender, needs=needs, size=size, start=start,
                     lat=lat, lon=lon, authority=authority, faith=faith,
                     faith_match=faith_match, types=types, max_km=max_km, solo=solo,
                     priority=priority, min_age=min_age, max_age=max_age, u_needs=u_needs,
                     u_genders=u_genders, current=np.full(n_units, -1, dtype=np.int64))


# --- placements -----------------------------------------------------------------------------


@dataclass
class _Placements:
    type: np.ndarray
    provider: np.ndarray
    capacity: np.ndarray  # free beds when nobody in the instance is placed
    age_min: np.ndarray
    age_max: np.ndarray
    genders: np.ndarray  # bit mask over GENDERS
    faith: np.ndarray
    needs: np.ndarray
    rating: np.ndarray  # index into ALL_RATINGS
    lat: np.ndarray
    lon: np.ndarray
    cost: np.ndarray
    block: np.ndarray  # "" = none
    area: np.ndarray  # authority (world index) the placement lies in
    family: np.ndarray  # a kinship carer's family (unit index), -1 for other types


def _mean_free_home_beds() -> float:
    places, p = _table(cal.HOME_PLACES)
    return float(p @ ((1 + np.minimum(places, cal.HOME_MAX_FREE)) / 2))


def _unit_shares() -> np.ndarray:
    """Share of placement rows per type = share of beds / mean free beds per row."""
    sibling_sizes, sp = _table(cal.SIBLING_SIZES)
    s = cal.SIBLING_SHARE
    mean_family = 1 / ((1 - s) + s / float(sibling_sizes @ sp))  # children per unit
    shares = []
    for t in PLACEMENT_TYPES:
        prof = cal.TYPES[t]
        if t == "kinship_foster":
            beds = mean_family
        elif prof.vacancies:
            v, p = _table(prof.vacancies)
            beds = float(v @ p)
        else:
            beds = _mean_free_home_beds()
        shares.append(prof.bed_share / beds)
    return np.array(shares)


def _provider_index(rng: np.random.Generator, k: int, n_providers: int,
                    exponent: float) -> np.ndarray:
    """Providers of very unequal sizes (a few large agencies, many small ones)."""
    w = 1.0 / np.arange(1, n_providers + 1) ** exponent
    return rng.choice(n_providers, size=k, p=w / w.sum())


def _home_authorities(rng: np.random.Generator, world: _World, origin: np.ndarray,
                      weights: np.ndarray, local_share: float) -> np.ndarray:
    """Authority where each home is: in proportion to the homes there, decaying with
    distance from the placing authority (a local and a national component)."""
    uniq, inv = np.unique(origin, return_inverse=True)
    d = haversine_km(world.lat[uniq][:, None], world.lon[uniq][:, None],
                     world.lat[None, :], world.lon[None, :])
    local = weights[None, :] * np.exp(-d / cal.HOMES_LOCAL_DECAY_KM)
    national = weights[None, :] * np.exp(-d / cal.HOMES_NATIONAL_DECAY_KM)
    local /= np.maximum(local.sum(axis=1, keepdims=True), 1e-300)
    national /= np.maximum(national.sum(axis=1, keepdims=True), 1e-300)
    p = local_share * local + (1 - local_share) * national
    cdf = np.cumsum(p, axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random(len(origin))
    rows = cdf[inv]
    return np.minimum((rows < u[:, None]).sum(axis=1), len(world.code) - 1)


# --- type_rows: fixed row counts for some placement types (optional) ----------------------


def type_counts(m: int, type_rows: dict[str, int] | None = None) -> np.ndarray:
    """Placement rows per type (in `PLACEMENT_TYPES` order) for `m` rows.

    Why: the calibrated mix fixes the ratio of fostering households to children's homes,
    and a recipe may need given counts of some types (e.g. England: 3,500 homes). Types in
    `type_rows` get exactly that many rows; the other rows are split among the other types
    by the calibrated shares (largest remainder). Without `type_rows`: the calibrated mix
    (unchanged draws, so existing recipes give the same bytes)."""
    shares = _unit_shares()
    if not type_rows:
        return _largest_remainder(m, shares)
    unknown = sorted(set(type_rows) - set(PLACEMENT_TYPES))
    if unknown:
        raise ValueError(f"type_rows: unknown placement type(s) {unknown}; "
                         f"known: {', '.join(PLACEMENT_TYPES)}")
    for t, n in type_rows.items():
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"type_rows: {t} must be a whole number >= 0, got {n!r}")
    fixed = sum(int(n) for n in type_rows.values())
    if fixed > m:
        raise ValueError(f"type_rows: {fixed} fixed rows exceed placements={m}")
    free = np.array([t not in type_rows for t in PLACEMENT_TYPES])
    counts = np.array([int(type_rows.get(t, 0)) for t in PLACEMENT_TYPES], dtype=np.int64)
    if free.any():
        counts[free] = _largest_remainder(m - fixed, shares[free])
    elif fixed != m:
        raise ValueError(f"type_rows: every type is fixed, so they must add up to "
                         f"placements={m}, not {fixed}")
    return counts


# --- end of type_rows -----------------------------------------------------------------------


def _draw_placements(rng: np.random.Generator, m: int, world: _World, sel: np.ndarray,
                     sel_w: np.ndarray, kids: _Children,
                     type_rows: dict[str, int] | None = None) -> _Placements:
    counts = type_counts(m, type_rows)
    ptype = rng.permutation(np.repeat(np.arange(len(PLACEMENT_TYPES)), counts))
    owner = sel[rng.choice(len(sel), size=m, p=sel_w)]
    multi = len(sel) > 1

    provider = np.empty(m, dtype=object)
    capacity = np.zeros(m, dtype=np.int64)
    age_min = np.zeros(m, dtype=np.int64)
    age_max = np.full(m, 17, dtype=np.int64)
    genders = np.full(m, ALL_GENDERS_MASK, dtype=np.int64)
    faith = np.zeros(m, dtype=np.int64)
    needs = np.zeros(m, dtype=np.int64)
    rating = np.full(m, RATING_INDEX["not_rated"], dtype=np.int64)
    lat = np.zeros(m)
    lon = np.zeros(m)
    cost = np.zeros(m)
    block = np.full(m, "", dtype=object)
    area = np.full(m, -1, dtype=np.int64)  # -1: found from lat/lon at the end
    family = np.full(m, -1, dtype=np.int64)
    n_blocks = 0

    for t, tname in enumerate(PLACEMENT_TYPES):
        idx = np.flatnonzero(ptype == t)
        k = len(idx)
        if k == 0:
            continue
        prof = cal.TYPES[tname]
        own = owner[idx]
        where = own  # authority the placement is in

        # where
        if prof.location == "centroid_disc":
            la, lo = _disc(rng, world.lat[own], world.lon[own], prof.spread_km)
        elif prof.location == "centroid_lognormal":
            dist = prof.spread_km * np.exp(prof.spread_sigma * rng.standard_normal(k))
            la, lo = _offset(world.lat[own], world.lon[own], dist,
                             rng.random(k) * 2 * math.pi)
        elif prof.location == "kin":
            fam = rng.choice(len(kids.size), size=k, replace=k > len(kids.size))
            own = kids.authority[fam]
            dist = prof.spread_km * np.exp(prof.spread_sigma * rng.standard_normal(k))
            la, lo = _offset(kids.lat[fam], kids.lon[fam], dist, rng.random(k) * 2 * math.pi)
            family[idx] = fam
        else:  # "homes": a real-looking spread of homes across England
            share = 0.0 if tname == "secure" else cal.HOMES_LOCAL_SHARE
            where = _home_authorities(rng, world, own, world.homes, share)
            la, lo = _disc(rng, world.lat[where], world.lon[where],
                           np.clip(world.radius_km[where], 2.0, 25.0))
        lat[idx], lon[idx] = la, lo
        if prof.location in ("centroid_disc", "homes"):
            area[idx] = where

        # who is accepted
        if tname == "kinship_foster":
            age_min[idx] = np.maximum(kids.min_age[fam] - 1, 0)
            age_max[idx] = np.minimum(kids.max_age[fam] + 2, 17)
            faith[idx] = kids.faith[fam]
            genders[idx] = kids.u_genders[fam]  # approved for this family
            capacity[idx] = kids.size[fam]
            extra = np.zeros(k, dtype=np.int64)
            for tag, p in prof.needs:
                extra |= np.where(rng.random(k) < p, NEED_BIT[tag], 0)
            needs[idx] = kids.u_needs[fam] | extra
        else:
            ranges = _choice(rng, tuple(((a, b), w) for a, b, w in prof.age_ranges), k)
            age_min[idx], age_max[idx] = ranges[:, 0], ranges[:, 1]
            gcode = _code_or_none(rng, prof.genders, {"F": 1, "M": 2}, k)
            genders[idx] = np.choose(gcode, [ALL_GENDERS_MASK, GENDER_BIT["F"], GENDER_BIT["M"]])
            faith[idx] = _code_or_none(rng, prof.faiths, FAITH_INDEX, k)
            mask = np.zeros(k, dtype=np.int64)
            for tag, p in prof.needs:
                mask |= np.where(rng.random(k) < p, NEED_BIT[tag], 0)
            needs[idx] = mask
            if prof.vacancies:
                capacity[idx] = _choice(rng, prof.vacancies, k)

        # homes: places and rating, real rows where available
        if tname in ("inhouse_residential", "external_residential", "secure"):
            places = _choice(rng, cal.HOME_PLACES, k).astype(np.int64)
            rate = _choice(rng, tuple((RATING_INDEX[r], w) for r, w in cal.HOME_RATINGS), k)
            rows = world.home_rows
            secure_rows = rows is not None and bool(rows["secure"].any())
            if rows is not None and tname == "secure" and secure_rows:
                pool = rows[rows["secure"]]  # the 13 real secure homes, anywhere in England
                pick = rng.integers(0, len(pool), size=k)
                where = pool["auth"].to_numpy()[pick]
                lat[idx], lon[idx] = _disc(rng, world.lat[where], world.lon[where],
                                           np.clip(world.radius_km[where], 2.0, 25.0))
                area[idx] = where
                places = pool["places"].to_numpy()[pick]
                rate = pool["rating"].to_numpy()[pick]
            elif rows is not None and tname != "secure":
                inhouse = tname == "inhouse_residential"
                pool = rows[~rows["secure"] & (rows["local_authority_run"] == inhouse)]
                if len(pool):
                    pick, found = _pick_row(rng, pool["auth"].to_numpy(), where,
                                            len(world.code))
                    places = np.where(found, pool["places"].to_numpy()[pick], places)
                    # Homes opened since the list was made are not rated yet (OFSTED-JL).
                    new = rng.random(k) < _new_home_share()
                    rate = np.where(found, np.where(new, RATING_INDEX["not_rated"],
                                                    pool["rating"].to_numpy()[pick]), rate)
            if tname == "secure":
                capacity[idx] = np.minimum(capacity[idx], places)
            else:
                limit = np.minimum(places, cal.HOME_MAX_FREE)
                capacity[idx] = 1 + np.floor(rng.random(k) * limit).astype(np.int64)
            rating[idx] = rate

        # who provides it
        suffix = np.array([f" {c}" if multi else "" for c in world.code[own]], dtype=object)
        if tname == "inhouse_foster":
            provider[idx] = "Inhouse fostering" + suffix
        elif tname == "kinship_foster":
            provider[idx] = "Kinship carers" + suffix
        elif tname == "inhouse_residential":
            provider[idx] = "Inhouse homes" + suffix
        else:
            label, per, cap, expo = {
                "ifa_foster": ("IFA-", 40, 313, 0.8),
                "external_residential": ("Home provider ", 3, 2500, 0.6),
                "supported_accommodation": ("Supported provider ", 4, 2000, 0.6),
                "secure": ("Secure provider ", 1, 13, 0.0),
                "parent_and_child": ("Parent and child provider ", 2, 200, 0.5),
            }[tname]
            n_prov = int(np.clip(math.ceil(k / per), 1, cap))
            if tname == "ifa_foster":
                n_prov = int(np.clip(round(2 * math.sqrt(k)), 1, cap))
            who = _provider_index(rng, k, n_prov, expo)
            width = max(2, len(str(n_prov)))
            names = np.array([f"{label}{i + 1:0{width}d}" if label == "IFA-"
                              else f"{label}{i + 1}" for i in range(n_prov)], dtype=object)
            provider[idx] = names[who]
            if prof.ratings == "ifa":
                agency = _choice(rng, tuple((RATING_INDEX[r], w) for r, w in cal.IFA_RATINGS),
                                 n_prov)
                rating[idx] = agency[who]
            if prof.block_share > 0:
                in_block = rng.random(k) < prof.block_share
                firms, first = np.unique(who[in_block], return_index=True)
                order = firms[np.argsort(first, kind="stable")]
                ids = np.full(n_prov, "", dtype=object)
                ids[order] = [f"BC-{n_blocks + j + 1:02d}" for j in range(len(order))]
                n_blocks += len(order)
                block[idx] = np.where(in_block, ids[who], "")

        lo_c, mode_c, hi_c = prof.cost
        cost[idx] = np.round(rng.triangular(lo_c, mode_c, hi_c, size=k))
    cost[block != ""] = 0.0
    lat, lon = np.round(lat, 5), np.round(lon, 5)
    free = area < 0
    area[free] = _locate(world, lat[free], lon[free])
    return _Placements(type=ptype, provider=provider, capacity=capacity, age_min=age_min,
                       age_max=age_max, genders=genders, faith=faith, needs=needs,
                       rating=rating, lat=lat, lon=lon, cost=cost, block=block, area=area,
                       family=family)


def _locate(world: _World, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """The authority each point lies in, as near as the table tells: the one whose centroid
    is nearest in units of its radius (a small city inside a county keeps its own)."""
    out = np.zeros(len(lat), dtype=np.int64)
    radius = np.maximum(world.radius_km, 2.0)[None, :]
    for lo in range(0, len(lat), 2048):
        hi = min(lo + 2048, len(lat))
        km = haversine_km(lat[lo:hi, None], lon[lo:hi, None], world.lat[None, :],
                          world.lon[None, :])
        out[lo:hi] = np.argmin(km / radius, axis=1)
    return out


def adjoining_pairs(world: _World, home: np.ndarray,
                    present: np.ndarray) -> list[tuple[int, int]]:
    """Each authority of `home` (world indices: the children's) with every authority of
    `present` that adjoins it (ADJOINING_FACTOR), as (a, b) pairs, each once."""
    a, b = np.unique(home), np.unique(present)
    km = haversine_km(world.lat[a][:, None], world.lon[a][:, None], world.lat[b][None, :],
                      world.lon[b][None, :])
    near = km <= ADJOINING_FACTOR * (world.radius_km[a][:, None] + world.radius_km[b][None, :])
    pairs = {(min(int(a[i]), int(b[j])), max(int(a[i]), int(b[j])))
             for i, j in zip(*np.nonzero(near), strict=True) if a[i] != b[j]}
    return sorted(pairs)


def _new_home_share() -> float:
    _, p = _table(cal.HOME_RATINGS)
    return float(p[[r for r, _ in cal.HOME_RATINGS].index("not_rated")])


def _pick_row(rng: np.random.Generator, row_auth: np.ndarray, want: np.ndarray,
              n_auth: int) -> tuple[np.ndarray, np.ndarray]:
    """A random row (of rows sorted by authority) in each wanted authority, if any."""
    first = np.searchsorted(row_auth, np.arange(n_auth))
    count = np.bincount(row_auth, minlength=n_auth)
    found = count[want] > 0
    pick = first[want] + np.floor(rng.random(len(want)) * count[want]).astype(np.int64)
    return np.where(found, np.minimum(pick, max(len(row_auth) - 1, 0)), 0), found


# --- exclusions and current placements ------------------------------------------------------


def _draw_exclusions(rng: np.random.Generator, kids: _Children,
                     plc: _Placements) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A few (child, nearby placement) pairs per 100 children, with a short reason."""
    n, m = len(kids.unit), len(plc.type)
    k_exc = math.ceil(n * cal.EXCLUSIONS_PER_100 / 100)
    if k_exc == 0 or m == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=object)
    who = rng.choice(n, size=k_exc)
    k = min(8, m)
    tree = cKDTree(_xyz(plc.lat, plc.lon))
    _, near = tree.query(_xyz(kids.lat[kids.unit[who]], kids.lon[kids.unit[who]]), k=k)
    near = np.asarray(near).reshape(k_exc, k)
    where = near[np.arange(k_exc), rng.integers(0, k, size=k_exc)]
    reason = _choice(rng, cal.EXCLUSION_REASONS, k_exc)
    _, first = np.unique(who * m + where, return_index=True)
    first.sort()
    return who[first], where[first], reason[first]


def _pair_ok(kids: _Children, plc: _Placements, u: np.ndarray, p: np.ndarray,
             excluded_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every per-pair rule of the spec (the registry's checks) for units u at placements p
    (whole sibling groups: youngest and oldest age, every gender and need)."""
    fit = Fit(
        age_lo=kids.min_age[u], age_hi=kids.max_age[u], genders=kids.u_genders[u],
        types=np.where(kids.types[u] == 0, DEFAULT_TYPE_MASK, kids.types[u]),
        faith=kids.faith[u], faith_match=kids.faith_match[u], needs=(kids.u_needs[u],),
        ptype=plc.type[p], age_min=plc.age_min[p], age_max=plc.age_max[p],
        accepts=plc.genders[p], pfaith=plc.faith[p], supports=(plc.needs[p],),
        rating=plc.rating[p], floor=int(Rating.parse(MIN_RATING)))
    dist = haversine_km(kids.lat[u], kids.lon[u], plc.lat[p], plc.lon[p])
    excluded = (np.isin(u * len(plc.type) + p, excluded_keys) if excluded_keys.size
                else np.zeros(len(u), dtype=bool))
    pairs = Pairs(km=dist, max_km=kids.max_km[u], excluded=excluded,
                  is_current=np.zeros(len(u), dtype=bool))
    ok = (plc.family[p] < 0) | (plc.family[p] == u)  # a kinship carer takes its family only
    for d in DEFINITIONS:
        if d.fit is not None and d.scope is Scope.FIT:
            ok &= ~d.fit(fit)
        elif d.pair is not None and d.scope is Scope.PAIR:
            ok &= ~np.asarray(d.pair(pairs), dtype=bool)
    return ok, dist


def _draw_current(rng: np.random.Generator, kids: _Children, plc: _Placements,
                  exc_child: np.ndarray, exc_place: np.ndarray, placed_share: float) -> None:
    """Fill `kids.current` for about `placed_share` of the children, by a randomised greedy
    that respects capacity, solo, sibling groups and every per-pair rule (so the instance is
    a consistent snapshot), with a logit preference for near and cheap placements."""
    n_units, m = len(kids.size), len(plc.type)
    target = int(round(placed_share * len(kids.unit)))
    if target == 0 or m == 0:
        return
    excluded = np.unique(kids.unit[exc_child] * m + exc_place)
    trees = []
    for t in range(len(PLACEMENT_TYPES)):
        idx = np.flatnonzero(plc.type == t)
        if idx.size:
            trees.append((idx, cKDTree(_xyz(plc.lat[idx], plc.lon[idx]))))
    km_scale = np.array([cal.CURRENT_KM_SCALE[t] for t in PLACEMENT_TYPES])
    remaining = plc.capacity.copy()
    occupants = np.zeros(m, dtype=np.int64)
    queue = rng.permutation(n_units)  # the order children came into care
    placed_children = 0
    tries = np.zeros(n_units, dtype=np.int64)
    for _wave in range(8):
        if placed_children >= target or queue.size == 0:
            break
        short = target - placed_children
        take = max(1, int(np.searchsorted(np.cumsum(kids.size[queue]), short * 1.05,
                                          side="right")))
        wave, queue = queue[:take], queue[take:]
        assigned = _place_wave(rng, kids, plc, wave, trees, excluded, km_scale, remaining,
                               occupants)
        got = np.flatnonzero(assigned >= 0)  # in wave (arrival) order
        keep = got[np.cumsum(kids.size[wave[got]]) <= short]
        dropped = got[~np.isin(got, keep)]
        np.add.at(remaining, assigned[dropped],
                  np.where(kids.solo[wave[dropped]], 0, kids.size[wave[dropped]]))
        np.subtract.at(occupants, assigned[dropped], kids.size[wave[dropped]])
        if dropped.size:  # a solo leaving frees its whole placement
            solo_left = assigned[dropped][kids.solo[wave[dropped]]]
            remaining[solo_left] = plc.capacity[solo_left] - occupants[solo_left]
        kids.current[wave[keep]] = assigned[keep]
        placed_children += int(kids.size[wave[keep]].sum())
        # Children not placed get one more try, with fresh candidates, after the others.
        tries[wave] += 1
        retry = wave[(assigned < 0) & (tries[wave] < 2)]
        queue = np.concatenate([queue, retry])


def _place_wave(rng: np.random.Generator, kids: _Children, plc: _Placements, wave: np.ndarray,
                trees: list[tuple[np.ndarray, cKDTree]], excluded: np.ndarray,
                km_scale: np.ndarray, remaining: np.ndarray,
                occupants: np.ndarray) -> np.ndarray:
    """Place the units of one wave (updating remaining/occupants); placement per unit or -1.
    Candidates: per type the 4 nearest and 8 random placements."""
    n_w = wave.size
    home = _xyz(kids.lat[wave], kids.lon[wave])
    cols = []
    for idx, tree in trees:
        k = min(4, idx.size)
        _, near = tree.query(home, k=k)
        cols.append(idx[np.asarray(near).reshape(n_w, k)])
        cols.append(idx[rng.integers(0, idx.size, size=(n_w, 8))])
    cand = np.concatenate(cols, axis=1)
    uu = np.repeat(wave, cand.shape[1])
    ok, dist = _pair_ok(kids, plc, uu, cand.ravel(), excluded)
    ok, dist = ok.reshape(cand.shape), dist.reshape(cand.shape)
    score = (dist / km_scale[plc.type[cand]] + plc.cost[cand] / cal.CURRENT_COST_SCALE
             + rng.gumbel(size=cand.shape))
    size, solo = kids.size[wave], kids.solo[wave]
    assigned = np.full(n_w, -1, dtype=np.int64)
    for _ in range(60):
        free = (remaining[cand] >= size[:, None]) & (~solo[:, None] | (occupants[cand] == 0))
        live = ok & free & (assigned < 0)[:, None]
        rows = np.flatnonzero(live.any(axis=1))
        if rows.size == 0:
            break
        best = np.argmin(np.where(live[rows], score[rows], np.inf), axis=1)
        u, p = rows, cand[rows, best]
        need = np.where(solo[u], remaining[p], size[u])  # a solo child takes the lot
        order = np.lexsort((u, p))  # earlier arrivals first
        u, p, need = u[order], p[order], need[order]
        cum = np.cumsum(need)
        first = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
        before = np.repeat(cum[first] - need[first], np.diff(np.r_[first, p.size]))
        accept = (cum - before) <= remaining[p]
        assigned[u[accept]] = p[accept]
        np.subtract.at(remaining, p[accept], need[accept])
        np.add.at(occupants, p[accept], size[u[accept]])
    return assigned


# --- tables and files -----------------------------------------------------------------------


def _tables(kids: _Children, plc: _Placements, exc: tuple[np.ndarray, np.ndarray, np.ndarray],
            rng_order: np.ndarray, world: _World,
            since: np.ndarray) -> dict[str, pd.DataFrame]:
    """The instance's tables; `since`: per unit, days before PLACED_AS_OF it moved in."""
    n, m = len(kids.unit), len(plc.type)
    child_ids = np.empty(n, dtype=object)
    child_ids[rng_order] = _ids("C", n, 5)  # row r of the file is internal child rng_order[r]
    place_ids = _ids("P", m, 5)
    unit = kids.unit[rng_order]
    is_group = kids.size[unit] > 1
    first_row = np.full(len(kids.size), n, dtype=np.int64)
    np.minimum.at(first_row, unit, np.arange(n))
    groups = np.flatnonzero(kids.size > 1)
    groups = groups[np.argsort(first_row[groups], kind="stable")]
    group_id = np.full(len(kids.size), None, dtype=object)
    group_id[groups] = _ids("G", len(groups), 4)
    faith_text = np.array([f or None for f in FAITH_NAMES], dtype=object)
    cur = kids.current[unit]
    has_faith = kids.faith[unit] > 0
    children = pd.DataFrame({
        "child_id": child_ids[rng_order],
        "age": kids.age[rng_order],
        "gender": np.array(GENDERS, dtype=object)[kids.gender[rng_order]],
        "home_lat": np.round(kids.lat[unit], 5),
        "home_lon": np.round(kids.lon[unit], 5),
        "sibling_group": np.where(is_group, group_id[unit], None),
        "faith": faith_text[kids.faith[unit]],
        "faith_match": np.where(has_faith, np.array(FaithMatch.words(), dtype=object)[
            kids.faith_match[unit]], None),
        "needs": _none_if_empty(NEEDS_TEXT[kids.needs[rng_order]]),
        "placement_types": _none_if_empty(TYPES_TEXT[kids.types[unit]]),
        "max_distance_km": kids.max_km[unit],
        "solo": kids.solo[unit],
        "current_placement": np.where(cur >= 0, np.concatenate(
            [place_ids, np.array([None], dtype=object)])[cur], None),
        "priority": kids.priority[unit],
        "placed_since": [(PLACED_AS_OF - dt.timedelta(days=int(d))).isoformat() if c >= 0
                         else None for d, c in zip(since[unit], cur, strict=True)],
        "authority": world.code[kids.authority[unit]].astype(object),
    })
    name = np.where(kids.size > 1, group_id, child_ids[kids.start])  # a family's name
    occupants = np.bincount(kids.current[kids.current >= 0],
                            weights=kids.size[kids.current >= 0], minlength=m).astype(np.int64)
    placements = pd.DataFrame({
        "placement_id": place_ids,
        "provider": plc.provider,
        "type": np.array(PLACEMENT_TYPES, dtype=object)[plc.type],
        "vacancies": plc.capacity - occupants,
        "age_min": plc.age_min,
        "age_max": plc.age_max,
        "genders": _none_if_empty(GENDERS_TEXT[plc.genders]),
        "faith": faith_text[plc.faith],
        "needs_supported": _none_if_empty(NEEDS_TEXT[plc.needs]),
        "ofsted_rating": np.array(ALL_RATINGS, dtype=object)[plc.rating],
        "lat": plc.lat,
        "lon": plc.lon,
        "weekly_cost": plc.cost,
        "block_contract": _none_if_empty(plc.block),
        "reserved_for": np.where(plc.family >= 0, name[np.maximum(plc.family, 0)], None),
        "authority": world.code[plc.area].astype(object),
    })
    pairs = adjoining_pairs(world, kids.authority, np.concatenate([kids.authority, plc.area]))
    adjoining = pd.DataFrame({"authority": [world.code[a] for a, _ in pairs],
                              "neighbour": [world.code[b] for _, b in pairs]}, dtype=object)
    exc_child, exc_place, reason = exc
    inverse = np.empty(n, dtype=np.int64)
    inverse[rng_order] = np.arange(n)
    order = np.lexsort((exc_place, inverse[exc_child]))
    exclusions = pd.DataFrame({
        "child_id": child_ids[exc_child[order]].astype(object),
        "placement_id": place_ids[exc_place[order]].astype(object),
        "reason": reason[order].astype(object),
    })
    return {"children": children, "placements": placements, "exclusions": exclusions,
            "adjoining": adjoining}


def _none_if_empty(values: np.ndarray) -> np.ndarray:
    out = values.astype(object)
    out[out == ""] = None
    return out


def _fmt(values: pd.Series, spec: str) -> pd.Series:
    arr = values.to_numpy(dtype=float)
    out = np.array([format(v, spec) for v in arr.tolist()], dtype=object)
    out[np.isnan(arr)] = ""
    return pd.Series(out, index=values.index)


def _csv_frames(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """String versions of the tables, formatted once so files are byte-identical; text
    is neutralised before numbers become text, so a negative longitude stays a number."""
    tables = {name: safe_frame(frame) for name, frame in tables.items()}
    c = tables["children"].copy()
    c["home_lat"], c["home_lon"] = _fmt(c["home_lat"], ".5f"), _fmt(c["home_lon"], ".5f")
    c["max_distance_km"] = _fmt(c["max_distance_km"], ".1f")
    c["solo"] = np.where(c["solo"].to_numpy(bool), "true", "false")
    p = tables["placements"].copy()
    p["lat"], p["lon"] = _fmt(p["lat"], ".5f"), _fmt(p["lon"], ".5f")
    p["weekly_cost"] = _fmt(p["weekly_cost"], ".2f")
    out = {"children": c, "placements": p, "exclusions": tables["exclusions"].copy()}
    if "adjoining" in tables:  # tables made by hand may leave it out
        out["adjoining"] = tables["adjoining"].copy()
    return out


def instance_stats(tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """Headline figures of an instance (for READMEs, tests and calibration checks)."""
    c, p = tables["children"], tables["placements"]
    groups = c["sibling_group"].dropna()
    sizes = groups.value_counts()
    placed = c["current_placement"].notna()
    stats: dict[str, float] = {
        "children": len(c),
        "placements": len(p),
        "beds_free": int(p["vacancies"].sum()),
        "capacity": int(p["vacancies"].sum() + placed.sum()),
        "sibling_groups": len(sizes),
        "mean_sibling_group_size": float(sizes.mean()) if len(sizes) else 0.0,
        "share_in_sibling_group": float(len(groups) / max(len(c), 1)),
        "share_with_max_distance": float(c["max_distance_km"].notna().mean()) if len(c) else 0,
        "share_aged_10_plus": float((c["age"] >= 10).mean()) if len(c) else 0.0,
        "share_solo": float(c["solo"].mean()) if len(c) else 0.0,
        "faith_required": int((c["faith_match"] == "required").sum()),
        "exclusions": len(tables["exclusions"]),
        "placed": int(placed.sum()),
        "block_contract_rows": int(p["block_contract"].notna().sum()),
        "child_authorities": int(c["authority"].nunique()) if "authority" in c else 0,
        "placement_authorities": int(p["authority"].nunique()) if "authority" in p else 0,
        "adjoining_pairs": len(tables.get("adjoining", ())),
    }
    for t in PLACEMENT_TYPES:
        stats[f"rows_{t}"] = int((p["type"] == t).sum())
    return stats


def _readme(tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> str:
    s = instance_stats(tables)
    recipe = meta.get("recipe")
    args = ", ".join(f"{k}={v!r}" for k, v in meta.items() if k != "recipe")
    how = (f"`placement generate --recipe {recipe}` or "
           f"`optimiser.generate.generate_recipe({recipe!r})`" if recipe else
           f"`optimiser.generate.generate(out, {args})`")
    mix = ", ".join(f"{t} {s['rows_' + t]}" for t in PLACEMENT_TYPES if s["rows_" + t])
    areas = (f"children's {s['child_authorities']}, placements' "
             f"{s['placement_authorities']}; {s['adjoining_pairs']} adjoining pairs")
    return f"""# Synthetic placement instance{f" `{recipe}`" if recipe else ""}

Synthetic data: no real child, carer or provider. Generated by `optimiser/generate.py`,
calibrated on the public figures in `optimiser/calibration.py` (DfE children looked after
2024, Ofsted providers 2023, council reports). Format: `shared/spec/instance-format.md` v1.1.

- recipe: {recipe or "(none)"}
- arguments: {args}
- regenerate (byte-identical): {how}

| | |
|---|---|
| children | {s["children"]} ({s["placed"]} with a current placement) |
| sibling groups | {s["sibling_groups"]} (mean size {s["mean_sibling_group_size"]:.2f}) |
| children with a distance limit | {s["share_with_max_distance"]:.0%} |
| children who must live alone (solo) | {s["share_solo"]:.1%} |
| faith match required | {s["faith_required"]} |
| placements | {s["placements"]}: {mix} |
| free beds | {s["beds_free"]} (capacity {s["capacity"]}) |
| block-contracted placements | {s["block_contract_rows"]} |
| exclusions | {s["exclusions"]} |
| authorities | {areas} |
| kinship carers | {s["rows_kinship_foster"]}, each reserved for its family (`reserved_for`) |

`policy.toml` holds the format's default weights and rules, written out. Placed children
moved in between two weeks and six years before {PLACED_AS_OF.isoformat()} (`placed_since`).
`adjoining.csv` is an approximation from the authorities' centroids and areas, not a real
boundary list.
Some children may have no possible placement (older teenagers with complex needs, large
sibling groups, a required faith): that is realistic, and the engine must explain it.
"""


def write_instance(out: str | Path, tables: dict[str, pd.DataFrame],
                   meta: dict[str, Any] | None = None) -> Path:
    """Write an instance folder: the three CSVs, policy.toml and a README."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in _csv_frames(tables).items():
        frame.to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
    (folder / "policy.toml").write_text(POLICY_TOML, encoding="utf-8")
    (folder / "README.md").write_text(_readme(tables, meta or {}), encoding="utf-8")
    return folder


def generate(out: str | Path | None, *, children: int, placements: int, seed: int = 0,
             authority: str | None = None, placed_share: float = 0.0,
             data_dir: str | Path | None = None,
             recipe: str | None = None,
             type_rows: dict[str, int] | None = None) -> dict[str, pd.DataFrame]:
    """Draw a synthetic instance; write it to `out` when given.

    `authority`: a local authority (name or GSS code; default Leicestershire), a region,
    "London" or "England" - several authorities spread children over their centroids.
    `placed_share`: share of children given a consistent `current_placement`.
    `data_dir`: `shared/data`; when present, real coordinates and real children's homes
    (places, ratings, authority) are used instead of the embedded table.
    `recipe`: only a label for the README.
    `type_rows`: exact row counts for some placement types (see `type_counts`).
    """
    if children < 1 or placements < 0:
        raise ValueError("need children >= 1 and placements >= 0")
    if not 0.0 <= placed_share <= 1.0:
        raise ValueError("placed_share must be in [0, 1]")
    type_counts(placements, type_rows)  # bad type_rows: an error before any draw
    rng = np.random.default_rng(seed)
    world = _load_world(data_dir)
    sel, sel_w = world.select(authority)
    kids = _draw_children(rng, children, world, sel, sel_w)
    order = rng.permutation(children)  # row order of children.csv
    plc = _draw_placements(rng, placements, world, sel, sel_w, kids, type_rows)
    exc = _draw_exclusions(rng, kids, plc)
    if placed_share > 0:
        _draw_current(rng, kids, plc, exc[0], exc[1], placed_share)
    # a stream of its own, so that the draws above stay those of version-1 instances
    since = np.random.default_rng([seed, 11]).integers(*PLACED_DAYS, size=len(kids.size))
    tables = _tables(kids, plc, exc, order, world, since)
    if out is not None:
        meta: dict[str, Any] = {"recipe": recipe, "children": children,
                                "placements": placements, "seed": seed,
                                "authority": authority or cal.DEFAULT_AUTHORITY,
                                "placed_share": placed_share}
        if type_rows:
            meta["type_rows"] = dict(type_rows)
        if data_dir is not None:
            meta["data_dir"] = "shared/data (real homes and coordinates)"
        write_instance(out, tables, meta)
    return tables


# --- recipes --------------------------------------------------------------------------------

_GENERATE_KEYS = ("children", "placements", "seed", "authority", "placed_share", "type_rows")


def load_recipes(recipes: str | Path = RECIPES_PATH) -> dict[str, dict[str, Any]]:
    """All recipes of a recipes.toml: name -> table (children, placements, seed, ...)."""
    with open(recipes, "rb") as fh:
        return tomllib.load(fh)


def recipe_kwargs(name: str, recipes: str | Path = RECIPES_PATH) -> dict[str, Any]:
    """The `generate()` keyword arguments of one recipe."""
    book = load_recipes(recipes)
    if name not in book:
        raise KeyError(f"no recipe {name!r} in {recipes}; known: {', '.join(book)}")
    return {k: v for k, v in book[name].items() if k in _GENERATE_KEYS}


def generate_recipe(name: str, recipes: str | Path = RECIPES_PATH,
                    out_root: str | Path | None = None,
                    data_dir: str | Path | None = None) -> Path:
    """Generate the instance of one recipe into `out_root/<out or name>` (default: the
    folder of recipes.toml, i.e. `instances/`) and return that folder."""
    recipes = Path(recipes)
    kwargs = recipe_kwargs(name, recipes)
    entry = load_recipes(recipes)[name]
    folder = Path(out_root or recipes.parent) / str(entry.get("out", name))
    generate(folder, data_dir=data_dir, recipe=name, **kwargs)
    return folder
