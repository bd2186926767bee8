"""Tests of the independent checker on tiny hand-made instances (ids only, no names).

Each hard rule gets a pair: a solution that breaks it (the checker must name exactly that
rule) and one that respects it (no violation). Expected numbers are computed here with
`math`, not with the checker's own code, so a wrong formula in the checker fails a test.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

try:
    import optimiser.checker  # noqa: F401
except ModuleNotFoundError:  # the package is not installed: run from the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policies import COST_MOVES  # noqa: E402

from optimiser.checker import CheckReport, Violation, check, format_report  # noqa: E402

R = 6371.0
HOME = (51.5, -0.1)


def hav(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The spec's great-circle distance, written out independently of the checker."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * R * math.asin(math.sqrt(a))


def child(cid: str = "C1", **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "child_id": cid,
        "age": 10,
        "gender": "F",
        "home_lat": HOME[0],
        "home_lon": HOME[1],
    }
    row.update(kw)
    return row


def place(pid: str = "P1", **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "placement_id": pid,
        "provider": "LA",
        "type": "inhouse_foster",
        "vacancies": 1,
        "age_min": 0,
        "age_max": 17,
        "lat": HOME[0],
        "lon": HOME[1],
        "weekly_cost": 500.0,
    }
    row.update(kw)
    return row


def write_instance(
    folder: Path,
    children: list[dict[str, Any]],
    placements: list[dict[str, Any]],
    *,
    exclusions: list[dict[str, Any]] | None = None,
    distances: list[dict[str, Any]] | None = None,
    policy: str | None = None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(children).to_csv(folder / "children.csv", index=False)
    pd.DataFrame(placements).to_csv(folder / "placements.csv", index=False)
    if exclusions is not None:
        pd.DataFrame(exclusions, columns=["child_id", "placement_id", "reason"]).to_csv(
            folder / "exclusions.csv", index=False
        )
    if distances is not None:
        pd.DataFrame(distances).to_csv(folder / "distances.csv", index=False)
    if policy is not None:
        (folder / "policy.toml").write_text(policy, encoding="utf-8")
    return folder


def true_rows(
    children: list[dict[str, Any]],
    placements: list[dict[str, Any]],
    assign: dict[str, str],
    distances: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Assignment rows with the correct weekly_cost/distance_km columns."""
    ch = {c["child_id"]: c for c in children}
    pl = {p["placement_id"]: p for p in placements}
    over = {(d["child_id"], d["placement_id"]): d["km"] for d in distances or []}
    rows = []
    for cid, pid in assign.items():
        if not pid:
            rows.append({"child_id": cid, "placement_id": "", "weekly_cost": "",
                         "distance_km": "", "reason": "no placement meets the rules"})  # fmt: skip
            continue
        c, p = ch[cid], pl[pid]
        km = over.get((cid, pid), hav(c["home_lat"], c["home_lon"], p["lat"], p["lon"]))
        rows.append({"child_id": cid, "placement_id": pid, "weekly_cost": p["weekly_cost"],
                     "distance_km": round(km, 6), "reason": ""})  # fmt: skip
    return rows


