"""Calibrated regions: a region's authorities on real geography, as a format 1.1 instance.

Why: a regional care co-operative pools its members' children and placements; to analyse
one (`optimiser.pooling`) we need an instance whose children and beds each belong to a
real authority of the region, in proportion to the real numbers. Each member is drawn by
the calibrated generator (`optimiser.generate.generate`, real coordinates and Ofsted's
children's homes when the public data are there) with its share of the children taken
from the DfE count of children looked after at 31 March (latest year in the data, else
the generator's embedded table); the members' tables are stacked with ids prefixed by
the authority code, and the 1.1 columns are filled in:

* `children.authority`: the member the child was drawn for (its responsible authority);
* `placements.authority`: the member itself for its own services (in-house foster
  carers, kinship carers, in-house children's homes: approved and run by it, even over
  the border); for the market's beds (agencies, private homes, supported accommodation,
  secure units, parent-and-child) the authority the placement lies in, as the format
  defines it (the generator's, else the nearest authority centroid of England);
* `placements.reserved_for` (a kinship carer's family), when the generator gives it,
  with the prefixed ids;
* `adjoining.csv`: the members' borders, derived from England's district boundaries
  (two upper-tier authorities adjoin where two of their districts share an edge).

Public API: `REGION_GROUPS`, `region_members`, `dfe_children_in_care`, `adjoining_pairs`,
`build_region`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimiser import calibration as cal
from optimiser.atomic import atomic_folder
from optimiser.generate import default_data_dir, generate, write_instance
from optimiser.objective import haversine_km
from optimiser.safe_text import safe_text_frame

# Groups of authorities that are not a DfE region but work together (combined authorities).
REGION_GROUPS: dict[str, tuple[str, ...]] = {
    "Greater Manchester": tuple(f"E080000{k:02d}" for k in range(1, 11)),
    "Liverpool City Region": ("E08000011", "E08000012", "E08000013", "E08000014",
                              "E08000015", "E06000006"),
}
PLACEMENTS_PER_CHILD = 0.75  # the generator's regional recipe (15,000 rows for 20,000)
CLA_FILE = Path("ofsted") / "cla_number_and_rate_per_10k_children.csv"
CLA_MEASURE = "Children looked after at 31 March each year"
GEO_FILE = Path("geography") / "uk_local_authorities_current.csv"
TOPO_FILE = Path("geography") / "eng_lad_2013.topojson"
OWN_SERVICES = ("inhouse_foster", "kinship_foster", "inhouse_residential")
# an instance folder's files: an earlier instance's are removed when a region replaces it
INSTANCE_FILES = ("children.csv", "placements.csv", "exclusions.csv", "adjoining.csv",
                  "distances.csv", "policy.toml", "README.md")
ID_COLUMNS = {"children": ("child_id", "sibling_group", "current_placement"),
              "placements": ("placement_id", "block_contract"),
              "exclusions": ("child_id", "placement_id")}


@dataclass(frozen=True)
class Member:
    """One authority of a region: GSS code, name, children looked after (DfE), centroid."""

    code: str
    name: str
    children_in_care: int
    lat: float
    lon: float


def dfe_children_in_care(data_dir: str | Path | None) -> dict[str, int]:
    """Children looked after at 31 March per authority (GSS code), the latest year of the
    DfE table in `data_dir`; empty when the file is not there."""
    if data_dir is None or not (Path(data_dir) / CLA_FILE).is_file():
        return {}
    df = pd.read_csv(Path(data_dir) / CLA_FILE, encoding="utf-8-sig", dtype=str)
    df = df[(df["geographic_level"] == "Local authority")
            & (df["population_count"] == CLA_MEASURE)]
    df = df[df["time_period"] == df["time_period"].max()]
    numbers = pd.to_numeric(df["number"], errors="coerce")
    ok = numbers.notna()
    return dict(zip(df.loc[ok, "new_la_code"], numbers[ok].astype(int), strict=True))


def region_members(region: str | Sequence[str],
                   data_dir: str | Path | None = None) -> list[Member]:
    """The authorities of a DfE region (e.g. "North West"), of a group in `REGION_GROUPS`
    or of an explicit list of GSS codes or names, with their DfE counts."""
    table = {a.code: a for a in cal.AUTHORITIES}
    by_name = {a.name.lower(): a.code for a in cal.AUTHORITIES}
    if isinstance(region, str):
        key = region.strip().lower()
        groups = {k.lower(): v for k, v in REGION_GROUPS.items()}
        codes = list(groups.get(key, [a.code for a in cal.AUTHORITIES
                                      if a.region.lower() == key]))
    else:
        codes = [by_name.get(str(c).strip().lower(), str(c).strip().upper()) for c in region]
    unknown = [c for c in codes if c not in table]
    if not codes or unknown:
        raise ValueError(f"unknown region or authorities {region!r}: give a region "
                         f"({', '.join(cal.REGIONS)}), a group ({', '.join(REGION_GROUPS)}) "
                         "or GSS codes of English authorities")
    counts = dfe_children_in_care(data_dir)
    return [Member(c, table[c].name, int(counts.get(c, table[c].children_in_care)),
                   table[c].lat, table[c].lon) for c in codes]


def _shares(total: int, weights: np.ndarray) -> np.ndarray:
    """`total` split in proportion to `weights` (largest remainder), each at least 1."""
    w = np.maximum(weights.astype(float), 1e-9)
    raw = total * w / w.sum()
    out = np.maximum(np.floor(raw).astype(np.int64), 1)
    rest = total - int(out.sum())
    if rest > 0:
        out[np.argsort(-(raw - np.floor(raw)), kind="stable")[:rest]] += 1
    return out


def _prefixed(tables: dict[str, pd.DataFrame], code: str) -> dict[str, pd.DataFrame]:
    out = {}
    for name, frame in tables.items():
        frame = frame.copy()
        for col in ID_COLUMNS.get(name, ()):
            if col in frame:
                frame[col] = [f"{code}-{v}" if isinstance(v, str) and v else v
                              for v in frame[col]]
        if name == "placements" and "reserved_for" in frame:  # a list of ids
            frame["reserved_for"] = [";".join(f"{code}-{x.strip()}" for x in v.split(";")
                                              if x.strip())
                                     if isinstance(v, str) and v else v
                                     for v in frame["reserved_for"]]
        out[name] = frame
    return out


def _where(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """The English authority whose centroid is nearest each point (the 'lies in')."""
    codes = np.array([a.code for a in cal.AUTHORITIES], dtype=object)
    alat = np.array([a.lat for a in cal.AUTHORITIES])
    alon = np.array([a.lon for a in cal.AUTHORITIES])
    if len(lat) == 0:
        return np.zeros(0, dtype=object)
    d = haversine_km(lat[:, None], lon[:, None], alat[None, :], alon[None, :])
    return codes[np.argmin(d, axis=1)]


def build_region(out: str | Path | None, region: str | Sequence[str], *, children: int,
                 placements: int | None = None, seed: int = 0,
                 data_dir: str | Path | None = None,
                 placed_share: float = 0.0) -> dict[str, pd.DataFrame]:
    """A region's instance (format 1.1): `children` split over its members by the DfE
    counts, `placements` (default 0.75 per child) likewise; written to `out` when given.

    `data_dir`: the public data (default `default_data_dir()`): real coordinates, Ofsted's
    homes, DfE counts and the district boundaries for `adjoining.csv`. The folder is
    written all or nothing (`optimiser.atomic`)."""
    data_dir = default_data_dir() if data_dir is None else data_dir
    members = region_members(region, data_dir)
    weights = np.array([m.children_in_care for m in members], dtype=float)
    n_children = _shares(children, weights)
    total_rows = int(round(children * PLACEMENTS_PER_CHILD)) if placements is None \
        else placements
    n_rows = _shares(total_rows, weights)
    parts: dict[str, list[pd.DataFrame]] = {"children": [], "placements": [],
                                            "exclusions": []}
    for k, (m, nc, npl) in enumerate(zip(members, n_children, n_rows, strict=True)):
        tables = _prefixed(generate(None, children=int(nc), placements=int(npl),
                                    seed=seed + k, authority=m.code, data_dir=data_dir,
                                    placed_share=placed_share), m.code)
        tables["children"]["authority"] = m.code
        pl = tables["placements"]
        lies_in = (pl["authority"].to_numpy(object) if "authority" in pl
                   else _where(pl["lat"].to_numpy(float), pl["lon"].to_numpy(float)))
        pl["authority"] = np.where(pl["type"].isin(OWN_SERVICES), m.code, lies_in)
        for name, frames in parts.items():  # the tables stacked here; others are not
            frames.append(tables[name])
    result = {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}
    adjoining = pd.DataFrame(adjoining_pairs([m.code for m in members], data_dir),
                             columns=["authority", "neighbour"])
    if out is not None:
        meta: dict[str, Any] = {"recipe": f"region {region}", "children": children,
                                "placements": total_rows, "seed": seed,
                                "authority": ", ".join(m.name for m in members),
                                "placed_share": placed_share}
        with atomic_folder(out, INSTANCE_FILES) as tmp:  # all or nothing
            write_instance(tmp, result, meta)
            safe_text_frame(adjoining).to_csv(tmp / "adjoining.csv", index=False,
                                              lineterminator="\n")
    result["adjoining"] = adjoining
    return result


def _upper_tier(data_dir: Path) -> dict[str, str]:
    """District GSS code (2013) -> the upper-tier authority running children's services."""
    geo = pd.read_csv(data_dir / GEO_FILE, dtype=str, keep_default_na=False)
    by_la = geo.set_index("local-authority-code")

    def follow(la: str) -> str:
        seen: set[str] = set()
        while la in by_la.index and la not in seen:
            seen.add(la)
            row = by_la.loc[la]
            if row["replaced-by"]:
                la = row["replaced-by"]
            elif row["local-authority-type"] == "NMD" and row["county-la"]:
                la = row["county-la"]
            else:
                break
        return str(by_la.loc[la, "gss-code"]) if la in by_la.index else ""

    return {gss: follow(la) for la, gss in zip(geo["local-authority-code"], geo["gss-code"],
                                               strict=True) if gss}


def adjoining_pairs(codes: Sequence[str], data_dir: str | Path | None
                    ) -> list[tuple[str, str]]:
    """Pairs of `codes` that share a border (each pair once, in the order of `codes`);
    empty when the boundaries are not in `data_dir`."""
    if data_dir is None or not (Path(data_dir) / TOPO_FILE).is_file():
        return []
    topo = json.loads((Path(data_dir) / TOPO_FILE).read_text(encoding="utf-8"))
    upper = _upper_tier(Path(data_dir))
    wanted = set(codes)
    arcs_of: dict[str, set[int]] = {}
    for g in topo["objects"]["lad"]["geometries"]:
        district = str(g.get("id") or g["properties"]["LAD13CD"])
        owner = upper.get(district, district)
        if owner not in wanted:
            continue
        flat: list[int] = []
        stack: list[Any] = [g.get("arcs", [])]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            else:
                flat.append(int(item))
        arcs_of.setdefault(owner, set()).update(a if a >= 0 else ~a for a in flat)
    order = [c for c in codes if c in arcs_of]
    return [(a, b) for i, a in enumerate(order) for b in order[i + 1:]
            if arcs_of[a] & arcs_of[b]]
