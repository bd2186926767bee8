"""The Shapley split and the stand-alone check on cost games given by hand (no solver):
efficiency, symmetry, the dummy, exact against sampled, a core that holds and one that
cannot."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from optimiser.pooling.shapley import (
    orders,
    prefixes,
    shapley_exact,
    shapley_sampled,
    stand_alone_check,
)


def _game(n: int, seed: int) -> dict[int, float]:
    """A random subadditive cost game: each player's stand-alone cost, less a pairwise
    saving for every pair pooled (capped so that no coalition costs below zero)."""
    rng = np.random.default_rng(seed)
    alone = rng.uniform(50, 150, n)
    saving = rng.uniform(0, 20, (n, n))
    cost = {0: 0.0}
    for m in range(1, 1 << n):
        members = [i for i in range(n) if m >> i & 1]
        pair = sum(saving[i, j] for i, j in itertools.combinations(members, 2))
        cost[m] = float(alone[members].sum() - min(pair, 0.5 * alone[members].sum()))
    return cost


def _brute_shapley(n: int, cost: dict[int, float]) -> np.ndarray:
    """The definition: average marginal cost over all n! orders."""
    x = np.zeros(n)
    perms = list(itertools.permutations(range(n)))
    for p in perms:
        mask = 0
        for i in p:
            x[i] += cost[mask | 1 << i] - cost[mask]
            mask |= 1 << i
    return x / len(perms)


@pytest.mark.parametrize("n,seed", [(2, 0), (3, 1), (4, 2), (5, 3)])
def test_exact_matches_the_definition_and_is_efficient(n: int, seed: int) -> None:
    cost = _game(n, seed)
    sh = shapley_exact(n, cost.__getitem__)
    np.testing.assert_allclose(sh.allocated, _brute_shapley(n, cost), rtol=1e-12)
    full = (1 << n) - 1
    assert sh.share.sum() == pytest.approx(sum(cost[1 << i] for i in range(n)) - cost[full])
    assert sh.allocated.sum() == pytest.approx(cost[full])
    assert sh.gain == pytest.approx(sh.share.sum())


def test_two_players_split_the_saving_in_half() -> None:
    cost = {0: 0.0, 1: 10.0, 2: 20.0, 3: 24.0}
    sh = shapley_exact(2, cost.__getitem__)
    np.testing.assert_allclose(sh.share, [3.0, 3.0])
    np.testing.assert_allclose(sh.allocated, [7.0, 17.0])


def test_symmetric_players_get_equal_shares() -> None:
    # players 0 and 1 are interchangeable: c depends on how many of them are in S, and on 2
    def cost(m: int) -> float:
        k = (m & 1) + (m >> 1 & 1)
        third = m >> 2 & 1
        return [0.0, 100.0, 150.0][k] + 80.0 * third - (30.0 if third and k else 0.0)

    sh = shapley_exact(3, cost)
    assert sh.share[0] == pytest.approx(sh.share[1])
    assert sh.share[0] != pytest.approx(sh.share[2])


def test_a_dummy_gets_nothing() -> None:
    base = _game(3, 7)
    dummy_cost = 42.0  # player 3 adds exactly its own cost to every coalition

    def cost(m: int) -> float:
        return base[m & 7] + (dummy_cost if m & 8 else 0.0)

    sh = shapley_exact(4, cost)
    assert sh.share[3] == pytest.approx(0.0, abs=1e-9)
    assert sh.allocated[3] == pytest.approx(dummy_cost)
    assert sh.share[:3].sum() == pytest.approx(sh.gain)


def test_sampled_agrees_with_exact_within_its_error() -> None:
    n = 6
    cost = _game(n, 11)
    exact = shapley_exact(n, cost.__getitem__)
    est = shapley_sampled(n, cost.__getitem__, samples=400, seed=5)
    assert not est.exact and est.samples == 400
    assert np.all(est.stderr > 0)
    assert np.all(np.abs(est.share - exact.share) <= 4 * est.stderr + 1e-9)
    # efficiency holds for every sampled order, so for their mean too
    assert est.share.sum() == pytest.approx(exact.gain)


def test_sampling_fetches_each_coalition_once_in_one_batch() -> None:
    n = 12
    cost = _game(n, 4)
    batches: list[set[int]] = []
    asked: list[int] = []

    def counting(m: int) -> float:
        asked.append(m)
        return cost[m]

    shapley_sampled(n, counting, samples=10, seed=1, prefetch=lambda ms: batches.append(set(ms)))
    assert len(batches) == 1
    assert set(asked) <= batches[0]
    assert batches[0] >= prefixes(orders(n, 10, 1))


def test_orders_are_seeded_antithetic_permutations() -> None:
    a, b = orders(5, 6, 3), orders(5, 6, 3)
    np.testing.assert_array_equal(a, b)
    for row in a:
        assert sorted(row.tolist()) == list(range(5))
    np.testing.assert_array_equal(a[1], a[0][::-1])


def test_exact_refuses_too_many_players() -> None:
    with pytest.raises(ValueError, match="at most"):
        shapley_exact(11, lambda m: 0.0)


def test_stand_alone_check_passes_where_the_core_is_not_empty() -> None:
    # a convex (concave cost) game: the Shapley value lies in the core
    def cost(m: int) -> float:
        return float(np.sqrt(bin(m).count("1")) * 100.0)

    sh = shapley_exact(3, cost)
    chk = stand_alone_check(sh.allocated, cost, range(1, 8))
    assert chk.ok and chk.individual_ok and chk.core_ok
    assert chk.tested == 7 and chk.worst_mask == 0


def test_stand_alone_check_fails_where_the_core_is_empty() -> None:
    # any two pool for 100 less than apart, all three save no more: c(N) = 200 forces
    # someone's pair to bear 2/3 * 200 = 133 > 100, whatever the split
    def cost(m: int) -> float:
        k = bin(m).count("1")
        return {0: 0.0, 1: 100.0, 2: 100.0, 3: 200.0}[k]

    sh = shapley_exact(3, cost)
    chk = stand_alone_check(sh.allocated, cost, range(1, 8))
    assert chk.individual_ok  # nobody bears more than alone...
    assert not chk.core_ok and not chk.ok  # ...but a pair would do better on its own
    assert bin(chk.worst_mask).count("1") == 2
    assert chk.worst_excess == pytest.approx(200 * 2 / 3 - 100)


def test_stand_alone_check_names_an_authority_worse_off() -> None:
    cost = {0: 0.0, 1: 10.0, 2: 10.0, 3: 15.0}.__getitem__
    chk = stand_alone_check(np.array([12.0, 3.0]), cost, [1, 2, 3])
    assert not chk.individual_ok and chk.worst_mask == 1
