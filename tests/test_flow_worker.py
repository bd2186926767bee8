"""The fast path's flow in a worker process beside the general route: the same optimum
as the flow run here when it answers in time; stopped, with the general route's plan
standing, when it does not; no worker left either way, and the checker agrees."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimiser import flow, write_solution
from optimiser.candidates import Candidates, PairPool, build_candidates
from optimiser.checker import check
from optimiser.forked import TooLate, call_by
from optimiser.generate import generate
from optimiser.pipeline import setup
from optimiser.pipeline.context import SolveContext
from optimiser.pipeline.race import FlowRace, answered, first
from optimiser.pipeline.types import BestPlan, SolveOptions
from optimiser.reader import load_instance
from optimiser.solver import solve
from optimiser.status import Status
from optimiser.watchdog import children


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


def test_a_worker_that_fails_or_is_late() -> None:
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        call_by(time.perf_counter() + 60, divmod, 1, 0)
    t = time.perf_counter()
    with pytest.raises(TooLate):
        call_by(time.perf_counter() + 0.2, time.sleep, 30)
    assert time.perf_counter() - t < 10  # killed at the deadline, not waited for


def test_the_raced_flow_answers_the_inline_optimum(big: Path) -> None:
    inst = load_instance(big)
    cands, pool = build_candidates(inst, limit=40)
    assert pool is not None and flow.flow_seconds(len(pool)) > flow.FLOW_INLINE_SECONDS
    inline = flow.solve_flow(inst, cands, pool, 0, {}, time.perf_counter())
    with SolveContext(inst, SolveOptions(time_limit=600.0)) as ctx:
        ctx.pool = pool
        assert not setup.flow_inline(ctx, len(pool))
        race = setup.fast_path(ctx, cands)
        assert isinstance(race, FlowRace) and race.job is not None
        assert race.job.recv.poll(600)  # answered
        r = answered(ctx, race)
    assert r is not None and r.status == Status.OPTIMAL
    assert r.stats["backend"] == flow.BACKEND_NAME
    assert np.array_equal(r.assignment, inline.assignment)
    assert r.objective == inline.objective


def test_a_flow_not_done_in_time_is_stopped_and_the_general_plan_stands(big: Path) -> None:
    inst = load_instance(big)
    cands, pool = build_candidates(inst, limit=40)
    with SolveContext(inst, SolveOptions(time_limit=600.0)) as ctx:
        ctx.pool = pool
        race = setup.fast_path(ctx, cands)
        assert isinstance(race, FlowRace) and race.job is not None
        worker = race.job.proc
        general = flow.solve_flow(inst, cands, cands_pool(cands), 0, {}, time.perf_counter())
        general = replace(general, status=Status.TIME_LIMIT)  # as if the route ran out
        assert first(ctx, race, general) is general  # a second of a long flow: not done
        assert not worker.is_alive()
    assert not children(os.getpid())


def cands_pool(cands: Candidates) -> PairPool:
    """The kept pairs as a pool (a plan over them is one the general route could give)."""
    return PairPool(cands.unit.astype(np.int32), cands.placement.astype(np.int32),
                    cands.objective, cands.use.astype(np.int32))


def test_solve_takes_the_flows_optimum_when_it_comes(big: Path, tmp_path: Path) -> None:
    """Through `solve`: the flow races the general route and its optimum is the answer
    (the general route alone does not prove one this fast); the checker agrees and no
    worker process is left."""
    inst = load_instance(big)
    cands, pool = build_candidates(inst, limit=40)
    assert pool is not None
    inline = flow.solve_flow(inst, cands, pool, 0, {}, time.perf_counter())
    best = BestPlan()
    r = solve(inst, SolveOptions(time_limit=300.0), best=best)
    assert r.status == Status.OPTIMAL
    assert r.objective == pytest.approx(inline.objective, abs=0.01)
    assert best.get() is not None
    assert not children(os.getpid())
    write_solution(r, tmp_path / "out")
    report = check(big, tmp_path / "out")
    assert report.ok, report
    assert report.objective == pytest.approx(r.objective, abs=0.01)
