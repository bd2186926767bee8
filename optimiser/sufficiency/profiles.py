"""Candidate placement profiles drawn from the demand the allocation does not meet well.

Each unit (a sibling group or a child alone) left unplaced or placed more than 20 miles
from home asks for a placement like this: the first type its care plan allows in the
order family first, then residential; ages the DfE band of its youngest to its oldest;
its needs; its faith where it requires or prefers one; beds for the whole group; in its
home area. Units asking for the same profile in the same area give one profile, placed
at the mean of their homes. The weekly cost assumed is the median of that type's paid
placements within `NEAR_KM`, else of that type anywhere, else the calibrated figure.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..categories import PLACEMENT_TYPES, SUPPORTED_MIN_AGE, FaithMatch
from ..instance import Instance
from ..objective import haversine_km
from .analysis import AGE_BANDS
from .extend import Profile

# the order in which a care plan's types are tried: family first, then residential
TYPE_ORDER = ("inhouse_foster", "ifa_foster", "inhouse_residential", "external_residential",
              "supported_accommodation", "parent_and_child", "secure")
FAMILY = frozenset({"inhouse_foster", "ifa_foster", "parent_and_child"})
DEFAULT_BEDS = {"inhouse_foster": 2, "ifa_foster": 2, "inhouse_residential": 3,
                "external_residential": 3, "supported_accommodation": 2}
# calibrated weekly costs (optimiser/calibration.py: the council reports' figures)
CALIBRATED_COST = {"inhouse_foster": 565.0, "ifa_foster": 850.0, "kinship_foster": 375.0,
                   "inhouse_residential": 3600.0, "external_residential": 3800.0,
                   "supported_accommodation": 900.0, "secure": 7000.0,
                   "parent_and_child": 1400.0}
NEAR_KM = 30.0


def band_limits(lo_age: int, hi_age: int) -> tuple[int, int]:
    """The DfE bands' span covering ages lo_age..hi_age."""
    lo = next(b[0] for b in AGE_BANDS if b[0] <= lo_age <= b[1])
    hi = next(b[1] for b in AGE_BANDS if b[0] <= hi_age <= b[1])
    return lo, hi


def assumed_cost(inst: Instance, ptype: str, lat: float, lon: float) -> float:
    """Median weekly cost of paid placements of `ptype` near (lat, lon), else anywhere."""
    code = PLACEMENT_TYPES.index(ptype)
    mine = (inst.ptype == code) & (inst.weekly_cost > 0)
    if mine.any():
        km = haversine_km(np.full(1, lat), np.full(1, lon), inst.lat[mine], inst.lon[mine])
        near = inst.weekly_cost[mine][km <= NEAR_KM]
        return float(np.median(near if len(near) >= 3 else inst.weekly_cost[mine]))
    return CALIBRATED_COST[ptype]


def unit_types(inst: Instance, members: np.ndarray) -> list[str]:
    """The types every member's care plan allows, family first then residential."""
    mask = int(np.bitwise_and.reduce(inst.types_allowed[members].astype(np.int64)))
    young = int(inst.age[members].min()) < SUPPORTED_MIN_AGE
    out = [t for t in TYPE_ORDER if mask >> PLACEMENT_TYPES.index(t) & 1
           and not (t == "supported_accommodation" and young)]
    fam = [t for t in out if t in FAMILY][:1]
    res = [t for t in out if t not in FAMILY][:1]
    return fam + res


def unit_faith(inst: Instance, members: np.ndarray) -> str:
    for c in members:
        if int(inst.faith[c]) >= 0 and inst.faith_match[c] != FaithMatch.NONE:
            return inst.faiths[int(inst.faith[c])]
    return ""


def candidate_profiles(inst: Instance, targets: np.ndarray, areas: np.ndarray,
                       limit: int = 400) -> list[Profile]:
    """Profiles for the units `targets` (indices into inst.units), most-asked first.

    `areas`: per child, its area name (authority or district)."""
    units = inst.units
    asked: dict[tuple, list[int]] = defaultdict(list)
    for u in targets.tolist():
        members = units.members(u)
        lo, hi = band_limits(int(inst.age[members].min()), int(inst.age[members].max()))
        needs: set[str] = set()
        for c in members:
            needs.update(inst.needs_of(inst.needs[c]))
        for t in unit_types(inst, members):
            beds = max(len(members), DEFAULT_BEDS.get(t, 1))
            key = (t, str(areas[members[0]]), lo, hi, ";".join(sorted(needs)),
                   unit_faith(inst, members), beds)
            asked[key].extend(members.tolist())
    ranked = sorted(asked.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:limit]
    out = []
    for (t, area, lo, hi, needs_s, faith, beds), kids in ranked:
        idx = np.asarray(kids)
        lat, lon = float(inst.home_lat[idx].mean()), float(inst.home_lon[idx].mean())
        out.append(Profile(type=t, authority=area, lat=round(lat, 5), lon=round(lon, 5),
                           age_min=lo, age_max=hi, genders="", needs_supported=needs_s,
                           faith=faith, beds=beds,
                           weekly_cost=round(assumed_cost(inst, t, lat, lon), 2)))
    return out
