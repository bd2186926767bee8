"""`placement sufficiency`: the folder, its figures against the independent checker, the
breakdowns' sums, recruit.csv's columns and safety, and bad input."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest

from optimiser.checker import check
from optimiser.sufficiency.cli import add_parser
from optimiser.sufficiency.run import RECRUIT_COLUMNS
from tests.builders import write_instance

ARGS = ["--recommendations", "3", "--budget", "2", "--tries", "2", "--time-limit", "20",
        "--workers", "1", "--quiet"]


def run(*argv: str) -> int:
    ap = argparse.ArgumentParser(prog="placement")
    add_parser(ap.add_subparsers(dest="command", required=True))
    args = ap.parse_args(list(argv))
    return int(args.func(args))


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve children: a sibling group, teenagers placed far away, a child whose needs
    nobody meets; an authority written like a formula (neutralised in every CSV)."""
    d = tmp_path_factory.mktemp("suff")
    children = [{"child_id": f"C{i:02d}", "age": 3 + i, "gender": "FM"[i % 2],
                 "home_lat": 52.0 + 0.02 * (i % 4), "home_lon": -1.0 - 0.02 * (i % 3),
                 "sibling_group": "G1" if i < 3 else "", "authority": "=AUTH"}
                for i in range(11)]
    children.append({"child_id": "C99", "age": 15, "needs": "disability",
                     "authority": "=AUTH"})
    placements = [
        {"placement_id": "P1", "vacancies": 4, "weekly_cost": 550},
        {"placement_id": "P2", "vacancies": 6, "lat": 52.6, "weekly_cost": 900,
         "type": "ifa_foster"},
        {"placement_id": "P3", "vacancies": 3, "lat": 52.1, "lon": -1.3,
         "type": "external_residential", "age_min": 11, "weekly_cost": 3800},
    ]
    for p in placements:
        p["authority"] = "=AUTH"
    return write_instance(d / "inst", children, placements)


@pytest.fixture(scope="module")
def out(instance: Path) -> Path:
    target = instance.parent / "out"
    assert run("sufficiency", str(instance), "--out", str(target), *ARGS) == 0
    return target


def test_folder(out: Path) -> None:
    for name in ("recruit.csv", "plan.csv", "breakdown.csv", "bed_values.csv", "summary.json",
                 "statement.html", "statement.pdf", "map.png", "solution/assignments.csv"):
        assert (out / name).is_file(), name
    assert (out / "statement.pdf").read_bytes()[:5] == b"%PDF-"
    assert "sufficiency statement" in (out / "statement.html").read_text()


def test_figures_equal_the_checkers(instance: Path, out: Path) -> None:
    report = check(instance, out / "solution")
    assert report.ok, [str(v) for v in report.violations]
    s = json.loads((out / "summary.json").read_text())
    assert s["placed"] == report.placed
    assert s["unplaced"] == report.unplaced
    assert s["objective"] == pytest.approx(report.objective, abs=1e-4)
    assert s["total_weekly_cost"] == pytest.approx(report.total_weekly_cost, abs=0.01)
    assert s["mean_distance_km"] == pytest.approx(report.mean_distance_km, abs=1e-4)
    html = (out / "statement.html").read_text()
    assert f"Of {report.placed + report.unplaced:,} children, {report.placed:,} can be placed" \
        in html
    assert f"£{report.total_weekly_cost:,.0f} a week" in html


def test_breakdowns_sum_to_totals(out: Path) -> None:
    s = json.loads((out / "summary.json").read_text())
    b = pd.read_csv(out / "breakdown.csv", keep_default_na=False)
    assert b["dimension"].nunique() == 7
    for dim, t in b.groupby("dimension"):
        assert t["children"].sum() == s["children"], dim
        assert t["unplaced"].sum() == s["unplaced"], dim
        assert t["far_from_home"].sum() == s["far_from_home"], dim
        assert (t["placed"] + t["unplaced"] == t["children"]).all(), dim
    assert s["unplaced"] >= 1 and s["far_from_home"] >= 1


def test_recruit_csv(out: Path) -> None:
    text = (out / "recruit.csv").read_text()
    assert text.splitlines()[0] == ",".join(RECRUIT_COLUMNS)
    r = pd.read_csv(out / "recruit.csv", dtype=str, keep_default_na=False)
    assert len(r) >= 1
    assert (r["authority"] == "'=AUTH").all()  # as written, neutralised: never a formula
    verified = r["verified_weekly_saving"].astype(float)
    assert list(verified) == sorted(verified, reverse=True)
    plan = pd.read_csv(out / "plan.csv")
    assert list(plan["step"]) == list(range(1, len(plan) + 1))
    assert (plan["verified_weekly_saving"] > 0).all()


def test_bad_input_names_file_row_column(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_instance(tmp_path / "bad", [{"child_id": "C1", "age": "old"}],
                         [{"placement_id": "P1"}])
    target = tmp_path / "never"
    assert run("sufficiency", str(bad), "--out", str(target), *ARGS) == 2
    err = capsys.readouterr().err
    assert "children.csv" in err and "age" in err and "row" in err
    assert not target.exists()


def test_missing_placements_file_is_named(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_instance(tmp_path / "bad", [{"child_id": "C1"}], [{"placement_id": "P1"}])
    (bad / "placements.csv").unlink()
    assert run("sufficiency", str(bad), "--out", str(tmp_path / "never"), *ARGS) == 2
    assert "placements.csv" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()
