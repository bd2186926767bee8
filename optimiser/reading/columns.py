"""The columns of each table: which the format requires, which are optional, and a check
that names every missing one (and warns on unknown ones) before any cell is read."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from optimiser.reader11 import ADJOINING_COLUMNS, CHILD_COLUMNS_11, PLACEMENT_COLUMNS_11

from .collect import Collector, fail
from .raw import FileNames

CHILD_COLUMNS = {
    "child_id": True,
    "age": True,
    "gender": True,
    "home_lat": True,
    "home_lon": True,
    "sibling_group": False,
    "faith": False,
    "faith_match": False,
    "needs": False,
    "placement_types": False,
    "max_distance_km": False,
    "solo": False,
    "current_placement": False,
    "priority": False,
}
PLACEMENT_COLUMNS = {
    "placement_id": True,
    "provider": True,
    "type": True,
    "vacancies": True,
    "age_min": True,
    "age_max": True,
    "genders": False,
    "faith": False,
    "needs_supported": False,
    "ofsted_rating": False,
    "lat": True,
    "lon": True,
    "weekly_cost": True,
    "block_contract": False,
}
EXCLUSION_COLUMNS = {"child_id": True, "placement_id": True, "reason": False}
DISTANCE_COLUMNS = {"child_id": True, "placement_id": True, "km": True}
# Optional columns of re-allocation (README "Optional columns for re-allocation"):
# parsed when present, defaults otherwise, so an ordinary instance is unchanged.
EXTRA_CHILD_COLUMNS = {"pinned", "placed_since", *CHILD_COLUMNS_11}
EXTRA_PLACEMENT_COLUMNS = {"on_hold_reason", "available_from", *PLACEMENT_COLUMNS_11}


@dataclass(frozen=True)
class Frames:
    """The tables of an instance, every column they need present (empty when not given)."""

    children: pd.DataFrame
    placements: pd.DataFrame
    exclusions: pd.DataFrame
    distances: pd.DataFrame
    adjoining: pd.DataFrame | None


def check_columns(df: pd.DataFrame, spec: dict[str, bool], extra: set[str], file: str,
                  out: Collector) -> bool:
    """Report missing required columns, warn on unknown ones, add empty optional ones."""
    ok = True
    for col, required in spec.items():
        if required and col not in df.columns:
            out.add(file, 1, col, "required column is missing")
            ok = False
    for col in df.columns:
        if col not in spec and col not in extra:
            out.warn(f"{file}: unknown column {col!r} ignored")
    for col in spec:
        if col not in df.columns:
            df[col] = ""
    return ok


def checked_frames(tables: dict[str, pd.DataFrame], names: FileNames,
                   out: Collector) -> Frames:
    """The tables with their columns checked; raises `InstanceError` when a required table
    or column is missing (every other problem is found by reading on)."""
    required_missing = False
    for name, f in (("children", names.children), ("placements", names.placements)):
        if name not in tables:
            required_missing = True
            if not any(p.file == f for p in out.problems):
                out.add(f, None, None, f"required {names.kind} is missing")
    if required_missing:
        raise fail(out, names.ordered())
    ch = tables["children"]
    pl = tables["placements"]
    ok = check_columns(ch, CHILD_COLUMNS, EXTRA_CHILD_COLUMNS, names.children, out)
    ok &= check_columns(pl, PLACEMENT_COLUMNS, EXTRA_PLACEMENT_COLUMNS, names.placements, out)
    ex = tables.get("exclusions", pd.DataFrame({c: [] for c in EXCLUSION_COLUMNS}, dtype=object))
    ok &= check_columns(ex, EXCLUSION_COLUMNS, set(), names.exclusions, out)
    dist = tables.get("distances", pd.DataFrame({c: [] for c in DISTANCE_COLUMNS}, dtype=object))
    ok &= check_columns(dist, DISTANCE_COLUMNS, set(), names.distances, out)
    adj = tables.get("adjoining")
    if adj is not None:
        ok &= check_columns(adj, ADJOINING_COLUMNS, set(), names.adjoining, out)
    for frame, extra in ((ch, CHILD_COLUMNS_11), (pl, PLACEMENT_COLUMNS_11)):
        for col in extra:
            if col not in frame.columns:
                frame[col] = ""
    if not ok:
        raise fail(out, names.ordered())
    return Frames(ch, pl, ex, dist, adj)
