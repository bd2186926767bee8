"""Sampling the Shapley value until it is precise enough or the time is up, and the
range of shares that coalition costs known only within bounds allow."""

from __future__ import annotations

import time

import numpy as np
import pytest

from optimiser.pooling.shapley import (
    orders,
    shapley_exact,
    shapley_sampled,
    share_range,
)


def _game(n: int, seed: int) -> dict[int, float]:
    """A random subadditive cost game with more than pairwise savings (for which an
    order and its reverse would give the exact value): the saving grows as the cube
    root of the members' joint weight."""
    rng = np.random.default_rng(seed)
    alone = rng.uniform(50, 150, n)
    weight = rng.uniform(0, 1, n)
    cost = {0: 0.0}
    for m in range(1, 1 << n):
        members = [i for i in range(n) if m >> i & 1]
        own = float(alone[members].sum())
        cost[m] = own - 40.0 * (weight[members].sum() ** (1 / 3) - sum(
            weight[i] ** (1 / 3) for i in members) / len(members)) * (len(members) > 1)
    return cost


def test_sampling_stops_once_precise_enough() -> None:
    n, cost = 8, _game(8, 3)
    loose = shapley_sampled(n, cost.__getitem__, 400, seed=1, tolerance=0.8, batch=4)
    tight = shapley_sampled(n, cost.__getitem__, 400, seed=1, tolerance=0.25, batch=4)
    assert 10 <= loose.samples < tight.samples <= 400
    assert loose.stderr.max() <= 0.8 and tight.stderr.max() <= 0.25
    assert loose.samples % 4 == 0  # whole batches of antithetic pairs
    # the orders are the first of the same seeded sequence: a longer run extends it
    assert loose.orders is not None and tight.orders is not None
    np.testing.assert_array_equal(tight.orders[: loose.samples], loose.orders)
    np.testing.assert_array_equal(tight.orders, orders(n, tight.samples, 1))
    exact = shapley_exact(n, cost.__getitem__)
    assert np.all(np.abs(tight.share - exact.share) <= 5 * tight.stderr + 1e-9)
    assert tight.allocated.sum() == pytest.approx(exact.pooled)


def test_sampling_stops_at_the_deadline() -> None:
    n, cost = 6, _game(6, 4)
    batches: list[int] = []

    def slow(ms: object) -> None:
        batches.append(1)
        time.sleep(0.05)

    start = time.perf_counter()
    sh = shapley_sampled(n, cost.__getitem__, 1000, seed=2, prefetch=slow,
                         deadline=start + 0.2, batch=2)
    assert 1 <= len(batches) <= 5 and sh.samples == 2 * len(batches)
    assert time.perf_counter() - start < 0.5


def test_share_range_is_the_share_when_costs_are_exact() -> None:
    n, cost = 4, _game(4, 5)
    for sh in (shapley_exact(n, cost.__getitem__),
               shapley_sampled(n, cost.__getitem__, 10, seed=3)):
        lo, hi = share_range(sh, cost.__getitem__, cost.__getitem__)
        np.testing.assert_allclose(lo, sh.share, atol=1e-9)
        np.testing.assert_allclose(hi, sh.share, atol=1e-9)


@pytest.mark.parametrize("exact", [True, False])
def test_share_range_holds_every_game_within_the_bounds(exact: bool) -> None:
    n, best = 5, _game(5, 6)
    rng = np.random.default_rng(7)
    low = {m: v - (rng.uniform(0, 5) if m else 0.0) for m, v in best.items()}
    base = shapley_exact(n, best.__getitem__) if exact else \
        shapley_sampled(n, best.__getitem__, 12, seed=4)
    lo, hi = share_range(base, low.__getitem__, best.__getitem__)
    assert (lo < base.share).any() and (hi >= base.share - 1e-9).all()
    for _ in range(30):  # any true cost between the bounds: its share is in the range
        true = {m: low[m] + rng.uniform() * (best[m] - low[m]) for m in best}
        sh = shapley_exact(n, true.__getitem__) if exact else \
            shapley_sampled(n, true.__getitem__, 12, seed=4)
        assert (lo - 1e-9 <= sh.share).all() and (sh.share <= hi + 1e-9).all()
