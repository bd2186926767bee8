"""The reference model itself, on cases whose optimum is worked out by hand: it is the
oracle of the golden values and of the property tests, so it must be right on its own."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from builders import write_instance
from policies import COST_MOVES
from reference_model import read_spec, solve_reference


def _zero_km(kids: list[dict], pls: list[dict]) -> list[dict]:
    return [{"child_id": k["child_id"], "placement_id": p["placement_id"], "km": 0}
            for k in kids for p in pls]


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_swap_beats_greedy(tmp_path: Path, solver: str) -> None:
    """C1->P2 (10 km) + C2->P1 (1 km): 5 x 11 = £55 (costs 0)."""
    d = {("C1", "P1"): 0, ("C1", "P2"): 10, ("C2", "P1"): 1, ("C2", "P2"): 100}
    folder = write_instance(
        tmp_path / "i", [{"child_id": "C1"}, {"child_id": "C2"}],
        [{"placement_id": "P1", "weekly_cost": 0}, {"placement_id": "P2", "weekly_cost": 0}],
        distances=[{"child_id": c, "placement_id": p, "km": km} for (c, p), km in d.items()])
    ref = solve_reference(folder, solver=solver)
    assert ref.objective == pytest.approx(55.0)
    assert ref.assignment == {"C1": "P2", "C2": "P1"}


@pytest.mark.parametrize("excluded, expected", [(False, 1900.0), (True, 101000.0)])
def test_group_placed_whole_and_exclusion(tmp_path: Path, excluded: bool,
                                          expected: float) -> None:
    kids = [{"child_id": "C1", "sibling_group": "G1"}, {"child_id": "C2", "sibling_group": "G1"},
            {"child_id": "C3"}]
    pls = [{"placement_id": "P1", "vacancies": 2, "weekly_cost": 500},
           {"placement_id": "P2", "vacancies": 1, "weekly_cost": 900}]
    ex = [{"child_id": "C3", "placement_id": "P2", "reason": "risk"}] if excluded else None
    folder = write_instance(tmp_path / "i", kids, pls, exclusions=ex,
                            distances=_zero_km(kids, pls))
    assert solve_reference(folder).objective == pytest.approx(expected)


def test_split_siblings_pays_the_split_penalty(tmp_path: Path) -> None:
    """Two single beds at £100 beat the double at £5,000 when the group may split
    (£200 + £1,000 split); placed whole otherwise."""
    kids = [{"child_id": "C1", "sibling_group": "G"}, {"child_id": "C2", "sibling_group": "G"}]
    pls = [{"placement_id": "P1", "weekly_cost": 100}, {"placement_id": "P2", "weekly_cost": 100},
           {"placement_id": "P3", "vacancies": 2, "weekly_cost": 5000}]
    for split, expected in ((True, 1200.0), (False, 10000.0)):
        folder = write_instance(tmp_path / f"s{split}", kids, pls, distances=_zero_km(kids, pls),
                                policy=f"[rules]\nsplit_siblings = {str(split).lower()}\n")
        assert solve_reference(folder).objective == pytest.approx(expected)


@pytest.mark.parametrize("p2_cost, expected", [(500, 800.0), (200, 700.0)])
def test_move_penalty(tmp_path: Path, p2_cost: float, expected: float) -> None:
    kids = [{"child_id": "C1", "current_placement": "P1"}]
    pls = [{"placement_id": "P1", "weekly_cost": 800, "vacancies": 0},
           {"placement_id": "P2", "weekly_cost": p2_cost}]
    folder = write_instance(tmp_path / "i", kids, pls, distances=_zero_km(kids, pls),
                            policy=COST_MOVES)  # the move is for money alone
    assert solve_reference(folder).objective == pytest.approx(expected)
    on = write_instance(tmp_path / "on", kids, pls, distances=_zero_km(kids, pls))
    assert solve_reference(on).assignment == {"C1": "P1"}  # the default: no move for money


def test_solo_child_takes_the_whole_placement(tmp_path: Path) -> None:
    """P1 (2 beds, £100) holds the solo child or the other, never both: the other pays
    P2's £3,000 or the solo child is left out (£100,000)."""
    kids = [{"child_id": "C1", "solo": "true"}, {"child_id": "C2"}]
    pls = [{"placement_id": "P1", "vacancies": 2, "weekly_cost": 100},
           {"placement_id": "P2", "weekly_cost": 3000}]
    folder = write_instance(tmp_path / "i", kids, pls, distances=_zero_km(kids, pls))
    ref = solve_reference(folder)
    assert ref.objective == pytest.approx(3100.0)
    assert ref.assignment["C1"] != ref.assignment["C2"] != ""


