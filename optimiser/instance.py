"""The validated, immutable problem data.

Built once by :func:`optimiser.reader.load_instance`; every later stage (candidates,
model, explanations, writer) reads only this object. Columns are held as read-only
numpy arrays so that candidate generation is vectorised over children and placements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from .rules import GENDERS, PLACEMENT_TYPES, RATINGS


@dataclass(frozen=True)
class Problem:
    """One problem found in the input: where it is, and what is wrong."""

    file: str
    row: int | None  # line number in the file (header is line 1); None: whole file/column
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class InstanceError(ValueError):
    """Raised with every problem of an input at once (not only the first)."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the instance:\n{lines}")


@dataclass(frozen=True)
class Weights:
    """Pounds-per-week weights of the objective (spec `[weights]`)."""

    cost: float = 1.0
    per_km: float = 5.0
    faith_mismatch: float = 200.0
    move: float = 500.0
    unplaced: float = 100000.0
    sibling_split: float = 1000.0


@dataclass(frozen=True)
class Rules:
    """Authority rules (spec `[rules]`)."""

    min_ofsted_rating: str = "requires_improvement"
    split_siblings: bool = False


@dataclass(frozen=True)
class Policy:
    weights: Weights = field(default_factory=Weights)
    rules: Rules = field(default_factory=Rules)


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Instance:
    """Children, placements, exclusions, distance overrides and policy, validated.

    Children are indexed 0..n-1 in file order, placements 0..m-1. Categorical columns
    are integer codes; tag lists (needs) are bit sets over `need_tags` stored as uint64
    words, so "needs met" is one vectorised AND over a block of pairs.
    """

    source: str
    policy: Policy
    # children
    child_ids: np.ndarray  # object (str)
    age: np.ndarray  # int16
    gender: np.ndarray  # int8 code into GENDERS
    home_lat: np.ndarray
    home_lon: np.ndarray
    sibling_group: np.ndarray  # object: group name or "" when none
    faith: np.ndarray  # int32 code into faiths, -1 when none
    faith_match: np.ndarray  # int8: 0 none, 1 preferred, 2 required
    needs: np.ndarray  # uint64 (n, words)
    types_allowed: np.ndarray  # uint16 bit set over PLACEMENT_TYPES
    max_distance_km: np.ndarray  # float, inf when none
    solo: np.ndarray  # bool
    current: np.ndarray  # int32 placement index, -1 when waiting
    priority: np.ndarray  # int32
    # placements
    placement_ids: np.ndarray
    provider: np.ndarray
    ptype: np.ndarray  # int8 code into PLACEMENT_TYPES
    vacancies: np.ndarray  # int32
    age_min: np.ndarray
    age_max: np.ndarray
    genders_allowed: np.ndarray  # uint8 bit set over GENDERS
    pfaith: np.ndarray  # int32 code, -1 none
    needs_supported: np.ndarray  # uint64 (m, words)
    rating: np.ndarray  # int8: index into RATINGS, 4 = not_rated
    lat: np.ndarray
    lon: np.ndarray
    weekly_cost: np.ndarray
    block_contract: np.ndarray  # object, "" when none
    # relations
    excl_child: np.ndarray  # int32
    excl_placement: np.ndarray  # int32
    excl_reason: np.ndarray  # object
    dist_child: np.ndarray  # int32, distance overrides
    dist_placement: np.ndarray
    dist_km: np.ndarray
    # vocabularies
    faiths: tuple[str, ...]
    need_tags: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if isinstance(value, np.ndarray):
                object.__setattr__(self, name, _frozen(value))

    # sizes -----------------------------------------------------------------
    @property
    def n_children(self) -> int:
        return len(self.child_ids)

    @property
    def n_placements(self) -> int:
        return len(self.placement_ids)

    @cached_property
    def child_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.child_ids)}

    @cached_property
    def placement_index(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.placement_ids)}

    @cached_property
    def capacity(self) -> np.ndarray:
        """vacancies + children whose current placement it is (spec)."""
        residents = np.bincount(self.current[self.current >= 0], minlength=self.n_placements)
        return _frozen((self.vacancies + residents).astype(np.int64))

    # sibling groups as units ---------------------------------------------------
    @cached_property
    def units(self) -> Units:
        return Units.build(self)

    # decoding helpers used by explanations and the writer -----------------------
    def needs_of(self, mask: np.ndarray) -> list[str]:
        out = []
        for t, tag in enumerate(self.need_tags):
            if int(mask[t // 64]) >> (t % 64) & 1:
                out.append(tag)
        return out

    def type_name(self, p: int) -> str:
        return PLACEMENT_TYPES[int(self.ptype[p])]

    def rating_name(self, p: int) -> str:
        r = int(self.rating[p])
        return RATINGS[r] if r < len(RATINGS) else "not_rated"

    def gender_name(self, c: int) -> str:
        return GENDERS[int(self.gender[c])]

    def children_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"child_id": self.child_ids, "priority": self.priority})


@dataclass(frozen=True, eq=False)
class Units:
    """Allocation units: a sibling group placed together, or a single child.

    With `split_siblings = true` every child is its own unit and the group is kept only
    for the split penalty. Members of a unit are contiguous in `order` (CSR layout).
    """

    order: np.ndarray  # child indices sorted by unit
    start: np.ndarray  # (U+1,) offsets into order
    unit_of: np.ndarray  # (n,) unit of each child
    size: np.ndarray  # (U,)
    solo: np.ndarray  # (U,) any member solo
    unplaced_cost: np.ndarray  # (U,) priority sum (multiply by weights.unplaced)
    group_of_child: np.ndarray  # (n,) sibling-group code, -1 none (for split penalty)
    group_names: tuple[str, ...]

    @property
    def n(self) -> int:
        return len(self.size)

    def members(self, u: int) -> np.ndarray:
        return self.order[self.start[u] : self.start[u + 1]]

    @staticmethod
    def build(inst: Instance) -> Units:
        n = inst.n_children
        groups = inst.sibling_group
        has = groups != ""
        names, gcode = np.unique(groups[has], return_inverse=True) if has.any() else (
            np.array([], dtype=object),
            np.array([], dtype=np.int64),
        )
        group_of_child = np.full(n, -1, dtype=np.int64)
        group_of_child[has] = gcode
        if inst.policy.rules.split_siblings or not has.any():
            unit_of = np.arange(n, dtype=np.int64)
        else:
            # groups first (code 0..G-1), then each ungrouped child its own unit
            unit_of = np.empty(n, dtype=np.int64)
            unit_of[has] = gcode
            n_groups = len(names)
            unit_of[~has] = n_groups + np.arange(int((~has).sum()))
            # renumber units by first appearance so unit order follows file order
            _, first = np.unique(unit_of, return_index=True)
            rank = np.empty(len(first), dtype=np.int64)
            rank[np.argsort(first, kind="stable")] = np.arange(len(first))
            unit_of = rank[unit_of]
        order = np.argsort(unit_of, kind="stable")
        size = np.bincount(unit_of)
        start = np.concatenate([[0], np.cumsum(size)])
        solo = np.bincount(unit_of, weights=inst.solo.astype(float)) > 0
        prio = np.bincount(unit_of, weights=inst.priority.astype(float))
        return Units(
            order=_frozen(order),
            start=_frozen(start),
            unit_of=_frozen(unit_of),
            size=_frozen(size),
            solo=_frozen(solo),
            unplaced_cost=_frozen(prio),
            group_of_child=_frozen(group_of_child),
            group_names=tuple(str(x) for x in names),
        )
