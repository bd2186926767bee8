"""The command line end to end on the shipped tiny instance: solve, check, policy presets."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from optimiser.cli import main

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "instances" / "tiny"
PRESET = ROOT / "models" / "policies" / "close-to-home.toml"


def test_solve_then_check(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    assert main(["solve", str(TINY), "--out", str(out), "--time-limit", "20", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "status" in printed and "weekly cost" in printed
    summary = json.loads((out / "summary.json").read_text())
    a = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    assert summary["placed"] + summary["unplaced"] == len(a) == 12
    assert summary["status"] == "optimal" and summary["gap"] == 0.0
    assert (a.loc[a["placement_id"] == "", "reason"] != "").all()
    assert main(["check", str(TINY), str(out)]) == 0


def test_policy_preset_changes_objective_and_check_follows(tmp_path: Path) -> None:
    base, close = tmp_path / "base", tmp_path / "close"
    assert main(["solve", str(TINY), "--out", str(base), "-q"]) == 0
    assert main(["solve", str(TINY), "--out", str(close), "-q", "--policy", str(PRESET)]) == 0
    ob = json.loads((base / "summary.json").read_text())["objective"]
    oc = json.loads((close / "summary.json").read_text())["objective"]
    assert oc > ob  # per_km 15 instead of 5 on the same placements or nearer ones
    assert main(["check", str(TINY), str(close), "--policy", str(PRESET)]) == 0
    assert main(["check", str(TINY), str(close)]) == 1  # objective disagrees without it


def test_check_fails_on_a_broken_solution(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["solve", str(TINY), "--out", str(out), "-q"]) == 0
    a = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    a.loc[:, "placement_id"] = a["placement_id"].iloc[0] or "P00001"  # everyone in one bed
    a.to_csv(out / "assignments.csv", index=False)
    assert main(["check", str(TINY), str(out)]) == 1


def test_check_of_an_unreadable_instance_is_an_error_not_a_traceback(
        tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    import shutil

    out = tmp_path / "out"
    assert main(["solve", str(TINY), "--out", str(out), "-q"]) == 0
    capsys.readouterr()
    broken = tmp_path / "broken"
    shutil.copytree(TINY, broken)
    kids = pd.read_csv(broken / "children.csv", dtype=str, keep_default_na=False)
    kids.drop(columns=["age"]).to_csv(broken / "children.csv", index=False)
    assert main(["check", str(broken), str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_generate_recipe_free_command(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    assert main(["generate", str(out), "--children", "30", "--placements", "25",
                 "--seed", "4"]) == 0
    assert main(["solve", str(out), "--out", str(tmp_path / "o"), "-q"]) == 0
    assert main(["check", str(out), str(tmp_path / "o")]) == 0
