"""The commands the analyses add to `placement`, through its own parser (`cli.main`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from pooling_helpers import small_region

from optimiser import checker
from optimiser.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_sufficiency_through_placement(tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    shutil.copytree(ROOT / "instances" / "tiny", folder)
    assert main(["sufficiency", str(folder), "--out", str(tmp_path / "o")]) == 0
    recruit = pd.read_csv(tmp_path / "o" / "recruit.csv")
    assert list(recruit.columns[:3]) == ["type", "authority", "lat"]
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    rep = checker.check(folder, tmp_path / "o" / "solution")
    assert rep.ok, rep.violations
    assert summary["objective"] == pytest.approx(rep.objective, abs=0.01)
    assert (summary["placed"], summary["unplaced"]) == (rep.placed, rep.unplaced)
    assert (tmp_path / "o" / "statement.html").is_file()


def test_solve_pool_through_placement(tmp_path: Path) -> None:
    small_region(tmp_path / "r", 2, 11, children=20)
    out = tmp_path / "o"
    assert main(["solve", str(tmp_path / "r"), "--out", str(out), "--pool",
                 "--time-limit", "20", "-q"]) == 0
    rep = checker.check(tmp_path / "r", out)
    assert rep.ok, (rep.violations, rep.summary_mismatches)
    figures = json.loads((out / "pooling.json").read_text())
    assert figures["pooled"] == pytest.approx(rep.objective, abs=0.01)
    assert figures["pooled"] <= figures["alone_total"] + 0.01
    assert figures["gain"] == pytest.approx(figures["alone_total"] - figures["pooled"], abs=0.01)
