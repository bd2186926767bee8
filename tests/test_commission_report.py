"""`placement plan-capacity`: what the committee gets (plan.json, report.md, cost_curve.png),
written all or nothing, the what-if difference, and bad input refused with exit 2.

Rendering tests use a small stand-in plan built here (test-only, never shipped); the
end-to-end tests run the real engine on instances/demo-commission when it is present.
"""

from __future__ import annotations

import json
import shutil
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import optimiser.commission as commission
from optimiser.cli import main
from optimiser.commission import report
from optimiser.commission.report import CapacityRun, what_if_diff, write_outputs

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "instances" / "demo-commission"
HAVE_ENGINE = (DEMO / "contracts.csv").exists() and hasattr(commission, "plan_capacity")
needs_engine = pytest.mark.skipif(not HAVE_ENGINE, reason="commissioning core not present")


@dataclass
class _Plan:
    """Stand-in with the fields of the engine's Plan that the report reads."""

    beds: dict[str, int]
    scenario_costs: list[float]
    block_weekly_cost: float
    utilisation: dict[str, float]
    curve: dict[str, list[tuple[int, float]]]
    share_out_of_area: float = 0.12
    share_over_20_miles: float = 0.18
    unplaced_mean: float = 0.0
    ev_beds: dict[str, int] = field(default_factory=dict)
    eev: float = 0.0
    vss: float = 0.0
    baseline: dict[str, Any] = field(default_factory=dict)
    n_scenarios: int = 0
    seed: int = 7
    method: str = "SAA, enumeration"
    runtime: float = 1.0
    stats: dict[str, Any] = field(default_factory=dict)
    outcomes: list[Any] = field(default_factory=list)

    @property
    def expected_weekly_cost(self) -> float:
        return statistics.fmean(self.scenario_costs)

    @property
    def expected_annual_cost(self) -> float:
        return 52 * self.expected_weekly_cost

    @property
    def interval(self) -> tuple[float, float]:
        m = self.expected_weekly_cost
        se = statistics.stdev(self.scenario_costs) / len(self.scenario_costs) ** 0.5
        return (m - 1.96 * se, m + 1.96 * se)


def _contract(cid: str, provider: str, price: float, today: int) -> SimpleNamespace:
    return SimpleNamespace(contract_id=cid, provider=provider, type="external_residential",
                           age_min=11, age_max=17, weekly_price=price, current_beds=today,
                           min_beds=0, max_beds=6, step=2, min_term_weeks=52)


def _run(tmp_beds: dict[str, int] | None = None) -> CapacityRun:
    data = SimpleNamespace(contracts=(_contract("BLK1", "Northgate Homes", 3000.0, 2),
                                      _contract("BLK2", "Riverside Care", 4200.0, 0)))
    beds = tmp_beds or {"BLK1": 4, "BLK2": 0}
    costs = [52_000.0, 61_000.0, 55_500.0, 70_250.0]
    curve = {"BLK1": [(0, 66_000.0), (2, 61_000.0), (4, 59_687.5), (6, 62_000.0)],
             "BLK2": [(0, 59_687.5), (2, 63_000.0), (4, 68_000.0)]}
    plan = _Plan(beds=beds, scenario_costs=costs, block_weekly_cost=12_000.0,
                 utilisation={"BLK1": 0.875, "BLK2": 0.0}, curve=curve,
                 ev_beds={"BLK1": 2, "BLK2": 0}, eev=61_000.0, vss=1_312.5,
                 baseline={"expected_weekly_cost": 61_000.0, "interval": [57_000.0, 65_000.0],
                           "block_weekly_cost": 6_000.0, "share_out_of_area": 0.2,
                           "share_over_20_miles": 0.25, "unplaced_mean": 0.5},
                 n_scenarios=len(costs))
    return CapacityRun(instance="instances/x", data=data, plan=plan, engine="in-process",
                       runtime=2.0)


@pytest.fixture
def fake_plan_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """plan_to_json for the stand-in plan (the engine's own one is tested end to end)."""
    monkeypatch.setattr(commission, "plan_to_json",
                        lambda p: {"beds": dict(p.beds), "n_scenarios": p.n_scenarios},
                        raising=False)


