"""The world an instance is drawn in: England's authorities (the embedded table, real
coordinates from `shared/data` when given) and Ofsted's children's homes if given."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimiser import calibration as cal
from optimiser.objective import haversine_km

from .codes import RATING_INDEX

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR_ENV = "PLACEMENT_DATA_DIR"
# Two authorities adjoin where their centroids are closer than this many times the sum of
# their radii (sqrt(area / pi)): a stand-in for a real boundary list, which the embedded
# table does not hold (around Leicestershire it finds 8 of its 9 neighbours, misses
# Lincolnshire, and adds Nottingham and Derby).
ADJOINING_FACTOR = 1.2

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


@dataclass(frozen=True)
class World:
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


def load_world(data_dir: str | Path | None) -> World:
    """The embedded authorities; with `data_dir`, real coordinates and Ofsted's homes."""
    table = pd.DataFrame([asdict(a) for a in cal.AUTHORITIES])
    home_rows = None
    aliases = {n.lower(): c for n, c in zip(table["name"], table["code"], strict=True)}
    if data_dir is not None:
        root = Path(data_dir)
        geo_path = root / "geography" / "uk_local_authorities_current.csv"
        if geo_path.is_file():
            _use_geography(pd.read_csv(geo_path), table, aliases)
        aliases.update(_NAME_VARIANTS)
        prov_path = root / "ofsted" / "provider_at_march.csv"
        if prov_path.is_file():
            home_rows = _read_homes(prov_path, table, aliases)
            counts = np.bincount(home_rows["auth"][~home_rows["secure"]], minlength=len(table))
            table["homes"] = counts
    radius = np.clip(np.sqrt(table["area_km2"].to_numpy(float) / math.pi), 2.0, 30.0)
    return World(
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


def _use_geography(geo: pd.DataFrame, table: pd.DataFrame, aliases: dict[str, str]) -> None:
    """Real coordinates into `table` and every name the geography file knows into
    `aliases` (both in place)."""
    geo = _county_fixed_coordinates(geo)
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


def locate(world: World, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
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


def adjoining_pairs(world: World, home: np.ndarray,
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
