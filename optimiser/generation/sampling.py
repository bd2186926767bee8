"""Small vectorised draws and the flat-earth geometry the generator's draws share."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optimiser.categories import EARTH_RADIUS_KM

KM_PER_DEG = math.pi * EARTH_RADIUS_KM / 180.0
# England's box (Lizard to Berwick, Land's End to Lowestoft): points are clipped into it.
LAT_BOX = (49.9, 55.8)
LON_BOX = (-5.7, 1.76)


def distribution(options: tuple[tuple[Any, float], ...]) -> tuple[np.ndarray, np.ndarray]:
    """The values of (value, weight) options and their probabilities."""
    values = np.array([v for v, _ in options])
    p = np.array([w for _, w in options], dtype=float)
    return values, p / p.sum()


def choice(rng: np.random.Generator, options: tuple[tuple[Any, float], ...],
           size: int) -> np.ndarray:
    values, p = distribution(options)
    return values[rng.choice(len(values), size=size, p=p)]


def code_or_none(rng: np.random.Generator, options: tuple[tuple[str, float], ...],
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


def step(age: np.ndarray, steps: tuple[tuple[int, float], ...]) -> np.ndarray:
    """P(.) by age from (from_age, p) steps."""
    edges = np.array([a for a, _ in steps])
    return np.array([p for _, p in steps])[np.searchsorted(edges, age, side="right") - 1]


def largest_remainder(total: int, shares: np.ndarray) -> np.ndarray:
    """`total` split in proportion to `shares`, in whole numbers that add up."""
    raw = shares / shares.sum() * total
    counts = np.floor(raw).astype(np.int64)
    rest = total - counts.sum()
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:rest]] += 1
    return counts


def offset(lat: np.ndarray, lon: np.ndarray, dist_km: np.ndarray,
           bearing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move points by a distance and bearing (flat-earth approximation, fine below 300 km)."""
    dlat = dist_km * np.cos(bearing) / KM_PER_DEG
    dlon = dist_km * np.sin(bearing) / (KM_PER_DEG * np.cos(np.radians(lat)))
    return np.clip(lat + dlat, *LAT_BOX), np.clip(lon + dlon, *LON_BOX)


def disc(rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray,
         radius_km: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """A point drawn uniformly in a disc around each (lat, lon)."""
    n = len(lat)
    r = np.asarray(radius_km) * np.sqrt(rng.random(n))
    return offset(lat, lon, r, rng.random(n) * 2 * math.pi)


def xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Unit vectors: Euclidean order on them is great-circle order (for the k-d trees)."""
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])

