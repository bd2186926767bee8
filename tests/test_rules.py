"""One pair of tests per hard rule: a tiny instance where it binds, one where it does not.

Binding: the only placement breaks the rule, so the child is unplaced and the reason
names that rule's code. Not binding: the same instance minus the defect places the child.
Every solution also passes the independent checker (see builders.solve_and_check).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import placement_of, solve_and_check, write_instance
from rule_cases import CASES

from optimiser.rules import PAIR_RULES, Rule

# The spec's per-pair rules, each with one placement P1 that breaks it or, mended, fits:
# the shared table of tests/rule_cases.py, seen here through the solve and its reasons.
PAIR_CASES = [r for r in PAIR_RULES if r is not Rule.EXCLUSION]  # exclusion: below


@pytest.mark.parametrize("rule", PAIR_CASES, ids=lambda r: r.value)
def test_rule_binds(tmp_path: Path, rule: Rule) -> None:
    folder = CASES[rule][0].write(tmp_path / "i")
    _, a, _ = solve_and_check(folder)
    assert placement_of(a, "C1") == ""
    assert a.loc["C1", "reason_code"] == rule.value
    assert a.loc["C1", "reason"]


@pytest.mark.parametrize("rule", PAIR_CASES, ids=lambda r: r.value)
def test_rule_does_not_bind(tmp_path: Path, rule: Rule) -> None:
    folder = CASES[rule][1].write(tmp_path / "i")
    _, a, _ = solve_and_check(folder)
    assert placement_of(a, "C1") == "P1"


def test_ofsted_floor_is_policy(tmp_path: Path) -> None:
    """With the floor lowered to `inadequate`, the inadequate home is usable."""
    case = CASES[Rule.OFSTED_RATING][0]
    folder = write_instance(tmp_path / "i", case.children, case.placements,
                            policy='[rules]\nmin_ofsted_rating = "inadequate"\n')
    _, a, _ = solve_and_check(folder)
    assert placement_of(a, "C1") == "P1"


def test_not_rated_is_allowed_under_strict_floor(tmp_path: Path) -> None:
    folder = write_instance(tmp_path / "i", [{"child_id": "C1"}],
                            [{"placement_id": "P1", "ofsted_rating": "not_rated"}],
                            policy='[rules]\nmin_ofsted_rating = "outstanding"\n')
    _, a, _ = solve_and_check(folder)
    assert placement_of(a, "C1") == "P1"


@pytest.mark.parametrize("excluded", [True, False])
def test_exclusion(tmp_path: Path, excluded: bool) -> None:
    ex = [{"child_id": "C1", "placement_id": "P1", "reason": "previous breakdown"}]
    folder = write_instance(tmp_path / "i", [{"child_id": "C1"}], [{"placement_id": "P1"}],
                            exclusions=ex if excluded else None)
    _, a, _ = solve_and_check(folder)
    assert placement_of(a, "C1") == ("" if excluded else "P1")
    if excluded:
        assert a.loc["C1", "reason_code"] == "exclusion"


def test_explicit_only_types_need_care_plan(tmp_path: Path) -> None:
    """secure and parent_and_child are not in the default list of types."""
    folder = write_instance(tmp_path / "i", [{"child_id": "C1"},
                                             {"child_id": "C2", "placement_types": "secure"}],
                            [{"placement_id": "P1", "type": "secure", "vacancies": 2}])
    _, a, _ = solve_and_check(folder)
    assert placement_of(a, "C1") == ""
    assert placement_of(a, "C2") == "P1"


@pytest.mark.parametrize("vacancies", [1, 2])
def test_capacity(tmp_path: Path, vacancies: int) -> None:
    folder = write_instance(tmp_path / "i", [{"child_id": "C1"}, {"child_id": "C2"}],
                            [{"placement_id": "P1", "vacancies": vacancies}])
    _, a, _ = solve_and_check(folder)
    placed = int((a["placement_id"] == "P1").sum())
    assert placed == vacancies
    if vacancies == 1:
        unplaced = a[a["placement_id"] == ""]
        assert unplaced["reason_code"].tolist() == ["capacity"]
        assert "taken by" in unplaced["reason"].iloc[0]


@pytest.mark.parametrize("resident_stays", [True, False])
def test_capacity_counts_current_residents(tmp_path: Path, resident_stays: bool) -> None:
    """vacancies 0 + one resident = capacity 1: the resident or the newcomer, not both."""
    children = [{"child_id": "C1", "current_placement": "P1"}, {"child_id": "C2"}]
    placements = [{"placement_id": "P1", "vacancies": 0},
                  {"placement_id": "P2", "vacancies": 1 if resident_stays else 0,
                   "lat": 52.3}]
    folder = write_instance(tmp_path / "i", children, placements)
    _, a, _ = solve_and_check(folder)
    assert placement_of(a, "C1") == "P1"  # moving costs 500 plus distance
    assert placement_of(a, "C2") == ("P2" if resident_stays else "")


@pytest.mark.parametrize("solo", [True, False])
def test_solo(tmp_path: Path, solo: bool) -> None:
    children = [{"child_id": "C1", "solo": "true" if solo else "false", "priority": 2},
                {"child_id": "C2"}]
    folder = write_instance(tmp_path / "i", children, [{"placement_id": "P1", "vacancies": 2}])
    _, a, _ = solve_and_check(folder)
    assert placement_of(a, "C1") == "P1"
    assert placement_of(a, "C2") == ("" if solo else "P1")


@pytest.mark.parametrize("room", [2, 3])
def test_siblings_together(tmp_path: Path, room: int) -> None:
    """A group of three is placed whole or not at all (split_siblings = false)."""
    kids = [{"child_id": f"C{i}", "sibling_group": "G1"} for i in (1, 2, 3)]
    folder = write_instance(tmp_path / "i", kids,
                            [{"placement_id": "P1", "vacancies": room},
                             {"placement_id": "P2", "vacancies": 1}])
    _, a, _ = solve_and_check(folder)
    where = {placement_of(a, f"C{i}") for i in (1, 2, 3)}
    assert where == ({"P1"} if room == 3 else {""})
    if room == 2:
        assert (a["reason_code"] == "capacity").all()


@pytest.mark.parametrize("split", [True, False])
def test_split_siblings_policy(tmp_path: Path, split: bool) -> None:
    """With split_siblings the group spreads over two placements and pays the penalty."""
    kids = [{"child_id": f"C{i}", "sibling_group": "G1"} for i in (1, 2, 3)]
    folder = write_instance(
        tmp_path / "i", kids,
        [{"placement_id": "P1", "vacancies": 2}, {"placement_id": "P2", "vacancies": 1}],
        policy=f"[rules]\nsplit_siblings = {'true' if split else 'false'}\n")
    result, a, report = solve_and_check(folder)
    placed = a[a["placement_id"] != ""]
    if split:
        assert len(placed) == 3
        assert report.terms["sibling_split"] == pytest.approx(1000.0)
    else:
        assert len(placed) == 0


def test_group_with_solo_child_cannot_be_placed(tmp_path: Path) -> None:
    kids = [{"child_id": "C1", "sibling_group": "G1", "solo": "true"},
            {"child_id": "C2", "sibling_group": "G1"}]
    folder = write_instance(tmp_path / "i", kids, [{"placement_id": "P1", "vacancies": 3}])
    _, a, _ = solve_and_check(folder)
    assert (a["placement_id"] == "").all()
    assert (a["reason_code"] == "solo").all()


@pytest.mark.parametrize("current", [True, False])
def test_current_placement_breaking_a_rule_stays_candidate(tmp_path: Path,
                                                           current: bool) -> None:
    """A rating dropped since: the child may stay (reported for review); nobody new goes."""
    children = [{"child_id": "C1", "current_placement": "P1" if current else ""},
                {"child_id": "C2"}]
    placements = [{"placement_id": "P1", "ofsted_rating": "inadequate", "vacancies": 1,
                   "type": "external_residential"}]
    folder = write_instance(tmp_path / "i", children, placements)
    _, a, _ = solve_and_check(folder)
    assert placement_of(a, "C1") == ("P1" if current else "")
    assert placement_of(a, "C2") == ""
    review = folder.parent / "i-out" / "review.csv"
    assert review.exists() == current
    if current:
        assert "ofsted_rating" in review.read_text()


@pytest.mark.parametrize("unplaced_weight, placed", [(10.0, False), (100000.0, True)])
def test_unplaced_cheaper_than_any_placement_is_explained(tmp_path: Path,
                                                          unplaced_weight: float,
                                                          placed: bool) -> None:
    """A placement with room costing more than the unplaced penalty: the child stays out."""
    folder = write_instance(tmp_path / "i", [{"child_id": "C1"}], [{"placement_id": "P1"}],
                            policy=f"[weights]\nunplaced = {unplaced_weight}\n")
    _, a, _ = solve_and_check(folder)
    assert placement_of(a, "C1") == ("P1" if placed else "")
    if not placed:
        assert a.loc["C1", "reason_code"] == "cheaper_unplaced"