def write_solution(
    folder: Path, rows: list[dict[str, Any]], summary: dict[str, Any] | None = None
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cols = ["child_id", "placement_id", "weekly_cost", "distance_km", "reason"]
    pd.DataFrame(rows, columns=cols).to_csv(folder / "assignments.csv", index=False)
    if summary is not None:
        (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return folder


def run(
    tmp_path: Path,
    children: list[dict[str, Any]],
    placements: list[dict[str, Any]],
    assign: dict[str, str],
    *,
    summary: dict[str, Any] | None = None,
    **inst_kw: Any,
) -> CheckReport:
    inst = write_instance(tmp_path / "inst", children, placements, **inst_kw)
    rows = true_rows(children, placements, assign, inst_kw.get("distances"))
    sol = write_solution(tmp_path / "sol", rows, summary)
    return check(inst, sol)


def codes(report: CheckReport) -> set[str]:
    return {v.rule for v in report.violations}


# --------------------------------------------------------------------------- per-pair rules

FAR = (51.6, -0.1)  # about 11.1 km north of HOME
PAIR_CASES: dict[str, tuple[dict[str, Any], ...]] = {
    # rule: (broken child kw, broken placement kw, ok child kw, ok placement kw, extra kw)
    "age_range": ({"age": 10}, {"age_min": 11}, {"age": 10}, {"age_min": 10, "age_max": 10}, {}),
    "gender": ({"gender": "F"}, {"genders": "M;X"}, {"gender": "F"}, {"genders": "M; F"}, {}),
    "needs": (
        {"needs": "disability;complex_behaviour"},
        {"needs_supported": "disability"},
        {"needs": "disability;complex_behaviour"},
        {"needs_supported": "complex_behaviour ; disability;autism"},
        {},
    ),
    "faith_required": (
        {"faith": "muslim", "faith_match": "required"},
        {"faith": "christian"},
        {"faith": "muslim", "faith_match": "required"},
        {"faith": "muslim"},
        {},
    ),
    "ofsted_rating": ({}, {"ofsted_rating": "inadequate"}, {}, {"ofsted_rating": "not_rated"}, {}),
    "max_distance": (
        {"max_distance_km": 5},
        {"lat": FAR[0], "lon": FAR[1]},
        {"max_distance_km": 20},
        {"lat": FAR[0], "lon": FAR[1]},
        {},
    ),
    "placement_type": (
        {},
        {"type": "secure"},
        {"placement_types": "secure"},
        {"type": "secure"},
        {},
    ),
    "supported_accommodation_under_16": (
        {"age": 15},
        {"type": "supported_accommodation"},
        {"age": 16},
        {"type": "supported_accommodation"},
        {},
    ),
}


@pytest.mark.parametrize("rule", sorted(PAIR_CASES))
def test_pair_rule_broken(tmp_path: Path, rule: str) -> None:
    ck, pk, _, _, _ = PAIR_CASES[rule]
    report = run(tmp_path, [child(**ck)], [place(**pk)], {"C1": "P1"})
    assert codes(report) == {rule}
    assert not report.ok
    (v,) = report.violations
    assert (v.child_id, v.placement_id) == ("C1", "P1")
    assert "C1" in v.detail and "P1" in v.detail


@pytest.mark.parametrize("rule", sorted(PAIR_CASES))
def test_pair_rule_respected(tmp_path: Path, rule: str) -> None:
    _, _, ck, pk, _ = PAIR_CASES[rule]
    report = run(tmp_path, [child(**ck)], [place(**pk)], {"C1": "P1"})
    assert report.violations == ()
    assert report.ok
    assert report.placed == 1 and report.unplaced == 0


def test_exclusion_broken_and_respected(tmp_path: Path) -> None:
    chs, pls = [child()], [place("P1"), place("P2")]
    excl = [{"child_id": "C1", "placement_id": "P1", "reason": "broke down before"}]
    broken = run(tmp_path / "a", chs, pls, {"C1": "P1"}, exclusions=excl)
    assert codes(broken) == {"exclusion"}
    fine = run(tmp_path / "b", chs, pls, {"C1": "P2"}, exclusions=excl)
    assert fine.violations == () and fine.ok


def test_faith_required_with_missing_placement_faith_is_broken(tmp_path: Path) -> None:
    report = run(tmp_path, [child(faith="sikh", faith_match="required")], [place()], {"C1": "P1"})
    assert codes(report) == {"faith_required"}


def test_ofsted_floor_comes_from_policy(tmp_path: Path) -> None:
    policy = '[rules]\nmin_ofsted_rating = "good"\n'
    pls = [place(ofsted_rating="requires_improvement")]
    strict = run(tmp_path / "a", [child()], pls, {"C1": "P1"}, policy=policy)
    assert codes(strict) == {"ofsted_rating"}
    default = run(tmp_path / "b", [child()], pls, {"C1": "P1"})
    assert default.ok


def test_child_type_list_excludes_unlisted_type(tmp_path: Path) -> None:
    report = run(tmp_path, [child(placement_types="ifa_foster")], [place()], {"C1": "P1"})
    assert codes(report) == {"placement_type"}


def test_supported_under_16_applies_even_when_care_plan_lists_it(tmp_path: Path) -> None:
    chs = [child(age=15, placement_types="supported_accommodation")]
    report = run(tmp_path, chs, [place(type="supported_accommodation")], {"C1": "P1"})
    assert codes(report) == {"supported_accommodation_under_16"}


# --------------------------------------------------------------------------- current placement


def test_current_placement_exception_goes_to_review(tmp_path: Path) -> None:
    chs = [
        child("C1", current_placement="P1", needs="disability"),
        child("C2", needs="disability"),
    ]
    pls = [
        place("P1", vacancies=1, ofsted_rating="inadequate"),
        place("P2", needs_supported="disability"),
    ]
    report = run(tmp_path, chs, pls, {"C1": "P1", "C2": "P2"})
    # C1 stays where it lives although the rating dropped and a need was recorded: allowed.
    assert report.violations == ()
    assert report.ok
    assert len(report.review) == 1
    assert "C1" in report.review[0]
    assert "ofsted_rating" in report.review[0] and "needs" in report.review[0]


def test_current_placement_exception_is_for_that_child_only(tmp_path: Path) -> None:
    chs = [child("C1", current_placement="P1"), child("C2")]
    pls = [place("P1", vacancies=1, ofsted_rating="inadequate")]
    report = run(tmp_path, chs, pls, {"C1": "P1", "C2": "P1"})
    assert [(v.rule, v.child_id) for v in report.violations] == [("ofsted_rating", "C2")]
    assert len(report.review) == 1 and "C1" in report.review[0]


# --------------------------------------------------------------------------- capacity, solo


def test_capacity_counts_current_residents(tmp_path: Path) -> None:
    # P1 has one free bed and C1 lives there: capacity 2.
    chs = [child("C1", current_placement="P1"), child("C2"), child("C3")]
    pls = [place("P1", vacancies=1), place("P2", vacancies=1)]
    fine = run(tmp_path / "a", chs, pls, {"C1": "P1", "C2": "P1", "C3": "P2"})
    assert fine.violations == () and fine.ok
    over = run(tmp_path / "b", chs, pls, {"C1": "P1", "C2": "P1", "C3": "P1"})
    assert codes(over) == {"capacity"}
    (v,) = over.violations
    assert v.placement_id == "P1" and v.child_id is None


def test_capacity_bed_of_a_moved_resident_is_free(tmp_path: Path) -> None:
    chs = [child("C1", current_placement="P1"), child("C2"), child("C3")]
    pls = [place("P1", vacancies=1), place("P2", vacancies=1)]
    report = run(tmp_path, chs, pls, {"C1": "P2", "C2": "P1", "C3": "P1"},
                 policy=COST_MOVES)  # C1's move is for no reason of its own
    assert report.violations == ()


def test_capacity_zero_vacancies(tmp_path: Path) -> None:
    report = run(tmp_path, [child()], [place(vacancies=0)], {"C1": "P1"})
    assert codes(report) == {"capacity"}


def test_solo_broken_and_respected(tmp_path: Path) -> None:
    chs = [child("C1", solo="TRUE"), child("C2")]
    pls = [place("P1", vacancies=2), place("P2", vacancies=1)]
    broken = run(tmp_path / "a", chs, pls, {"C1": "P1", "C2": "P1"})
    assert [(v.rule, v.child_id, v.placement_id) for v in broken.violations] == [
        ("solo", "C1", "P1")
    ]
    fine = run(tmp_path / "b", chs, pls, {"C1": "P1", "C2": "P2"})
    assert fine.violations == () and fine.ok


# --------------------------------------------------------------------------- siblings

SIBS = [child("C1", sibling_group="G1"), child("C2", sibling_group="G1"), child("C3")]
SIB_PLACES = [place("P1", vacancies=2), place("P2", vacancies=2)]


@pytest.mark.parametrize(
    "assign",
    [{"C1": "P1", "C2": "P2", "C3": ""}, {"C1": "P1", "C2": "", "C3": ""}],
    ids=["two_placements", "one_unplaced"],
)
def test_siblings_split_is_a_violation_by_default(tmp_path: Path, assign: dict[str, str]) -> None:
    report = run(tmp_path, SIBS, SIB_PLACES, assign)
    assert codes(report) == {"siblings_together"}
    assert "G1" in report.violations[0].detail
    assert report.terms["sibling_split"] == 0.0


@pytest.mark.parametrize(
    "assign",
    [{"C1": "P1", "C2": "P1", "C3": "P2"}, {"C1": "", "C2": "", "C3": "P1"}],
    ids=["together", "all_unplaced"],
)
def test_siblings_together_or_all_unplaced_is_fine(tmp_path: Path, assign: dict[str, str]) -> None:
    report = run(tmp_path, SIBS, SIB_PLACES, assign)
    assert report.violations == ()


def test_split_siblings_allowed_with_penalty(tmp_path: Path) -> None:
    chs = [*SIBS, child("C4", sibling_group="G1")]
    pls = [*SIB_PLACES, place("P3")]
    policy = "[weights]\nsibling_split = 750.0\n[rules]\nsplit_siblings = true\n"
    report = run(tmp_path, chs, pls, {"C1": "P1", "C2": "P2", "C3": "P2", "C4": "P3"},
                 policy=policy)  # fmt: skip
    assert report.violations == ()
    assert report.terms["sibling_split"] == pytest.approx(2 * 750.0)  # 3 placements - 1
    base = 4 * 500.0  # every placement is at HOME, cost 500
    assert report.objective == pytest.approx(base + 1500.0)


def test_split_siblings_unplaced_member_not_counted(tmp_path: Path) -> None:
    policy = "[rules]\nsplit_siblings = true\n"
    report = run(tmp_path, SIBS, SIB_PLACES, {"C1": "P1", "C2": "", "C3": ""}, policy=policy)
    assert report.violations == ()
    assert report.terms["sibling_split"] == 0.0


# --------------------------------------------------------------------------- objective


def test_hand_computed_objective(tmp_path: Path) -> None:
    chs = [
        child("C1", age=8, home_lat=51.5, home_lon=-0.12, faith="christian",
              faith_match="preferred"),
        child("C2", age=12, gender="M", home_lat=52.0, home_lon=-1.0, current_placement="P2"),
        child("C3", age=14, home_lat=53.0, home_lon=-2.0, current_placement="P2", priority=3),
    ]  # fmt: skip
    pls = [
        place("P1", lat=51.45, lon=-0.2, faith="muslim", weekly_cost=600.0),
        place("P2", vacancies=0, lat=52.5, lon=-1.5, weekly_cost=1200.0),
        place("P3", lat=52.1, lon=-1.1, weekly_cost=900.0),
    ]
    policy = (
        "[weights]\ncost = 1.5\nper_km = 2.0\nfaith_mismatch = 300.0\nmove = 400.0\n"
        "unplaced = 50000.0\n[rules]\nmove_only_in_child_interest = false\n"
    )  # C2 moves and C3 leaves its placement for cost: allowed only with the rule off
    report = run(tmp_path, chs, pls, {"C1": "P1", "C2": "P3", "C3": ""}, policy=policy)
    d1 = hav(51.5, -0.12, 51.45, -0.2)
    d2 = hav(52.0, -1.0, 52.1, -1.1)
    assert 5 < d1 < 10 and 10 < d2 < 20  # sanity of the hand numbers
    expected_terms = {
        "cost": 1.5 * (600.0 + 900.0),
        "distance": 2.0 * (d1 + d2),
        "faith_mismatch": 300.0,  # C1 preferred christian, P1 is muslim
        "move": 400.0,  # C2 moved; C3 is unplaced so counts no move
        "unplaced": 50000.0 * 3,
        "sibling_split": 0.0,
        "out_of_area": 0.0,  # no authority given
    }
    assert report.violations == ()
    assert report.terms == pytest.approx(expected_terms)
    assert report.objective == pytest.approx(sum(expected_terms.values()))
    assert report.placed == 2 and report.unplaced == 1
    assert report.total_weekly_cost == pytest.approx(1500.0)
    assert report.mean_distance_km == pytest.approx((d1 + d2) / 2)


def test_default_weights_and_missing_placement_faith_counts_as_different(tmp_path: Path) -> None:
    chs = [child("C1", faith="muslim", faith_match="preferred", current_placement="P2")]
    pls = [place("P1", lat=FAR[0], lon=FAR[1], weekly_cost=100.0), place("P2")]
    report = run(tmp_path, chs, pls, {"C1": "P1"})
    d = hav(*HOME, *FAR)
    assert report.objective == pytest.approx(100.0 + 5.0 * d + 200.0 + 500.0)


def test_kept_in_current_placement_has_no_move_term(tmp_path: Path) -> None:
    report = run(tmp_path, [child(current_placement="P1")], [place(vacancies=0)], {"C1": "P1"})
    assert report.ok
    assert report.terms["move"] == 0.0
    assert report.objective == pytest.approx(500.0)


def test_all_unplaced_default_weight(tmp_path: Path) -> None:
    report = run(tmp_path, [child("C1"), child("C2", priority=2)], [place()], {"C1": "", "C2": ""})
    assert report.objective == pytest.approx(300000.0)
    assert report.placed == 0 and report.mean_distance_km == 0.0


# --------------------------------------------------------------------------- distances.csv


def test_distances_csv_overrides_haversine(tmp_path: Path) -> None:
    chs = [child(max_distance_km=30)]
    pls = [place()]  # at HOME: haversine 0 km
    dist = [{"child_id": "C1", "placement_id": "P1", "km": 42.0}]
    report = run(tmp_path, chs, pls, {"C1": "P1"}, distances=dist)
    assert report.mean_distance_km == pytest.approx(42.0)
    assert report.terms["distance"] == pytest.approx(5.0 * 42.0)
    assert codes(report) == {"max_distance"}  # the override applies to the limit too


def test_distance_column_must_follow_override(tmp_path: Path) -> None:
    chs, pls = [child()], [place()]
    dist = [{"child_id": "C1", "placement_id": "P1", "km": 42.0}]
    inst = write_instance(tmp_path / "inst", chs, pls, distances=dist)
    sol = write_solution(tmp_path / "sol", true_rows(chs, pls, {"C1": "P1"}))  # says 0 km
    report = check(inst, sol)
    assert codes(report) == {"format"}
    assert "distance_km" in report.violations[0].detail


# --------------------------------------------------------------------------- format


def test_wrong_cost_column_is_format(tmp_path: Path) -> None:
    chs, pls = [child()], [place()]
    inst = write_instance(tmp_path / "inst", chs, pls)
    rows = true_rows(chs, pls, {"C1": "P1"})
    rows[0]["weekly_cost"] = 499.0
    report = check(inst, write_solution(tmp_path / "sol", rows))
    assert [(v.rule, v.child_id) for v in report.violations] == [("format", "C1")]
    assert report.objective == pytest.approx(500.0)  # the instance's cost, not the column's


def test_missing_duplicate_unknown_ids_are_format(tmp_path: Path) -> None:
    chs, pls = [child("C1"), child("C2"), child("C3")], [place("P1", vacancies=3)]
    inst = write_instance(tmp_path / "inst", chs, pls)
    rows = true_rows(chs, pls, {"C1": "P1", "C2": "P1"})
    rows += [rows[0], {"child_id": "C9", "placement_id": "P1", "weekly_cost": 500.0,
                       "distance_km": 0.0}]  # fmt: skip
    rows[1]["placement_id"] = "P7"
    report = check(inst, write_solution(tmp_path / "sol", rows))
    assert codes(report) == {"format"}
    got = {(v.child_id, v.placement_id) for v in report.violations}
    assert got == {("C1", None), ("C9", None), ("C3", None), ("C2", "P7")}
    assert report.placed == 1 and report.unplaced == 2  # C2 (unknown placement), C3 (missing)


def test_id_na_survives(tmp_path: Path) -> None:
    chs, pls = [child("NA")], [place("NA")]
    report = run(tmp_path, chs, pls, {"NA": "NA"})
    assert report.ok and report.placed == 1


# --------------------------------------------------------------------------- summary


def good_summary(obj: float, **kw: Any) -> dict[str, Any]:
    s: dict[str, Any] = {
        "status": "optimal", "objective": obj, "best_bound": obj, "gap": 0.0,
        "solve_seconds": 0.1, "placed": 1, "unplaced": 1, "total_weekly_cost": 500.0,
        "mean_distance_km": 0.0,
    }  # fmt: skip
    s.update(kw)
    return s


SUM_CHILDREN = [child("C1"), child("C2")]
SUM_OBJ = 500.0 + 100000.0


def test_summary_agrees(tmp_path: Path) -> None:
    report = run(tmp_path, SUM_CHILDREN, [place()], {"C1": "P1", "C2": ""},
                 summary=good_summary(SUM_OBJ + 0.005))  # fmt: skip
    assert report.summary_mismatches == ()
    assert report.ok


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"objective": SUM_OBJ + 1.0, "best_bound": SUM_OBJ + 1.0}, "objective"),
        ({"placed": 2}, "placed"),
        ({"unplaced": 0}, "unplaced"),
        ({"total_weekly_cost": 400.0}, "total_weekly_cost"),
        ({"mean_distance_km": 3.0}, "mean_distance_km"),
        ({"status": "time_limit", "best_bound": SUM_OBJ - 1000.0, "gap": 0.5}, "gap"),
        (
            {"status": "optimal", "best_bound": SUM_OBJ - 1000.0, "gap": 1000.0 / SUM_OBJ},
            "gap",
        ),
        ({"status": "feasible", "best_bound": SUM_OBJ + 10.0, "gap": -10.0 / SUM_OBJ}, "gap"),
        ({"status": "done"}, "status"),
        ({"solve_seconds": None}, None),
    ],
)
def test_summary_mismatch_detected(
    tmp_path: Path, changes: dict[str, Any], key: str | None
) -> None:
    summary = good_summary(SUM_OBJ, **changes)
    if key is None:  # a missing required key
        del summary["solve_seconds"]
        key = "solve_seconds"
    report = run(tmp_path, SUM_CHILDREN, [place()], {"C1": "P1", "C2": ""}, summary=summary)
    assert report.violations == ()
    assert not report.ok
    assert [m.split(":")[0] for m in report.summary_mismatches] == [key]


