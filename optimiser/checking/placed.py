"""Each placed child beside its placement's columns and the distance the spec defines.

The frame every rule and the objective read: one row per placed child, the child's
columns as parsed, the placement's prefixed `p_`, `pair` (child_id + SEP + placement_id)
and `km` (distances.csv where it names the pair, else the great-circle distance).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimiser.categories import EARTH_RADIUS_KM
from optimiser.checking.cells import SEP
from optimiser.checking.loading import SpecInstance


def haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distance, Earth radius 6371.0 km, as the spec says."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def placed_frame(inst: SpecInstance, eff: pd.DataFrame) -> pd.DataFrame:
    """Placed children joined with their placement's columns (prefixed p_) and the distance."""
    placed = eff.index[eff["placement_id"] != ""]
    m = inst.children.loc[placed].copy()
    m["placement_id"] = eff.loc[placed, "placement_id"]
    m["given_cost"] = eff.loc[placed, "given_cost"]
    m["given_km"] = eff.loc[placed, "given_km"]
    m["present"] = eff.loc[placed, "present"]
    m = m.join(inst.placements.add_prefix("p_"), on="placement_id")
    km = haversine_km(
        m["home_lat"].to_numpy(float),
        m["home_lon"].to_numpy(float),
        m["p_lat"].to_numpy(float),
        m["p_lon"].to_numpy(float),
    )
    m["pair"] = m.index.to_series().astype(str) + SEP + m["placement_id"]
    override = m["pair"].map(inst.distances) if inst.distances else None
    m["km"] = km if override is None else override.fillna(pd.Series(km, index=m.index))
    m["km"] = m["km"].astype(float)
    return m
