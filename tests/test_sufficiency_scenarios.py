"""The recommendations over demand scenarios: each scenario's savings against the
independent reference model, and the table's shares from them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from optimiser.commission.demand import sample_scenarios
from optimiser.solver import SolveOptions
from optimiser.sufficiency.extend import Profile
from optimiser.sufficiency.scenarios import demand_data, pays_table, scenario_savings
from tests.builders import write_instance
from tests.reference_model import solve_reference
from tests.test_sufficiency_recruit import with_profiles

OPTS = SolveOptions(time_limit=20, workers=1)


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    children = [{"child_id": f"C{i}", "age": 2 + i, "home_lat": 52.0 + 0.01 * i}
                for i in range(10)]
    placements = [{"placement_id": "P1", "vacancies": 2, "lat": 52.4, "weekly_cost": 700},
                  {"placement_id": "P2", "vacancies": 2, "lat": 52.1, "weekly_cost": 900,
                   "type": "ifa_foster"}]
    return write_instance(tmp_path / "inst", children, placements)


def test_scenario_savings_are_the_resolves(folder: Path, tmp_path: Path) -> None:
    profiles = (Profile("inhouse_foster", "here", 52.0, -1.0, 0, 17, "", "", "", 2, 600.0),
                Profile("inhouse_foster", "here", 53.5, -1.0, 0, 17, "", "", "", 1, 600.0))
    scenarios = sample_scenarios(demand_data(str(folder)), 2, seed=3)
    assert all(s.n_children > 0 for s in scenarios)
    runs = [scenario_savings(str(folder), s, profiles, OPTS) for s in scenarios]
    for k, (s, r) in enumerate(zip(scenarios, runs, strict=True)):
        own = tmp_path / f"s{k}"
        own.mkdir()
        (own / "placements.csv").write_bytes((folder / "placements.csv").read_bytes())
        s.children.to_csv(own / "children.csv", index=False)
        base = solve_reference(with_profiles(own, tmp_path / f"s{k}-0", [])).objective
        for i, p in enumerate(profiles):
            after = solve_reference(with_profiles(own, tmp_path / f"s{k}-{i + 1}", [p]))
            assert r["savings"][i] == pytest.approx(base - after.objective, abs=1e-6)
    table = pays_table(list(profiles), runs)
    assert len(table) == len(profiles)
    for i in range(len(profiles)):
        pays = sum(r["savings"][i] > 0.005 for r in runs) / len(runs)
        assert table["pays_share"][i] == pytest.approx(pays)
        assert table["mean_weekly_saving"][i] == pytest.approx(
            sum(r["savings"][i] for r in runs) / len(runs), abs=0.01)


def test_reserved_placements_left_out_of_a_scenario(folder: Path) -> None:
    pl = pd.read_csv(folder / "placements.csv", dtype=str, keep_default_na=False)
    pl["reserved_for"] = ["C1", ""]
    pl.to_csv(folder / "placements.csv", index=False)
    from optimiser.sufficiency.extend import Extender
    s = sample_scenarios(demand_data(str(folder)), 1, seed=1)[0]
    inst = Extender(folder).instance((), s.children)
    assert list(inst.placement_ids) == ["P2"]
    assert inst.n_children == s.n_children


def test_command_with_scenarios(folder: Path, tmp_path: Path) -> None:
    from tests.test_sufficiency_report import run
    out = tmp_path / "out"
    assert run("sufficiency", str(folder), "--out", str(out), "--recommendations", "2",
               "--budget", "1", "--time-limit", "20", "--workers", "1", "--scenarios", "2",
               "--dask-workers", "0", "--no-statement", "--quiet") == 0
    table = pd.read_csv(out / "scenarios.csv")
    recruit = pd.read_csv(out / "recruit.csv")
    assert len(table) == len(recruit) >= 1
    assert ((table["pays_share"] >= 0) & (table["pays_share"] <= 1)).all()
    assert (table["scenarios"] == 2).all()
    assert not (out / "statement.html").exists()
