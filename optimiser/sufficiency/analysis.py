"""Who the allocation leaves unplaced or far from home, broken down for a sufficiency statement.

One row per child (`child_frame`) with the dimensions a statement reports (age band,
gender, needs, faith, sibling-group size, area, the types the care plan asks for), then
counts per value of each dimension (`breakdowns`). Every dimension gives each child
exactly one value (a child's needs are one combined value such as
`complex_behaviour;disability`), so each dimension's counts sum to the totals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..categories import DEFAULT_TYPES, KM_PER_MILE, PLACEMENT_TYPES, FaithMatch
from ..instance import Instance
from ..objective import pair_distances

FAR_KM = 20 * KM_PER_MILE  # the DfE's "more than 20 miles from home"
# the DfE's age bands for children looked after
AGE_BANDS: tuple[tuple[int, int, str], ...] = (
    (0, 0, "under 1"), (1, 4, "1 to 4"), (5, 9, "5 to 9"), (10, 15, "10 to 15"),
    (16, 17, "16 and 17"))
DIMENSIONS: tuple[tuple[str, str], ...] = (
    ("age_band", "age band"), ("gender", "gender"), ("needs", "needs"), ("faith", "faith"),
    ("sibling_group_size", "sibling group size"), ("area", "area"),
    ("care_plan_types", "type the care plan asks for"))
NONE = "none"


def age_band(age: int) -> str:
    """The DfE age band of an age in whole years."""
    for lo, hi, name in AGE_BANDS:
        if lo <= age <= hi:
            return name
    return "16 and 17" if age > 17 else "under 1"


def types_text(inst: Instance, c: int) -> str:
    """The care plan's placement types in words (`any` for the format's default list)."""
    mask = int(inst.types_allowed[c])
    names = [t for i, t in enumerate(PLACEMENT_TYPES) if mask >> i & 1]
    return "any" if tuple(names) == DEFAULT_TYPES else ";".join(names)


def faith_text(inst: Instance, c: int) -> str:
    """The child's faith and how it bears on a placement (`muslim (required)`)."""
    f = int(inst.faith[c])
    if f < 0:
        return NONE
    match = FaithMatch(int(inst.faith_match[c]))
    return inst.faiths[f] if match == FaithMatch.NONE else f"{inst.faiths[f]} ({match.word})"


def sibling_sizes(inst: Instance) -> np.ndarray:
    """Per child, the size of its sibling group (1 for a child on its own)."""
    groups = pd.Series(inst.sibling_group)
    size = groups.map(groups[groups != ""].value_counts()).fillna(1).astype(int)
    return size.to_numpy()


def child_frame(inst: Instance, assignment: np.ndarray, areas: np.ndarray) -> pd.DataFrame:
    """One row per child: where it is placed, how far from home, and its dimensions."""
    a = np.asarray(assignment)
    placed = a >= 0
    km = np.full(inst.n_children, np.nan)
    idx = np.flatnonzero(placed)
    km[idx] = pair_distances(inst, idx, a[idx])
    size = sibling_sizes(inst)
    return pd.DataFrame({
        "child_id": inst.child_ids,
        "placement_id": np.where(placed, inst.placement_ids[np.maximum(a, 0)], ""),
        "placed": placed,
        "distance_km": km,
        "far": placed & (np.nan_to_num(km) > FAR_KM),
        "weekly_cost": np.where(placed, inst.weekly_cost[np.maximum(a, 0)], 0.0),
        "age_band": [age_band(int(x)) for x in inst.age],
        "gender": [inst.gender_name(c) for c in range(inst.n_children)],
        "needs": [";".join(inst.needs_of(inst.needs[c])) or NONE
                  for c in range(inst.n_children)],
        "faith": [faith_text(inst, c) for c in range(inst.n_children)],
        "sibling_group_size": np.where(size >= 4, "4 or more", size.astype(str)),
        "area": areas,
        "care_plan_types": [types_text(inst, c) for c in range(inst.n_children)],
    })


@dataclass(frozen=True)
class Totals:
    """The headline figures of an allocation."""

    children: int
    placed: int
    unplaced: int
    far: int
    total_weekly_cost: float
    mean_distance_km: float


def totals(frame: pd.DataFrame) -> Totals:
    placed = frame[frame["placed"]]
    return Totals(
        children=len(frame), placed=len(placed), unplaced=int((~frame["placed"]).sum()),
        far=int(frame["far"].sum()), total_weekly_cost=float(placed["weekly_cost"].sum()),
        mean_distance_km=float(placed["distance_km"].mean()) if len(placed) else 0.0)


def breakdowns(frame: pd.DataFrame) -> pd.DataFrame:
    """Per dimension and value: children, unplaced, placed far from home, distance.

    Rows with the most unmet demand first within each dimension."""
    parts = []
    for key, label in DIMENSIONS:
        g = frame.groupby(key, sort=False)
        t = pd.DataFrame({
            "children": g.size(),
            "placed": g["placed"].sum().astype(int),
            "unplaced": g["placed"].apply(lambda s: int((~s).sum())),
            "far_from_home": g["far"].sum().astype(int),
            "mean_distance_km": g["distance_km"].mean().round(2),
        })
        t["share_unplaced"] = (t["unplaced"] / t["children"]).round(4)
        t["share_far"] = (t["far_from_home"] / t["placed"].where(t["placed"] > 0)).round(4)
        t = t.reset_index().rename(columns={key: "value"})
        t.insert(0, "dimension", label)
        parts.append(t.sort_values(["unplaced", "far_from_home", "children"],
                                   ascending=False, kind="stable"))
    return pd.concat(parts, ignore_index=True)
