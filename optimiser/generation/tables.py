"""The instance's tables (children, placements, exclusions, adjoining) as data frames from
the drawn arrays, with their ids, and the headline figures of an instance."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from optimiser.categories import ALL_RATINGS, GENDERS, PLACEMENT_TYPES, FaithMatch

from .children import Children
from .codes import FAITH_NAMES, GENDERS_TEXT, NEEDS_TEXT, TYPES_TEXT
from .placements import Placements
from .world import World, adjoining_pairs

# placed_since is drawn back from this fixed day, so that a recipe's files never change
PLACED_AS_OF = dt.date(2026, 12, 1)
PLACED_DAYS = (14, 6 * 365)  # how long ago a child moved in: two weeks to six years
_FAITH_TEXT = np.array([f or None for f in FAITH_NAMES], dtype=object)


def build_tables(kids: Children, plc: Placements,
                 exc: tuple[np.ndarray, np.ndarray, np.ndarray], rng_order: np.ndarray,
                 world: World, since: np.ndarray) -> dict[str, pd.DataFrame]:
    """The instance's tables; row r of children.csv is internal child `rng_order[r]`;
    `since`: per unit, days before PLACED_AS_OF it moved in."""
    n, m = len(kids.unit), len(plc.type)
    child_ids = np.empty(n, dtype=object)
    child_ids[rng_order] = _ids("C", n, 5)  # row r of the file is internal child rng_order[r]
    place_ids = _ids("P", m, 5)
    group_id = _group_ids(kids, rng_order)
    children = _children_frame(kids, rng_order, world, since, child_ids, place_ids, group_id)
    name = np.where(kids.size > 1, group_id, child_ids[kids.start])  # a family's name
    placements = _placements_frame(kids, plc, world, place_ids, name)
    pairs = adjoining_pairs(world, kids.authority, np.concatenate([kids.authority, plc.area]))
    adjoining = pd.DataFrame({"authority": [world.code[a] for a, _ in pairs],
                              "neighbour": [world.code[b] for _, b in pairs]}, dtype=object)
    exclusions = _exclusions_frame(exc, rng_order, child_ids, place_ids)
    return {"children": children, "placements": placements, "exclusions": exclusions,
            "adjoining": adjoining}


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    """Ids prefix1..prefixN, zero-padded to `width` digits (more when n needs them)."""
    width = max(width, len(str(n)))
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def _none_if_empty(values: np.ndarray) -> np.ndarray:
    """Text with "" as None (an empty cell: not given)."""
    out = values.astype(object)
    out[out == ""] = None
    return out


def _group_ids(kids: Children, rng_order: np.ndarray) -> np.ndarray:
    """Per unit, its sibling group's id (numbered in the order of the file), else None."""
    n = len(kids.unit)
    unit = kids.unit[rng_order]
    first_row = np.full(len(kids.size), n, dtype=np.int64)
    np.minimum.at(first_row, unit, np.arange(n))
    groups = np.flatnonzero(kids.size > 1)
    groups = groups[np.argsort(first_row[groups], kind="stable")]
    group_id = np.full(len(kids.size), None, dtype=object)
    group_id[groups] = _ids("G", len(groups), 4)
    return group_id


def _children_frame(kids: Children, rng_order: np.ndarray, world: World, since: np.ndarray,
                    child_ids: np.ndarray, place_ids: np.ndarray,
                    group_id: np.ndarray) -> pd.DataFrame:
    """children.csv's table, in the order of `rng_order`."""
    unit = kids.unit[rng_order]
    is_group = kids.size[unit] > 1
    cur = kids.current[unit]
    has_faith = kids.faith[unit] > 0
    return pd.DataFrame({
        "child_id": child_ids[rng_order],
        "age": kids.age[rng_order],
        "gender": np.array(GENDERS, dtype=object)[kids.gender[rng_order]],
        "home_lat": np.round(kids.lat[unit], 5),
        "home_lon": np.round(kids.lon[unit], 5),
        "sibling_group": np.where(is_group, group_id[unit], None),
        "faith": _FAITH_TEXT[kids.faith[unit]],
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


def _placements_frame(kids: Children, plc: Placements, world: World, place_ids: np.ndarray,
                      name: np.ndarray) -> pd.DataFrame:
    """`name`: per unit, the name a kinship carer is reserved for."""
    m = len(plc.type)
    occupants = np.bincount(kids.current[kids.current >= 0],
                            weights=kids.size[kids.current >= 0], minlength=m).astype(np.int64)
    return pd.DataFrame({
        "placement_id": place_ids,
        "provider": plc.provider,
        "type": np.array(PLACEMENT_TYPES, dtype=object)[plc.type],
        "vacancies": plc.capacity - occupants,
        "age_min": plc.age_min,
        "age_max": plc.age_max,
        "genders": _none_if_empty(GENDERS_TEXT[plc.genders]),
        "faith": _FAITH_TEXT[plc.faith],
        "needs_supported": _none_if_empty(NEEDS_TEXT[plc.needs]),
        "ofsted_rating": np.array(ALL_RATINGS, dtype=object)[plc.rating],
        "lat": plc.lat,
        "lon": plc.lon,
        "weekly_cost": plc.cost,
        "block_contract": _none_if_empty(plc.block),
        "reserved_for": np.where(plc.family >= 0, name[np.maximum(plc.family, 0)], None),
        "authority": world.code[plc.area].astype(object),
    })


def _exclusions_frame(exc: tuple[np.ndarray, np.ndarray, np.ndarray], rng_order: np.ndarray,
                      child_ids: np.ndarray, place_ids: np.ndarray) -> pd.DataFrame:
    """Exclusions in the order of the children's rows, then of the placements."""
    exc_child, exc_place, reason = exc
    n = len(rng_order)
    inverse = np.empty(n, dtype=np.int64)
    inverse[rng_order] = np.arange(n)
    order = np.lexsort((exc_place, inverse[exc_child]))
    return pd.DataFrame({
        "child_id": child_ids[exc_child[order]].astype(object),
        "placement_id": place_ids[exc_place[order]].astype(object),
        "reason": reason[order].astype(object),
    })


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
