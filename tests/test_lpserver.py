"""The warm LP server (optimiser/lpserver.py): the same LP as SciPy's, warm when the
model only grew, cold when it changed, SciPy when the server is gone, and the whole
solve unchanged with it on (the re-allocation rows: pins, kept placements, moves)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from optimiser import load_instance
from optimiser.candidates import build_candidates
from optimiser.checker import check
from optimiser.generate import generate
from optimiser.lpserver import LpServer
from optimiser.params import SolverParams
from optimiser.pipeline.lp import lp_duals
from optimiser.pipeline.plans import subset
from optimiser.pipeline.pricing import price
from optimiser.pipeline.rows import clique_cuts
from optimiser.variants import add_reallocation_columns


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("lpserver") / "i"
    generate(folder, children=150, placements=120, seed=1)
    inst = load_instance(folder)
    cands, pool = build_candidates(inst, limit=None)
    return inst, cands, pool


def test_warm_rounds_give_scipys_lp(authority) -> None:
    """Column generation's pattern: a subset of the pairs, then all of them, then clique
    cuts. Each LP value equals SciPy's from nothing, the duals give a valid bound no
    higher than the LP, and every solve after the first is warm."""
    inst, cands, pool = authority
    rng = np.random.default_rng(0)
    part = subset(cands, rng.random(len(cands)) < 0.6)
    with LpServer() as server:
        _, v1, _ = lp_duals(inst, part, server=server)
        assert v1 == pytest.approx(lp_duals(inst, part)[1], abs=1e-6)
        d2, v2, x2 = lp_duals(inst, cands, server=server)
        assert v2 == pytest.approx(lp_duals(inst, cands)[1], abs=1e-6)
        q = clique_cuts(inst, cands, x2)
        d3, v3, _ = lp_duals(inst, cands, cliques=q, server=server)
        assert v3 == pytest.approx(lp_duals(inst, cands, cliques=q)[1], abs=1e-6)
        assert server.solves == 3 and server.warm == 2
    for d, v in ((d2, v2), (d3, v3)):
        assert price(inst, cands, pool, d, None).lagrangian_bound <= v + 1e-6


def test_a_changed_model_starts_cold(authority) -> None:
    """Fewer pairs than the last solve (a row or column it had is gone): from nothing,
    and still SciPy's value."""
    inst, cands, _ = authority
    part = subset(cands, np.arange(len(cands)) % 3 != 0)
    with LpServer() as server:
        lp_duals(inst, cands, server=server)
        _, v, _ = lp_duals(inst, part, server=server)
        assert server.solves == 2 and server.warm == 0
    assert v == pytest.approx(lp_duals(inst, part)[1], abs=1e-6)


def test_a_dead_server_falls_back_to_scipy(authority) -> None:
    inst, cands, _ = authority
    server = LpServer()
    assert server.proc is not None
    server.proc.kill()
    server.proc.wait()
    _, v, _ = lp_duals(inst, cands, server=server)
    assert v == pytest.approx(lp_duals(inst, cands)[1], abs=1e-6)
    assert server.proc is None  # closed: later rounds go straight to SciPy
    server.close()


def test_time_limit_counts_from_each_solve() -> None:
    """HiGHS's run clock adds up over the runs of one model. Found on authority-2000: the
    second cut-proof round was stopped at its limit after a fraction of a second, because
    the LP stage's rounds had used the clock. Here 60 warm solves with a limit each that
    their sum exceeds (the limit leaves room for a busy machine): every one must end
    optimal."""
    rng = np.random.default_rng(3)
    m, n = 300, 3_000
    limit = 0.5
    a = sparse.random(m, n, density=0.02, random_state=4, format="csr") + sparse.eye(
        m, n, format="csr")
    c = -rng.random(n)
    t0 = time.perf_counter()
    with LpServer() as server:
        for step in range(60):
            k = 1_000 + 30 * step
            got = server.solve(c[:k], np.zeros(k), np.ones(k), a[:, :k], np.ones(m),
                               np.arange(m), np.arange(k), limit)
            assert got is not None, (step, server.last_status)
        assert server.warm == 59
    assert time.perf_counter() - t0 > limit  # else the clock could not have run out


def test_solve_with_the_server_keeps_the_reallocation_rules(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pins, kept placements and a moves limit are rows of their own (keys 2-4 in
    `pipeline.rows.row_keys`): forced through the server on a small authority, the plan is optimal,
    with SciPy's objective, and passes the checker."""
    from optimiser.pipeline import context
    from optimiser.reallocate import ReallocOptions, reallocate, write_plan
    from optimiser.solver import SolveOptions, solve

    folder = tmp_path / "auth"
    day = dt.date(2025, 6, 2)
    generate(folder, children=90, placements=75, seed=7, placed_share=0.7)
    add_reallocation_columns(folder, 7, day, hold_share=0.08, later_share=0.05,
                             placed_days=900, later_days=40)
    opts = ReallocOptions(max_moves=3, min_saving=20.0, date=day, time_limit=30, workers=2)
    plain = reallocate(load_instance(folder), opts)
    used: list[int] = []
    real = context.LpServer

    class Counting(real):  # type: ignore[misc, valid-type]
        def close(self) -> None:
            used.append(self.solves)
            super().close()

    monkeypatch.setattr(context, "LpServer", Counting)
    # `reallocate`'s solve, with the server taking every restricted LP
    run = load_instance(folder).with_reallocation(date=day, max_moves=3, min_saving=20.0)
    warm = solve(run, SolveOptions(time_limit=30, workers=2, backend="highs",
                                   lp_tolerance=1e-5,
                                   tuning=SolverParams(lp_server_pairs=0)))
    assert used and used[0] >= 1  # the server solved the LP
    assert warm.status == plain.status == "optimal"
    assert warm.objective == pytest.approx(plain.objective, abs=0.01)
    write_plan(warm, tmp_path / "out")
    assert check(folder, tmp_path / "out").ok


def test_without_highspy_the_lp_is_scipys(authority, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          caplog: pytest.LogCaptureFixture) -> None:
    """A worker that exits 3 (what `_lp_worker.py` does where highspy is missing): the
    LP is SciPy's, with a warning that says why."""
    from optimiser import lpserver

    inst, cands, _ = authority
    fake = tmp_path / "worker.py"
    fake.write_text("raise SystemExit(3)\n")
    monkeypatch.setattr(lpserver, "WORKER", fake)
    server = lpserver.LpServer()
    assert server.proc is not None
    server.proc.wait()
    with caplog.at_level("WARNING", logger="optimiser.lpserver"):
        _, v, _ = lp_duals(inst, cands, server=server)
    assert v == pytest.approx(lp_duals(inst, cands)[1], abs=1e-6)
    assert "highspy is not installed" in caplog.text
    server.close()


def test_a_solve_that_does_not_run_leaves_no_old_status() -> None:
    """`lp_duals` skips SciPy only when *this* solve hit the time limit: a call the server
    declines (keys not one to one) must not carry the last solve's status."""
    a = sparse.eye(2, 3, format="csr")
    with LpServer() as server:
        server.last_status = "Time limit reached"  # as left by an earlier solve
        got = server.solve(-np.ones(3), np.zeros(3), np.ones(3), a, np.ones(2),
                           np.array([0, 0]), np.arange(3), 1.0)
        assert got is None
        assert server.last_status == ""
