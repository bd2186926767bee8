"""HiGHS through highspy in its own process (optimiser/highs.py): the same answers as
SciPy's HiGHS, a starting solution taken, and SciPy as the fall-back."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

import optimiser.highs as highs_mod
from optimiser.highs import milp


def _knapsack_pair(seed: int) -> tuple[np.ndarray, sparse.csr_matrix, np.ndarray]:
    """A small two-knapsack assignment: 12 items, each in at most one of 2 bins."""
    rng = np.random.default_rng(seed)
    n_items, n_bins = 12, 2
    k = n_items * n_bins
    item = np.repeat(np.arange(n_items), n_bins)
    bin_ = np.tile(np.arange(n_bins), n_items)
    w = rng.integers(2, 9, size=k).astype(float)
    c = -rng.integers(5, 30, size=k).astype(float)  # profits as negative costs
    a = sparse.vstack([sparse.csr_matrix((np.ones(k), (item, np.arange(k))), (n_items, k)),
                       sparse.csr_matrix((w, (bin_, np.arange(k))), (n_bins, k))]).tocsr()
    hi = np.concatenate([np.ones(n_items), np.full(n_bins, 15.0)])
    return c, a, hi


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_highspy_in_its_own_process_equals_scipy(seed: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """OR-Tools is loaded in this process (the package imports it), which is why the
    worker runs apart; both routes prove the same optimum."""
    assert any(name.startswith("ortools") for name in sys.modules)
    c, a, hi = _knapsack_pair(seed)
    k = len(c)
    opts = {"time_limit": 20.0, "mip_rel_gap": 0.0}
    ours = milp(c, a, -np.inf, hi, np.zeros(k), np.ones(k), np.ones(k), opts)
    monkeypatch.setenv("PLACEMENT_HIGHS", "scipy")
    ref = milp(c, a, -np.inf, hi, np.zeros(k), np.ones(k), np.ones(k), opts)
    assert ours.route == "highspy" and ref.route == "scipy"
    assert ours.status == ref.status == 0
    assert ours.fun == pytest.approx(ref.fun)
    assert ours.mip_dual_bound == pytest.approx(ours.fun)
    assert ours.x is not None and np.all(a @ np.round(ours.x) <= hi + 1e-9)


def test_a_starting_solution_is_taken_and_the_limit_kept() -> None:
    """With no time to search, HiGHS still returns the plan it was given (it checks and
    keeps a feasible start); the same call without it may return nothing better."""
    c, a, hi = _knapsack_pair(3)
    k = len(c)
    start = np.zeros(k)
    start[0] = 1.0  # item 0 in bin 0: feasible
    res = milp(c, a, -np.inf, hi, np.zeros(k), np.ones(k), np.ones(k),
               {"time_limit": 0.0, "mip_rel_gap": 0.0}, hint=start)
    assert res.route == "highspy"
    assert res.x is not None and res.fun is not None and res.fun <= c[0] + 1e-9


def test_scipy_takes_over_when_highspy_is_missing(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that cannot import highspy exits 3: SciPy's HiGHS answers instead."""
    worker = tmp_path / "no_highspy.py"
    worker.write_text("raise SystemExit(3)\n")
    monkeypatch.setattr(highs_mod, "WORKER", worker)
    c, a, hi = _knapsack_pair(4)
    k = len(c)
    res = milp(c, a, -np.inf, hi, np.zeros(k), np.ones(k), np.ones(k), {"time_limit": 20.0})
    assert res.route == "scipy" and res.status == 0 and res.fun is not None


