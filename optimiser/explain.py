"""Why a child is unplaced, in words a placement officer understands.

Two cases. No candidate at all: the rules are applied one after another as a funnel
("12 of 250 placements are within 20 km; 3 of those accept a 15-year-old; none of those
can meet needs disability, complex_behaviour"), stopping at the rule that empties it.
Candidates exist but none was used: name the placements and who took their beds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .candidates import evaluate_block
from .instance import Instance
from .rules import DEFAULT_TYPES, GENDERS, PLACEMENT_TYPES, RATINGS, Rule

# funnel order: the care plan first, then where, who, and what
FUNNEL: tuple[Rule, ...] = (
    Rule.PLACEMENT_TYPE,
    Rule.SUPPORTED_UNDER_16,
    Rule.MAX_DISTANCE,
    Rule.AGE_RANGE,
    Rule.GENDER,
    Rule.NEEDS,
    Rule.FAITH_REQUIRED,
    Rule.OFSTED_RATING,
    Rule.EXCLUSION,
)


@dataclass(frozen=True)
class Reason:
    code: str  # a Rule value, or "cheaper_unplaced" / "not_reached"
    text: str


def _who(inst: Instance, members: np.ndarray) -> str:
    if len(members) == 1:
        c = int(members[0])
        return f"a {int(inst.age[c])}-year-old ({GENDERS[int(inst.gender[c])]})"
    ages = ", ".join(str(int(inst.age[c])) for c in members)
    return f"the {len(members)} siblings together (ages {ages})"


def _phrase(inst: Instance, rule: Rule, members: np.ndarray) -> str:
    """How a funnel step reads: '... accept <this>'."""
    if rule is Rule.PLACEMENT_TYPE:
        mask = int(np.bitwise_and.reduce(inst.types_allowed[members].astype(np.int64)))
        types = [t for i, t in enumerate(PLACEMENT_TYPES) if mask >> i & 1]
        if set(types) == set(DEFAULT_TYPES):
            return ("are of a type open without a specific care plan "
                    "(not secure or parent and child)")
        return f"are of a type in the care plan ({', '.join(types) or 'none'})"
    if rule is Rule.SUPPORTED_UNDER_16:
        return "are not supported accommodation (the child is under 16)"
    if rule is Rule.MAX_DISTANCE:
        d = float(inst.max_distance_km[members].min())
        return f"are within {d:g} km of home"
    if rule is Rule.AGE_RANGE:
        return f"accept {_who(inst, members)}"
    if rule is Rule.GENDER:
        gs = sorted({GENDERS[int(inst.gender[c])] for c in members})
        return f"accept gender {', '.join(gs)}"
    if rule is Rule.NEEDS:
        needs = np.bitwise_or.reduce(inst.needs[members], axis=0)
        return f"can meet needs {', '.join(inst.needs_of(needs))}"
    if rule is Rule.FAITH_REQUIRED:
        faiths = sorted({inst.faiths[int(inst.faith[c])] for c in members
                         if inst.faith_match[c] == 2 and inst.faith[c] >= 0})
        return f"have the required faith ({', '.join(faiths)})"
    if rule is Rule.OFSTED_RATING:
        floor = inst.policy.rules.min_ofsted_rating
        ok = ", ".join(RATINGS[: RATINGS.index(floor) + 1])
        return f"have an Ofsted rating the authority allows ({ok} or not rated)"
    if rule is Rule.EXCLUSION:
        return "are not excluded for this child"
    return "pass"


def no_candidate_reason(inst: Instance, unit: int) -> Reason:
    """The funnel of rules that leaves a unit with no placement at all."""
    units = inst.units
    members = units.members(unit)
    cols = np.arange(inst.n_placements)
    total = len(cols)
    if total == 0:
        return Reason("capacity", "the instance has no placements")
    if units.solo[unit] and len(members) > 1:
        return Reason(Rule.SOLO.value,
                      "the sibling group includes a child who must live alone, so the group "
                      "cannot be placed together")
    pb = evaluate_block(inst, members, cols, keep_rules=True)
    alive = np.ones(total, dtype=bool)
    steps: list[str] = []
    for rule in FUNNEL:
        broken = pb.violations[rule].any(axis=0)
        # current placements are exempt for their own child
        nxt = alive & (~broken | pb.feasible.all(axis=0))
        if nxt.sum() == alive.sum():
            continue
        n = int(nxt.sum())
        lead = f"{n} of {total} placements" if not steps else (
            f"{n} of those" if n else "none of those")
        if not steps and n == 0:
            lead = f"none of the {total} placements"
        steps.append(f"{lead} {_phrase(inst, rule, members)}")
        alive = nxt
        if n == 0:
            text = "; ".join(steps)
            return Reason(rule.value, f"{text[0].upper()}{text[1:]}.")
    cap = inst.capacity
    need = len(members)
    room = alive & (cap >= need)
    if not room.any():
        text = "; ".join(steps) if steps else f"{int(alive.sum())} placements accept them"
        return Reason(Rule.CAPACITY.value,
                      f"{text[0].upper()}{text[1:]}; none of those has {need} beds for "
                      f"{_who(inst, members)}.")
    return Reason(Rule.CAPACITY.value, "no placement has room")


def full_reason(inst: Instance, unit: int, candidates: np.ndarray,
                assignment: np.ndarray, proven: bool = True) -> Reason:
    """Candidates exist: say which children took them (ids only)."""
    units = inst.units
    members = units.members(unit)
    if len(candidates) == 0:
        return no_candidate_reason(inst, unit)
    used = np.bincount(assignment[assignment >= 0], minlength=inst.n_placements)
    cap = inst.capacity
    solo_here = assignment[(assignment >= 0) & inst.solo]
    used[solo_here] = np.maximum(used[solo_here], cap[solo_here])  # a solo child fills it
    need = int(inst.capacity[candidates].max()) if units.solo[unit] else len(members)
    has_room = candidates[(cap[candidates] - used[candidates]) >= need] if not units.solo[
        unit] else candidates[used[candidates] == 0]
    if len(has_room) and not proven:
        ids = ", ".join(str(inst.placement_ids[p]) for p in has_room[:3])
        return Reason("not_reached",
                      f"placements with room could take {_who(inst, members)} ({ids}), but the "
                      "solver stopped at its time limit before finding a better plan; run it "
                      "longer or ask for a match for this child")
    if len(has_room):
        return Reason("cheaper_unplaced",
                      "a placement with room exists, but the authority's weights make leaving "
                      "the child unplaced cheaper than any of them; review the policy weights")
    parts = []
    for p in candidates[:3].tolist():
        takers = [str(inst.child_ids[c]) for c in np.flatnonzero(assignment == p)[:4]]
        more = int((assignment == p).sum()) - len(takers)
        who = ", ".join(takers) + (f" and {more} more" if more > 0 else "")
        parts.append(f"{inst.placement_ids[p]} (taken by {who})" if who else
                     f"{inst.placement_ids[p]}")
    n = len(candidates)
    lead = (f"all {n} placements that could take {_who(inst, members)} are full"
            if n > 1 else f"the only placement that could take {_who(inst, members)} is full")
    extra = f", among them {'; '.join(parts)}" if n > 3 else f": {'; '.join(parts)}"
    if units.solo[unit]:
        lead += " (the child must live alone, so needs an empty placement)"
    return Reason(Rule.CAPACITY.value, f"{lead[0].upper()}{lead[1:]}{extra}.")


def feasible_placements(inst: Instance, unit: int) -> np.ndarray:
    """Every placement that could take the whole unit if it had room (all pairs, unpruned)."""
    units = inst.units
    members = units.members(unit)
    cols = np.arange(inst.n_placements)
    pb = evaluate_block(inst, members, cols)
    ok = pb.feasible.all(axis=0) & (inst.capacity >= len(members))
    if units.solo[unit]:
        ok &= len(members) == 1
    return cols[ok]


def unplaced_reasons(inst: Instance, assignment: np.ndarray,
                     proven: bool = True) -> dict[int, Reason]:
    """Reason per unplaced child index."""
    units = inst.units
    out: dict[int, Reason] = {}
    unplaced_units = np.unique(units.unit_of[assignment < 0])
    for u in unplaced_units.tolist():
        cands = feasible_placements(inst, u)
        reason = full_reason(inst, u, cands, assignment, proven) if len(cands) else (
            no_candidate_reason(inst, u))
        for c in units.members(u).tolist():
            out[c] = reason
    return out


def review_list(inst: Instance, assignment: np.ndarray) -> list[tuple[int, int, list[str]]]:
    """Children kept in a current placement that now breaks a rule (spec: report it)."""
    out = []
    stay = np.flatnonzero((inst.current >= 0) & (assignment == inst.current))
    for c in stay.tolist():
        p = int(inst.current[c])
        pb = evaluate_block(inst, np.array([c]), np.array([p]), keep_rules=True)
        broken = [r.value for r, m in pb.violations.items() if m[0, 0]]
        if broken:
            out.append((c, p, broken))
    return out
