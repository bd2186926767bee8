"""GAP knapsack-Lagrangian machinery: knapsack DP, bound, pair prices, dives.

Every check compares against brute force on small random instances (or a published
optimum), so a wrong DP, an invalid bound or an over-eager fixing rule fails here.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest

from optimiser.backends import AssignmentModel, lp_relaxation
from optimiser.research import INSTALL_HINT
from optimiser.research.gap_instance import (
    GapInstance,
    default_data_dir,
    load_gap,
    read_best_known,
)

pytest.importorskip("numba", reason=f"the GAP solver needs numba: {INSTALL_HINT}")

from optimiser.research.gap import Incumbent, dives, lagrangian  # noqa: E402
from optimiser.research.gap_search import (  # noqa: E402
    knapsack,
    knapsack_bound,
    knapsack_deltas,
    knapsack_values,
    lagrangian_dive,
    lagrangian_start,
    local_search,
    regret_greedy,
)


def _random_gap(m: int, n: int, seed: int, tight: float = 0.8) -> GapInstance:
    """Type-D-like: cost falls as resource use rises, capacity a share of the load."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 30, (m, n))
    c = 40 - a + rng.integers(-5, 6, (m, n))
    b = np.maximum((tight * a.sum(axis=1) / m).astype(int), a.max(axis=0).min())
    return GapInstance(f"rnd{seed}", c, a, b)


def _brute_gap(inst: GapInstance) -> tuple[int, list[np.ndarray]] | None:
    """Optimum and every optimal assignment, by enumeration."""
    best, arg = None, []
    for x in itertools.product(range(inst.m), repeat=inst.n):
        try:
            v = inst.objective(np.asarray(x))
        except ValueError:
            continue
        if best is None or v < best:
            best, arg = v, [np.asarray(x)]
        elif v == best:
            arg.append(np.asarray(x))
    return None if best is None else (best, arg)


def _brute_knap(profit: np.ndarray, weight: np.ndarray, cap: int,
                force: tuple[int, bool] | None = None) -> float:
    best = -np.inf
    n = len(profit)
    for bits in itertools.product((0, 1), repeat=n):
        z = np.asarray(bits, dtype=bool)
        if force is not None and z[force[0]] != force[1]:
            continue
        if weight[z].sum() <= cap:
            best = max(best, float(profit[z].sum()))
    return best


@pytest.mark.parametrize("seed", range(8))
def test_knapsack_dp_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 9
    profit = rng.normal(2.0, 4.0, n)
    weight = rng.integers(0, 12, n)
    cap = int(rng.integers(5, 40))
    z = np.zeros(n, dtype=np.bool_)
    value = knapsack(profit, weight, cap, z)
    assert value == pytest.approx(_brute_knap(profit, weight, cap))
    assert weight[z].sum() <= cap and profit[z].sum() == pytest.approx(value)
    d_in, d_out = np.zeros(n), np.zeros(n)
    assert knapsack_deltas(profit, weight, cap, d_in, d_out) == pytest.approx(value)
    for j in range(n):
        with_j = _brute_knap(profit, weight, cap, (j, True))
        without = _brute_knap(profit, weight, cap, (j, False))
        assert d_in[j] == pytest.approx(value - with_j) if np.isfinite(with_j) \
            else d_in[j] == np.inf
        assert d_out[j] == pytest.approx(value - without)


