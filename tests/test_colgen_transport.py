"""Transport-route column generation on short supply (pipeline/colgen.transport_rounds).

Against the LP over every feasible pair (one min-cost flow over the whole pool) and the
proven optimum: the bound is never above the LP, the rounds reach the LP when they are
given the time, and the lifted bounds (from the flow's prices or from none) are valid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from builders import solve_and_check

from optimiser import flow, solve
from optimiser.candidates import build_candidates
from optimiser.params import SolverParams
from optimiser.pipeline.lp import Duals
from optimiser.pipeline.pricing import lifted, price
from optimiser.reader import load_instance
from optimiser.research.families import write_family


def _full_lp(folder: Path) -> float:
    inst = load_instance(folder)
    full, pool = build_candidates(inst, limit=None)
    assert pool is not None
    return flow.transport_relaxation(inst, full).value


@pytest.mark.parametrize("seed", [12, 13])
def test_rounds_reach_the_lp_and_the_bound_stays_below_it(tmp_path: Path, seed: int) -> None:
    folder = write_family(tmp_path / "t", "tight", children=400, placements=300, seed=seed,
                          shortage=0.3)
    lp = _full_lp(folder)
    inst = load_instance(folder)
    tuning = SolverParams(transport_pairs=0, transport_rounds_share=0.9)
    result = solve(inst, time_limit=60, workers=1, candidate_limit=3, tuning=tuning)
    assert result.stats["lp_method"] == "transport"
    lag = result.stats["lagrangian_bound"]
    tol = 1e-6 * abs(lp)
    assert lag <= lp + tol
    assert lag >= lp - 1e-4 * abs(lp) - 1.0  # converged: the LP over every pair
    assert result.bound <= result.objective + tol


def test_few_pairs_a_round_still_give_a_valid_bound(tmp_path: Path) -> None:
    """One round of few pairs stops far from the LP: the lifted bound is then the one
    reported, and it is below the proven optimum."""
    folder = write_family(tmp_path / "t", "tight", children=200, placements=150, seed=14,
                          shortage=0.35)
    optimum, _, _ = solve_and_check(folder, time_limit=60)
    assert optimum.status == "optimal"
    tuning = SolverParams(transport_pairs=0, transport_round_pairs=1,
                          transport_price_per_unit=1)
    inst = load_instance(folder)
    result = solve(inst, time_limit=20, workers=1, candidate_limit=2, tuning=tuning,
                   max_pricing_rounds=0)  # one round, then the lift
    assert result.stats["lagrangian_bound"] <= optimum.objective + 1e-6 * optimum.objective
    assert result.bound <= optimum.objective + 1e-6 * optimum.objective
    assert result.bound > 0.5 * optimum.objective


def test_lifting_from_no_prices_is_valid(tmp_path: Path) -> None:
    folder = write_family(tmp_path / "t", "tight", children=300, placements=220, seed=15,
                          shortage=0.3)
    inst = load_instance(folder)
    full, pool = build_candidates(inst, limit=None)
    assert pool is not None
    lp = flow.transport_relaxation(inst, full).value
    few, _ = build_candidates(inst, limit=3)
    zero = Duals.zero(inst)
    lag, d = lifted(inst, few, pool, zero)
    assert price(inst, few, pool, zero, None, per_unit=0).lagrangian_bound <= lag
    assert lag <= lp + 1e-6 * abs(lp)
    assert np.ptp(d.pi) == 0  # a common floor on every bed


def test_a_slow_candidate_pass_on_short_supply_still_runs_a_round(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The candidate pass ends at 60% of the limit: with the pool held and supply short a
    round still runs (its passes are cheap), and its bound stays below the optimum."""
    from typing import Any

    from optimiser.pipeline import setup

    folder = write_family(tmp_path / "t", "tight", children=200, placements=150, seed=16,
                          shortage=0.3)
    optimum, _, _ = solve_and_check(folder, time_limit=60)
    assert optimum.status == "optimal"
    real = setup.candidates

    def slow(ctx: Any) -> Any:
        cands = real(ctx)
        ctx.t_start -= 0.6 * ctx.time_limit
        return cands

    monkeypatch.setattr(setup, "candidates", slow)
    result, _, _ = solve_and_check(folder, time_limit=20,
                                   tuning=SolverParams(transport_pairs=0))
    assert result.stats["lp_method"] == "transport"
    assert result.stats["lp_rounds"] >= 1
    assert result.bound <= optimum.objective + 1e-6 * optimum.objective
    assert result.objective >= optimum.objective - 1e-6 * optimum.objective
