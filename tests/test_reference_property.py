"""The engine's optimum equals an independent model's, on random instances that place
most of their children, by every route: the default, each MIP backend, the min-cost-flow
fast path, a pruned start priced back, and re-allocation under a moves limit.

One side of each comparison is tests/reference_model.py (the full pair set, solved
exactly, no engine code), so a mistake in the engine's candidates, pricing or fixing
cannot agree with itself here. The engine's plan is also re-priced by the reference, so a
reported objective that is not its plan's fails too. Examples are derandomized: CI runs
the same instances every time.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import pytest
from builders import write_instance
from hypothesis import given, settings
from reference_model import Reference, evaluate, read_spec, solve_reference
from strategies import REPEATABLE, Drawn, instances

from optimiser import load_instance, solve
from optimiser.reallocate import ReallocOptions, reallocate

PENNY = 0.005
DAY = dt.date(2025, 6, 2)


def agree(data: Drawn, *, max_moves: int | None = None, realloc: bool = False,
          **options: Any) -> None:
    """Solve with the engine and with the reference; same status, optimum to the penny,
    and the engine's objective is its own plan's."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_instance(Path(tmp) / "i", data.children, data.placements,
                                data.exclusions, policy=data.policy)
        spec = read_spec(folder, day=DAY, max_moves=max_moves)
        ref: Reference = solve_reference(spec)
        inst = load_instance(folder)
        if realloc:
            res = reallocate(inst, ReallocOptions(max_moves=max_moves, date=DAY,
                                                  time_limit=30, workers=2, **options))
        else:
            res = solve(inst, time_limit=30, workers=2, **options)
        inst = res.instance
        plan = {str(inst.child_ids[c]): str(inst.placement_ids[p]) if p >= 0 else ""
                for c, p in enumerate(res.assignment.tolist())}
    assert ref.status == "optimal"
    assert res.status == "optimal"
    assert abs(evaluate(spec, plan) - res.objective) <= PENNY, "objective is not the plan's"
    assert abs(res.objective - ref.objective) <= PENNY, (res.objective, ref.objective,
                                                        plan, ref.assignment)


@settings(REPEATABLE, max_examples=100)
@given(instances())
def test_engine_optimum_is_the_reference_optimum(data: Drawn) -> None:
    agree(data)


@pytest.mark.parametrize("backend", ["cpsat", "highs", "cbc"])
@settings(REPEATABLE, max_examples=15)
@given(data=instances())
def test_every_backend_reaches_the_reference_optimum(backend: str, data: Drawn) -> None:
    agree(data, backend=backend, fast_path=False)


@pytest.mark.parametrize("fast_path", [True, False])
@settings(REPEATABLE, max_examples=15)
@given(data=instances(transport=True))
def test_transportation_instances_with_and_without_the_fast_path(fast_path: bool,
                                                                 data: Drawn) -> None:
    """No groups, solo children or current placements: the min-cost-flow shape."""
    agree(data, fast_path=fast_path)


@settings(REPEATABLE, max_examples=20)
@given(instances())
def test_a_pruned_start_priced_back_reaches_the_reference_optimum(data: Drawn) -> None:
    """One candidate pair per unit at the start: pricing must bring back every pair
    the optimum needs, and fixing must not drop one."""
    agree(data, candidate_limit=1)


@pytest.mark.parametrize("max_moves", [0, 1, None])
@settings(REPEATABLE, max_examples=12)
@given(data=instances(reallocation=True))
def test_reallocation_reaches_the_reference_optimum(max_moves: int | None,
                                                    data: Drawn) -> None:
    """Pinned children, placements on hold and a limit on moves, as `reallocate` runs."""
    agree(data, max_moves=max_moves, realloc=True)
