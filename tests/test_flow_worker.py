"""The fast path's flow in a worker process: the same plan when it answers in time; killed
at the deadline, the greedy plan is the answer, stopped by the time limit with a bound
that holds, and the checker accepts it."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimiser import flow, write_solution
from optimiser.candidates import build_candidates
from optimiser.checker import check
from optimiser.forked import Forked, TooLate, call_by
from optimiser.generate import generate
from optimiser.pipeline import setup, stopped
from optimiser.pipeline.context import SolveContext
from optimiser.pipeline.plans import greedy, objective_of
from optimiser.pipeline.types import BestPlan, SolveOptions
from optimiser.reader import load_instance
from optimiser.status import Status


def singles(folder: Path, children: int, placements: int) -> Path:
    """A generated register with no sibling group, no solo child and no move rule: a
    transportation problem, which the fast path takes."""
    generate(folder, children=children, placements=placements, seed=11)
    ch = pd.read_csv(folder / "children.csv", dtype=str, keep_default_na=False)
    ch["sibling_group"] = ""
    ch["solo"] = "false"
    ch.to_csv(folder / "children.csv", index=False)
    pl = pd.read_csv(folder / "placements.csv", dtype=str, keep_default_na=False)
    pl.loc[pl["reserved_for"].str.startswith("G"), "reserved_for"] = ""  # no groups now
    pl.to_csv(folder / "placements.csv", index=False)
    policy = folder / "policy.toml"
    policy.write_text(policy.read_text().replace("move_only_in_child_interest = true",
                                                 "move_only_in_child_interest = false"))
    assert flow.flow_blocker(load_instance(folder)) is None
    return folder


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About two million feasible pairs: seconds of flow, never a tenth of one."""
    return singles(tmp_path_factory.mktemp("flow") / "i", 2_500, 1_900)


def test_the_worker_gives_the_inline_plan(tmp_path: Path) -> None:
    inst = load_instance(singles(tmp_path / "i", 300, 220))
    cands, pool = build_candidates(inst, limit=40)
    assert pool is not None
    full = flow.pool_candidates(inst, pool, cands.n_feasible, cands.stats)
    here, pence = flow.flow_choice(inst, full)
    there, pence_there = call_by(time.perf_counter() + 300, flow.flow_choice, inst, full)
    assert np.array_equal(here, there) and pence == pence_there
    inline = flow.solve_flow(inst, cands, pool, 0, {}, time.perf_counter())
    forked = flow.solve_flow(inst, cands, pool, 0, {}, time.perf_counter(),
                             deadline=time.perf_counter() + 300)
    assert forked.status == inline.status == Status.OPTIMAL
    assert np.array_equal(forked.assignment, inline.assignment)
    assert forked.objective == inline.objective


def test_a_worker_that_fails_or_is_late() -> None:
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        call_by(time.perf_counter() + 60, divmod, 1, 0)
    t = time.perf_counter()
    with pytest.raises(TooLate):
        call_by(time.perf_counter() + 0.2, time.sleep, 30)
    assert time.perf_counter() - t < 10  # killed at the deadline, not waited for


def test_a_flow_stopped_at_the_limit_gives_the_greedy_plan(big: Path, tmp_path: Path) -> None:
    inst = load_instance(big)
    best = BestPlan()
    cands, pool = build_candidates(inst, limit=40)
    assert pool is not None and flow.flow_seconds(len(pool)) > 1.0
    # the limit ends a tenth of a second from now: the flow's worker is killed mid-way
    opts = SolveOptions(time_limit=30.0, started=time.perf_counter() - 29.9)
    with SolveContext(inst, opts, best_plan=best) as ctx:
        ctx.pool = pool
        assert setup.flow_deadline(ctx, len(pool)) is not None
        t = time.perf_counter()
        r = setup.fast_path(ctx, cands)
        late = time.perf_counter() - t
    assert r is not None and r.status == Status.TIME_LIMIT
    # the flow over the kept pairs when its own worker answered in time, else the greedy
    assert r.stats["plan"] in ("flow over the kept pairs (flow stopped)",
                               "greedy (flow stopped)")
    assert r.objective <= objective_of(inst, cands, greedy(inst, cands)) + 0.01
    assert late < 5.0  # the greedy plan and a killed worker, not the whole flow
    assert r.placed > 0 and 0.0 <= r.bound <= r.objective
    held = best.get()
    assert held is not None and held.objective == pytest.approx(r.objective)
    optimum = flow.solve_flow(inst, cands, pool, 0, {}, time.perf_counter())
    assert r.bound <= optimum.objective + 1e-6 <= r.objective + 1e-6
    write_solution(r, tmp_path / "out")
    report = check(big, tmp_path / "out")
    assert report.ok, report
    assert report.objective == pytest.approx(r.objective, abs=0.01)


def test_a_stopped_flow_falls_back_on_the_flow_over_the_kept_pairs(big: Path,
                                                                    tmp_path: Path) -> None:
    """When the kept pairs' flow has answered by the limit, its plan (optimal over each
    unit's cheapest pairs) is the answer, never worse than the greedy one."""
    inst = load_instance(big)
    cands, _ = build_candidates(inst, limit=40)
    kept = Forked(flow.flow_choice, inst, cands)
    assert kept.recv.poll(300)  # answered
    start = greedy(inst, cands)
    with SolveContext(inst, SolveOptions(time_limit=30.0)) as ctx:
        r = stopped.flow_stopped(ctx, cands, start, kept)
    assert r.status == Status.TIME_LIMIT
    assert r.stats["plan"] == "flow over the kept pairs (flow stopped)"
    best, _ = flow.flow_choice(inst, cands)
    assert r.objective == pytest.approx(objective_of(inst, cands, best))
    assert r.objective <= objective_of(inst, cands, start) + 0.01
    write_solution(r, tmp_path / "out")
    assert check(big, tmp_path / "out").ok