def test_faith_preference_priority_and_rules(tmp_path: Path) -> None:
    """One bed: the priority-3 child gets it; preferred faith differs: + £200. An
    inadequate placement and one of the wrong age are never used."""
    kids = [{"child_id": "C1", "priority": 3, "faith": "muslim", "faith_match": "preferred"},
            {"child_id": "C2"}]
    pls = [{"placement_id": "P1", "faith": "christian"},
           {"placement_id": "P2", "ofsted_rating": "inadequate", "weekly_cost": 0},
           {"placement_id": "P3", "age_min": 12, "weekly_cost": 0}]
    folder = write_instance(tmp_path / "i", kids, pls, distances=_zero_km(kids, pls))
    ref = solve_reference(folder)
    assert ref.assignment == {"C1": "P1", "C2": ""}
    assert ref.objective == pytest.approx(100700.0)


def test_reallocation_inputs(tmp_path: Path) -> None:
    """C1 lives at dear P1 and would move to cheap P2 (£3,000 - £400 > £500): pinned it
    stays. P3 is on hold: C2 cannot go there and waits. With max_moves 0 and no pin, C1
    stays too."""
    kids = [{"child_id": "C1", "current_placement": "P1"}, {"child_id": "C2"}]
    pls = [{"placement_id": "P1", "vacancies": 0, "weekly_cost": 3000},
           {"placement_id": "P2", "vacancies": 1, "weekly_cost": 400},
           {"placement_id": "P3", "vacancies": 1, "weekly_cost": 0, "on_hold_reason": "illness"}]
    day = dt.date(2025, 6, 2)
    folder = write_instance(tmp_path / "free", kids, pls, distances=_zero_km(kids, pls),
                            policy=COST_MOVES)
    free = solve_reference(read_spec(folder, day=day))
    assert free.objective == pytest.approx(3400.0)  # C2 at P2 beats C1 moving
    assert free.assignment == {"C1": "P1", "C2": "P2"}
    kids[1]["needs"] = "disability"  # now C2 fits nowhere: C1 moves to P2
    folder = write_instance(tmp_path / "moved", kids, pls, distances=_zero_km(kids, pls),
                            policy=COST_MOVES)
    moved = solve_reference(read_spec(folder, day=day))
    assert moved.assignment == {"C1": "P2", "C2": ""}
    assert moved.objective == pytest.approx(400 + 500 + 100000.0)
    assert solve_reference(read_spec(folder, day=day, max_moves=0)).objective == \
        pytest.approx(3000 + 100000.0)
    kids[0]["pinned"] = "true"
    folder = write_instance(tmp_path / "pinned", kids, pls, distances=_zero_km(kids, pls),
                            policy=COST_MOVES)
    assert solve_reference(read_spec(folder, day=day)).assignment == {"C1": "P1", "C2": ""}


def _mover(tmp_path: Path, name: str, kid: dict, home: dict, there: dict,
           km: tuple[float, float] = (0.0, 0.0), policy: str | None = None) -> str:
    """C1 lives at P1 (£3,000) and P2 (£400) has a bed: where does the reference put C1?
    `km`: C1's distance to P1 and to P2."""
    kids = [{"child_id": "C1", "current_placement": "P1", **kid}]
    pls = [{"placement_id": "P1", "vacancies": 0, "weekly_cost": 3000, **home},
           {"placement_id": "P2", "vacancies": 1, "weekly_cost": 400, **there}]
    dist = [{"child_id": "C1", "placement_id": p, "km": k}
            for p, k in zip(("P1", "P2"), km, strict=True)]
    folder = write_instance(tmp_path / name, kids, pls, distances=dist, policy=policy)
    return solve_reference(folder).assignment["C1"]


