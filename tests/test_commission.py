"""Commissioning core (issue 6): inputs, what-if overrides, sampling, the two-stage plan.

Fixtures: tests/commission/tiny (4 children today, 4 placements, 2 candidate contracts,
3 spot rows, 3 explicit scenarios) and tests/commission/newsvendor (one contract, spot
only, scenarios of 1, 2 and 6 children: planning for the middle one is wrong).
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest

from optimiser import check, load_instance, solve
from optimiser.commission import (
    OverrideError,
    apply_overrides,
    evaluate_scenario,
    load_commission,
    plan_capacity,
    plan_to_json,
    sample_scenarios,
    write_outcome,
    write_scenario_instance,
)
from optimiser.instance import InstanceError

HERE = Path(__file__).parent
TINY = HERE / "commission" / "tiny"
NEWSVENDOR = HERE / "commission" / "newsvendor"
DEMO = HERE.parent / "instances" / "demo-commission"


@pytest.fixture
def tiny_copy(tmp_path: Path) -> Path:
    out = tmp_path / "tiny"
    shutil.copytree(TINY, out)
    return out


# --------------------------------------------------------------------------- reading


def test_reads_demo_and_tiny() -> None:
    d = load_commission(DEMO)
    assert d.contract_ids == ("BLK1", "BLK2", "BLK3", "BLK4", "BLK5")
    assert {s.tier for s in d.spot} == {"framework", "off_framework"}
    assert d.demand.growth == pytest.approx(0.016)
    t = load_commission(TINY)
    assert [name for name, _ in t.explicit] == ["a", "b", "c"]
    c2 = t.contract("C2")
    assert c2.levels == (0, 2, 4)  # 0 (declined) or min..max by step
    assert t.current_beds == {"C1": 1, "C2": 0}
    assert t.block_cost({"C1": 2, "C2": 2}) == pytest.approx(2 * 450 + 2 * 2600)


def test_malformed_files_report_every_problem_with_file_row_column(tiny_copy: Path) -> None:
    (tiny_copy / "contracts.csv").write_text(
        "contract_id,provider,type,lat,lon,age_min,age_max,step,min_beds,max_beds,"
        "weekly_price,current_beds\n"
        "C1,P,ifa_foster,52.6,-1.1,0,17,1,3,2,450,0\n"          # row 2: max < min
        "C2,P,castle,52.6,-1.1,0,17,1,0,4,cheap,0\n"            # row 3: type, price
        "C1,P,ifa_foster,52.6,-1.1,0,17,0,0,4,450,9\n"          # row 4: dup, step, current
        "H1,P,ifa_foster,52.6,-1.1,0,17,1,0,4,450,0\n")         # row 5: id of a placement
    (tiny_copy / "spot.csv").write_text(
        "spot_id,type,tier,weekly_cost,typical_distance_km,max_beds\n"
        "SF,ifa_foster,cheap,900,20,\n"                          # row 2: tier
        "SG,ifa_foster,framework,900,-3,2.5\n")                  # row 3: km, max_beds
    (tiny_copy / "demand.toml").write_text("[demand]\ngrowth = \"fast\"\nuasc_share = 1.5\n")
    (tiny_copy / "scenarios" / "b" / "children.csv").write_text(
        "child_id,age,gender,home_lat,home_lon\nB01,19,M,52.6,-1.1\n")
    with pytest.raises(InstanceError) as e:
        load_commission(tiny_copy)
    got = {(p.file, p.row, p.column) for p in e.value.problems}
    want = {
        ("contracts.csv", 2, "max_beds"), ("contracts.csv", 3, "type"),
        ("contracts.csv", 3, "weekly_price"), ("contracts.csv", 4, "contract_id"),
        ("contracts.csv", 4, "step"), ("contracts.csv", 4, "current_beds"),
        ("contracts.csv", 5, "contract_id"),
        ("spot.csv", 2, "tier"), ("spot.csv", 3, "typical_distance_km"),
        ("spot.csv", 3, "max_beds"),
        ("demand.toml", 2, "growth"), ("demand.toml", 3, "uasc_share"),
        ("scenarios/b/children.csv", 2, "age"),
    }
    assert want <= got, sorted(want - got)
    text = str(e.value)
    assert "contracts.csv, row 3, column weekly_price: 'cheap' is not a number" in text


def test_missing_files_are_problems(tiny_copy: Path) -> None:
    (tiny_copy / "spot.csv").unlink()
    (tiny_copy / "contracts.csv").unlink()
    with pytest.raises(InstanceError) as e:
        load_commission(tiny_copy)
    files = {p.file for p in e.value.problems}
    assert {"spot.csv", "contracts.csv"} <= files


# --------------------------------------------------------------------------- what-if


def test_overrides_return_new_data_and_refuse_unknown_keys() -> None:
    d = load_commission(TINY)
    o = apply_overrides(d, ["contracts.C1.price=3100", "contracts.C2.beds=4",
                            "demand.growth=0.05", "spot.SF.weekly_cost=1900"])
    assert o.contract("C1").weekly_price == 3100.0
    assert o.contract("C2").levels == (4,)
    assert o.demand.growth == 0.05
    assert next(s for s in o.spot if s.spot_id == "SF").weekly_cost == 1900.0
    assert d.contract("C1").weekly_price == 450.0  # the original is untouched
    assert o.fingerprint != d.fingerprint
    for bad, words in (("contracts.NOPE.price=1", "no contract 'NOPE'"),
                       ("contracts.C1.colour=1", "unknown contract field"),
                       ("spot.SF.price=abc", "is not a number"),
                       ("demand.nonsense=1", "unknown demand field"),
                       ("demand.uasc_share=2", "between 0 and 1"),
                       ("weights.per_km=3", "unknown key"),
                       ("contracts.C1.price", "KEY=VALUE")):
        with pytest.raises(OverrideError, match=words):
            apply_overrides(d, [bad])


# --------------------------------------------------------------------------- sampling


def test_sampling_is_deterministic_per_seed() -> None:
    d = load_commission(DEMO)
    a = sample_scenarios(d, 3, seed=4)
    b = sample_scenarios(d, 5, seed=4)
    c = sample_scenarios(d, 3, seed=5)
    for x, y in zip(a, b[:3], strict=True):  # scenario i depends only on (seed, i)
        assert x.name == y.name
        assert x.children.equals(y.children)
    assert not a[0].children.equals(c[0].children)
    sizes = [s.n_children for s in sample_scenarios(d, 40, seed=0)]
    expected = 0.395 * 300 * 1.016  # starts/stock x children today x growth
    assert abs(np.mean(sizes) - expected) < 0.1 * expected
    groups = a[0].children["sibling_group"]
    assert (groups != "").any()
    # every sampled child loads through the core reader with the scenario's placements
    inst = load_instance(write_scenario_instance(d, a[0], d.current_beds,
                                                 Path(_tmp(a[0].name))))
    assert inst.n_children == a[0].n_children


def _tmp(name: str) -> str:
    import tempfile

    return tempfile.mkdtemp(prefix=f"commission-{name}-")


# --------------------------------------------------------------------------- the plan


def _brute_force(data, scenario, tmp: Path) -> tuple[dict[str, int], float]:
    """Every bed combination, each solved by optimiser.solve on its own instance folder."""
    best: tuple[dict[str, int], float] | None = None
    for k in itertools.product(*[c.levels for c in data.contracts]):
        beds = dict(zip(data.contract_ids, k, strict=True))
        folder = write_scenario_instance(data, scenario, beds, tmp / "-".join(map(str, k)))
        res = solve(load_instance(folder), time_limit=20, seed=0, workers=1)
        assert res.status == "optimal"
        total = data.block_cost(beds) + res.objective
        if best is None or total < best[1] - 1e-6:
            best = (beds, total)
    assert best is not None
    return best


def test_one_scenario_plan_is_the_brute_force_optimum(tmp_path: Path) -> None:
    d = load_commission(TINY)
    for sc in sample_scenarios(d, 3)[:2]:
        beds, total = _brute_force(d, sc, tmp_path / sc.name)
        plan = plan_capacity(d, [sc], seed=0)
        assert plan.method == "benders"
        assert plan.expected_weekly_cost == pytest.approx(total, abs=1e-4)
        assert plan.beds == beds


def test_raising_a_price_never_raises_its_beds() -> None:
    d = load_commission(TINY)
    scenarios = sample_scenarios(d, 3)
    beds = []
    for price in (0, 150, 450, 700, 1000, 1500, 3000):
        plan = plan_capacity(apply_overrides(d, [f"contracts.C1.price={price}"]), scenarios)
        beds.append(plan.beds["C1"])
    assert beds == sorted(beds, reverse=True)
    assert beds[0] > beds[-1]  # the price matters at all on this case


def test_expected_cost_is_block_plus_mean_of_checked_objectives(tmp_path: Path) -> None:
    d = load_commission(TINY)
    scenarios = sample_scenarios(d, 3)
    plan = plan_capacity(d, scenarios)
    assert len(plan.outcomes) == 3
    checked = []
    for sc, out in zip(scenarios, plan.outcomes, strict=True):
        assert out.scenario == sc.name and out.beds == plan.beds
        inst_dir, sol_dir = write_outcome(d, sc, out, tmp_path / f"i-{sc.name}",
                                          tmp_path / f"s-{sc.name}")
        rep = check(inst_dir, sol_dir)
        assert rep.ok, rep.violations
        checked.append(rep.objective)
    block = d.block_cost(plan.beds)
    assert plan.block_weekly_cost == pytest.approx(block)
    assert plan.expected_weekly_cost == pytest.approx(block + float(np.mean(checked)),
                                                      rel=1e-9, abs=1e-4)
    assert plan.scenario_costs == pytest.approx([block + c for c in checked], abs=1e-4)
    lo, hi = plan.interval
    assert lo <= plan.expected_weekly_cost <= hi
    j = plan_to_json(plan)
    assert j["beds"] == plan.beds and len(j["interval"]) == 2
    # today's arrangement is evaluated on the same scenarios
    assert plan.baseline["beds"] == d.current_beds
    assert plan.expected_weekly_cost <= plan.baseline["expected_weekly_cost"] + 1e-6


def test_value_of_the_stochastic_solution_on_a_newsvendor_case() -> None:
    d = load_commission(NEWSVENDOR)
    plan = plan_capacity(d, sample_scenarios(d, 3))
    # 1, 2 or 6 children; a bed costs 300 a week and saves 1,050 when used: book for 6.
    assert plan.beds == {"C1": 6}
    assert plan.expected_weekly_cost == pytest.approx(1800.0)
    assert plan.ev_beds == {"C1": 2}  # the middle scenario's answer
    assert plan.eev == pytest.approx(600 + 4 * 1050 / 3)
    assert plan.vss == pytest.approx(plan.eev - plan.expected_weekly_cost)
    assert plan.vss > 0
    # the cost curve passes through the recommendation and rises on both sides
    curve = dict(plan.curve["C1"])
    assert curve[6] == pytest.approx(plan.expected_weekly_cost)
    assert curve[5] > curve[6] < curve[7]


def test_lp_and_integer_evaluations_agree_on_bounds() -> None:
    d = load_commission(TINY)
    sc = sample_scenarios(d, 3)[2]
    beds = {"C1": 2, "C2": 2}
    lp = evaluate_scenario(d, sc, beds, "lp")
    ip = evaluate_scenario(d, sc, beds, "ip", extra=({"C1": 0, "C2": 0},))
    eng = evaluate_scenario(d, sc, beds, "engine")
    assert lp.objective <= ip.objective + 1e-6
    assert ip.objective == pytest.approx(eng.objective, abs=1e-4)
    assert ip.extra[0].beds == {"C1": 0, "C2": 0}
    assert ip.extra[0].objective >= ip.objective - 1e-6  # fewer beds never cost less
    assert all(v <= 1e-9 for v in lp.duals.values())  # a bed never raises the cost
    assert sum(1 for _, p in ip.assignment if p) == ip.placed


def test_authority_scale_path_is_feasible_and_bounded(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    """The flow-fixing integer path (used when the pool is large) on a small case: a
    valid allocation (checked), no better than the exact optimum, above its flow bound."""
    from optimiser.commission import second_stage

    d = load_commission(TINY)
    beds = {"C1": 2, "C2": 2}
    for sc in sample_scenarios(d, 3):
        exact = evaluate_scenario(d, sc, beds, "ip")
        monkeypatch.setattr(second_stage, "EXACT_PAIRS", 0)
        second_stage.clear_cache()
        fast = evaluate_scenario(d, sc, beds, "ip")
        monkeypatch.setattr(second_stage, "EXACT_PAIRS", 25_000)
        assert exact.status == "optimal"
        assert fast.bound <= exact.objective + 1e-6 <= fast.objective + 2e-6
        inst_dir, sol_dir = write_outcome(d, sc, fast, tmp_path / f"i-{sc.name}",
                                          tmp_path / f"s-{sc.name}")
        rep = check(inst_dir, sol_dir)
        assert rep.ok, rep.violations
        assert rep.objective == pytest.approx(fast.objective, abs=1e-4)


def test_stage_cache_key_follows_what_the_second_stage_depends_on() -> None:
    """A price what-if reuses a scenario's cached pairs; a demand what-if (other children
    under the same scenario name) or a spot change never does."""
    from optimiser.commission.second_stage import stage_key

    d = load_commission(DEMO)
    sc = sample_scenarios(d, 2, seed=0)
    price = apply_overrides(d, ["contracts.BLK1.price=100", "contracts.BLK2.beds=2"])
    demand = apply_overrides(d, ["demand.growth=0.3"])
    spot = apply_overrides(d, ["spot.SP-IFA.weekly_cost=950"])
    sc_demand = sample_scenarios(demand, 2, seed=0)
    assert sc_demand[0].name == sc[0].name
    assert stage_key(price, sc[0]) == stage_key(d, sc[0])
    assert stage_key(demand, sc_demand[0]) != stage_key(d, sc[0])
    assert stage_key(spot, sc[0]) != stage_key(d, sc[0])
    assert stage_key(d, sc[1]) != stage_key(d, sc[0])


def test_default_demand_is_the_documented_calibration() -> None:
    from optimiser import calibration as cal
    from optimiser.commission import demand

    d = demand.DEFAULTS
    assert d.starts_per_stock == pytest.approx(33_050 / 83_630)
    assert d.growth == pytest.approx(demand.GROWTH_DEFAULT, abs=1e-3)
    assert d.growth_sd == pytest.approx(demand.GROWTH_SD_DEFAULT, abs=5e-3)
    assert d.male_share == pytest.approx(cal.MALE_SHARE, abs=1e-3)
    assert d.uasc_share == pytest.approx(cal.UASC_SHARE, abs=1e-3)
    assert d.sibling_share == cal.SIBLING_SHARE
    assert d.residential_only_complex_11 == cal.P_RESIDENTIAL_ONLY_COMPLEX_11
    assert d.foster_only_under_10 == cal.P_FOSTER_ONLY_UNDER_10
    assert d.solo_complex_11 == cal.P_SOLO_COMPLEX_11
    assert sum(w for _, _, w in d.age_bands) == pytest.approx(1.0)
