"""A solve whose candidate pass is cut short by the clock answers honestly from the engine
itself (for a Python caller as for a command): stopped by the time limit, the status quo
with waiting children placed where the pass found room, a bound that holds, and a plan
the independent checker accepts."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from optimiser import write_solution
from optimiser.candidates import build_candidates
from optimiser.checker import check
from optimiser.params import SolverParams
from optimiser.pipeline import stopped
from optimiser.pipeline.context import SolveContext
from optimiser.pipeline.types import BestPlan, SolveOptions
from optimiser.reader import load_instance
from optimiser.solver import solve
from optimiser.status import Status

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = json.loads((ROOT / "instances" / "golden.json").read_text())
NO_TIME = SolverParams(candidates_share=1e-9)  # the pass stops before its first block


@pytest.mark.parametrize("name", ["demo", "demo-placed"])
def test_a_pass_cut_short_gives_the_status_quo(name: str, tmp_path: Path) -> None:
    inst = load_instance(ROOT / "instances" / name)
    best = BestPlan()
    r = solve(inst, SolveOptions(time_limit=1.0, tuning=NO_TIME), best=best)
    assert r.status == Status.TIME_LIMIT
    assert r.stats["candidates_cut_short"] == 1.0
    assert np.array_equal(r.assignment, inst.current)  # nobody reached: nobody moves
    optimum = GOLDEN[name]["objective"]
    assert r.bound <= optimum + 1e-6 <= r.objective + 1e-6
    assert r.gap == pytest.approx((r.objective - r.bound) / r.objective)
    held = best.get()
    assert held is not None and held.objective == pytest.approx(r.objective)
    write_solution(r, tmp_path / "out")
    report = check(ROOT / "instances" / name, tmp_path / "out")
    assert report.ok, report
    assert report.objective == pytest.approx(r.objective, abs=0.01)


def test_units_reached_are_placed_and_the_rest_stay(tmp_path: Path) -> None:
    """A pass that reached only half the units: the waiting ones among those are placed
    greedily in the beds the status quo leaves; the others keep their places."""
    folder = ROOT / "instances" / "demo-placed"
    inst = load_instance(folder)
    full, _ = build_candidates(inst, limit=40)
    half = full.unit < inst.units.n // 2
    cut = replace(full, unit=full.unit[half], placement=full.placement[half],
                  objective=full.objective[half], use=full.use[half],
                  n_feasible=np.where(np.arange(inst.units.n) < inst.units.n // 2,
                                      full.n_feasible, np.maximum(full.n_feasible, 1)))
    assert stopped.unreached(cut).any() and not stopped.unreached(full).any()
    with SolveContext(inst, SolveOptions(time_limit=10.0)) as ctx:
        r = stopped.cut_short(ctx, cut)
    assert r.status == Status.TIME_LIMIT
    moved = (inst.current >= 0) & (r.assignment != inst.current)
    assert not moved.any()
    late = inst.units.unit_of >= inst.units.n // 2
    assert (r.assignment[late & (inst.current < 0)] < 0).all()
    assert (r.assignment[~late & (inst.current < 0)] >= 0).any()  # the reached are placed
    assert r.bound <= GOLDEN["demo-placed"]["objective"] + 1e-6 <= r.objective + 1e-6
    write_solution(r, tmp_path / "out")
    report = check(folder, tmp_path / "out")
    assert report.ok, report
    assert report.objective == pytest.approx(r.objective, abs=0.01)
