"""Coalition costs: each coalition solved once, in one batch per call, and the best known
plan of a coalition (its own solve, or the union of disjoint solved parts when that is
cheaper: a solve stopped at its time limit never makes pooling look dearer)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pooling_helpers import small_region

from optimiser.pooling import CoalitionCosts, Solved, split_instance
from optimiser.solver import SolveOptions


def _fake(costs: dict[int, float], calls: list[list[int]]
          ) -> Callable[[Callable[..., Any], Sequence[tuple[Any, ...]]], list[Any]]:
    """A mapper that 'solves' a coalition by looking its cost up (placing nobody)."""
    def mapper(fn: Callable[..., Any], args_list: Sequence[tuple[Any, ...]]) -> list[Any]:
        calls.append([a[1] for a in args_list])
        out = []
        for split, mask, _ in args_list:
            kids = np.isin(split.child_owner, split.members(mask))
            plan = np.full(int(kids.sum()), mask, dtype=np.int64)  # marks who planned it
            out.append(Solved(mask, costs[mask], costs[mask] - 1, "time_limit", 0.0, plan))
        return out
    return mapper


def test_best_known_cost_is_the_cheaper_of_solve_and_unions(tmp_path: Path) -> None:
    split = split_instance(small_region(tmp_path / "r", 3, 1, children=30))
    raw = {1: 10.0, 2: 20.0, 4: 30.0, 3: 25.0, 5: 40.0, 6: 52.0, 7: 70.0}
    calls: list[list[int]] = []
    cc = CoalitionCosts(split, SolveOptions(), _fake(raw, calls))
    cc.ensure(range(1, 8))
    assert calls == [[7, 3, 5, 6, 1, 2, 4]]  # one batch, the largest coalitions first
    assert cc.cost(3) == 25.0 and cc.parts(3) == (3,)  # its own solve is best
    # raw 70 for all three is dearer than {1,2} (25) + {3} (30) = 55
    assert cc.cost(7) == 55.0 and sorted(cc.parts(7)) == [3, 4]
    plan = cc.plan(7)
    np.testing.assert_array_equal(plan[split.child_owner == 2], 4)
    np.testing.assert_array_equal(plan[split.child_owner < 2], 3)
    assert not cc.proven(7) and cc.bound(7) == 69.0
    cc.ensure([1, 7])
    assert len(calls) == 1  # nothing solved twice


def test_an_unsolved_coalition_is_priced_by_its_solved_parts(tmp_path: Path) -> None:
    split = split_instance(small_region(tmp_path / "r", 3, 2, children=30))
    raw = {1: 10.0, 2: 20.0, 4: 30.0, 3: 25.0, 5: 35.0, 6: 45.0, 7: 50.0}
    calls: list[list[int]] = []
    cc = CoalitionCosts(split, SolveOptions(), _fake(raw, calls))
    cc.ensure([1, 2, 4])
    assert cc.cost(3) == 30.0 and len(calls) == 1  # 10 + 20, without a solve
    cc.ensure([3])
    assert cc.cost(3) == 25.0 and cc.cost(7) == 55.0


def test_time_limit_grows_with_the_coalition(tmp_path: Path) -> None:
    split = split_instance(small_region(tmp_path / "r", 3, 3, children=60))
    sizes = np.bincount(split.child_owner)
    cc = CoalitionCosts(split, SolveOptions(time_limit=10.0), max_time_scale=2.5)
    big = int(np.argmax(sizes))
    assert cc.options_for(1 << big).time_limit == 10.0
    assert cc.options_for(7).time_limit == pytest.approx(
        10.0 * min(2.5, sizes.sum() / sizes.max()))
    assert CoalitionCosts(split, SolveOptions(time_limit=10.0)).options_for(7).time_limit == 10
