"""Stable codes for every hard matching rule.

One vocabulary for the solver's unplaced reasons, the checker's violations and the
matcher's "ruled out" lists, so a report, a test and a log line all say the same thing.
Codes never change once published; the English text may be improved.
"""

from __future__ import annotations

from enum import Enum


class Rule(str, Enum):
    """A hard rule of the interchange format (spec version 1)."""

    AGE_RANGE = "age_range"
    GENDER = "gender"
    NEEDS = "needs"
    FAITH_REQUIRED = "faith_required"
    OFSTED_RATING = "ofsted_rating"
    EXCLUSION = "exclusion"
    MAX_DISTANCE = "max_distance"
    PLACEMENT_TYPE = "placement_type"
    SUPPORTED_UNDER_16 = "supported_accommodation_under_16"
    CAPACITY = "capacity"
    SOLO = "solo"
    SIBLINGS_TOGETHER = "siblings_together"
    # re-allocation (optional columns and `placement reallocate` options)
    PINNED = "pinned"
    ON_HOLD = "on_hold"
    NOT_YET_AVAILABLE = "not_yet_available"
    MIN_SAVING = "min_saving"
    MAX_MOVES = "max_moves"

    @property
    def text(self) -> str:
        return RULE_TEXT[self]


RULE_TEXT: dict[Rule, str] = {
    Rule.AGE_RANGE: "the placement does not accept the child's age",
    Rule.GENDER: "the placement does not accept the child's gender",
    Rule.NEEDS: "the placement cannot meet all of the child's needs",
    Rule.FAITH_REQUIRED: "the child's care plan requires a carer of the same faith",
    Rule.OFSTED_RATING: "the placement's Ofsted rating is below the authority's floor",
    Rule.EXCLUSION: "the child must not go to this placement (recorded exclusion)",
    Rule.MAX_DISTANCE: "the placement is further from home than the child's limit",
    Rule.PLACEMENT_TYPE: "the placement type is not in the child's care plan",
    Rule.SUPPORTED_UNDER_16: "supported accommodation may not take a child under 16",
    Rule.CAPACITY: "the placement has no room",
    Rule.SOLO: "a child who must live alone shares the placement",
    Rule.SIBLINGS_TOGETHER: "the sibling group is not placed together",
    Rule.PINNED: "the child is pinned to the current placement (never moved)",
    Rule.ON_HOLD: "the placement is on hold and takes no new child",
    Rule.NOT_YET_AVAILABLE: "the placement's vacancies are not available yet",
    Rule.MIN_SAVING: "the move would not save the child's own minimum (cost and distance)",
    Rule.MAX_MOVES: "the plan may move no more children already placed",
}

# The per-pair rules, in the order an explanation tests them (cheapest to say first).
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
)

# Per-pair rules of a re-allocation: they only ever rule out a pair that is *not* the
# child's current placement. Kept apart from PAIR_RULES (the spec's rules, which the
# checker re-derives) because they depend on the run's options.
REALLOCATION_RULES: tuple[Rule, ...] = (
    Rule.PINNED,
    Rule.ON_HOLD,
    Rule.NOT_YET_AVAILABLE,
    Rule.MIN_SAVING,
)
# `on_hold_reason` codes; any other non-empty text also holds the vacancies (with a warning).
HOLD_REASONS: tuple[str, ...] = ("illness", "safeguarding", "bedroom", "holiday", "break")

PLACEMENT_TYPES: tuple[str, ...] = (
    "inhouse_foster",
    "kinship_foster",
    "ifa_foster",
    "inhouse_residential",
    "external_residential",
    "supported_accommodation",
    "secure",
    "parent_and_child",
)
# Types that need an explicit care plan: not in a child's default list.
EXPLICIT_ONLY_TYPES: frozenset[str] = frozenset({"secure", "parent_and_child"})
DEFAULT_TYPES: tuple[str, ...] = tuple(t for t in PLACEMENT_TYPES if t not in EXPLICIT_ONLY_TYPES)
FAMILY_TYPES: frozenset[str] = frozenset(
    {"inhouse_foster", "kinship_foster", "ifa_foster", "parent_and_child"}
)

# Ofsted ratings, best first; the rank is used for the `min_ofsted_rating` floor.
RATINGS: tuple[str, ...] = ("outstanding", "good", "requires_improvement", "inadequate")
NOT_RATED = "not_rated"
ALL_RATINGS: tuple[str, ...] = (*RATINGS, NOT_RATED)
GENDERS: tuple[str, ...] = ("F", "M", "X")
FAITH_MATCH: tuple[str, ...] = ("required", "preferred", "none")
SUPPORTED_MIN_AGE = 16
EARTH_RADIUS_KM = 6371.0
KM_PER_MILE = 1.609344


def rating_allowed(rating: str, floor: str) -> bool:
    """`not_rated` is always allowed; otherwise the rating must be at least the floor."""
    if rating == NOT_RATED:
        return True
    return RATINGS.index(rating) <= RATINGS.index(floor)
