"""The stratified Shapley estimator, the chains of coalitions priced together, and the
coalition relaxation over the region's pairs (`optimiser.pooling.lp`)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from pooling_helpers import small_region

from optimiser.pooling import CoalitionCosts, pool, split_instance
from optimiser.pooling.coalition import bracket_chain, coalition_instance, solve_coalition
from optimiser.pooling.lp import price_coalition, relax, store
from optimiser.pooling.report import child_objective
from optimiser.pooling.shapley import (
    efficient,
    lattice_chains,
    shapley_exact,
    shapley_stratified,
    share_range,
    stratified_forms,
)
from optimiser.solver import SolveOptions

OPTS = SolveOptions(time_limit=30, workers=1)


def _game(n: int, seed: int) -> dict[int, float]:
    """A random subadditive cost game: c(S) = sum of its members' costs less random
    savings that grow with the coalition."""
    rng = np.random.default_rng(seed)
    alone = rng.uniform(50, 150, n)
    c = {0: 0.0}
    for m in range(1, 1 << n):
        members = [i for i in range(n) if m >> i & 1]
        c[m] = float(alone[members].sum()) * (1 - 0.05 * (len(members) - 1)
                                              * rng.uniform(0.5, 1.5))
    return c


@pytest.mark.parametrize("n,seed", [(4, 1), (5, 2)])
def test_stratified_over_every_order_is_the_exact_shapley_value(n: int, seed: int) -> None:
    c = _game(n, seed)
    exact = shapley_exact(n, c.__getitem__)
    perms = np.array(list(itertools.permutations(range(n))))
    forms, middle = stratified_forms(n, perms)
    x = np.array([sum(a * c[m] for m, a in f.items()) for f in forms])
    np.testing.assert_allclose(x, exact.allocated, rtol=1e-12)
    assert (middle.sum(axis=0) == len(perms) * (n - 2) // n).all()


def test_stratified_shares_add_up_and_approach_the_exact_ones() -> None:
    n = 6
    c = _game(n, 3)
    exact = shapley_exact(n, c.__getitem__)
    fetched: list[int] = []
    few = shapley_stratified(n, c.__getitem__, 8, 0, fetched.extend,
                             lambda chains: fetched.extend(m for ch in chains for m in ch))
    assert few.allocated.sum() == pytest.approx(c[(1 << n) - 1], rel=1e-12)  # efficient
    full = (1 << n) - 1
    assert {full & ~(1 << i) for i in range(n)} <= set(fetched)  # the last stratum
    many = shapley_stratified(n, c.__getitem__, 400, 0, lambda _: None, lambda _: None)
    err_few = np.abs(few.allocated - exact.allocated).max()
    err_many = np.abs(many.allocated - exact.allocated).max()
    assert err_many < err_few
    assert err_many <= 4 * many.stderr.max() + 1e-9
    lo, hi = share_range(many, c.__getitem__, c.__getitem__)  # exact costs: no range
    np.testing.assert_allclose(lo, many.share, atol=1e-6)
    np.testing.assert_allclose(hi, many.share, atol=1e-6)


def test_efficiency_correction_moves_the_uncertain_share() -> None:
    forms = [{1: 1.0}, {2: 1.0}]
    out = efficient(forms, 3, np.array([0.0, 1.0]))
    c = {1: 10.0, 2: 20.0, 3: 25.0}
    x = [sum(a * c[m] for m, a in f.items()) for f in out]
    assert x == pytest.approx([10.0, 15.0])


@pytest.mark.parametrize("n,longest", [(4, 10), (6, 3), (10, 10)])
def test_lattice_chains_cover_every_coalition_once_one_member_at_a_time(
        n: int, longest: int) -> None:
    masks = list(range(1, 1 << n))
    chains = lattice_chains(masks, longest)
    flat = [m for ch in chains for m in ch]
    assert sorted(flat) == masks
    for ch in chains:
        assert len(ch) <= longest
        for a, b in itertools.pairwise(ch):
            assert a & ~b == 0 and bin(b ^ a).count("1") == 1
    # tasks of several coalitions: as few chains as the widest level has coalitions
    assert len(chains) == math.comb(n, n // 2) if longest >= n else len(chains) < len(masks)


@pytest.mark.parametrize("seed", [31, 32])
def test_relaxation_brackets_the_optimum_cold_or_warm(tmp_path: Path, seed: int) -> None:
    inst = small_region(tmp_path / "r", 3, seed, children=60, beds_per_child=0.5)
    split = split_instance(inst)
    small = price_coalition(split, 1)
    for mask in (3, split.grand):
        cold = price_coalition(split, mask)
        warm = price_coalition(split, mask, warm=small.held)
        exact = solve_coalition(split, mask, OPTS)
        assert exact.status == "optimal"
        for p in (cold, warm):
            assert p.lower <= exact.objective + 1e-6 <= p.upper + 1e-6
            assert p.converged
            sub, kids, places = coalition_instance(split, mask)
            local = np.where(p.plan >= 0, np.searchsorted(places, p.plan), -1)
            assert float(child_objective(sub, local).sum()) == pytest.approx(p.upper)
            load = np.bincount(local[local >= 0], minlength=sub.n_placements)
            assert (load <= sub.capacity).all()
        assert warm.lower == pytest.approx(cold.lower, rel=1e-4, abs=1.0)  # one relaxation
        rp = store(split)
        assert set(np.unique(rp.unit_owner[cold.held])) <= set(split.members(mask))


def test_the_coalitions_pairs_are_every_pair_of_its_instance(tmp_path: Path) -> None:
    inst = small_region(tmp_path / "r", 3, 33, children=60, beds_per_child=0.5)
    split = split_instance(inst)
    rp = store(split)
    for mask in (1, 5, split.grand):
        sel = rp.of(split, mask)
        kids = np.isin(split.child_owner, split.members(mask))
        units = inst.units
        mine = kids[units.order[units.start[:-1]]]
        assert mine[rp.unit[sel]].all()
        assert np.isin(split.placement_owner[rp.placement[sel]], split.members(mask)).all()
        rel = relax(split, mask)
        assert rel.converged and set(rel.held) <= set(sel) and set(rel.held) <= set(rel.ever)
    key = rp.unit.astype(np.int64) * inst.n_placements + rp.placement
    assert (np.diff(key) > 0).all()  # sorted by unit, then placement, no pair twice


def test_a_chain_prices_each_coalition_as_alone(tmp_path: Path) -> None:
    inst = small_region(tmp_path / "r", 4, 34, children=60, beds_per_child=0.5)
    split = split_instance(inst)
    masks = (1, 3, 7, 15)
    chained = bracket_chain(split, masks, OPTS)
    for s in chained:
        alone = solve_coalition(split, s.mask, OPTS)
        assert s.bound <= alone.objective + 1e-6 <= s.objective + 1e-6
    costs = CoalitionCosts(split, OPTS, method="bracket")
    assert costs.warm(7) is None
    costs.ensure([15])
    assert costs.warm(7) is costs.solved[15].held  # from the region, kept to its own
    costs.ensure_chains([list(masks), [2, 6]])
    assert set(costs.solved) == {1, 2, 3, 6, 7, 15}
    assert costs.warm(5) is costs.solved[1].held or costs.warm(5) is costs.solved[7].held
    assert costs.warm(13) is costs.solved[15].held  # one member apart, not two (1)
    assert costs.warm(10) is costs.solved[2].held  # one member apart, not two (15)


def test_pool_by_bracket_sampled_is_efficient_with_the_last_stratum(tmp_path: Path) -> None:
    inst = small_region(tmp_path / "r", 4, 35, children=60, beds_per_child=0.5)
    res = pool(inst, OPTS, method="bracket", samples=6)
    sh = res.shares
    assert not sh.exact and sh.forms is not None
    assert sh.allocated.sum() == pytest.approx(sh.pooled, rel=1e-9)
    full = res.split.grand
    assert all(full & ~(1 << i) in res.costs.solved for i in range(4))
    assert res.share_lo is not None and res.share_hi is not None
    assert (res.share_lo <= sh.share + 1e-6).all() and (sh.share <= res.share_hi + 1e-6).all()


def test_pool_without_budget_for_the_last_stratum_samples_plain_orders(
        tmp_path: Path) -> None:
    inst = small_region(tmp_path / "r", 4, 36, children=60, beds_per_child=0.5)
    res = pool(inst, OPTS, method="bracket", samples=4, budget=1e-3)
    sh = res.shares
    assert sh.forms is None and sh.samples == 2  # one antithetic pair, always drawn
    assert sh.allocated.sum() == pytest.approx(sh.pooled, rel=1e-9)
    full = res.split.grand
    assert not all(full & ~(1 << i) in res.costs.solved for i in range(4))


def test_one_antithetic_pair_has_a_finite_conservative_error() -> None:
    n = 5
    c = _game(n, 4)
    two = shapley_stratified(n, c.__getitem__, 2, 0, lambda _: None, lambda _: None)
    assert two.orders is not None
    _, middle = stratified_forms(n, two.orders)
    inner = middle.any(axis=0)
    assert np.isfinite(two.stderr[inner]).all() and (two.stderr[inner] > 0).all()
    assert np.isinf(two.stderr[~inner]).all()
    exact = shapley_exact(n, c.__getitem__)
    without = efficient(stratified_forms(n, two.orders)[0], (1 << n) - 1,
                        np.where(inner, 1.0, 1.0))  # the residual spread on everyone
    x = np.array([sum(a * c[m] for m, a in f.items()) for f in without])
    # the middle mass the two end players lack goes to them, not to everyone
    assert np.abs(two.allocated - exact.allocated)[~inner].sum() \
        < np.abs(x - exact.allocated)[~inner].sum()
