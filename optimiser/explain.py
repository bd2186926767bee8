"""Why a child is unplaced, in words a placement officer understands.

Two cases. No candidate at all: the rules are applied one after another as a funnel
("12 of 250 placements are within 20 km; 3 of those accept a 15-year-old; none of those
can meet needs disability, complex_behaviour"), stopping at the rule that empties it.
Candidates exist but none was used: name the placements and who took their beds.
"""

from __future__ import annotations

import time
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
                assignment: np.ndarray, proven: bool = True,
                used: np.ndarray | None = None) -> Reason:
    """Candidates exist: say which children took them (ids only). `used`: beds taken per
    placement in `assignment` (`beds_used`), when the caller has it."""
    units = inst.units
    members = units.members(unit)
    if len(candidates) == 0:
        return no_candidate_reason(inst, unit)
    if used is None:
        used = beds_used(inst, assignment)
    cap = inst.capacity
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


def beds_used(inst: Instance, assignment: np.ndarray) -> np.ndarray:
    """Beds taken per placement by a per-child plan (a solo child fills its placement)."""
    used = np.bincount(assignment[assignment >= 0], minlength=inst.n_placements)
    cap = inst.capacity
    solo_here = assignment[(assignment >= 0) & inst.solo]
    used[solo_here] = np.maximum(used[solo_here], cap[solo_here])
    return used


def feasible_placements(inst: Instance, unit: int) -> np.ndarray:
    """Every placement that could take the whole unit if it had room (all pairs, unpruned)."""
    return feasible_by_unit(inst, np.array([unit]))[unit]


REASON_BLOCK = 2_000_000  # (child, placement) cells evaluated at once when explaining


def unit_batches(inst: Instance, units_list: np.ndarray) -> list[np.ndarray]:
    """`units_list` cut into runs whose members times the placements fit a block."""
    size = inst.units.size[units_list].astype(np.int64)
    per = max(1, REASON_BLOCK // max(inst.n_placements, 1))
    out, start, rows = [], 0, 0
    for i, n in enumerate(size.tolist()):
        if rows and rows + n > per:
            out.append(units_list[start:i])
            start, rows = i, 0
        rows += n
    if start < len(units_list):
        out.append(units_list[start:])
    return out


def feasible_by_unit(inst: Instance, batch: np.ndarray) -> dict[int, np.ndarray]:
    """`feasible_placements` of each unit of `batch`, the rules evaluated for all at once."""
    units = inst.units
    cols = np.arange(inst.n_placements)
    members = [units.members(u) for u in batch.tolist()]
    if not members:
        return {}
    rows = np.concatenate(members)
    starts = np.cumsum([0] + [len(m) for m in members[:-1]])
    feasible = evaluate_block(inst, rows, cols).feasible
    whole = np.logical_and.reduceat(feasible, starts, axis=0) if len(cols) else (
        np.zeros((len(members), 0), dtype=bool))
    out: dict[int, np.ndarray] = {}
    for i, u in enumerate(batch.tolist()):
        n = len(members[i])
        ok = whole[i] & (inst.capacity >= n)
        if units.solo[u]:
            ok &= n == 1
        out[u] = cols[ok]
    return out


NOT_EXPLAINED = Reason("not_explained",
                       "the time limit ended before the reason was worked out; run it longer "
                       "or ask for a match for this child")


def unplaced_reasons(inst: Instance, assignment: np.ndarray, proven: bool = True,
                     deadline: float | None = None) -> dict[int, Reason]:
    """Reason per unplaced child index. Past `deadline` (a `time.perf_counter()` value),
    the children not yet explained get `NOT_EXPLAINED`."""
    units = inst.units
    out: dict[int, Reason] = {}
    unplaced_units = np.unique(units.unit_of[assignment < 0])
    used = beds_used(inst, assignment)
    for batch in unit_batches(inst, unplaced_units):
        late = deadline is not None and time.perf_counter() > deadline
        feasible = {} if late else feasible_by_unit(inst, batch)
        for u in batch.tolist():
            if late:
                reason = NOT_EXPLAINED
            elif len(feasible[u]):
                reason = full_reason(inst, u, feasible[u], assignment, proven, used)
            else:
                reason = no_candidate_reason(inst, u)
            for c in units.members(u).tolist():
                out[c] = reason
    return out


REVIEW_BLOCK = 128  # children checked at once for the review list


def review_list(inst: Instance, assignment: np.ndarray) -> list[tuple[int, int, list[str]]]:
    """Children kept in a current placement that now breaks a rule (spec: report it)."""
    stay = np.flatnonzero((inst.current >= 0) & (assignment == inst.current))
    # by placement, so that a block's children share few placements: only the pair of
    # each child and its own placement is wanted
    stay = stay[np.argsort(inst.current[stay], kind="stable")]
    found: dict[int, list[str]] = {}
    for s in range(0, len(stay), REVIEW_BLOCK):
        rows = stay[s:s + REVIEW_BLOCK]
        cols, at = np.unique(inst.current[rows], return_inverse=True)
        pb = evaluate_block(inst, rows, cols, keep_rules=True)
        shape = (len(rows), len(cols))  # a rule's mask may be a broadcast row or column
        i = np.arange(len(rows))
        hits = {r: np.broadcast_to(np.asarray(m), shape)[i, at]
                for r, m in pb.violations.items()}
        for k, c in enumerate(rows.tolist()):
            broken = [r.value for r, m in hits.items() if m[k]]
            if broken:
                found[c] = broken
    return [(c, int(inst.current[c]), found[c]) for c in sorted(found)]


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


VOID_NOT_EXPLAINED = Reason("not_explained",
                            "the time limit ended before the reason was worked out")


def void_reasons(inst: Instance, places: np.ndarray, free: np.ndarray,
                 assignment: np.ndarray, proven: bool = True,
                 deadline: float | None = None) -> dict[int, Reason]:
    """`void_reason` for many placements: the rules evaluated for blocks of placements at
    once (a region has thousands of void beds, too many to evaluate one at a time). Past
    `deadline` (a `time.perf_counter()` value) the rest get `VOID_NOT_EXPLAINED`."""
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
        if deadline is not None and time.perf_counter() > deadline:
            out.update(dict.fromkeys(cols.tolist(), VOID_NOT_EXPLAINED))
            continue
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
