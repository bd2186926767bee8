"""The authority's policy as the spec defines it: the [weights] and [rules] tables.

Read from policy.toml or from a workbook's `policy` sheet of dotted keys; every key not
given takes the spec's default, written out here rather than taken from the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from optimiser.categories import RATINGS
from optimiser.checking.cells import clean_table, parse_bool

DEFAULT_WEIGHTS: dict[str, float] = {
    "cost": 1.0,
    "per_km": 5.0,
    "faith_mismatch": 200.0,
    "move": 500.0,
    "unplaced": 100000.0,
    "sibling_split": 1000.0,
    "out_of_area": 0.0,
}
DEFAULT_MIN_MOVE_KM = 10.0
DEFAULT_MIN_RATING = "requires_improvement"


@dataclass(frozen=True)
class Policy:
    """The weights of the objective and the policy's rules, defaults filled in."""

    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    min_rating: str = DEFAULT_MIN_RATING
    split_siblings: bool = False
    move_only_in_child_interest: bool = True  # the spec's default, for every instance
    min_move_km: float = DEFAULT_MIN_MOVE_KM


def policy_from_mapping(data: Mapping[str, Any]) -> Policy:
    """The spec's [weights] and [rules] tables; unknown keys are ignored (the project may add)."""
    weights = dict(DEFAULT_WEIGHTS)
    for key, value in dict(data.get("weights", {})).items():
        if key in weights:
            weights[key] = float(value)
    rules = dict(data.get("rules", {}))
    floor = str(rules.get("min_ofsted_rating", DEFAULT_MIN_RATING)).strip().lower()
    if floor not in RATINGS:
        raise ValueError(f"policy: rules.min_ofsted_rating {floor!r} is not one of {RATINGS}")
    split = parse_bool(rules.get("split_siblings", False), "policy: rules.split_siblings")
    move = parse_bool(rules.get("move_only_in_child_interest", True),
                      "policy: rules.move_only_in_child_interest")
    km = float(rules.get("min_move_km", DEFAULT_MIN_MOVE_KM))
    return Policy(weights=weights, min_rating=floor, split_siblings=split,
                  move_only_in_child_interest=move, min_move_km=km)


def policy_from_sheet(sheet: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """An Excel `policy` sheet of dotted keys (`weights.per_km`) turned into the TOML shape."""
    sheet = clean_table(sheet)
    if not {"key", "value"} <= set(sheet.columns):
        raise ValueError("policy sheet: needs columns 'key' and 'value'")
    data: dict[str, dict[str, Any]] = {}
    for key, value in zip(sheet["key"], sheet["value"], strict=True):
        if key == "" or "." not in key:
            continue
        table, name = key.split(".", 1)
        data.setdefault(table.strip(), {})[name.strip()] = value
    return data