def test_summary_time_limit_with_consistent_gap_is_fine(tmp_path: Path) -> None:
    bound = SUM_OBJ - 1000.0
    summary = good_summary(SUM_OBJ, status="time_limit", best_bound=bound,
                           gap=(SUM_OBJ - bound) / SUM_OBJ)  # fmt: skip
    report = run(tmp_path, SUM_CHILDREN, [place()], {"C1": "P1", "C2": ""}, summary=summary)
    assert report.ok


# --------------------------------------------------------------------------- xlsx


def test_xlsx_instance(tmp_path: Path) -> None:
    chs = [
        child("007", sibling_group="G1", solo=False),
        child("C2", sibling_group="G1", solo=False),
        child("C3", solo=True),
    ]
    pls = [place("P1", vacancies=1), place("P2", vacancies=1), place("P3", vacancies=2)]
    excl = pd.DataFrame([{"child_id": "C3", "placement_id": "P2", "reason": "risk"}])
    dist_rows: list[dict[str, Any]] = [{"child_id": "007", "placement_id": "P1", "km": 12.5}]
    dist = pd.DataFrame(dist_rows)
    policy = pd.DataFrame({"key": ["weights.per_km", "rules.split_siblings"], "value": [1.0, True]})
    book = tmp_path / "instance.xlsx"
    with pd.ExcelWriter(book, engine="openpyxl") as xw:
        pd.DataFrame(chs).to_excel(xw, sheet_name="children", index=False)
        pd.DataFrame(pls).to_excel(xw, sheet_name="placements", index=False)
        excl.to_excel(xw, sheet_name="exclusions", index=False)
        dist.to_excel(xw, sheet_name="distances", index=False)
        policy.to_excel(xw, sheet_name="policy", index=False)
    assign = {"007": "P1", "C2": "P2", "C3": "P3"}
    rows = true_rows(chs, pls, assign, dist_rows)
    report = check(book, write_solution(tmp_path / "sol", rows))
    assert report.violations == ()  # siblings may split: split_siblings read from the sheet
    assert report.terms["distance"] == pytest.approx(1.0 * 12.5)
    assert report.terms["sibling_split"] == pytest.approx(1000.0)
    assert report.objective == pytest.approx(3 * 500.0 + 12.5 + 1000.0)

    rows = true_rows(chs, pls, {"007": "P1", "C2": "P3", "C3": "P2"})
    bad = check(book, write_solution(tmp_path / "sol2", rows))
    assert {(v.rule, v.child_id) for v in bad.violations} == {
        ("exclusion", "C3"),
        ("format", "007"),  # the column says haversine 0 km, distances sheet says 12.5
    }


