"""Stable codes for every hard matching rule.

One vocabulary for the solver's unplaced reasons, the checker's violations and the
matcher's "ruled out" lists, so a report, a test and a log line all say the same thing.
Codes never change once published. What each rule means, how the engine checks it and
how it is worded live in :mod:`optimiser.registry`; this module holds only the codes, so
that the independent checker can share them without sharing any of the engine's checks.
"""

from __future__ import annotations

from enum import Enum

from .categories import (
    ALL_RATINGS,
    DEFAULT_TYPES,
    EARTH_RADIUS_KM,
    EXPLICIT_ONLY_TYPES,
    FAITH_MATCH,
    FAMILY_TYPES,
    GENDERS,
    HOLD_REASONS,
    KM_PER_MILE,
    NOT_RATED,
    PLACEMENT_TYPES,
    RATINGS,
    SUPPORTED_MIN_AGE,
    rating_allowed,
)

# The format's vocabularies are defined in optimiser.categories; they are also offered
# here for modules that read them together with the rule codes.
__all__ = [
    "ALL_RATINGS", "DEFAULT_TYPES", "EARTH_RADIUS_KM", "EXPLICIT_ONLY_TYPES", "FAITH_MATCH",
    "FAMILY_TYPES", "GENDERS", "HOLD_REASONS", "KM_PER_MILE", "NOT_RATED", "PAIR_RULES",
    "PLACEMENT_TYPES", "RATINGS", "SUPPORTED_MIN_AGE", "Rule", "rating_allowed",
]


class Rule(str, Enum):
    """A hard rule of the interchange format, in the order reports list broken rules."""

    SUPPORTED_UNDER_16 = "supported_accommodation_under_16"
    PLACEMENT_TYPE = "placement_type"
    AGE_RANGE = "age_range"
    GENDER = "gender"
    NEEDS = "needs"
    FAITH_REQUIRED = "faith_required"
    OFSTED_RATING = "ofsted_rating"
    EXCLUSION = "exclusion"
    MAX_DISTANCE = "max_distance"
    RESERVED = "reserved"  # 1.1: the placement is reserved for other children
    # re-allocation (optional columns and `placement reallocate` options)
    PINNED = "pinned"
    ON_HOLD = "on_hold"
    NOT_YET_AVAILABLE = "not_yet_available"
    MIN_SAVING = "min_saving"
    MOVE_NOT_IN_CHILD_INTEREST = "move_not_in_child_interest"  # 1.1
    # beds and groups
    CAPACITY = "capacity"
    SOLO = "solo"
    SIBLINGS_TOGETHER = "siblings_together"
    MAX_MOVES = "max_moves"


# The spec's per-pair rules (a child at a placement), in the order reports list them.
PAIR_RULES: tuple[Rule, ...] = (
    Rule.SUPPORTED_UNDER_16,
    Rule.PLACEMENT_TYPE,
    Rule.AGE_RANGE,
    Rule.GENDER,
    Rule.NEEDS,
    Rule.FAITH_REQUIRED,
    Rule.OFSTED_RATING,
    Rule.EXCLUSION,
    Rule.MAX_DISTANCE,
    Rule.RESERVED,
)
