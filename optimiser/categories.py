"""The format's categories, each defined once: how a file writes it and its code in arrays.

Every category is an `IntEnum`: ``int(x)`` is the code the engine's numpy arrays hold,
``x.word`` is the word an instance file uses. Reading, generating, checking and
explaining all go through these, so a code means the same thing in every module (a
faith-match code of 2 is *required* everywhere). The spec's constants sit here too,
below every module that uses them.
"""

from __future__ import annotations

from enum import IntEnum


class Category(IntEnum):
    """A category of the interchange format (no members of its own)."""

    @property
    def word(self) -> str:
        """How the instance files write it."""
        return self.name.lower()

    @classmethod
    def words(cls) -> tuple[str, ...]:
        """Every word, in code order."""
        return tuple(m.word for m in cls)

    @classmethod
    def parse(cls, word: str) -> Category:
        """The member a file's word names (exactly as `words()` spells it)."""
        for m in cls:
            if m.word == word:
                return m
        raise ValueError(f"{word!r} is not one of {', '.join(cls.words())}")


class FaithMatch(Category):
    """`children.faith_match`: how the child's faith bears on a placement."""

    NONE = 0
    PREFERRED = 1  # a penalty (weights.faith_mismatch) where the placement's faith differs
    REQUIRED = 2  # a hard rule: only a placement of the child's faith


class PlacementType(Category):
    """`placements.type`; the code is also the bit of a care plan's type set."""

    INHOUSE_FOSTER = 0
    KINSHIP_FOSTER = 1
    IFA_FOSTER = 2
    INHOUSE_RESIDENTIAL = 3
    EXTERNAL_RESIDENTIAL = 4
    SUPPORTED_ACCOMMODATION = 5
    SECURE = 6
    PARENT_AND_CHILD = 7


class Rating(Category):
    """`placements.ofsted_rating`, best first (the order of the `min_ofsted_rating` floor)."""

    OUTSTANDING = 0
    GOOD = 1
    REQUIRES_IMPROVEMENT = 2
    INADEQUATE = 3
    NOT_RATED = 4  # never below the floor


class Gender(Category):
    """`children.gender` and the entries of `placements.genders`."""

    F = 0
    M = 1
    X = 2

    @property
    def word(self) -> str:
        return self.name


class Approval(Category):
    """Reg. 11 (Care Planning, Placement and Case Review (England) Regulations 2010): who
    must approve a placement, from the child's and the placement's authority."""

    IN_AREA = 0  # the placement lies in the child's authority (or either is not given)
    NOMINATED_OFFICER = 1  # out of area: another authority
    DIRECTOR = 2  # at a distance: out of area and not an adjoining authority

    @property
    def area(self) -> str:
        return ("in area", "out of area", "at a distance")[self.value]


PLACEMENT_TYPES: tuple[str, ...] = PlacementType.words()
# Types that need an explicit care plan: not in a child's default list.
EXPLICIT_ONLY_TYPES: frozenset[str] = frozenset(
    {PlacementType.SECURE.word, PlacementType.PARENT_AND_CHILD.word})
DEFAULT_TYPES: tuple[str, ...] = tuple(t for t in PLACEMENT_TYPES if t not in EXPLICIT_ONLY_TYPES)
FAMILY_TYPES: frozenset[str] = frozenset(
    {"inhouse_foster", "kinship_foster", "ifa_foster", "parent_and_child"})

NOT_RATED = Rating.NOT_RATED.word
ALL_RATINGS: tuple[str, ...] = Rating.words()
RATINGS: tuple[str, ...] = tuple(r for r in ALL_RATINGS if r != NOT_RATED)  # the ranked ones
GENDERS: tuple[str, ...] = Gender.words()
FAITH_MATCH: tuple[str, ...] = FaithMatch.words()
# `on_hold_reason` codes; any other non-empty text also holds the vacancies (with a warning).
HOLD_REASONS: tuple[str, ...] = ("illness", "safeguarding", "bedroom", "holiday", "break")

# The spec's step-down reason for a move: from these types ...
STEP_DOWN_FROM: frozenset[int] = frozenset(
    {PlacementType.INHOUSE_RESIDENTIAL, PlacementType.EXTERNAL_RESIDENTIAL, PlacementType.SECURE})
# ... to a family (foster) placement
STEP_DOWN_TO: frozenset[int] = frozenset(
    {PlacementType.INHOUSE_FOSTER, PlacementType.KINSHIP_FOSTER, PlacementType.IFA_FOSTER})

SUPPORTED_MIN_AGE = 16  # supported accommodation never takes a younger child (the law)
EARTH_RADIUS_KM = 6371.0  # the spec's haversine radius
KM_PER_MILE = 1.609344


def rating_allowed(rating: str, floor: str) -> bool:
    """`not_rated` is always allowed; otherwise the rating must be at least the floor."""
    if rating == NOT_RATED:
        return True
    return RATINGS.index(rating) <= RATINGS.index(floor)