def test_xlsx_solo_true_boolean(tmp_path: Path) -> None:
    book = tmp_path / "instance.xlsx"
    with pd.ExcelWriter(book, engine="openpyxl") as xw:
        pd.DataFrame([child("C1", solo=True), child("C2", solo=False)]).to_excel(
            xw, sheet_name="children", index=False
        )
        pd.DataFrame([place(vacancies=2)]).to_excel(xw, sheet_name="placements", index=False)
    rows = true_rows([child("C1"), child("C2")], [place()], {"C1": "P1", "C2": "P1"})
    report = check(book, write_solution(tmp_path / "sol", rows))
    assert codes(report) == {"solo"}


# --------------------------------------------------------------------------- report text


def test_format_report(tmp_path: Path) -> None:
    report = run(tmp_path, [child(age=10)], [place(age_min=12)], {"C1": "P1"})
    text = format_report(report)
    assert text.startswith("FAILED")
    assert "[age_range]" in text and "C1" in text and "distance" in text
    ok = CheckReport(True, (), 1.0, {"cost": 1.0}, 1, 0, 1.0, 0.0)
    assert format_report(ok).startswith("OK")
    assert isinstance(report.violations[0], Violation)


def test_missing_cost_column_reported_once(tmp_path: Path) -> None:
    inst = write_instance(tmp_path / "inst", [child("C1"), child("C2")], [place(vacancies=2)])
    sol = tmp_path / "sol"
    sol.mkdir()
    pd.DataFrame({"child_id": ["C1", "C2"], "placement_id": ["P1", "P1"], "distance_km": [0, 0]}
                 ).to_csv(sol / "assignments.csv", index=False)  # fmt: skip
    report = check(inst, sol)
    assert [(v.rule, v.child_id) for v in report.violations] == [("format", None)]
    assert "weekly_cost" in report.violations[0].detail
    assert report.objective == pytest.approx(1000.0)


