"""The area of a point: the authority named in the instance (its code as first written),
else the postcode district.

Postcode districts (outcodes) come from the public data (`geography/postcode-outcodes.csv`
under `$PLACEMENT_DATA_DIR`, default `../shared/data`): a point belongs to the district
whose centroid is nearest. Without that file the area is a grid cell of about 10 km
named by its south-west corner, so the statement still groups by place.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from ..instance import Instance

DATA_DIR_ENV = "PLACEMENT_DATA_DIR"
OUTCODES = Path("geography") / "postcode-outcodes.csv"
GRID_DEG = 0.1


def data_dir() -> Path | None:
    """`$PLACEMENT_DATA_DIR`, else `../shared/data` beside the working directory, if there."""
    env = os.environ.get(DATA_DIR_ENV)
    for cand in ([Path(env)] if env else []) + [Path("..") / "shared" / "data"]:
        if cand.is_dir():
            return cand
    return None


class Districts:
    """Nearest postcode district by centroid (or grid cells when the list is absent)."""

    def __init__(self, directory: Path | None = None) -> None:
        directory = directory or data_dir()
        self.names: np.ndarray | None = None
        f = directory / OUTCODES if directory else None
        if f is not None and f.is_file():
            df = pd.read_csv(f, usecols=["outcode", "latitude", "longitude"]).dropna()
            df = df[(df["latitude"].abs() > 1e-6) | (df["longitude"].abs() > 1e-6)]
            self.names = df["outcode"].astype(str).to_numpy()
            self.tree = cKDTree(self._xy(df["latitude"].to_numpy(), df["longitude"].to_numpy()))

    @staticmethod
    def _xy(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        # a degree of longitude is shorter than one of latitude in England
        return np.column_stack([lat, lon * np.cos(np.radians(52.5))])

    def of(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        lat, lon = np.asarray(lat, float), np.asarray(lon, float)
        if self.names is None or len(lat) == 0:
            la = np.floor(lat / GRID_DEG) * GRID_DEG
            lo = np.floor(lon / GRID_DEG) * GRID_DEG
            names = [f"cell {a:.1f},{b:.1f}" for a, b in zip(la, lo, strict=True)]
            return np.array(names, dtype=object)
        _, i = self.tree.query(self._xy(lat, lon))
        return self.names[i].astype(object)


def child_areas(inst: Instance, districts: Districts) -> np.ndarray:
    """Per child: its authority where the instance names one, else its home's district."""
    assert inst.authority is not None
    return _areas(inst, inst.authority, districts.of(inst.home_lat, inst.home_lon))


def placement_areas(inst: Instance, districts: Districts) -> np.ndarray:
    """Per placement: its authority where named, else its district."""
    assert inst.pauthority is not None
    return _areas(inst, inst.pauthority, districts.of(inst.lat, inst.lon))


def _areas(inst: Instance, authority: np.ndarray, district: np.ndarray) -> np.ndarray:
    """The authority (a code into `inst.authorities`, -1: none) where named, as first
    written in the files (`Instance.authority_label`: what people read), else the
    district."""
    named = authority >= 0
    if named.any():
        labels = np.asarray([inst.authority_label(k) for k in range(len(inst.authorities))],
                            dtype=object)
        district[named] = labels[authority[named]]
    return district


BOUNDARIES = Path("geography") / "eng_lad_2013.topojson"


def boundary_lines(lat: np.ndarray, lon: np.ndarray, margin: float = 0.1,
                   directory: Path | None = None) -> list[np.ndarray]:
    """England's district boundaries (2013) near the points, as (lon, lat) polylines.

    Each TopoJSON arc (delta-encoded, quantised) is one shared stretch of boundary, so
    drawing every arc once draws every boundary once, with no polygons to assemble.
    Empty when the public data is absent."""
    directory = directory or data_dir()
    f = directory / BOUNDARIES if directory else None
    if f is None or not f.is_file() or len(lat) == 0:
        return []
    import json
    topo = json.loads(f.read_text())
    scale = np.asarray(topo["transform"]["scale"], float)
    shift = np.asarray(topo["transform"]["translate"], float)
    lo = np.array([np.min(lon) - margin, np.min(lat) - margin])
    hi = np.array([np.max(lon) + margin, np.max(lat) + margin])
    out = []
    for arc in topo["arcs"]:
        xy = np.cumsum(np.asarray(arc, float), axis=0) * scale + shift
        if ((xy >= lo) & (xy <= hi)).all(axis=1).any():
            out.append(xy)
    return out
