"""Each table's cells read into arrays: the placements' and children's columns, the
exclusions and distances resolved against them, and the vocabularies (faiths, needs
tags) both sides share. Problems go to the collector; nothing here stops the load."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimiser.categories import (
    ALL_RATINGS,
    DEFAULT_TYPES,
    FAITH_MATCH,
    GENDERS,
    PLACEMENT_TYPES,
)
from optimiser.instance import Policy

from .cells import (
    MAX_POUNDS,
    empty_cells,
    lookup_ids,
    lower_cells,
    parse_bools,
    parse_choice,
    parse_dates,
    parse_floats,
    parse_hold_reasons,
    parse_ids,
    parse_ints,
    parse_list_choice,
    split_lists,
)
from .checks import (
    check_age_order,
    check_distance_pairs,
    check_faith_given,
    check_pinned,
    warn_tag_case,
)
from .collect import Collector
from .columns import Frames
from .raw import FileNames


@dataclass
class PlacementColumns:
    ids: np.ndarray
    index: dict[str, int]  # id -> row position
    ptype: np.ndarray
    vacancies: np.ndarray
    age_min: np.ndarray
    age_max: np.ndarray
    genders: np.ndarray  # bit mask over GENDERS
    rating: np.ndarray  # index into ALL_RATINGS
    lat: np.ndarray
    lon: np.ndarray
    cost: np.ndarray
    on_hold: np.ndarray
    available_from: np.ndarray


@dataclass
class ChildColumns:
    ids: np.ndarray
    index: dict[str, int]  # id -> row position
    age: np.ndarray
    gender: np.ndarray
    home_lat: np.ndarray
    home_lon: np.ndarray
    faith: pd.Series  # lower-cased text, "" = none
    faith_match: np.ndarray
    types: np.ndarray  # bit mask over PLACEMENT_TYPES (the default list when not given)
    max_km: np.ndarray
    solo: np.ndarray
    current: np.ndarray  # placement position or -1
    priority: np.ndarray
    pinned: np.ndarray
    placed_since: np.ndarray


@dataclass(frozen=True)
class Relations:
    """Exclusions and given distances as (child, placement) positions."""

    excl_child: np.ndarray
    excl_placement: np.ndarray
    dist_child: np.ndarray
    dist_placement: np.ndarray
    dist_km: np.ndarray


@dataclass(frozen=True)
class Vocabulary:
    """Faiths (compared case-insensitively) and needs tags (exactly), both sides'."""

    faiths: tuple[str, ...]
    faith_index: dict[str, int]
    child_needs: list[list[str]]
    placement_needs: list[list[str]]
    tags: tuple[str, ...]
    tag_index: dict[str, int]
    words: int  # 64-bit words a needs bit set takes


def read_placements(pl: pd.DataFrame, pf: str, out: Collector) -> PlacementColumns:
    """The placements' columns, every bad cell reported."""
    pids = parse_ids(pl, "placement_id", pf, out)
    pindex = {p: i for i, p in enumerate(pids) if p != ""}
    out.rows(pf, pl, empty_cells(pl["provider"]), "provider",
             lambda v: "is required but empty")
    ptype = parse_choice(pl, "type", pf, out, PLACEMENT_TYPES, default=None)
    vac = parse_ints(pl, "vacancies", pf, out, default=None, lo=0, what="a whole number of beds")
    amin = parse_ints(pl, "age_min", pf, out, default=None, lo=0, hi=25)
    amax = parse_ints(pl, "age_max", pf, out, default=None, lo=0, hi=25)
    check_age_order(pl, pf, out, amin, amax)
    glists = parse_list_choice(pl, "genders", pf, out, GENDERS, "gender", str.upper)
    gmask = np.array(
        [sum(1 << GENDERS.index(x) for x in set(g) if x in GENDERS) if g else 7 for g in glists],
        dtype=np.uint8,
    )
    rating = parse_choice(pl, "ofsted_rating", pf, out, ALL_RATINGS, default="not_rated")
    lat = parse_floats(pl, "lat", pf, out, required=True, lo=-90, hi=90, default=0.0)
    lon = parse_floats(pl, "lon", pf, out, required=True, lo=-180, hi=180, default=0.0)
    cost = parse_floats(pl, "weekly_cost", pf, out, required=True, lo=0, hi=MAX_POUNDS,
                        default=0.0)
    on_hold = parse_hold_reasons(pl, "on_hold_reason", pf, out)
    available_from = parse_dates(pl, "available_from", pf, out)
    return PlacementColumns(ids=pids, index=pindex, ptype=ptype, vacancies=vac, age_min=amin,
                            age_max=amax, genders=gmask, rating=rating, lat=lat, lon=lon,
                            cost=cost, on_hold=on_hold, available_from=available_from)