def test_missing_assignments_file(tmp_path: Path) -> None:
    inst = write_instance(tmp_path / "inst", [child("C1")], [place()])
    (tmp_path / "sol").mkdir()
    report = check(inst, tmp_path / "sol")
    assert codes(report) == {"format"} and len(report.violations) == 1
    assert report.unplaced == 1 and report.objective == pytest.approx(100000.0)


# ------------------------------------------------ closed to newcomers; lenient reading

@pytest.mark.parametrize("closed", [{"on_hold_reason": "illness"},
                                    {"available_from": "2099-01-01"}])
def test_closed_placement_takes_no_newcomer(tmp_path: Path, closed: dict[str, str]) -> None:
    """C1 leaves P1 (on hold, or not open yet), so P1's capacity has room, but C2 is new
    there: the engine never does that, the checker must say so."""
    kids = [child("C1", current_placement="P1"), child("C2")]
    pls = [place("P1", vacancies=1, **closed), place("P2", vacancies=1, weekly_cost=100.0)]
    report = run(tmp_path, kids, pls, {"C1": "P2", "C2": "P1"},
                 summary=None, policy=COST_MOVES)  # C1 leaves for cost
    rule = "on_hold" if "on_hold_reason" in closed else "not_yet_available"
    assert codes(report) == {rule}
    assert [v.child_id for v in report.violations] == ["C2"]


