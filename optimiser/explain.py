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
from .registry import FUNNEL, RULES, who_text
from .rules import Rule


@dataclass(frozen=True)
class Reason:
    code: str  # a Rule value, or "cheaper_unplaced" / "not_reached"
    text: str


def _phrase(inst: Instance, rule: Rule, members: np.ndarray) -> str:
    """How a funnel step reads: '... <words>' (the registry's words for the rule)."""
    words = RULES[rule].funnel_words
    return words(inst, members) if words is not None else "pass"


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
                      f"{who_text(inst, members)}.")
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
                      f"placements with room could take {who_text(inst, members)} ({ids}), but the "
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
    lead = (f"all {n} placements that could take {who_text(inst, members)} are full"
            if n > 1 else f"the only placement that could take {who_text(inst, members)} is full")
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


# --------------------------------------------------------------------------- void beds

def void_reason(inst: Instance, p: int, free: int, assignment: np.ndarray,
                proven: bool = True) -> Reason:
    """Why an offered bed at `p` stays empty in the plan, in words.

    Looks at the waiting children the plan leaves unplaced: each is ruled out by the
    first rule it breaks (funnel order), and the counts are given per rule; a child that
    passes every rule is named with what else stops it (beds, living alone, the weights).
    """
    return void_reasons(inst, np.array([p]), np.array([free]), assignment, proven)[p]


VOID_BLOCK = 2_000_000  # (waiting child, placement) cells evaluated at once


def void_reasons(inst: Instance, places: np.ndarray, free: np.ndarray,
                 assignment: np.ndarray, proven: bool = True) -> dict[int, Reason]:
    """`void_reason` for many placements: the rules evaluated for blocks of placements at
    once (a region has thousands of void beds, too many to evaluate one at a time)."""
    out: dict[int, Reason] = {}
    waiting = np.flatnonzero((inst.current < 0) & (assignment < 0))
    if len(waiting) == 0:
        for p in places.tolist():
            out[p] = Reason("no_waiting_child",
                            "every waiting child has a placement in this plan")
        return out
    step = max(1, VOID_BLOCK // len(waiting))
    for s in range(0, len(places), step):
        cols = np.asarray(places[s:s + step], dtype=np.int64)
        pb = evaluate_block(inst, waiting, cols, keep_rules=True)
        # first rule each child breaks at each placement (funnel order), -1: none
        first = np.full((len(waiting), len(cols)), -1, dtype=np.int64)
        for k in range(len(FUNNEL) - 1, -1, -1):
            first[np.asarray(pb.violations[FUNNEL[k]], dtype=bool)] = k
        for j, p in enumerate(cols.tolist()):
            col = first[:, j]
            hits = np.bincount(col[col >= 0], minlength=len(FUNNEL))
            counts = {FUNNEL[k]: int(n) for k, n in enumerate(hits.tolist()) if n}
            fits = waiting[col < 0].tolist()
            out[p] = _void_text(inst, p, int(free[s + j]), waiting, counts, fits, proven)
    return out


def _void_text(inst: Instance, p: int, free: int, waiting: np.ndarray,
               counts: dict[Rule, int], fits: list[int], proven: bool) -> Reason:
    units = inst.units
    if fits:
        # every rule passes for these: beds, solo or the weights stop them
        sizes = {c: int(units.size[units.unit_of[c]]) for c in fits}
        big = [c for c in fits if sizes[c] > free]
        solo = [c for c in fits if inst.solo[c] and int(inst.capacity[p]) > free]
        if len(big) == len(fits):
            ids = ", ".join(str(inst.child_ids[c]) for c in big[:4])
            return Reason(Rule.CAPACITY.value,
                          f"the waiting children who could live here ({ids}) are in sibling "
                          f"groups of {min(sizes[c] for c in big)} or more, and {free} "
                          f"bed{'s are' if free != 1 else ' is'} free")
        if solo and len(solo) == len(fits):
            return Reason(Rule.SOLO.value, "the waiting children who could live here must "
                          "live alone, and the placement has other children")
        ids = ", ".join(str(inst.child_ids[c]) for c in fits[:4])
        if not proven:
            return Reason("not_reached", f"{ids} could take it, but the solve stopped at its "
                          "time limit first")
        return Reason("cheaper_unplaced", f"{ids} could take it, but the authority's weights "
                      "make leaving them unplaced cheaper; review the policy weights")
    n = len(waiting)
    order = sorted(counts.items(), key=lambda kv: (-kv[1], FUNNEL.index(kv[0])))
    if n == 1:
        rule = order[0][0]
        return Reason(rule.value, f"no waiting child fits: the one still waiting "
                      f"({inst.child_ids[waiting[0]]}) is ruled out: {RULES[rule].text}")
    parts = [f"{k} {RULES[rule].void_words or RULES[rule].text}" for rule, k in order]
    return Reason(order[0][0].value,
                  f"no waiting child fits: of the {n} still waiting, " + "; ".join(parts))