def test_outputs_say_what_a_committee_needs(tmp_path: Path, fake_plan_json: None) -> None:
    run = _run()
    out = write_outputs(run, tmp_path / "plan")
    assert sorted(p.name for p in out.iterdir()) == ["cost_curve.png", "plan.json", "report.md"]
    pj = json.loads((out / "plan.json").read_text())
    assert pj["beds"] == {"BLK1": 4, "BLK2": 0}
    assert pj["expected_weekly_cost"] == pytest.approx(statistics.fmean(run.plan.scenario_costs))
    lo, hi = pj["interval"]
    assert lo < pj["expected_weekly_cost"] < hi
    assert "what_if" not in pj
    md = (out / "report.md").read_text()
    assert "| BLK1 | Northgate Homes |" in md and "**4**" in md and "87.5%" in md
    assert "£3,000" in md and "52 weeks" in md and "| 0-6 by 2 |" in md
    assert f"£{statistics.fmean(run.plan.scenario_costs):,.0f}" in md
    assert f"£{lo:,.0f} to £{hi:,.0f}" in md
    assert "value of the stochastic solution" in md and "£1,312" in md
    assert "today's arrangements" in md and "20.0%" in md  # baseline out-of-area share
    assert "4 demand scenarios" in md and "![" in md and "(cost_curve.png)" in md
    png = (out / "cost_curve.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    summary = report.format_summary(run)
    assert "BLK1" in summary and "95% interval" in summary and "87.5%" in summary


def test_failure_leaves_previous_output_untouched(tmp_path: Path, fake_plan_json: None,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "plan"
    write_outputs(_run(), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(*_: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(report, "plot_cost_curve", boom)
    with pytest.raises(RuntimeError):
        write_outputs(_run({"BLK1": 0, "BLK2": 2}), out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["plan"]  # no temp folder left behind
    with pytest.raises(RuntimeError):
        write_outputs(_run(), tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()


def test_what_if_difference(tmp_path: Path, fake_plan_json: None) -> None:
    run = _run()
    changed = replace(run.plan, beds={"BLK1": 2, "BLK2": 2},
                      scenario_costs=[c + 800.0 for c in run.plan.scenario_costs])
    run.sets, run.changed = ("contracts.BLK1.price=3600",), changed
    wi = what_if_diff(run.plan, changed, run.sets)
    assert wi["beds"]["BLK1"] == {"base": 4, "changed": 2, "difference": -2}
    assert wi["beds"]["BLK2"]["difference"] == 2
    assert wi["expected_weekly_cost"]["difference"] == pytest.approx(800.0)
    assert wi["expected_annual_cost"]["difference"] == pytest.approx(52 * 800.0)
    out = write_outputs(run, tmp_path / "wi")
    pj = json.loads((out / "plan.json").read_text())
    assert pj["what_if"]["set"] == ["contracts.BLK1.price=3600"]
    assert pj["what_if"]["beds"]["BLK1"]["changed"] == 2 and pj["what_if"]["plan"]["beds"]
    md = (out / "report.md").read_text()
    assert "## What if" in md and "| BLK1 | 4 | 2 | -2 |" in md and "+£800" in md
    assert "+£800" in report.format_summary(run)


# ----------------------------------------------------------------------------- command line


def _broken_copy(tmp_path: Path) -> Path:
    bad = tmp_path / "bad"
    shutil.copytree(DEMO, bad)
    lines = (bad / "contracts.csv").read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("weekly_price")] = "lots"
    lines[1] = ",".join(cells)
    (bad / "contracts.csv").write_text("\n".join(lines) + "\n")
    return bad


@needs_engine
def test_bad_input_exit_2_with_file_row_column(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    rc = main(["plan-capacity", str(_broken_copy(tmp_path)), "--scenarios", "2",
               "--out", str(out), "--workers", "0", "-q"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "contracts.csv, row 2, column weekly_price" in err
    assert not out.exists()
    rc = main(["plan-capacity", str(DEMO), "--scenarios", "2", "--out", str(out),
               "--workers", "0", "-q", "--set", "contracts.NOPE.price=1"])
    assert rc == 2 and "NOPE" in capsys.readouterr().err and not out.exists()
    assert main(["plan-capacity", str(DEMO), "--scenarios", "0", "--out", str(out)]) == 2
    assert not out.exists()


@needs_engine
def test_cli_end_to_end_with_what_if(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Real engine, in process: outputs agree with the scenario costs; a dearer contract
    is never booked more."""
    data = commission.load_commission(str(DEMO))
    target = max(data.contracts, key=lambda c: c.weekly_price).contract_id
    out = tmp_path / "out"
    rc = main(["plan-capacity", str(DEMO), "--scenarios", "4", "--out", str(out),
               "--workers", "0", "--seed", "1", "--time-limit-per-scenario", "5", "-q",
               "--set", f"contracts.{target}.price=99999"])
    printed = capsys.readouterr().out
    assert rc == 0
    pj = json.loads((out / "plan.json").read_text())
    assert set(pj["beds"]) == {c.contract_id for c in data.contracts}
    assert pj["expected_weekly_cost"] == pytest.approx(statistics.fmean(pj["scenario_costs"]))
    lo, hi = pj["interval"]
    assert lo <= pj["expected_weekly_cost"] <= hi
    wi = pj["what_if"]
    assert wi["beds"][target]["changed"] <= wi["beds"][target]["base"]
    assert wi["beds"][target]["changed"] == 0  # at £99,999 a bed a week nobody books it
    assert wi["expected_weekly_cost"]["changed"] >= wi["expected_weekly_cost"]["base"] - 1e-6
    assert "what-if" in printed and target in printed
    md = (out / "report.md").read_text()
    assert "## What if" in md and "value of the stochastic solution" in md
    assert (out / "cost_curve.png").read_bytes()[:4] == b"\x89PNG"
