"""`SolveOptions.relative_gap` reaches every HiGHS stage of a solve, and a plan it lets
stop short is reported as feasible with an honest bound, never as optimal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optimiser.reader import load_instance
from optimiser.solver import SolveOptions, solve

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = json.loads((ROOT / "instances" / "golden.json").read_text())


@pytest.mark.parametrize("backend", ["highs", "cpsat"])
@pytest.mark.parametrize("gap", [0.0, 0.05])
def test_a_solve_within_a_gap_is_honest(gap: float, backend: str) -> None:
    inst = load_instance(ROOT / "instances" / "demo")
    best = GOLDEN["demo"]["objective"]
    res = solve(inst, SolveOptions(time_limit=60.0, backend=backend, fast_path=False,
                                   relative_gap=gap, workers=1))
    assert res.bound <= best + 0.01 <= res.objective + 0.02
    assert (res.objective - res.bound) <= gap * abs(res.objective) + 0.01
    if res.status == "optimal":
        assert round(res.objective, 2) == best
    if gap == 0.0:
        assert res.status == "optimal"


def test_a_gap_lets_the_search_stop_before_the_optimum() -> None:
    """On the demo HiGHS stops within 5% before the optimum: the gap was honoured."""
    inst = load_instance(ROOT / "instances" / "demo")
    res = solve(inst, SolveOptions(time_limit=60.0, backend="highs", fast_path=False,
                                   relative_gap=0.05, workers=1))
    assert res.status == "feasible"
    assert res.objective > GOLDEN["demo"]["objective"] + 1.0
