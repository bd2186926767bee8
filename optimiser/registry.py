"""Every hard rule, defined once: its code, the engine's check, its words, its waiver, its places.

One :class:`RuleDef` per rule, in the order reports list broken rules (the order
:func:`optimiser.candidates.evaluate_block` returns its masks, and the checker's
``PAIR_RULES``). Each definition holds, side by side:

- ``rule``: the stable code (:class:`optimiser.rules.Rule`);
- ``fit`` or ``pair``: the engine's vectorised check, a numpy expression over child (or
  sibling-group) rows and placement columns that broadcast together; ``None`` for the
  rules of beds and groups, which the model enforces with its rows (``model`` says where);
- ``text``, ``funnel_words``, ``void_words``, ``detail``: what an officer reads;
- ``waiver``: whether a manager may waive it (a near miss in ``placement match``);
- ``funnel`` and ``triage``: its place in the two explanation orders (why a child has no
  placement at all; which rule names a ruled-out placement in a match).

The candidate pass, explanations, ``match``, the re-allocation rules and the generator all
read from here. The independent checker (``optimiser/checking/``) does not: it re-derives
every rule from the spec on its own, and ``tests/rule_cases.py`` runs both on one table of
cases.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

import numpy as np

from .categories import (
    DEFAULT_TYPES,
    GENDERS,
    PLACEMENT_TYPES,
    RATINGS,
    SUPPORTED_MIN_AGE,
    FaithMatch,
    Gender,
    PlacementType,
    Rating,
)
from .rules import Rule

if TYPE_CHECKING:
    from .instance import Instance
    from .objective import PairTerms

MIN_SAVING_TOL = 1e-9  # pounds: float noise must not flip a gain that equals the threshold


class Scope(Enum):
    """What a rule looks at, which decides how the engine evaluates it."""

    FIT = "fit"  # a child's profile against a placement: once per distinct profile
    PAIR = "pair"  # the pair itself (its distance, a recorded exclusion)
    RUN = "run"  # re-allocation columns and options; never binds at the current placement
    MODEL = "model"  # beds and groups: rows of the model, not a pair-by-pair mask


class Waiver(Enum):
    """Whether a placement failing only this rule is shown to a manager as a near miss."""

    NEVER = "never"  # the law, a recorded risk, a care plan's faith: no one may waive it
    MANAGER = "manager"  # a manager may approve it, within the reach `near` describes
    NO = "no"  # not offered: the child's own fit, or a setting of the run


# --------------------------------------------------------------------------- check inputs


@dataclass(frozen=True)
class Fit:
    """Inputs of the fit rules: child (or sibling-group) rows against placement columns.

    Arrays broadcast together: the engine passes rows as (n, 1) and columns as (1, m); the
    generator passes one array per side of equal length. A group is its members' union:
    youngest and oldest age, the set of genders, every need.
    """

    age_lo: np.ndarray
    age_hi: np.ndarray
    genders: np.ndarray  # bit set over Gender codes
    types: np.ndarray  # the care plan: bit set over PlacementType codes (default filled in)
    faith: np.ndarray  # code, the same vocabulary as `pfaith`
    faith_match: np.ndarray  # FaithMatch code
    needs: tuple[np.ndarray, ...]  # bit-set words
    ptype: np.ndarray  # PlacementType code
    age_min: np.ndarray
    age_max: np.ndarray
    accepts: np.ndarray  # genders accepted: bit set over Gender codes
    pfaith: np.ndarray
    supports: tuple[np.ndarray, ...]  # needs supported: bit-set words
    rating: np.ndarray  # Rating code
    floor: int  # Rating code of the policy's `min_ofsted_rating`


@dataclass(frozen=True)
class Pairs:
    """Inputs of the pair and run rules, over the same broadcast shape as `Fit`."""

    km: np.ndarray
    max_km: np.ndarray  # inf (or nan) where the child has no limit
    excluded: np.ndarray
    is_current: np.ndarray  # the pair is the child's current placement
    pinned: np.ndarray | None = None  # the child stays where it lives
    held: np.ndarray | None = None  # the placement is on hold
    later: np.ndarray | None = None  # its vacancies open after the run's date
    stay: np.ndarray | None = None  # the child's own terms where it lives (nan: waiting)
    terms: PairTerms | None = None  # the objective's terms of the pairs
    min_saving: float | None = None  # the run's minimum own saving of a move
    reserved: np.ndarray | None = None  # the placement takes only the children it names
    named: np.ndarray | None = None  # the pair is one a reservation names
    interest: np.ndarray | None = None  # no move, or a move in the child's interest


# --------------------------------------------------------------------------- the checks


def _supported_under_16(x: Fit) -> np.ndarray:
    return (x.ptype == PlacementType.SUPPORTED_ACCOMMODATION) & (x.age_lo < SUPPORTED_MIN_AGE)


def _placement_type(x: Fit) -> np.ndarray:
    return ((x.types.astype(np.int64) >> x.ptype.astype(np.int64)) & 1) == 0


def _age_range(x: Fit) -> np.ndarray:
    return (x.age_lo < x.age_min) | (x.age_hi > x.age_max)


def _gender(x: Fit) -> np.ndarray:
    return (x.genders.astype(np.int64) & ~x.accepts.astype(np.int64)) != 0


def _needs(x: Fit) -> np.ndarray:
    shape = np.broadcast_shapes(np.shape(x.age_lo), np.shape(x.ptype))
    missing = np.zeros(shape, dtype=bool)
    for need, have in zip(x.needs, x.supports, strict=True):
        if need.any():
            missing |= (need & ~have) != 0
    return missing


def _faith_required(x: Fit) -> np.ndarray:
    return (x.faith_match == FaithMatch.REQUIRED) & (x.faith != x.pfaith)


def _ofsted_rating(x: Fit) -> np.ndarray:
    return (x.rating > x.floor) & (x.rating != Rating.NOT_RATED)


def _exclusion(x: Pairs) -> np.ndarray:
    return x.excluded


def _max_distance(x: Pairs) -> np.ndarray:
    return x.km > x.max_km


def _reserved(x: Pairs) -> np.ndarray | None:
    if x.reserved is None or x.named is None or not x.reserved.any():
        return None
    return x.reserved & ~x.named


def _move_interest(x: Pairs) -> np.ndarray | None:
    if x.interest is None:
        return None
    return ~x.interest & ~x.is_current


def _pinned(x: Pairs) -> np.ndarray | None:
    if x.pinned is None or not x.pinned.any():
        return None
    return x.pinned & ~x.is_current


def _on_hold(x: Pairs) -> np.ndarray | None:
    if x.held is None or not x.held.any():
        return None
    return x.held & ~x.is_current


def _not_yet_available(x: Pairs) -> np.ndarray | None:
    if x.later is None:
        return None
    later = x.later & ~x.held if x.held is not None else x.later
    if not later.any():
        return None  # a held placement is reported as on hold, not as not yet open
    return later & ~x.is_current


def _min_saving(x: Pairs) -> np.ndarray | None:
    if x.min_saving is None or x.stay is None or x.terms is None:
        return None
    placed = np.isfinite(x.stay)
    if not placed.any():
        return None
    gain = x.stay - x.terms.own
    return placed & ~x.is_current & (gain < x.min_saving - MIN_SAVING_TOL)


# --------------------------------------------------------------------------- the words


@dataclass(frozen=True)
class Breach:
    """One rule broken at several placements by members of one referral (match's words)."""

    inst: Instance
    members: np.ndarray  # child indices
    ids: list[str]  # their child ids
    cols: np.ndarray  # placements
    who: list[list[int]]  # per placement, the positions in `members` that break the rule
    pattern: np.ndarray  # per placement, a code equal where `who` is (then one shared list)
    km: np.ndarray  # (members, cols) distances
    exclusion_reason: Mapping[tuple[int, int], str]


def who_text(inst: Instance, members: np.ndarray) -> str:
    """'a 15-year-old (F)' or 'the 3 siblings together (ages 4, 7, 9)'."""
    if len(members) == 1:
        c = int(members[0])
        return f"a {int(inst.age[c])}-year-old ({GENDERS[int(inst.gender[c])]})"
    ages = ", ".join(str(int(inst.age[c])) for c in members)
    return f"the {len(members)} siblings together (ages {ages})"


def _types_words(inst: Instance, members: np.ndarray) -> str:
    mask = int(np.bitwise_and.reduce(inst.types_allowed[members].astype(np.int64)))
    types = [t for i, t in enumerate(PLACEMENT_TYPES) if mask >> i & 1]
    if set(types) == set(DEFAULT_TYPES):
        return ("are of a type open without a specific care plan "
                "(not secure or parent and child)")
    return f"are of a type in the care plan ({', '.join(types) or 'none'})"


def _needs_words(inst: Instance, members: np.ndarray) -> str:
    needs = np.bitwise_or.reduce(inst.needs[members], axis=0)
    return f"can meet needs {', '.join(inst.needs_of(needs))}"


def _faith_words(inst: Instance, members: np.ndarray) -> str:
    faiths = sorted({inst.faiths[int(inst.faith[c])] for c in members
                     if inst.faith_match[c] == FaithMatch.REQUIRED and inst.faith[c] >= 0})
    return f"have the required faith ({', '.join(faiths)})"


def _rating_words(inst: Instance, members: np.ndarray) -> str:
    floor = inst.policy.rules.min_ofsted_rating
    ok = ", ".join(RATINGS[: RATINGS.index(floor) + 1])
    return f"have an Ofsted rating the authority allows ({ok} or not rated)"


def _min_saving_words(inst: Instance, members: np.ndarray) -> str:
    return (f"would save the child at least £{inst.reallocation.min_saving or 0:,.0f}/week "
            "(cost and distance) over staying")


def _reserved_detail(b: Breach) -> list[str]:
    return [f"reserved for {b.inst.reserved_for[p] if b.inst.reserved_for is not None else ''}"
            f" (a connected-person carer or a bed matched to a named child)"
            for p in b.cols.tolist()]


def _move_words(inst: Instance, members: np.ndarray) -> str:
    return (f"would be a move in the child's interest (at least "
            f"{inst.policy.rules.min_move_km:g} km nearer home, the child's faith, a step "
            "down to a family, or a current placement that breaks a rule)")


def _by_pattern(b: Breach) -> list[tuple[list[int], np.ndarray]]:
    """Each distinct set of members breaking the rule, with the positions in `b.cols` where
    it is the set."""
    if len(b.who) == 0:
        return []
    code = b.pattern
    if code.min() == code.max():
        return [(b.who[0], np.arange(len(b.who)))]
    order = np.argsort(code, kind="stable")
    cuts = np.flatnonzero(np.diff(code[order])) + 1
    return [(b.who[int(at[0])], at) for at in np.split(order, cuts)]


def _once_per_key(b: Breach, key: np.ndarray, say: Callable[[list[int], int], str]
                  ) -> list[str]:
    """`say(w, j)` at each placement `j` with members `w`, said once per distinct members
    and `key` (an integer per placement that, with the members, fixes the words)."""
    out = np.full(len(b.who), "", dtype=object)
    for w, at in _by_pattern(b):
        first, inv = _first_and_code(key[at])
        words = np.empty(len(first), dtype=object)
        words[:] = [say(w, j) for j in at[first].tolist()]
        out[at] = words[inv.ravel()]
    return list(out.tolist())


def _first_and_code(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct key, ascending, a position where it occurs (the key fixes the words, so
    any one will do); and per position, the index of its key among them (`np.unique`'s
    index and inverse; a count rather than a sort when the keys are small integers)."""
    if len(key) == 0 or int(key.min()) < 0 or int(key.max()) > 1 << 20:
        _, first, inv = np.unique(key, return_index=True, return_inverse=True)
        return first, inv.ravel()
    seen = np.bincount(key)
    distinct = np.flatnonzero(seen)
    code = np.zeros(len(seen), dtype=np.int64)
    code[distinct] = np.arange(len(distinct))
    where = np.empty(len(seen), dtype=np.int64)
    where[key] = np.arange(len(key))
    return where[distinct], code[key]


def _ages_said(b: Breach, w: list[int]) -> str:
    ages = b.inst.age[b.members].tolist()
    return ", ".join(f"{b.ids[i]} is {ages[i]}" for i in w)


def _supported_detail(b: Breach) -> list[str]:
    return _once_per_key(b, np.zeros(len(b.cols), np.int64), lambda w, _: (
        f"supported accommodation may not take a child under 16 ({_ages_said(b, w)})"))


def _age_detail(b: Breach) -> list[str]:
    lo, hi = b.inst.age_min[b.cols].astype(np.int64), b.inst.age_max[b.cols].astype(np.int64)
    los, his = lo.tolist(), hi.tolist()
    # one small integer per (youngest, oldest) pair: equal pairs, equal keys
    key = (lo - lo.min()) * (hi.max() - hi.min() + 1) + (hi - hi.min()) if len(lo) else lo
    return _once_per_key(b, key, lambda w, j: (
        f"accepts ages {los[j]}-{his[j]} ({_ages_said(b, w)})"))


def _exclusion_detail(b: Breach) -> list[str]:
    return ["recorded exclusion (" + "; ".join(
        f"{b.ids[i]}: {b.exclusion_reason.get((int(b.members[i]), p), 'no reason recorded')}"
        for i in w) + ")" for p, w in zip(b.cols.tolist(), b.who, strict=True)]


def _gender_detail(b: Breach) -> list[str]:
    g = b.inst.gender[b.members].tolist()
    allowed = b.inst.genders_allowed[b.cols].astype(np.int64)
    ok = allowed.tolist()
    return _once_per_key(b, allowed, lambda w, j: (
        f"accepts gender {'/'.join(x for k, x in enumerate(GENDERS) if ok[j] >> k & 1)}"
        f" only (" + ", ".join(f"{b.ids[i]} is {GENDERS[g[i]]}" for i in w) + ")"))


def _unmet(b: Breach) -> tuple[list[str], list[list[int]]]:
    """The distinct sets of needs a placement cannot meet ('autism, deafness'), and per
    member, per placement, which of them it is (each set decoded once, not per placement)."""
    inst = b.inst
    unmet = inst.needs[b.members][:, None, :] & ~inst.needs_supported[b.cols][None, :, :]
    flat = unmet.reshape(-1, unmet.shape[-1])
    if flat.shape[1] == 1:
        masks, code = np.unique(flat[:, 0], return_inverse=True)
        masks = masks[:, None]
    else:
        masks, code = np.unique(flat, axis=0, return_inverse=True)
    words = [", ".join(inst.needs_of(x)) for x in masks]
    return words, code.reshape(len(b.members), len(b.cols)).tolist()


def _needs_detail(b: Breach) -> list[str]:
    words, code = _unmet(b)
    if len(code) == 1 and all(b.who):  # one child, named at every placement
        said = [f"cannot meet needs ({b.ids[0]}: {t})" for t in words]
        return [said[x] for x in code[0]]
    each = [[f"{who}: {t}" for t in words] for who in b.ids]
    return [f"cannot meet needs ({'; '.join(each[i][code[i][j]] for i in w)})"
            for j, w in enumerate(b.who)]


def _faith_detail(b: Breach) -> list[str]:
    inst = b.inst
    want = [inst.faiths[x] if x >= 0 else "a faith" for x in inst.faith[b.members].tolist()]
    have = [inst.faiths[x] if x >= 0 else "none recorded" for x in inst.pfaith[b.cols].tolist()]
    return ["; ".join(f"{b.ids[i]} requires {want[i]}" for i in w)
            + f"; the placement's faith is {h}" for h, w in zip(have, b.who, strict=True)]


def _rating_detail(b: Breach) -> list[str]:
    floor = b.inst.policy.rules.min_ofsted_rating
    return [f"rated {Rating(r).word}, below the authority's floor ({floor})"
            for r in b.inst.rating[b.cols].tolist()]


def _type_detail(b: Breach) -> list[str]:
    ptype = b.inst.ptype[b.cols].astype(np.int64)
    types = ptype.tolist()
    return _once_per_key(b, ptype, lambda w, j: (
        f"{PlacementType(types[j]).word} is not in the care plan of "
        f"{', '.join(b.ids[i] for i in w)}"))


def _distance_detail(b: Breach) -> list[str]:
    lim = b.inst.max_distance_km[b.members].tolist()
    over = [f" km over the {x:g} km limit" for x in lim]
    out = np.full(len(b.who), "", dtype=object)
    for w, at in _by_pattern(b):
        said = [distance_words(b.ids[i], b.km[i, at], lim[i], over[i]) for i in w]
        if len(said) == 1:
            out[at] = said[0]
        elif said:
            out[at] = list(map("; ".join, zip(*(x.tolist() for x in said), strict=True)))
    return list(out.tolist())


def distance_words(who: str, km: np.ndarray, lim: float, over: str) -> np.ndarray:
    """`f"{who}: {d:.1f} km from home, {d - lim:.1f}{over}"` at each distance `d`, as an
    object array: said once per distinct pair of roundings (a national register has tens
    of thousands of placements, but a few thousand tenths of a km)."""
    km = np.asarray(km, dtype=np.float64)
    d, d_unsure = _tenths(km)
    o, o_unsure = _tenths(km - lim)
    uniq, inv = np.unique(d << 31 | o, return_inverse=True)
    words = np.empty(len(uniq), dtype=object)
    words[:] = [f"{who}: {a // 10}.{a % 10} km from home, {c // 10}.{c % 10}{over}"
                for a, c in zip((uniq >> 31).tolist(), (uniq & 0x7FFFFFFF).tolist(),
                                strict=True)]
    out = words[inv.ravel()]
    bad = np.flatnonzero(d_unsure | o_unsure)
    for j, x in zip(bad.tolist(), km[bad].tolist(), strict=True):
        out[j] = f"{who}: {x:.1f} km from home, {x - lim:.1f}{over}"
    return out


def _tenths(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`x` in whole tenths, rounded as `f"{x:.1f}"` rounds; and where that cannot be told
    this way (near a half tenth, where the rounding of the exact binary value decides;
    negative, huge or not finite), for the caller to format those one by one."""
    t = x * 10.0
    with np.errstate(invalid="ignore"):
        unsure = ~((t >= 0.0) & (t < 1e9)) | (np.abs(t - np.floor(t) - 0.5) < 1e-6)
        n = np.where(unsure, 0.0, np.floor(t + 0.5))
    return n.astype(np.int64), unsure


@dataclass(frozen=True)
class Waived:
    """A placement failing one waivable rule, offered to a manager (match's near misses)."""

    inst: Instance
    placement: int
    by: float  # how far off, in the rule's `near_unit`
    free: int  # beds free there for the referral
    size: int  # children in the referral
    detail: Callable[[], str]  # the rule's `detail` words at this placement, on demand


def _distance_waiver(w: Waived) -> str:
    return f"{w.detail()}; waive the limit by {w.by:.1f} km to use it"


def _type_waiver(w: Waived) -> str:
    return (f"{w.inst.type_name(w.placement)} is not in the care plan; add it to the plan "
            f"to use this placement")


def _rating_waiver(w: Waived) -> str:
    return (f"rated {w.inst.rating_name(w.placement)}, one level below the authority's "
            f"floor ({w.inst.policy.rules.min_ofsted_rating}); needs a manager's approval")


def _capacity_waiver(w: Waived) -> str:
    return (f"{w.free} free bed(s) for a group of {w.size}: one bed short; the group could "
            f"be split, or a bed added, with approval")


# --------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class RuleDef:
    """One hard rule: see the module docstring for what each field is for."""

    rule: Rule
    scope: Scope
    text: str  # one sentence, for any reader: what breaking it means
    fit: Callable[[Fit], np.ndarray] | None = None
    pair: Callable[[Pairs], np.ndarray | None] | None = None  # None result: cannot bind here
    model: str = ""  # MODEL scope: where the engine enforces it instead of a mask
    waiver: Waiver = Waiver.NO
    near: str = ""  # MANAGER waiver: how near a placement must be to be offered
    near_unit: str = ""  # what the near miss is measured in
    waiver_words: Callable[[Waived], str] | None = None  # the near miss, for a manager
    funnel: int | None = None  # place in the funnel of an unplaced child's explanation
    triage: int | None = None  # place in match's order of ruled-out placements
    funnel_words: Callable[[Instance, np.ndarray], str] | None = None  # "N of those <...>"
    void_words: str = ""  # "N <...>": waiting children this rule keeps from a void bed
    detail: Callable[[Breach], list[str]] | None = None  # match: per ruled-out placement
    checker: bool = True  # the independent checker re-derives it from the files

    @property
    def has_engine_check(self) -> bool:
        return self.fit is not None or self.pair is not None or bool(self.model)


def _const(words: str) -> Callable[[Instance, np.ndarray], str]:
    return lambda inst, members: words


DEFINITIONS: tuple[RuleDef, ...] = (
    RuleDef(
        Rule.SUPPORTED_UNDER_16, Scope.FIT,
        "supported accommodation may not take a child under 16",
        fit=_supported_under_16, waiver=Waiver.NEVER, funnel=1, triage=0,
        funnel_words=_const("are not supported accommodation (the child is under 16)"),
        void_words="are under 16 (supported accommodation)", detail=_supported_detail),
    RuleDef(
        Rule.PLACEMENT_TYPE, Scope.FIT, "the placement type is not in the child's care plan",
        fit=_placement_type, waiver=Waiver.MANAGER, near_unit="type", waiver_words=_type_waiver,
        near="a type open without a specific care plan (never secure or parent and child)",
        funnel=0, triage=7, funnel_words=_types_words,
        void_words="do not have this type of placement in their care plan",
        detail=_type_detail),
    RuleDef(
        Rule.AGE_RANGE, Scope.FIT, "the placement does not accept the child's age",
        fit=_age_range, funnel=3, triage=2,
        funnel_words=lambda inst, members: f"accept {who_text(inst, members)}",
        void_words="are outside its age range", detail=_age_detail),
    RuleDef(
        Rule.GENDER, Scope.FIT, "the placement does not accept the child's gender",
        fit=_gender, funnel=4, triage=3,
        funnel_words=lambda inst, members: "accept gender " + ", ".join(
            sorted({Gender(int(inst.gender[c])).word for c in members})),
        void_words="are of a gender it does not accept", detail=_gender_detail),
    RuleDef(
        Rule.NEEDS, Scope.FIT, "the placement cannot meet all of the child's needs",
        fit=_needs, funnel=5, triage=4, funnel_words=_needs_words,
        void_words="have needs it cannot meet", detail=_needs_detail),
    RuleDef(
        Rule.FAITH_REQUIRED, Scope.FIT, "the child's care plan requires a carer of the same faith",
        fit=_faith_required, waiver=Waiver.NEVER, funnel=6, triage=5,
        funnel_words=_faith_words, void_words="need a carer of another faith",
        detail=_faith_detail),
    RuleDef(
        Rule.OFSTED_RATING, Scope.FIT,
        "the placement's Ofsted rating is below the authority's floor",
        fit=_ofsted_rating, waiver=Waiver.MANAGER,
        near="rated one level below the floor, never inadequate",
        near_unit="level", waiver_words=_rating_waiver, funnel=7, triage=6,
        funnel_words=_rating_words,
        void_words="cannot go there (Ofsted rating below the authority's floor)",
        detail=_rating_detail),
    RuleDef(
        Rule.EXCLUSION, Scope.PAIR, "the child must not go to this placement (recorded exclusion)",
        pair=_exclusion, waiver=Waiver.NEVER, funnel=8, triage=1,
        funnel_words=_const("are not excluded for this child"), void_words="are excluded from it",
        detail=_exclusion_detail),
    RuleDef(
        Rule.MAX_DISTANCE, Scope.PAIR, "the placement is further from home than the child's limit",
        pair=_max_distance, waiver=Waiver.MANAGER, near="within a few km of the limit",
        near_unit="km", waiver_words=_distance_waiver, funnel=2, triage=8,
        funnel_words=lambda inst, members:
            f"are within {float(inst.max_distance_km[members].min()):g} km of home",
        void_words="live further away than their distance limit", detail=_distance_detail),
    RuleDef(
        Rule.RESERVED, Scope.PAIR,
        "the placement is reserved for another child or family (reserved_for)",
        pair=_reserved, waiver=Waiver.NEVER, funnel=13, triage=15,
        funnel_words=_const("are not reserved for another child or family"),
        void_words="are not the children it is reserved for", detail=_reserved_detail),
    RuleDef(
        Rule.PINNED, Scope.RUN, "the child is pinned to the current placement (never moved)",
        pair=_pinned, funnel=11, triage=9,
        funnel_words=_const("are the child's current placement (the child is pinned there)")),
    RuleDef(
        Rule.ON_HOLD, Scope.RUN, "the placement is on hold and takes no new child",
        pair=_on_hold, funnel=9, triage=10,
        funnel_words=_const("are open to new children (not on hold)")),
    RuleDef(
        Rule.NOT_YET_AVAILABLE, Scope.RUN, "the placement's vacancies are not available yet",
        pair=_not_yet_available, funnel=10, triage=11,
        funnel_words=lambda inst, members: f"have beds available on {inst.as_of.isoformat()}"),
    RuleDef(
        Rule.MIN_SAVING, Scope.RUN,
        "the move would not save the child's own minimum (cost and distance)",
        pair=_min_saving, funnel=12, triage=12, funnel_words=_min_saving_words, checker=False),
    RuleDef(
        Rule.MOVE_NOT_IN_CHILD_INTEREST, Scope.RUN,
        "a child already placed would move for no reason of its own (cost alone)",
        pair=_move_interest, funnel=14, triage=16, funnel_words=_move_words),
    RuleDef(
        Rule.CAPACITY, Scope.MODEL, "the placement has no room",
        model="a capacity row per placement; unit_blocks drops a unit larger than the capacity",
        waiver=Waiver.MANAGER, near="one bed short, for a sibling group that could be split",
        near_unit="bed", waiver_words=_capacity_waiver, triage=13),
    RuleDef(
        Rule.SOLO, Scope.MODEL, "a child who must live alone shares the placement",
        model="a solo child uses the whole capacity (unit_blocks' `use`)", triage=14),
    RuleDef(
        Rule.SIBLINGS_TOGETHER, Scope.MODEL, "the sibling group is not placed together",
        model="a sibling group is one unit (Instance.units), placed whole or not at all"),
    RuleDef(
        Rule.MAX_MOVES, Scope.MODEL, "the plan may move no more children already placed",
        model="one row bounding the moves (the solver's max_moves row)", checker=False),
)

RULES: dict[Rule, RuleDef] = {d.rule: d for d in DEFINITIONS}
FIT_RULES: tuple[RuleDef, ...] = tuple(d for d in DEFINITIONS if d.scope is Scope.FIT)
PAIR_CHECKS: tuple[RuleDef, ...] = tuple(
    d for d in DEFINITIONS if d.scope in (Scope.PAIR, Scope.RUN))
SPEC_PAIR_RULES: tuple[Rule, ...] = tuple(
    d.rule for d in DEFINITIONS if d.scope in (Scope.FIT, Scope.PAIR))
FUNNEL: tuple[Rule, ...] = tuple(d.rule for d in sorted(
    (d for d in DEFINITIONS if d.funnel is not None), key=lambda d: d.funnel or 0))
TRIAGE: tuple[Rule, ...] = tuple(d.rule for d in sorted(
    (d for d in DEFINITIONS if d.triage is not None), key=lambda d: d.triage or 0))
WAIVABLE: frozenset[Rule] = frozenset(d.rule for d in DEFINITIONS if d.waiver is Waiver.MANAGER)
NEVER_WAIVED: frozenset[Rule] = frozenset(
    d.rule for d in DEFINITIONS if d.waiver is Waiver.NEVER)