def test_moves_only_in_the_child_interest(tmp_path: Path) -> None:
    """The default rule: £2,600 a week saved is no reason; each of the spec's four is."""
    assert _mover(tmp_path, "money", {}, {}, {}) == "P1"
    assert _mover(tmp_path, "off", {}, {}, {}, policy=COST_MOVES) == "P2"
    # 1. nearer home by min_move_km (10 km by default; 9.99 is not enough)
    assert _mover(tmp_path, "near", {}, {}, {}, km=(20.0, 10.0)) == "P2"
    assert _mover(tmp_path, "near-not", {}, {}, {}, km=(20.0, 10.01)) == "P1"
    assert _mover(tmp_path, "near-5", {}, {}, {}, km=(20.0, 14.0),
                  policy="[rules]\nmin_move_km = 5.0\n") == "P2"
    # 2. the child's faith, which its placement does not share
    sikh = {"faith": "sikh", "faith_match": "preferred"}
    assert _mover(tmp_path, "faith", sikh, {}, {"faith": "sikh"}) == "P2"
    assert _mover(tmp_path, "faith-same", sikh, {"faith": "sikh"}, {"faith": "sikh"}) == "P1"
    assert _mover(tmp_path, "faith-none", {"faith": "sikh"}, {}, {"faith": "sikh"}) == "P1"
    # 3. a step down from residential care to a family
    res = {"type": "external_residential"}
    assert _mover(tmp_path, "down", {}, res, {"type": "ifa_foster"}) == "P2"
    assert _mover(tmp_path, "across", {}, res, {"type": "inhouse_residential"}) == "P1"
    # 4. the current placement now breaks one of the child's rules
    assert _mover(tmp_path, "breaks", {"needs": "disability"}, {},
                  {"needs_supported": "disability"}) == "P2"


def test_a_placed_child_is_never_left_unplaced_and_groups_move_child_by_child(
        tmp_path: Path) -> None:
    """A priority-5 newcomer wants C1's only bed: C1 keeps it (£500,000 unplaced, not
    £100,000). Siblings C2 and C3 at P2 may move to P3 only if it is nearer home for each."""
    kids = [{"child_id": "C1", "current_placement": "P1"}, {"child_id": "C4", "priority": 5}]
    pls = [{"placement_id": "P1", "vacancies": 0}]
    folder = write_instance(tmp_path / "keep", kids, pls, distances=_zero_km(kids, pls))
    ref = solve_reference(folder)
    assert ref.assignment == {"C1": "P1", "C4": ""}
    assert ref.objective == pytest.approx(500 + 5 * 100000.0)
    off = write_instance(tmp_path / "off", kids, pls, distances=_zero_km(kids, pls),
                         policy=COST_MOVES)
    assert solve_reference(off).assignment == {"C1": "", "C4": "P1"}
    for c3_at_p3, expected in ((5.0, "P3"), (15.0, "P2")):
        sibs = [{"child_id": c, "current_placement": "P2", "sibling_group": "G"}
                for c in ("C2", "C3")]
        pls = [{"placement_id": "P2", "vacancies": 0, "weekly_cost": 900},
               {"placement_id": "P3", "vacancies": 2, "weekly_cost": 100}]
        km = {("C2", "P2"): 20, ("C2", "P3"): 5, ("C3", "P2"): 20, ("C3", "P3"): c3_at_p3}
        dist = [{"child_id": c, "placement_id": p, "km": k} for (c, p), k in km.items()]
        folder = write_instance(tmp_path / f"g{c3_at_p3}", sibs, pls, distances=dist)
        assert set(solve_reference(folder).assignment.values()) == {expected}


def test_reserved_placement_and_out_of_area_weight(tmp_path: Path) -> None:
    """P1 (£0) is reserved for group G1: C1 of G1 may live there, C2 may not. With an
    out_of_area weight of £300, C3 (authority E1) prefers P3 in e1 at £300 to P2 in E2
    at £100; with no weight, P2 (C2, 10 km from P2, takes the other)."""
    kids = [{"child_id": "C1", "sibling_group": "G1"}, {"child_id": "C2"},
            {"child_id": "C3", "authority": "E1"}]
    pls = [{"placement_id": "P1", "weekly_cost": 0, "vacancies": 2, "reserved_for": "G1; C9"},
           {"placement_id": "P2", "weekly_cost": 100, "authority": "E2"},
           {"placement_id": "P3", "weekly_cost": 300, "authority": " e1 "},
           {"placement_id": "P4", "weekly_cost": 5000}]
    for weight, c3 in ((300.0, "P3"), (0.0, "P2")):
        km = [{**d, "km": 10} if (d["child_id"], d["placement_id"]) == ("C2", "P2") else d
              for d in _zero_km(kids, pls)]  # C2 is £50 better off at P3: no tie
        folder = write_instance(tmp_path / f"w{weight}", kids, pls, distances=km,
                                policy=f"[weights]\nout_of_area = {weight}\n")
        ref = solve_reference(folder)
        assert ref.assignment["C1"] == "P1" and ref.assignment["C2"] != "P1"
        assert ref.assignment["C3"] == c3
