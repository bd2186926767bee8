"""The relative gap reaches HiGHS (`SolveOptions.relative_gap`, 0 by default), and a run it
stops short is never reported as proven."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from optimiser.candidates import build_candidates
from optimiser.highs import MilpResult
from optimiser.pipeline.highs_model import milp_answer, milp_options, solve_milp
from optimiser.pipeline.plans import objective_of
from optimiser.reader import load_instance

SMALL = Path(__file__).resolve().parents[1] / "instances" / "small"


def test_the_gap_is_passed_to_highs_and_zero_by_default() -> None:
    assert milp_options(5.0)["mip_rel_gap"] == 0.0
    assert milp_options(5.0, gap=0.02)["mip_rel_gap"] == 0.02


def test_a_wide_gap_stops_highs_short_and_says_so() -> None:
    inst = load_instance(SMALL)
    cands, _ = build_candidates(inst, limit=None)
    exact, proven, bound = solve_milp(inst, cands, 30.0)
    assert exact is not None and proven
    best = objective_of(inst, cands, exact)
    assert abs(bound - best) < 0.01
    wide, proven_wide, bound_wide = solve_milp(inst, cands, 30.0, gap=0.5)
    assert wide is not None
    assert objective_of(inst, cands, wide) > best + 1.0  # HiGHS stopped early
    assert not proven_wide
    assert bound_wide <= best + 1e-6


def fake(fun: float, bound: float) -> MilpResult:
    return MilpResult(x=np.zeros(0), fun=fun, status=0, mip_dual_bound=bound,
                      message="optimal", route="highspy")


def test_optimal_within_a_gap_is_proven_only_when_the_bound_meets_the_plan() -> None:
    inst = load_instance(SMALL)
    cands, _ = build_candidates(inst, limit=None)
    assert milp_answer(inst, cands, fake(-1000.0, -1100.0), gap=0.2)[1] is False
    assert milp_answer(inst, cands, fake(-1000.0, -1000.5), gap=0.2)[1] is True
    # with no gap, HiGHS's word is taken, as before
    assert milp_answer(inst, cands, fake(-1000.0, -1100.0))[1] is True
