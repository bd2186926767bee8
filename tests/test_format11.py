"""Format 1.1: what the engine writes never runs as a formula; the new columns and rules."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
from builders import write_instance

from optimiser import load_instance, solve, write_solution
from optimiser.checker import check
from optimiser.generate import write_instance as write_generated
from optimiser.reallocate import ReallocOptions, reallocate, write_plan
from optimiser.safe_text import neutralise, restore, safe_frame

FORMULA = "=1+2"
PLUS, AT, MINUS = "+C1", "@SUM(A1)", "-P9"


def _cells(folder: Path) -> list[tuple[str, str]]:
    """(file, cell) for every cell of every CSV in `folder`, read as raw text."""
    out = []
    for f in sorted(folder.glob("*.csv")):
        with f.open(newline="", encoding="utf-8") as fh:
            out += [(f.name, cell) for row in csv.reader(fh) for cell in row]
    return out


def _no_formula(folder: Path) -> None:
    bad = [(f, c) for f, c in _cells(folder) if c[:1] in ("=", "+", "@", "\t", "\r")]
    bad += [(f, c) for f, c in _cells(folder) if c[:1] == "-" and not _number(c)]
    assert not bad, bad


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_neutralise_and_restore_are_inverse_on_text_only() -> None:
    for text in (FORMULA, PLUS, AT, MINUS, "\tx", "'=already", "plain", "", "'quoted"):
        assert restore(neutralise(text)) == text
    assert neutralise(FORMULA) == "'=1+2"
    assert neutralise("C1") == "C1"
    assert neutralise(-2.5) == -2.5
    df = safe_frame(pd.DataFrame({"id": [FORMULA, "C2"], "lon": [-1.5, 2.0]}))
    assert df["id"].tolist() == ["'=1+2", "C2"]
    assert df["lon"].tolist() == [-1.5, 2.0]


def _formula_instance(folder: Path, placed: bool) -> Path:
    children = [
        {"child_id": FORMULA, "current_placement": MINUS if placed else ""},
        {"child_id": PLUS, "age": 16, "max_distance_km": 0.1},  # never placed: a reason
    ]
    placements = [
        {"placement_id": MINUS, "provider": AT, "vacancies": 0 if placed else 1},
        {"placement_id": "P2", "provider": "=HYPERLINK(\"x\")", "vacancies": 1,
         "lat": 52.002, "weekly_cost": 100},
    ]
    return write_instance(folder, children, placements)


def test_a_solve_writes_no_formula_and_the_checker_reads_it_back(tmp_path: Path) -> None:
    folder = _formula_instance(tmp_path / "inst", placed=False)
    result = solve(load_instance(folder), time_limit=20, workers=1)
    out = write_solution(result, tmp_path / "out")
    _no_formula(out)
    asg = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    assert "'=1+2" in asg["child_id"].tolist()
    report = check(folder, out)
    assert report.ok, [str(v) for v in report.violations]
    assert abs(report.objective - result.objective) <= 1e-6 * max(1.0, abs(result.objective))


def test_a_reallocation_writes_no_formula_in_any_file(tmp_path: Path) -> None:
    folder = _formula_instance(tmp_path / "inst", placed=True)
    inst = load_instance(folder)
    res = reallocate(inst, ReallocOptions(time_limit=20, workers=1))
    out = tmp_path / "plan"
    _, tables = write_plan(res, out)
    names = {f.name for f in out.glob("*.csv")}
    assert {"assignments.csv", "moves.csv", "voids.csv", "chains.csv"} <= names
    _no_formula(out)
    ids = set(pd.read_csv(out / "assignments.csv", dtype=str)["child_id"])
    assert ids == {"'=1+2", "'+C1"}
    # yesterday's plan is read back with the ids restored
    again = reallocate(inst, ReallocOptions(time_limit=20, workers=1, previous=out))
    assert again.status == "optimal"


def test_a_generated_instance_neutralises_ids_and_reads_them_back(tmp_path: Path) -> None:
    ch = pd.DataFrame({
        "child_id": [FORMULA], "age": [10], "gender": ["F"], "home_lat": [52.0],
        "home_lon": [-1.25], "sibling_group": [None], "faith": [None], "faith_match": [None],
        "needs": [None], "placement_types": [None], "max_distance_km": [float("nan")],
        "solo": [False], "current_placement": [None], "priority": [1]})
    pl = pd.DataFrame({
        "placement_id": [MINUS], "provider": [AT], "type": ["inhouse_foster"],
        "vacancies": [1], "age_min": [0], "age_max": [17], "genders": [None],
        "faith": [None], "needs_supported": [None], "ofsted_rating": [None], "lat": [52.0],
        "lon": [-1.0], "weekly_cost": [100.0], "block_contract": [None]})
    ex = pd.DataFrame(columns=["child_id", "placement_id", "reason"])
    folder = write_generated(tmp_path / "gen", {"children": ch, "placements": pl,
                                                "exclusions": ex})
    _no_formula(folder)
    raw = pd.read_csv(folder / "children.csv", dtype=str, keep_default_na=False)
    assert raw["home_lon"].tolist() == ["-1.25000"]  # a number, not quoted
    inst = load_instance(folder)
    assert list(inst.child_ids) == [FORMULA]
    assert list(inst.placement_ids) == [MINUS]
