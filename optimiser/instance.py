"""The validated, immutable problem data.

Built once by :func:`optimiser.reader.load_instance`; every later stage (candidates,
model, explanations, writer) reads only this object. Columns are held as read-only
numpy arrays so that candidate generation is vectorised over children and placements.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .categories import Gender, PlacementType, Rating
from .objective import current_terms


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
    out_of_area: float = 0.0  # 1.1: a child placed outside its own authority


@dataclass(frozen=True)
class Rules:
    """Authority rules (spec `[rules]`).

    `move_only_in_child_interest` is on unless the policy turns it off (the spec's
    default, for every instance, version 1 or 1.1).
    """

    min_ofsted_rating: str = "requires_improvement"
    split_siblings: bool = False
    move_only_in_child_interest: bool = True
    min_move_km: float = 10.0


@dataclass(frozen=True)
class Policy:
    weights: Weights = field(default_factory=Weights)
    rules: Rules = field(default_factory=Rules)


PREVIOUS_UNKNOWN = -2  # Reallocation.previous: the child was not in yesterday's plan
DEFAULT_PREVIOUS_WEIGHT = 100.0


@dataclass(frozen=True, eq=False)
class Reallocation:
    """Settings of an overnight re-allocation run; the defaults change nothing.

    They live on the Instance, not on SolveOptions, because they change *the problem*:
    candidate generation, the LP, pricing and the CP-SAT model all read them from here,
    so the bound is computed over exactly the pairs and rows the model uses.

    - `date`: the as-of date for `available_from` (None: today).
    - `min_saving`: a placed child moves only if its own gain (cost, distance and faith
      terms of the objective, without the move penalty) is at least this many pounds/week.
    - `max_moves`: at most this many children already placed are moved or unplaced.
    - `previous`: per child, yesterday's proposed placement (index, -1 unplaced,
      PREVIOUS_UNKNOWN not in it); a proposal that differs costs `previous_weight`.
    """

    date: dt.date | None = None
    min_saving: float | None = None
    max_moves: int | None = None
    previous: np.ndarray | None = None
    previous_weight: float = DEFAULT_PREVIOUS_WEIGHT
    # set by the Instance, not by a run: `move_only_in_child_interest` holds and children
    # are placed, so the plan must keep them placed (no plain transportation problem)
    keeps_placed: bool = False

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Reallocation):
            return NotImplemented
        same_prev = (self.previous is None and other.previous is None) or (
            self.previous is not None and other.previous is not None
            and np.array_equal(self.previous, other.previous))
        return same_prev and (self.date, self.min_saving, self.max_moves,
                              self.previous_weight) == (other.date, other.min_saving,
                                                        other.max_moves, other.previous_weight)

    __hash__ = None  # type: ignore[assignment]

    @property
    def active(self) -> bool:
        return (self.min_saving is not None or self.max_moves is not None
                or self.previous is not None or self.keeps_placed)


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
    gender: np.ndarray  # int8 Gender code
    home_lat: np.ndarray
    home_lon: np.ndarray
    sibling_group: np.ndarray  # object: group name or "" when none
    faith: np.ndarray  # int32 code into faiths, -1 when none
    faith_match: np.ndarray  # int8 FaithMatch code
    needs: np.ndarray  # uint64 (n, words)
    types_allowed: np.ndarray  # uint16 bit set over PlacementType codes
    max_distance_km: np.ndarray  # float, inf when none
    solo: np.ndarray  # bool
    current: np.ndarray  # int32 placement index, -1 when waiting
    priority: np.ndarray  # int32
    # placements
    placement_ids: np.ndarray
    provider: np.ndarray
    ptype: np.ndarray  # int8 PlacementType code
    vacancies: np.ndarray  # int32
    age_min: np.ndarray
    age_max: np.ndarray
    genders_allowed: np.ndarray  # uint8 bit set over Gender codes
    pfaith: np.ndarray  # int32 code, -1 none
    needs_supported: np.ndarray  # uint64 (m, words)
    rating: np.ndarray  # int8 Rating code
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
    # optional re-allocation columns (None: the default, filled in __post_init__)
    pinned: np.ndarray | None = None  # bool (n): never move this child
    placed_since: np.ndarray | None = None  # object (n): datetime.date, None when not given
    on_hold: np.ndarray | None = None  # object (m): hold reason, "" when offered
    available_from: np.ndarray | None = None  # object (m): datetime.date or None
    reallocation: Reallocation = field(default_factory=Reallocation)
    # format 1.1 (None: not given, filled in __post_init__)
    authority: np.ndarray | None = None  # int32 (n): code into `authorities`, -1 none
    pauthority: np.ndarray | None = None  # int32 (m): the placement's authority, -1 none
    authorities: tuple[str, ...] = ()  # lower case, as read
    authority_labels: tuple[str, ...] = ()  # the same codes as first written, for people
    adjoining: np.ndarray | None = None  # bool (A, A); None: no adjoining.csv given
    reserved_for: np.ndarray | None = None  # object (m): the list as read, "" not reserved
    reserve_child: np.ndarray | None = None  # int32: (child, placement) pairs a reserved
    reserve_placement: np.ndarray | None = None  # placement may take
    urn: np.ndarray | None = None  # object (m): Ofsted URN, "" none
    format_11: bool = False  # the instance uses a column, file or policy key new in 1.1

    def __post_init__(self) -> None:
        n, m = len(self.child_ids), len(self.placement_ids)
        defaults = {
            "pinned": np.zeros(n, dtype=bool),
            "placed_since": np.full(n, None, dtype=object),
            "on_hold": np.full(m, "", dtype=object),
            "available_from": np.full(m, None, dtype=object),
            "authority": np.full(n, -1, dtype=np.int32),
            "pauthority": np.full(m, -1, dtype=np.int32),
            "reserved_for": np.full(m, "", dtype=object),
            "reserve_child": np.zeros(0, dtype=np.int32),
            "reserve_placement": np.zeros(0, dtype=np.int32),
            "urn": np.full(m, "", dtype=object),
        }
        for name, default in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, default)
        for name, value in self.__dict__.items():
            if isinstance(value, np.ndarray):
                object.__setattr__(self, name, _frozen(value))
        keeps = self.move_rule and bool((self.current >= 0).any())
        if keeps != self.reallocation.keeps_placed:
            object.__setattr__(self, "reallocation", replace(self.reallocation,
                                                             keeps_placed=keeps))

    def with_reallocation(self, **settings: Any) -> Instance:
        """A copy with re-allocation settings (see `Reallocation`); derived data is rebuilt."""
        return replace(self, reallocation=replace(self.reallocation, **settings))

    # sizes -----------------------------------------------------------------
    @property
    def n_children(self) -> int:
        return len(self.child_ids)

    @property
    def n_placements(self) -> int:
        return len(self.placement_ids)

    def authority_label(self, code: int) -> str:
        """Authority `code` as first written in the files (the lower-case key where no
        label was kept); "" for -1, no authority."""
        if code < 0:
            return ""
        if code < len(self.authority_labels):
            return self.authority_labels[code]
        return self.authorities[code]

    @cached_property
    def child_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.child_ids)}

    @cached_property
    def placement_index(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.placement_ids)}

    @cached_property
    def residents(self) -> np.ndarray:
        """Children in the instance whose current placement it is, per placement."""
        return _frozen(np.bincount(self.current[self.current >= 0],
                                   minlength=self.n_placements).astype(np.int64))

    @cached_property
    def as_of(self) -> dt.date:
        """The date `available_from` is compared with: the run's date, or today."""
        return self.reallocation.date or dt.date.today()

    @cached_property
    def held(self) -> np.ndarray:
        """Placement's vacancies are on hold (`on_hold_reason` given)."""
        assert self.on_hold is not None
        return _frozen(self.on_hold != "")

    @cached_property
    def not_yet_available(self) -> np.ndarray:
        """Placement's vacancies open only after the as-of date (`available_from`)."""
        assert self.available_from is not None
        day = self.as_of
        return _frozen(np.array([d is not None and d > day for d in self.available_from],
                                dtype=bool))

    @cached_property
    def offered(self) -> np.ndarray:
        """Vacancies actually offered: not on hold and already available."""
        return _frozen(~self.held & ~self.not_yet_available)

    @cached_property
    def capacity(self) -> np.ndarray:
        """Current residents + vacancies offered (spec, less held/not-yet-available beds)."""
        vac = np.where(self.offered, self.vacancies, 0)
        return _frozen((vac + self.residents).astype(np.int64))

    @cached_property
    def reserved(self) -> np.ndarray:
        """Placement is reserved for named children or families (`reserved_for`)."""
        assert self.reserved_for is not None
        return _frozen(self.reserved_for != "")

    @property
    def move_rule(self) -> bool:
        """Whether `move_only_in_child_interest` holds (see `Rules`)."""
        return self.policy.rules.move_only_in_child_interest

    @cached_property
    def stay_terms(self) -> np.ndarray:
        """Per child: cost, distance and faith terms at its current placement (nan: none).

        The baseline of the `min_saving` rule: a move's own gain is this minus the same
        terms at the new placement.
        """
        return _frozen(current_terms(self))

    @cached_property
    def previous_known(self) -> np.ndarray:
        """Children who have a proposal in yesterday's plan (`--previous`)."""
        prev = self.reallocation.previous
        if prev is None:
            return _frozen(np.zeros(self.n_children, dtype=bool))
        return _frozen(np.asarray(prev) != PREVIOUS_UNKNOWN)

    @cached_property
    def unit_unplaced(self) -> np.ndarray:
        """Per unit, pounds/week of leaving it unplaced: priority x weight, plus the
        stability term of members yesterday's plan placed (`--previous`)."""
        units = self.units
        pen = self.policy.weights.unplaced * units.unplaced_cost.astype(float)
        prev = self.reallocation.previous
        if prev is not None:
            was_placed = self.previous_known & (np.asarray(prev) >= 0)
            pen = pen + self.reallocation.previous_weight * np.bincount(
                units.unit_of, weights=was_placed.astype(float), minlength=units.n)
        return _frozen(pen)

    @cached_property
    def unit_placed(self) -> np.ndarray:
        """Per unit, members already placed (each counts as a move if the unit leaves)."""
        units = self.units
        return _frozen(np.bincount(units.unit_of, weights=(self.current >= 0).astype(float),
                                   minlength=units.n).astype(np.int64))

    def pair_moves(self, unit: np.ndarray, placement: np.ndarray) -> np.ndarray:
        """Children already placed who move if `unit` goes to `placement` (vectorised)."""
        placed = self.unit_placed[unit]
        keys, counts = self._unit_current_counts
        if len(keys) == 0:
            return placed.astype(np.int64)
        q = unit.astype(np.int64) * max(self.n_placements, 1) + placement.astype(np.int64)
        pos = np.minimum(np.searchsorted(keys, q), len(keys) - 1)
        staying = np.where(keys[pos] == q, counts[pos], 0)
        return (placed - staying).astype(np.int64)

    @cached_property
    def _unit_current_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted keys unit*m + current placement, and how many members live there."""
        has = self.current >= 0
        q = (self.units.unit_of[has].astype(np.int64) * max(self.n_placements, 1)
             + self.current[has].astype(np.int64))
        keys, counts = np.unique(q, return_counts=True)
        return _frozen(keys), _frozen(counts.astype(np.int64))

    @cached_property
    def keep_placed(self) -> np.ndarray:
        """Per unit: already placed, so never left without a placement, with `min_saving`
        or `move_only_in_child_interest`.

        Leaving a child's home is no saving for the child, and never in its interest, so
        under either rule a placed unit moves (where the rule allows) or stays. Only units
        whose members all live in one placement, so that staying is always possible.
        """
        units = self.units
        out = np.zeros(units.n, dtype=bool)
        if self.reallocation.min_saving is None and not self.move_rule:
            return _frozen(out)
        keys, counts = self._unit_current_counts
        m = max(self.n_placements, 1)
        whole = np.zeros(units.n, dtype=bool)
        u = keys // m
        whole[u[counts == units.size[u]]] = True
        return _frozen(whole)

    @cached_property
    def pinned_unit(self) -> np.ndarray:
        """Per unit, the placement a pinned member keeps (-1: no pinned member).

        A group whose pinned members live in different placements is refused by the
        reader (siblings are placed together), so one placement per unit is enough.
        """
        assert self.pinned is not None
        out = np.full(self.units.n, -1, dtype=np.int64)
        c = np.flatnonzero(self.pinned & (self.current >= 0))
        out[self.units.unit_of[c]] = self.current[c]
        return _frozen(out)

    @cached_property
    def pinned_load(self) -> np.ndarray:
        """Beds taken for certain by pinned units living whole where they are pinned.

        Their pair is exempt from every per-pair rule, so they always stay; the beds they
        fill are never open to anyone else, which candidate generation uses (a group of
        four is no candidate for a four-bed home where three pinned children live).
        """
        units = self.units
        pu = self.pinned_unit
        load = np.zeros(self.n_placements, dtype=np.int64)
        cap = self.capacity
        for u in np.flatnonzero(pu >= 0).tolist():
            p = int(pu[u])
            members = units.members(u)
            if not (self.current[members] == p).all():
                continue  # a member lives elsewhere: the pin may yet fail, count nothing
            use = int(cap[p]) if units.solo[u] else len(members)
            if load[p] + use <= cap[p]:
                load[p] += use
        return _frozen(load)

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
        return PlacementType(int(self.ptype[p])).word

    def rating_name(self, p: int) -> str:
        return Rating(int(self.rating[p])).word

    def gender_name(self, c: int) -> str:
        return Gender(int(self.gender[c])).word

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