def _type_masks(types_l: list[list[str]]) -> np.ndarray:
    """Each child's placement types as a bit mask; the spec's default list when none."""
    default_tmask = sum(1 << PLACEMENT_TYPES.index(t) for t in DEFAULT_TYPES)
    return np.array(
        [sum(1 << PLACEMENT_TYPES.index(t) for t in set(ts) if t in PLACEMENT_TYPES)
         if ts else default_tmask for ts in types_l],
        dtype=np.uint16,
    )


def read_children(ch: pd.DataFrame, cf: str, pf: str, out: Collector,
                  pindex: dict[str, int], pol: Policy) -> ChildColumns:
    """The children's columns, every bad cell reported; current placements resolved
    against `pindex` (the placements' ids)."""
    cids = parse_ids(ch, "child_id", cf, out)
    cindex = {c: i for i, c in enumerate(cids) if c != ""}
    age = parse_ints(ch, "age", cf, out, default=None, lo=0, hi=17, what="an age in whole years")
    gender = parse_choice(ch, "gender", cf, out, GENDERS, default=None, upper=True)
    hlat = parse_floats(ch, "home_lat", cf, out, required=True, lo=-90, hi=90, default=0.0)
    hlon = parse_floats(ch, "home_lon", cf, out, required=True, lo=-180, hi=180, default=0.0)
    fm = parse_choice(ch, "faith_match", cf, out, FAITH_MATCH, default="none")
    cfaith_s = lower_cells(ch["faith"])
    check_faith_given(ch, cf, out, fm, cfaith_s)
    types_l = parse_list_choice(ch, "placement_types", cf, out, PLACEMENT_TYPES,
                                "placement type", str.lower)
    tmask = _type_masks(types_l)
    maxd = parse_floats(ch, "max_distance_km", cf, out, required=False, lo=0, default=np.inf)
    solo = parse_bools(ch, "solo", cf, out)
    current = lookup_ids(ch, "current_placement", cf, out, pindex, "placement", pf,
                         optional=True)
    prio = parse_ints(ch, "priority", cf, out, default=1, lo=1)
    pinned = (parse_bools(ch, "pinned", cf, out) if "pinned" in ch.columns
              else np.zeros(len(ch), dtype=bool))
    placed_since = parse_dates(ch, "placed_since", cf, out)
    check_pinned(ch, cf, out, pinned, current, pol)
    return ChildColumns(ids=cids, index=cindex, age=age, gender=gender, home_lat=hlat,
                        home_lon=hlon, faith=cfaith_s, faith_match=fm, types=tmask,
                        max_km=maxd, solo=solo, current=current, priority=prio,
                        pinned=pinned, placed_since=placed_since)


def vocabulary(frames: Frames, cf: str, out: Collector, cfaith: pd.Series) -> Vocabulary:
    """The faiths and needs tags of both sides (a needs tag in another case warned)."""
    ch, pl = frames.children, frames.placements
    pfaith_s = lower_cells(pl["faith"])
    faiths = tuple(sorted((set(cfaith.tolist()) | set(pfaith_s.tolist())) - {""}))
    fidx = {f: i for i, f in enumerate(faiths)}
    cneeds = split_lists(ch["needs"])
    pneeds = split_lists(pl["needs_supported"])
    warn_tag_case(ch, cf, out, cneeds, pneeds)
    tags = tuple(sorted({t for ts in cneeds for t in ts} | {t for ts in pneeds for t in ts}))
    tidx = {t: i for i, t in enumerate(tags)}
    words = (len(tags) + 63) // 64
    return Vocabulary(faiths=faiths, faith_index=fidx, child_needs=cneeds,
                      placement_needs=pneeds, tags=tags, tag_index=tidx, words=words)


def read_relations(frames: Frames, names: FileNames, out: Collector, cindex: dict[str, int],
                   pindex: dict[str, int]) -> Relations:
    """Exclusions and distances, their ids resolved against the children and placements."""
    ex, dist = frames.exclusions, frames.distances
    ef, df_, cf, pf = names.exclusions, names.distances, names.children, names.placements
    ex_c = lookup_ids(ex, "child_id", ef, out, cindex, "child", cf, optional=False)
    ex_p = lookup_ids(ex, "placement_id", ef, out, pindex, "placement", pf, optional=False)
    d_c = lookup_ids(dist, "child_id", df_, out, cindex, "child", cf, optional=False)
    d_p = lookup_ids(dist, "placement_id", df_, out, pindex, "placement", pf, optional=False)
    d_km = parse_floats(dist, "km", df_, out, required=True, lo=0, default=0.0)
    if len(dist):
        check_distance_pairs(dist, df_, out)
    return Relations(excl_child=ex_c, excl_placement=ex_p, dist_child=d_c, dist_placement=d_p,
                     dist_km=d_km)
