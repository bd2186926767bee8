"""Min-cost-flow fast path (issue 4): same optimum as CP-SAT where it applies, never
used where it does not."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from builders import solve_and_check, write_instance
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimiser import load_instance, solve
from optimiser.flow import BACKEND_NAME, flow_blocker, plan_pence
from optimiser.generate import generate
from optimiser.params import SolverParams

_counter = itertools.count()


@st.composite
def single_child_instances(draw: st.DrawFn, max_children: int = 8, max_placements: int = 5):
    """Random tiny instances with no sibling group and no solo child (transportation)."""
    n = draw(st.integers(1, max_children))
    m = draw(st.integers(1, max_placements))
    kids = []
    for i in range(1, n + 1):
        kid = {
            "child_id": f"C{i}",
            "age": draw(st.integers(0, 17)),
            "gender": draw(st.sampled_from("FMX")),
            "home_lat": 52 + draw(st.integers(0, 20)) / 100,
            "home_lon": -1 - draw(st.integers(0, 20)) / 100,
            "faith": draw(st.sampled_from(["", "muslim", "sikh"])),
            "faith_match": "",
            "needs": draw(st.sampled_from(["", "", "disability", "uasc"])),
            "max_distance_km": draw(st.sampled_from(["", "", 10, 25])),
            "priority": draw(st.integers(1, 3)),
            "current_placement": "",
        }
        if kid["faith"]:
            kid["faith_match"] = draw(st.sampled_from(["none", "preferred", "required"]))
        kids.append(kid)
    pls = []
    for j in range(1, m + 1):
        lo = draw(st.integers(0, 16))
        pls.append({
            "placement_id": f"P{j}",
            "type": draw(st.sampled_from(["inhouse_foster", "ifa_foster",
                                          "external_residential"])),
            "vacancies": draw(st.integers(0, 3)),
            "age_min": lo, "age_max": draw(st.integers(lo, 17)),
            "faith": draw(st.sampled_from(["", "muslim", "christian"])),
            "needs_supported": draw(st.sampled_from(["", "disability", "disability;uasc"])),
            "lat": 52 + draw(st.integers(0, 20)) / 100,
            "lon": -1 - draw(st.integers(0, 20)) / 100,
            "weekly_cost": draw(st.sampled_from([0, 300, 565, 850, 4000])),
        })
    for k in kids:
        if draw(st.booleans()) and draw(st.booleans()):
            k["current_placement"] = f"P{draw(st.integers(1, m))}"
    exclusions = []
    if draw(st.booleans()):
        exclusions.append({"child_id": "C1", "placement_id": f"P{draw(st.integers(1, m))}",
                           "reason": "test"})
    unplaced = draw(st.sampled_from([100000.0, 700.0]))  # a low value makes leaving out pay
    # with the move rule (on by default) a placed child must stay placed: not a
    # transportation problem, so the fast path is tested without it
    return kids, pls, exclusions, (f"[weights]\nunplaced = {unplaced}\n"
                                   "[rules]\nmove_only_in_child_interest = false\n")


def _compare(folder: Path) -> None:
    """Fast path vs CP-SAT on the same folder: same pence, both pass the checker."""
    fast, _, _ = solve_and_check(folder)
    assert flow_blocker(load_instance(folder)) is None
    assert fast.stats["backend"] == BACKEND_NAME
    assert fast.status == "optimal" and fast.bound == fast.objective
    slow, _, _ = solve_and_check(folder, fast_path=False, backend="cpsat")
    assert slow.status == "optimal"
    assert slow.stats["backend"] == "cpsat"
    inst = load_instance(folder)
    assert plan_pence(inst, fast.candidates, fast.assignment) == plan_pence(
        inst, slow.candidates, slow.assignment)
    assert fast.objective == pytest.approx(slow.objective, abs=0.01 * inst.n_children)
    assert fast.objective <= fast.greedy_objective + 1e-6


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(single_child_instances())
def test_flow_equals_cpsat_random(tmp_path_factory: pytest.TempPathFactory, data) -> None:
    kids, pls, excl, policy = data
    folder = write_instance(tmp_path_factory.mktemp(f"fl{next(_counter)}") / "i", kids, pls,
                            exclusions=excl or None, policy=policy)
    _compare(folder)


def _strip_groups(folder: Path) -> None:
    """No sibling group, no solo child, and no move rule (which keeps placed children
    placed): a transportation problem."""
    ch = pd.read_csv(folder / "children.csv", dtype=str, keep_default_na=False)
    ch["sibling_group"] = ""
    ch["solo"] = "false"
    ch.to_csv(folder / "children.csv", index=False)
    policy = folder / "policy.toml"
    policy.write_text(policy.read_text().replace("move_only_in_child_interest = true",
                                                 "move_only_in_child_interest = false"))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_flow_equals_cpsat_generated(tmp_path: Path, seed: int) -> None:
    """Generated instances (exclusions, current placements, distance limits), groups and
    solo flags removed: the fast path applies and matches CP-SAT to the penny."""
    folder = tmp_path / "g"
    generate(folder, children=60, placements=45, seed=seed, placed_share=0.4)
    assert flow_blocker(load_instance(folder)) is not None  # the generator makes groups
    _strip_groups(folder)
    _compare(folder)


def test_flow_not_used_with_group_or_solo(tmp_path: Path) -> None:
    base_kids: list[dict] = [{"child_id": "C1"}, {"child_id": "C2"}]
    pls: list[dict] = [{"placement_id": "P1", "vacancies": 2}, {"placement_id": "P2"}]
    for extra, reason in (({"sibling_group": "G1"}, "sibling group"),
                          ({"solo": "true"}, "solo child")):
        kids = [{**k, **extra} for k in base_kids]
        folder = write_instance(tmp_path / reason.replace(" ", "_"), kids, pls)
        inst = load_instance(folder)
        assert flow_blocker(inst) == reason
        result, _, _ = solve_and_check(folder)
        assert result.stats["backend"] != BACKEND_NAME
    single = write_instance(tmp_path / "single", base_kids, pls)
    assert flow_blocker(load_instance(single).with_reallocation(max_moves=1)) == (
        "re-allocation settings")
    result = solve(load_instance(single).with_reallocation(max_moves=1), time_limit=10,
                   workers=2)
    assert result.stats["backend"] != BACKEND_NAME
    placed = write_instance(tmp_path / "placed",
                            [{"child_id": "C1", "current_placement": "P1"}, base_kids[1]], pls)
    assert flow_blocker(load_instance(placed)) == (
        "placed children stay placed (move_only_in_child_interest)")
    assert solve(load_instance(single), time_limit=10, workers=2).stats["backend"] == (
        BACKEND_NAME)


# ------------------------------------------------ transportation relaxation (regional LP)

SHIPPED = Path(__file__).parent.parent / "instances"


def _transport_lp(inst, cands) -> float:  # noqa: ANN001
    """The LP relaxation over `cands` (unit rows, capacity rows), written out here with
    SciPy, independently of the flow code: min sum (c - unplaced) x + sum unplaced."""
    import numpy as np
    from scipy import sparse
    from scipy.optimize import linprog

    n_u, k = inst.units.n, len(cands)
    rows = np.concatenate([cands.unit, n_u + cands.placement])
    vals = np.concatenate([np.ones(k), cands.use.astype(float)])
    a = sparse.csr_matrix((vals, (rows, np.tile(np.arange(k), 2))),
                          shape=(n_u + inst.n_placements, k))
    b = np.concatenate([np.ones(n_u), inst.capacity.astype(float)])
    res = linprog(cands.objective - inst.unit_unplaced[cands.unit], A_ub=a, b_ub=b,
                  bounds=(0, 1), method="highs")
    assert res.status == 0
    return float(res.fun) + float(inst.unit_unplaced.sum())


def _without_solo(inst):  # noqa: ANN001, ANN202
    """The instance with no solo child (the flow charges a solo child its own beds)."""
    import dataclasses

    import numpy as np

    return dataclasses.replace(inst, solo=np.zeros_like(inst.solo))


@pytest.mark.parametrize("name", ["small", "demo"])
def test_transport_relaxation_is_the_lp_and_its_prices_are_optimal_duals(name: str) -> None:
    """The flow's value is the LP optimum, and its capacity prices are optimal duals:
    the Lagrangian bound they give over the same pairs equals that optimum (strong
    duality). Wrong potentials (sign, scale, a missed residual arc) break the second."""
    import numpy as np

    from optimiser.candidates import build_candidates
    from optimiser.flow import transport_relaxation
    from optimiser.pipeline.lp import Duals
    from optimiser.pipeline.pricing import price

    inst = load_instance(SHIPPED / name)
    assert (inst.units.size > 1).any()  # sibling groups: the flow carries beds, not units
    if inst.units.solo.any():
        inst = _without_solo(inst)
    cands, _ = build_candidates(inst, limit=None)
    lp = _transport_lp(inst, cands)
    tr = transport_relaxation(inst, cands)
    beds = float(inst.units.size.sum())
    assert tr.value == pytest.approx(lp, abs=0.01 * beds + 1e-6)  # per-bed pennies
    assert (tr.pi >= 0).all() and tr.pi.max() > 0  # capacity binds somewhere
    bound = price(inst, cands, None, Duals(tr.pi, np.zeros(inst.n_placements)), None,
                  per_unit=0).lagrangian_bound
    assert bound <= lp + 1e-6 * abs(lp)  # weak duality: every bound is below the LP
    assert bound == pytest.approx(lp, abs=0.02 * beds + 1e-6)  # and these duals reach it
    # the flow's x is a solution of the LP: unit rows and capacity rows hold
    assert np.bincount(cands.unit, weights=tr.x, minlength=inst.units.n).max() <= 1 + 1e-9
    load = np.bincount(cands.placement, weights=tr.x * cands.use, minlength=inst.n_placements)
    assert (load <= inst.capacity + 1e-9).all()


@pytest.mark.parametrize("late", [False, True])
def test_transport_rounding_gives_a_plan_that_keeps_every_capacity(late: bool) -> None:
    """Split sibling groups are placed whole, and no placement is over-filled; also
    when the deadline has passed before the first re-solve."""
    import time

    import numpy as np

    from optimiser.candidates import build_candidates
    from optimiser.flow import transport_relaxation, transport_rounding
    from optimiser.pipeline.plans import objective_of

    inst = load_instance(SHIPPED / "demo")
    cands, _ = build_candidates(inst, limit=None)
    tr = transport_relaxation(inst, cands)
    chosen = transport_rounding(inst, cands, tr.x, tr.pi,
                                deadline=time.perf_counter() - 1 if late else None)
    placed = chosen[chosen >= 0]
    assert len(placed) > 0.8 * inst.units.n
    assert (cands.unit[placed] == np.flatnonzero(chosen >= 0)).all()  # its own pair
    load = np.bincount(cands.placement[placed], weights=cands.use[placed],
                       minlength=inst.n_placements)
    assert (load <= inst.capacity).all()
    assert objective_of(inst, cands, chosen) >= tr.value - 0.01 * inst.units.size.sum()


@pytest.mark.parametrize("backend", ["cpsat", "highs"])
def test_solve_through_the_transport_path_is_checked_and_its_bound_valid(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    """The regional route (flow LP rounds, flow rounding, search model) forced on the
    demo: the plan passes the checker, and its bound is below the proven optimum."""
    import shutil

    folder = tmp_path / "demo"
    shutil.copytree(SHIPPED / "demo", folder)
    optimum, _, _ = solve_and_check(folder, time_limit=30)
    assert optimum.status == "optimal"
    result, _, _ = solve_and_check(folder, time_limit=15, backend=backend,
                                   tuning=SolverParams(transport_pairs=0))
    assert result.stats["lp_method"] == "transport"
    # the flow rounding is the incumbent to beat, whichever MIP solver follows
    assert result.objective <= 1.02 * optimum.objective
    assert result.bound <= optimum.objective + 1e-6 * optimum.objective
    assert result.objective >= optimum.objective - 1e-6 * optimum.objective
    assert result.bound > 0.9 * optimum.objective  # the flow's prices, not zero duals


def test_reflow_of_single_children_improves_a_plan_and_keeps_groups() -> None:
    """With groups fixed, the single children's re-placement is an exact flow: never
    worse than the plan it starts from, groups untouched, capacities kept."""
    import numpy as np

    from optimiser.candidates import build_candidates
    from optimiser.flow import reflow_singles
    from optimiser.pipeline.plans import greedy, objective_of

    inst = load_instance(SHIPPED / "demo")
    cands, _ = build_candidates(inst, limit=None)
    start = greedy(inst, cands)
    out = reflow_singles(inst, cands, start)
    assert objective_of(inst, cands, out) < objective_of(inst, cands, start)  # greedy is poor
    grouped = (inst.units.size > 1) | inst.units.solo
    assert (out[grouped] == start[grouped]).all()
    placed = out[out >= 0]
    load = np.bincount(cands.placement[placed], weights=cands.use[placed],
                       minlength=inst.n_placements)
    assert (load <= inst.capacity).all()


@pytest.mark.parametrize("route", ["transport", "simplex"])
def test_a_failing_flow_never_crashes_the_solve(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, route: str) -> None:
    """If the flow ever failed, the solve would go on without its prices or its hint
    (zero-dual bound, other hints) and still give a checked plan."""
    import shutil

    import optimiser.flow as flow_mod

    def broken(*args: object, **kw: object) -> None:
        raise RuntimeError("min-cost flow ended with status BAD_COST_RANGE")

    folder = tmp_path / "demo"
    shutil.copytree(SHIPPED / "demo", folder)
    monkeypatch.setattr(flow_mod, "transport_relaxation", broken)
    tuning = SolverParams(transport_pairs=0) if route == "transport" else SolverParams()
    result, _, _ = solve_and_check(folder, time_limit=10, tuning=tuning)
    assert result.stats["lp_method"] == route
    assert result.objective >= result.bound


@pytest.mark.parametrize("route", ["transport", "simplex"])
def test_no_time_for_the_lp_still_rounds_a_flow(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, route: str) -> None:
    """When the candidate pass takes half the limit (a national register), there is no
    LP; one flow over the kept pairs, rounded, still beats the greedy start by far."""
    import shutil

    from optimiser.pipeline import setup

    real = setup.candidates

    def slow(ctx: Any) -> Any:  # the pass ends, as if after 60% of the limit
        cands = real(ctx)
        ctx.t_start -= 0.6 * ctx.time_limit
        return cands

    monkeypatch.setattr(setup, "candidates", slow)
    folder = tmp_path / "demo"
    shutil.copytree(SHIPPED / "demo", folder)
    tuning = SolverParams(transport_pairs=0) if route == "transport" else SolverParams()
    result, _, _ = solve_and_check(folder, time_limit=10, tuning=tuning)
    assert result.stats["lp_method"] == route
    assert result.stats["lp_rounds"] == 0  # no LP round: no time
    assert result.objective < 0.6 * result.greedy_objective
    assert result.bound <= result.objective


def test_costs_beyond_the_flows_range_drop_only_the_tie_break(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """OR-Tools refuses costs whose magnitude times the node count may overflow
    (BAD_COST_RANGE; fuzzing: 8,000 children with unplaced = 1e8). There the fast path
    drops the status-quo tie-break (costs times units + 1) and keeps the plain pence:
    forced here with a tiny range, the plan must be the same optimum and be checked."""
    from optimiser import flow

    generate(tmp_path / "i", children=60, placements=50, seed=4)
    kids = pd.read_csv(tmp_path / "i" / "children.csv", dtype=str, keep_default_na=False)
    kids["sibling_group"] = ""
    kids["solo"] = ""
    kids.to_csv(tmp_path / "i" / "children.csv", index=False)
    plain, _, _ = solve_and_check(tmp_path / "i")
    assert plain.stats["backend"] == BACKEND_NAME
    monkeypatch.setattr(flow, "FLOW_COST_RANGE", 1.0)
    narrow, _, _ = solve_and_check(tmp_path / "i")
    assert narrow.stats["backend"] == BACKEND_NAME  # still the fast path, not the fallback
    assert narrow.status == "optimal"
    assert narrow.objective == pytest.approx(plain.objective, abs=0.01)