@pytest.mark.parametrize("seed", range(6))
def test_bound_is_valid_and_pair_prices_never_cut_an_optimum(seed: int) -> None:
    inst = _random_gap(3, 7, seed)
    brute = _brute_gap(inst)
    if brute is None:
        pytest.skip("random instance infeasible")
    opt, optima = brute
    model = AssignmentModel.dense(inst.c, inst.a, inst.b, drop_oversize=True)
    lp = lp_relaxation(model)
    lp_bound, _ = lagrangian(model, lp.capacity_dual)
    low, u, d_in, d_out, _ = knapsack_bound(inst.c, inst.a, inst.b, lp.job_dual, opt + 5,
                                            time.perf_counter() + 10)
    assert lp_bound - 1e-6 <= low <= opt + 1e-6  # at least the LP bound, never above opt
    assert low == pytest.approx(float(u.sum() - knapsack_values(inst.c, inst.a, inst.b,
                                                                u).sum()))
    jobs = np.arange(inst.n)
    for x in optima:  # every optimum survives both fixing rules at U = opt + 1
        assert np.all(low + d_in[x, jobs] <= opt + 1e-6)
        others = np.ones((inst.m, inst.n), dtype=bool)
        others[x, jobs] = False
        assert np.all(low + d_out[others] <= opt + 1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_dive_and_start_respect_capacity(seed: int) -> None:
    inst = _random_gap(4, 24, seed)
    model = AssignmentModel.dense(inst.c, inst.a, inst.b, drop_oversize=True)
    lp = lp_relaxation(model)
    _, u, d_in, _, _ = knapsack_bound(inst.c, inst.a, inst.b, lp.job_dual, 1e9,
                                      time.perf_counter() + 10)
    rng = np.random.default_rng(seed)
    for keep in (0, 1, 2):
        part = lagrangian_dive(inst.c, inst.a, inst.b, u, 1e9, rng, keep_agents=keep,
                               noise=0.5)
        assert part is not None
        done = part >= 0
        load = np.bincount(part[done], weights=inst.a[part[done], np.flatnonzero(done)],
                           minlength=inst.m)
        assert np.all(load <= inst.b)
        assert len(np.unique(part[done])) <= inst.m - keep
    # an unreachable upper bound stops the dive
    assert lagrangian_dive(inst.c, inst.a, inst.b, u, -1e9, rng) is None
    x = lagrangian_start(inst.c, inst.a, inst.b, u, d_in)
    if x is not None:
        inst.objective(x)  # raises when over capacity


def _gap1(problem: int) -> tuple[GapInstance, int]:
    data = default_data_dir()
    if data is None or not (data / "gap" / "orlib" / "gap1.txt").is_file():
        pytest.skip("shared/data/gap absent")
    best = read_best_known(data / "gap" / "best_known.csv")
    return (load_gap(data / "gap" / "orlib" / "gap1.txt", problem),
            best[("orlib/gap1.txt", problem, "min")].value)


@pytest.mark.parametrize("problem", [1, 3])
def test_dives_improve_a_poor_start_to_the_known_optimum(problem: int) -> None:
    inst, opt = _gap1(problem)
    cost = inst.c
    n = inst.n
    start = regret_greedy(cost, inst.a, inst.b, inst.a.astype(float))  # a poor start
    assert start is not None
    v0 = inst.objective(start)
    shared = Incumbent(start, v0)
    model = AssignmentModel.dense(cost, inst.a, inst.b, drop_oversize=True)
    lp = lp_relaxation(model)
    low, u, d_in, _, _ = knapsack_bound(cost, inst.a, inst.b, lp.job_dual, v0,
                                        time.perf_counter() + 10)
    values = []
    orig = shared.offer

    def spy(x: np.ndarray, value: int, who: str) -> bool:
        assert inst.objective(x) == value  # feasible and priced right
        values.append(value)
        return orig(x, value, who)

    shared.offer = spy  # type: ignore[method-assign]
    stats = dives(inst, cost, d_in, low, u, shared, time.perf_counter() + 20, 0,
                  lambda: shared.value <= opt, {})
    x, value = shared.get()
    assert inst.objective(x) == value <= v0
    assert value == opt, (value, opt, stats)
    assert x.shape == (n,) and min(values, default=v0) == value


@pytest.mark.parametrize("seed", range(6))
def test_local_search_feasible_never_worse_and_a_local_optimum(seed: int) -> None:
    inst = _random_gap(5, 30, seed, tight=1.2)  # loose enough for a random start
    rng = np.random.default_rng(seed)
    start = regret_greedy(inst.c, inst.a, inst.b, rng.random((inst.m, inst.n)))
    if start is None:
        pytest.skip("no feasible random start")
    v0 = inst.objective(start)
    x = local_search(inst.c, inst.a, inst.b, start, time.perf_counter() + 10)
    v = inst.objective(x)  # raises when over capacity
    assert v <= v0
    jobs = np.arange(inst.n)
    load = np.bincount(x, weights=inst.a[x, jobs], minlength=inst.m)
    for j in range(inst.n):  # no improving shift is left ...
        p = x[j]
        for q in range(inst.m):
            if q != p and load[q] + inst.a[q, j] <= inst.b[q]:
                assert inst.c[q, j] >= inst.c[p, j]
        for k in range(inst.n):  # ... and no improving swap
            q = x[k]
            if q == p:
                continue
            if (load[p] - inst.a[p, j] + inst.a[p, k] <= inst.b[p]
                    and load[q] - inst.a[q, k] + inst.a[q, j] <= inst.b[q]):
                assert inst.c[q, j] + inst.c[p, k] >= inst.c[p, j] + inst.c[q, k]


def test_solver_on_a_tight_instance_keeps_time_and_uses_the_dives() -> None:
    """A type-D-like 15 x 120 instance is not proven in 3 s: the answer is feasible, its
    bound is the knapsack bound or better, the dives ran, and the limit is kept."""
    from optimiser.research.gap import solve_gap

    inst = _random_gap(15, 120, 7)
    r = solve_gap(inst, "min", "cpsat", time_limit=3.0, workers=2, seed=0)
    assert r.assignment is not None and r.objective == inst.objective(r.assignment)
    assert r.bound is not None and r.bound <= r.objective
    assert r.stats["kn_bound"] >= r.stats["lp_bound"] - 1e-6
    assert r.bound >= math.ceil(r.stats["kn_bound"] - 1e-6)
    if r.status != "optimal":
        assert r.stats.get("dives", 0) > 0
    assert r.seconds <= 3.0 + 0.5
