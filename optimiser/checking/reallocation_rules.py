"""The rules of re-allocation, one named function per rule code: on_hold,
not_yet_available, pinned, move_not_in_child_interest.

They concern children already living somewhere (current_placement) and placements that
take no newcomer for now; a child who stays where it lives is never a newcomer.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from optimiser.checking.loading import SpecInstance
from optimiser.checking.pair_rules import pair_rule_masks
from optimiser.checking.placed import placed_frame
from optimiser.checking.report import Violation
from optimiser.rules import PAIR_RULES, Rule

STEP_DOWN_FROM = ("inhouse_residential", "external_residential", "secure")
STEP_DOWN_TO = ("inhouse_foster", "kinship_foster", "ifa_foster")


def on_hold(cid: str, p: str, reason: str) -> Violation | None:
    """A placement on hold (illness, safeguarding...) keeps its residents but takes no
    newcomer."""
    if not reason:
        return None
    return Violation(Rule.ON_HOLD.value, cid, p,
                     f"child {cid} is new to {p}, which is on hold ({reason})")


def not_yet_available(cid: str, p: str, opens: dt.date | None, day: dt.date) -> Violation | None:
    """Before its available_from date a placement takes no newcomer."""
    if opens is None or opens <= day:
        return None
    return Violation(Rule.NOT_YET_AVAILABLE.value, cid, p,
                     f"child {cid} is new to {p}, whose vacancies open on "
                     f"{opens.isoformat()} (after {day.isoformat()})")


def closed_to_newcomers(inst: SpecInstance, m: pd.DataFrame, violations: list[Violation],
                        day: dt.date) -> None:
    """on_hold, else not_yet_available, for every child new to its placement: capacity
    alone would let a newcomer take a leaver's bed. One violation a child at the most."""
    pl = inst.placements
    hold = pl["on_hold_reason"].astype(str).to_dict()
    opening: dict[str, dt.date | None] = {str(k): v for k, v in pl["available_from"].items()}
    new = m[m["placement_id"] != m["current_placement"]]
    for cid, p in zip(new.index, new["placement_id"], strict=True):
        found = (on_hold(str(cid), str(p), hold[p])
                 or not_yet_available(str(cid), str(p), opening[p], day))
        if found is not None:
            violations.append(found)


def pinned(inst: SpecInstance, eff: pd.DataFrame, violations: list[Violation]) -> None:
    """A pinned child with a current placement must stay in it (unplaced is a move too)."""
    ch = inst.children
    pins = ch["pinned"] & (ch["current_placement"] != "")
    moved = pins & (eff["placement_id"] != ch["current_placement"])
    for cid in ch.index[moved]:
        home = str(ch.at[cid, "current_placement"])
        now = str(eff.at[cid, "placement_id"]) or "no placement"
        violations.append(
            Violation(
                Rule.PINNED.value,
                str(cid),
                str(eff.at[cid, "placement_id"]) or None,
                f"child {cid} is pinned to {home} but is assigned "
                f"to {now}",
            )
        )


def _home_breaks_a_rule(inst: SpecInstance,
                        moved: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Each moved child at its current placement, and whether that now breaks a pair rule."""
    home_eff = pd.DataFrame({"placement_id": moved["current_placement"], "given_cost": "",
                             "given_km": "", "present": True}, index=moved.index)
    home = placed_frame(inst, home_eff)
    masks = pair_rule_masks(inst, home)
    breaks = pd.Series(False, index=home.index)
    for rule in PAIR_RULES:
        breaks |= masks[rule]
    return home, breaks


def _moved_for_its_own_reason(inst: SpecInstance, moved: pd.DataFrame) -> pd.Series:
    """The child's own reasons to move: nearer home by min_move_km, to its faith, a step
    down from residential or secure care to a family, or a home that now breaks a rule."""
    home, breaks = _home_breaks_a_rule(inst, moved)
    closer = home["km"] - moved["km"] >= inst.policy.min_move_km - 1e-9
    wants = moved["faith_match"].isin(["preferred", "required"]) & (moved["faith"] != "")
    faith = wants & (moved["p_faith"] == moved["faith"]) & (home["p_faith"] != moved["faith"])
    step = home["p_type"].isin(STEP_DOWN_FROM) & moved["p_type"].isin(STEP_DOWN_TO)
    return closer | faith | step | breaks


def move_not_in_child_interest(inst: SpecInstance, eff: pd.DataFrame, m: pd.DataFrame,
                               violations: list[Violation]) -> None:
    """move_only_in_child_interest: a placed child is never left unplaced, and moves only
    for a reason of its own (see `_moved_for_its_own_reason`), never for cost alone."""
    if not inst.move_rule:
        return
    ch = inst.children
    placed = ch["current_placement"] != ""
    for cid in ch.index[placed & (eff["placement_id"] == "")]:
        violations.append(Violation(
            Rule.MOVE_NOT_IN_CHILD_INTEREST.value, str(cid), None,
            f"child {cid} lives at {ch.at[cid, 'current_placement']!s} and is left without a "
            "placement"))
    moved = m[(m["current_placement"] != "") & (m["current_placement"] != m["placement_id"])]
    if moved.empty:
        return
    ok = _moved_for_its_own_reason(inst, moved)
    for cid in moved.index[~ok]:
        violations.append(Violation(
            Rule.MOVE_NOT_IN_CHILD_INTEREST.value, str(cid), str(moved.at[cid, "placement_id"]),
            f"child {cid} moves from {moved.at[cid, 'current_placement']!s} to "
            f"{moved.at[cid, 'placement_id']!s} for no reason of its own (not "
            f"{inst.policy.min_move_km:g} km nearer home, not its faith, no step-down, and "
            "its placement breaks none of its rules)"))