@pytest.mark.parametrize("closed", [{"on_hold_reason": "illness"},
                                    {"available_from": "2099-01-01"}])
def test_closed_placement_keeps_its_resident(tmp_path: Path, closed: dict[str, str]) -> None:
    """Its resident may stay; a newcomer elsewhere is fine."""
    kids = [child("C1", current_placement="P1"), child("C2")]
    pls = [place("P1", vacancies=1, **closed), place("P2", vacancies=1, weekly_cost=100.0)]
    report = run(tmp_path, kids, pls, {"C1": "P1", "C2": "P2"})
    assert report.ok, report.violations


def test_reads_what_the_engine_reads(tmp_path: Path) -> None:
    """Headers in capitals, a blank row and solo = yes: the engine reads them, so the
    checker must read them too."""
    kids = [child("C1", solo="yes"), child("C2", solo="no")]
    pls = [place("P1", vacancies=2), place("P2")]
    inst = write_instance(tmp_path / "inst", kids, pls)
    text = (inst / "children.csv").read_text().splitlines()
    text[0] = text[0].upper()
    (inst / "children.csv").write_text("\n".join([text[0], text[1], ",,,,,", text[2]]) + "\n")
    rows = true_rows(kids, pls, {"C1": "P1", "C2": "P1"})
    report = check(inst, write_solution(tmp_path / "sol", rows))
    assert codes(report) == {"solo"}  # C1 (solo = yes) shares P1 with C2
    rows = true_rows(kids, pls, {"C1": "P1", "C2": "P2"})
    assert check(inst, write_solution(tmp_path / "sol2", rows)).ok
