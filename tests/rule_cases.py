"""One table of tiny cases per hard rule, shared by the engine's tests and the checker's.

For every rule, two cases built from the same rows: in one the rule binds, in the other
one column is changed and it does not. Each case names a `plan` (child -> placement, ""
unplaced) that the binding rule forbids and that is the engine's own optimum when the rule
does not bind. tests/test_rule_registry.py runs every case through the engine (its mask
for the pair, and a full solve) and through the independent checker, which shares no
rule code with the engine: the two must agree with the table and with each other.
Ids only, never names.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from builders import write_instance
from policies import COST_MOVES

from optimiser.rules import Rule

DAY = dt.date(2026, 1, 1)  # the as-of date of every case (available_from is compared with it)


@dataclass(frozen=True)
class RuleCase:
    """A tiny instance, a plan, and whether the rule forbids that plan."""

    rule: Rule
    binds: bool
    children: list[dict[str, Any]]
    placements: list[dict[str, Any]]
    plan: dict[str, str]  # child -> placement ("" unplaced)
    pair: tuple[str, str] | None = None  # the (child, placement) a per-pair rule is about
    exclusions: list[dict[str, Any]] = field(default_factory=list)
    policy: str | None = None
    run: dict[str, Any] = field(default_factory=dict)  # re-allocation options of the solve

    @property
    def name(self) -> str:
        return f"{self.rule.value}-{'binds' if self.binds else 'free'}"

    def write(self, folder: Path) -> Path:
        return write_instance(folder, self.children, self.placements,
                              exclusions=self.exclusions or None, policy=self.policy)


def _pair(rule: Rule, child: dict[str, Any], placement: dict[str, Any],
          fixed: dict[str, Any], *, fixed_child: dict[str, Any] | None = None,
          exclusions: list[dict[str, Any]] | None = None,
          run: dict[str, Any] | None = None) -> tuple[RuleCase, RuleCase]:
    """One child, one placement P1: `placement` breaks the rule, `fixed` mends it."""

    def case(binds: bool) -> RuleCase:
        kid = {"child_id": "C1", **child, **({} if binds else fixed_child or {})}
        place = {"placement_id": "P1", **placement, **({} if binds else fixed)}
        return RuleCase(rule, binds, [kid], [place], {"C1": "P1"}, ("C1", "P1"),
                        exclusions=(exclusions or []) if binds else [], run=run or {})

    return case(True), case(False)


def _build() -> dict[Rule, tuple[RuleCase, RuleCase]]:
    cases: dict[Rule, tuple[RuleCase, RuleCase]] = {
        Rule.AGE_RANGE: _pair(Rule.AGE_RANGE, {"age": 15}, {"age_min": 0, "age_max": 12},
                              {"age_max": 17}),
        Rule.GENDER: _pair(Rule.GENDER, {"gender": "M"}, {"genders": "F"}, {"genders": "F;M"}),
        Rule.NEEDS: _pair(Rule.NEEDS, {"needs": "disability;complex_behaviour"},
                          {"needs_supported": "disability"},
                          {"needs_supported": "disability;complex_behaviour"}),
        Rule.FAITH_REQUIRED: _pair(Rule.FAITH_REQUIRED,
                                   {"faith": "sikh", "faith_match": "required"},
                                   {"faith": "christian"}, {"faith": "sikh"}),
        Rule.OFSTED_RATING: _pair(Rule.OFSTED_RATING, {},
                                  {"type": "external_residential",
                                   "ofsted_rating": "inadequate"},
                                  {"ofsted_rating": "requires_improvement"}),
        Rule.MAX_DISTANCE: _pair(Rule.MAX_DISTANCE, {"max_distance_km": 0.5}, {},
                                 {"lat": 52.001}),
        Rule.PLACEMENT_TYPE: _pair(Rule.PLACEMENT_TYPE, {"placement_types": "inhouse_foster"},
                                   {"type": "ifa_foster"}, {"type": "inhouse_foster"}),
        Rule.SUPPORTED_UNDER_16: _pair(Rule.SUPPORTED_UNDER_16, {"age": 15},
                                       {"type": "supported_accommodation", "age_min": 0},
                                       {"type": "ifa_foster"}),
        Rule.EXCLUSION: _pair(Rule.EXCLUSION, {}, {}, {}, exclusions=[
            {"child_id": "C1", "placement_id": "P1", "reason": "previous breakdown"}]),
        Rule.ON_HOLD: _pair(Rule.ON_HOLD, {}, {"on_hold_reason": "illness"},
                            {"on_hold_reason": ""}),
        Rule.NOT_YET_AVAILABLE: _pair(Rule.NOT_YET_AVAILABLE, {},
                                      {"available_from": "2026-02-01"},
                                      {"available_from": "2025-12-01"}),
    }
    # a child who lives at a dear home P1 and would move to a cheap one P2: a move for
    # money alone, so these cases of the run's limits turn move_only_in_child_interest off
    home = {"placement_id": "P1", "vacancies": 0, "weekly_cost": 2000}
    cheap = {"placement_id": "P2", "vacancies": 1, "weekly_cost": 1000}

    def mover(rule: Rule, child: dict[str, Any], run: dict[str, Any],
              free_child: dict[str, Any], free_run: dict[str, Any]) -> tuple[RuleCase, RuleCase]:
        def case(binds: bool) -> RuleCase:
            kid = {"child_id": "C1", "current_placement": "P1", **child,
                   **({} if binds else free_child)}
            return RuleCase(rule, binds, [kid], [home, cheap], {"C1": "P2"}, ("C1", "P2"),
                            policy=COST_MOVES, run=run if binds else free_run)

        return case(True), case(False)

    cases[Rule.PINNED] = mover(Rule.PINNED, {"pinned": "true"}, {}, {"pinned": "false"}, {})
    # the move saves the child £1,000/week: below a £1,500 minimum, above £500
    cases[Rule.MIN_SAVING] = mover(Rule.MIN_SAVING, {}, {"min_saving": 1500.0}, {},
                                   {"min_saving": 500.0})
    cases[Rule.MAX_MOVES] = mover(Rule.MAX_MOVES, {}, {"max_moves": 0}, {}, {"max_moves": 1})
    cases[Rule.RESERVED] = _pair(Rule.RESERVED, {}, {"type": "kinship_foster",
                                                     "reserved_for": "C9"},
                                 {"reserved_for": "C1"})

    def for_money(binds: bool) -> RuleCase:
        """The move to P2 only saves money; the free case's home P1 is 21 km further away."""
        far = {**home, "lat": 52.0 if binds else 52.2}
        kid = {"child_id": "C1", "current_placement": "P1", "home_lat": 52.009}
        return RuleCase(Rule.MOVE_NOT_IN_CHILD_INTEREST, binds, [kid], [far, cheap],
                        {"C1": "P2"}, ("C1", "P2"),
                        policy="[rules]\nmove_only_in_child_interest = true\n")

    cases[Rule.MOVE_NOT_IN_CHILD_INTEREST] = (for_money(True), for_money(False))

    two = [{"child_id": "C1"}, {"child_id": "C2"}]
    cases[Rule.CAPACITY] = (
        RuleCase(Rule.CAPACITY, True, two, [{"placement_id": "P1", "vacancies": 1}],
                 {"C1": "P1", "C2": "P1"}),
        RuleCase(Rule.CAPACITY, False, two, [{"placement_id": "P1", "vacancies": 2}],
                 {"C1": "P1", "C2": "P1"}))
    cases[Rule.SOLO] = tuple(  # type: ignore[assignment]
        RuleCase(Rule.SOLO, solo, [{"child_id": "C1", "solo": str(solo).lower()},
                                   {"child_id": "C2"}],
                 [{"placement_id": "P1", "vacancies": 2}], {"C1": "P1", "C2": "P1"})
        for solo in (True, False))
    # each sibling lives nearer one of two one-bed homes, so a split has one best form
    group = [{"child_id": "C1", "sibling_group": "G1"},
             {"child_id": "C2", "sibling_group": "G1", "home_lat": 52.03}]
    apart = [{"placement_id": "P1", "vacancies": 1},
             {"placement_id": "P2", "vacancies": 1, "lat": 52.03}]
    cases[Rule.SIBLINGS_TOGETHER] = tuple(  # type: ignore[assignment]
        RuleCase(Rule.SIBLINGS_TOGETHER, not split, group, apart, {"C1": "P1", "C2": "P2"},
                 policy=f"[rules]\nsplit_siblings = {str(split).lower()}\n")
        for split in (False, True))
    return cases


CASES: dict[Rule, tuple[RuleCase, RuleCase]] = _build()
ALL_CASES: list[RuleCase] = [c for pair in CASES.values() for c in pair]