def test_stop_ends_the_search_with_its_incumbent() -> None:
    """A multi-dimensional knapsack HiGHS cannot prove in a minute (it ran to a 30 s limit
    unproven): `stop()` makes it return within seconds, as at a time limit, with a plan."""
    import time

    from optimiser.highs import milp_start

    rng = np.random.default_rng(0)
    n, m = 100, 10
    w = rng.integers(1, 1000, size=(m, n)).astype(float)
    profit = w.sum(0) / m + rng.integers(0, 500, size=n)
    cap = 0.5 * w.sum(1)
    t = time.perf_counter()
    pending = milp_start(-profit, sparse.csr_matrix(w), -np.inf, cap, np.zeros(n), np.ones(n),
                         np.ones(n), {"time_limit": 60.0, "mip_rel_gap": 0.0,
                                      "presolve": False})
    time.sleep(1.0)
    pending.stop()
    res = pending.result()
    assert res is not None and res.x is not None
    assert time.perf_counter() - t < 15.0
    assert res.status == 1  # time limit (or interrupted), as SciPy numbers it
    x = np.round(res.x)
    assert np.all(w @ x <= cap + 1e-6) and res.fun == pytest.approx(-profit @ x)


def test_cancel_is_safe_after_result_and_twice() -> None:
    """A solve's clean-up cancels every worker it started, whatever happened: after the
    answer was read, or a second time, that must do nothing and raise nothing."""
    from optimiser.highs import milp_start

    c, a, hi = _knapsack_pair(0)
    k = len(c)
    pending = milp_start(c, a, -np.inf, hi, np.zeros(k), np.ones(k), np.ones(k),
                         {"time_limit": 20.0, "mip_rel_gap": 0.0})
    res = pending.result()
    assert res is not None and res.status == 0
    pending.cancel()
    pending.cancel()
    assert pending.proc.poll() is not None


def test_an_optimal_answer_attains_its_objective(monkeypatch: pytest.MonkeyPatch) -> None:
    """With presolve on and a start solution, highspy 1.16 can report "optimal" with the
    optimum's value but the start solution as its answer (demo-placed re-allocated with
    no moves: the last MIP, from the incumbent). Such an answer is a plan, not a proof,
    or the race of presolve off and on ends "optimal" above the optimum whenever the
    presolve run finishes first. Every answer read must attain its objective, or not be
    called optimal; and the re-allocation must reach the one-run optimum with the race."""
    import datetime as dt

    from optimiser import load_instance
    from optimiser.pipeline import highs_model, search
    from optimiser.reallocate import ReallocOptions, reallocate

    folder = Path(__file__).resolve().parent.parent / "instances" / "demo-placed"
    day = dt.date(2025, 6, 2)
    seen: dict = {}
    real_race = search.race_milp

    def race(inst, model, *a, **k):  # type: ignore[no-untyped-def]
        seen.update(inst=inst, model=model, a=a, k=k)
        return real_race(inst, model, *a, **k)

    monkeypatch.setattr(search, "race_milp", race)
    one = reallocate(load_instance(folder), ReallocOptions(max_moves=0, date=day,
                                                           time_limit=60, workers=1))
    assert one.status == "optimal" and seen
    inst, model, (_, _, forced, max_moves), k = (seen["inst"], seen["model"], seen["a"],
                                                 seen["k"])
    c, a_ub, b_ub, lb, x0 = highs_model.milp_arrays(inst, model, forced, max_moves, None,
                                                    None, k["cliques"], k["hint"], None)
    n = len(model)
    for presolve in (False, True):
        res = highs_mod.milp_start(c, a_ub, -np.inf, b_ub, lb, np.ones(n), np.ones(n),
                                   highs_model.milp_options(30, presolve=presolve, seed=0),
                                   hint=x0).result()
        assert res is not None and res.x is not None and res.fun is not None
        assert res.status != 0 or highs_mod.attains(c, res.x, res.fun), presolve
        assert float(c @ res.x) == pytest.approx(res.fun, abs=1e-3)
    monkeypatch.setattr(search, "race_milp", real_race)
    for _ in range(3):
        raced = reallocate(load_instance(folder), ReallocOptions(max_moves=0, date=day,
                                                                 time_limit=60, workers=2))
        assert raced.status == "optimal"
        assert raced.objective == pytest.approx(one.objective, abs=0.005)
