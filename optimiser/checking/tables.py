"""The two required tables, children and placements, parsed as the spec defines them.

Each comes back indexed by its id with typed columns and the spec's defaults filled in
(faith_match `none`, every gender, `not_rated`, the default placement types), or a
ValueError naming what is wrong, so that the rules can be column-wise expressions.
"""

from __future__ import annotations

import pandas as pd

from optimiser.categories import (
    ALL_RATINGS,
    DEFAULT_TYPES,
    FAITH_MATCH,
    GENDERS,
    NOT_RATED,
    PLACEMENT_TYPES,
)
from optimiser.checking.cells import (
    area,
    bool_column,
    check_enum,
    ensure_columns,
    number_column,
    parse_date,
)

CHILD_COLUMNS: tuple[str, ...] = (
    "child_id", "age", "gender", "home_lat", "home_lon", "sibling_group", "faith",
    "faith_match", "needs", "placement_types", "max_distance_km", "solo",
    "current_placement", "priority", "pinned", "authority",
)  # fmt: skip
CHILD_REQUIRED: tuple[str, ...] = ("child_id", "age", "gender", "home_lat", "home_lon")
PLACEMENT_COLUMNS: tuple[str, ...] = (
    "placement_id", "provider", "type", "vacancies", "age_min", "age_max", "genders",
    "faith", "needs_supported", "ofsted_rating", "lat", "lon", "weekly_cost", "block_contract",
    "on_hold_reason", "available_from", "reserved_for", "authority", "urn",
)  # fmt: skip
PLACEMENT_REQUIRED: tuple[str, ...] = (
    "placement_id", "type", "vacancies", "age_min", "age_max", "lat", "lon", "weekly_cost",
)  # fmt: skip


def _with_unique_ids(raw: pd.DataFrame, what: str, id_col: str, required: tuple[str, ...],
                     columns: tuple[str, ...]) -> pd.DataFrame:
    """The table with every column, once its required columns and unique ids are checked."""
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise ValueError(f"{what}: missing required column(s) {missing}")
    df = ensure_columns(raw, columns)
    if (df[id_col] == "").any():
        raise ValueError(f"{what}: a row has an empty {id_col}")
    dup = df[id_col].duplicated()
    if dup.any():
        raise ValueError(f"{what}: duplicate {id_col} {df.loc[dup, id_col].tolist()[:5]}")
    return df


def prepare_children(raw: pd.DataFrame) -> pd.DataFrame:
    """children.csv indexed by child_id, typed, defaults filled in."""
    ch = _with_unique_ids(raw, "children", "child_id", CHILD_REQUIRED, CHILD_COLUMNS)
    out = pd.DataFrame(index=pd.Index(ch["child_id"].to_numpy(), name="child_id"))
    for col in ("age", "home_lat", "home_lon"):
        out[col] = number_column(ch, col, "child_id", required=True).to_numpy()
    out["max_distance_km"] = number_column(ch, "max_distance_km", "child_id", False).to_numpy()
    prio = number_column(ch, "priority", "child_id", required=False).fillna(1.0)
    out["priority"] = prio.to_numpy()
    out["gender"] = ch["gender"].str.upper().to_numpy()
    check_enum(out["gender"], GENDERS, "children.gender")
    out["faith"] = ch["faith"].str.lower().to_numpy()
    fm = ch["faith_match"].str.lower()
    out["faith_match"] = fm.where(fm != "", "none").to_numpy()
    check_enum(out["faith_match"], FAITH_MATCH, "children.faith_match")
    out["solo"] = bool_column(ch["solo"], "children.solo").to_numpy()
    # re-allocation: a pinned child never leaves its current placement
    out["pinned"] = bool_column(ch["pinned"], "children.pinned").to_numpy()
    out["authority"] = ch["authority"].map(area).to_numpy()
    for col in ("sibling_group", "needs", "current_placement"):
        out[col] = ch[col].to_numpy()
    types = ch["placement_types"].str.lower()
    out["placement_types"] = types.where(types != "", ";".join(DEFAULT_TYPES)).to_numpy()
    return out


def prepare_placements(raw: pd.DataFrame) -> pd.DataFrame:
    """placements.csv indexed by placement_id, typed, defaults filled in."""
    pl = _with_unique_ids(raw, "placements", "placement_id", PLACEMENT_REQUIRED,
                          PLACEMENT_COLUMNS)
    out = pd.DataFrame(index=pd.Index(pl["placement_id"].to_numpy(), name="placement_id"))
    for col in ("vacancies", "age_min", "age_max", "lat", "lon", "weekly_cost"):
        out[col] = number_column(pl, col, "placement_id", required=True).to_numpy()
    out["type"] = pl["type"].str.lower().to_numpy()
    check_enum(out["type"], PLACEMENT_TYPES, "placements.type")
    rating = pl["ofsted_rating"].str.lower()
    out["ofsted_rating"] = rating.where(rating != "", NOT_RATED).to_numpy()
    check_enum(out["ofsted_rating"], ALL_RATINGS, "placements.ofsted_rating")
    genders = pl["genders"].str.upper()
    out["genders"] = genders.where(genders != "", ";".join(GENDERS)).to_numpy()
    out["faith"] = pl["faith"].str.lower().to_numpy()
    out["needs_supported"] = pl["needs_supported"].to_numpy()
    # re-allocation: held vacancies (any reason) and vacancies open only from a date
    out["on_hold_reason"] = pl["on_hold_reason"].to_numpy()
    out["reserved_for"] = pl["reserved_for"].to_numpy()
    out["authority"] = pl["authority"].map(area).to_numpy()
    out["urn"] = pl["urn"].to_numpy()
    out["available_from"] = [parse_date(v, f"placements.available_from ({pid})")
                             for v, pid in zip(pl["available_from"], pl["placement_id"],
                                               strict=True)]
    return out
