"""Incremental re-solves (optimiser/sufficiency/resolve.py) against an independent exact
model (tests/reference_model.py shares no code with the engine): every bound they use
holds, a plan is never worse than the one it started from, and a saving called exact is
the exact one."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from optimiser import write_solution
from optimiser.checker import check
from optimiser.solver import Plan, plan_result, solve
from optimiser.sufficiency.extend import Extender, Profile
from optimiser.sufficiency.recruit import EngineVerifier, Outcome, exact, outcome
from optimiser.sufficiency.resolve import Resolver, applies, best_price, knapsack
from optimiser.sufficiency.run import Settings, improved, verifier
from tests.builders import write_instance
from tests.reference_model import solve_reference
from tests.test_sufficiency_recruit import (
    OPTS,
    profile,
    random_instance,
    screen_of,
    with_profiles,
)


def profiles_for(seed: int, n: int) -> list[Profile]:
    rng = np.random.default_rng(300 + seed)
    return [profile(lat=52.0 + float(rng.uniform(-0.2, 0.2)),
                    lon=-1.0 + float(rng.uniform(-0.2, 0.2)), beds=int(rng.integers(1, 4)),
                    age_min=int(rng.integers(0, 10)),
                    weekly_cost=float(rng.integers(300, 1200))) for _ in range(n)]


def optimum(folder: Path, tmp: Path, profiles: list[Profile], tag: str) -> float:
    ref = solve_reference(with_profiles(folder, tmp / tag, profiles))
    assert ref.status == "optimal"
    return float(ref.objective)


def test_knapsack_is_the_best_subset() -> None:
    rng = np.random.default_rng(0)
    for _ in range(30):
        n = int(rng.integers(0, 7))
        values = rng.uniform(-5, 20, n)
        weights = rng.integers(1, 4, n)
        cap = int(rng.integers(0, 6))
        best = max((values[list(s)].sum() for r in range(n + 1)
                    for s in itertools.combinations(range(n), r)
                    if weights[list(s)].sum() <= cap), default=0.0)
        assert knapsack(values, weights, cap) == pytest.approx(max(best, 0.0))


def beds_term(gain: np.ndarray, use: np.ndarray, beds: int, price: float) -> float:
    """A new placement's part of the Lagrangian bound at `price` a bed."""
    return float(-np.maximum(0.0, gain - use * price).sum() - price * beds)


def test_best_price_maximises_the_bound() -> None:
    """The price found gives the highest Lagrangian term of the new placement's beds,
    against a fine grid of prices."""
    rng = np.random.default_rng(1)
    for _ in range(20):
        gain = rng.uniform(-10, 50, 8)
        use = rng.integers(1, 3, 8)
        beds = int(rng.integers(1, 6))
        grid = max(beds_term(gain, use, beds, t) for t in np.linspace(0, 60, 6001))
        assert beds_term(gain, use, beds, best_price(gain, use, beds)) >= grid - 1e-9


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_resolve_is_bounded_and_never_worse(seed: int, tmp_path: Path) -> None:
    """Each profile added to the engine's plan: the bound is below the exact optimum, the
    plan no worse than the start and, where proven, the exact optimum."""
    folder = random_instance(tmp_path / "r", seed)
    profiles = profiles_for(seed, 3)
    screen = screen_of(folder, profiles)
    assert applies(screen.inst)
    base = outcome(solve(Extender(folder).instance(()), OPTS))
    lp = screen.relax([])
    resolver = Resolver(screen, OPTS.time_limit, proof_pairs=0)
    for i, p in enumerate(profiles):
        after = optimum(folder, tmp_path, [p], f"a{i}")
        got = resolver.add([], i, base, lp)
        assert got.bound <= after + 1e-6
        assert after <= got.objective + 1e-6
        assert got.objective <= base.objective + 1e-9
        if got.proven:
            assert got.objective == pytest.approx(after, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("seed", [1, 2, 3, 5])
def test_the_removal_bound_holds(seed: int, tmp_path: Path) -> None:
    """From the exact optimum without a profile, the removal bound is below the exact
    optimum with it (every unit may be left unplaced in these instances)."""
    folder = random_instance(tmp_path / "r", seed)
    profiles = profiles_for(seed, 3)
    resolver = Resolver(screen_of(folder, profiles), OPTS.time_limit)
    before = optimum(folder, tmp_path, [], "b")
    for i, p in enumerate(profiles):
        assert resolver.removal_bound(before, i) <= optimum(folder, tmp_path, [p], f"a{i}") + 1e-6


@pytest.mark.parametrize("seed", [2, 6])
def test_the_saving_bounds_hold(seed: int, tmp_path: Path) -> None:
    """What prunes a step's tries: no profile saves more than its bound against the plan."""
    folder = random_instance(tmp_path / "r", seed)
    profiles = profiles_for(seed, 4)
    screen = screen_of(folder, profiles)
    base = outcome(solve(Extender(folder).instance(()), OPTS))
    lp = screen.relax([])
    bounds = Resolver(screen, OPTS.time_limit).bounds([], base, lp, screen.predict(lp))
    for i, p in enumerate(profiles):
        saving = base.objective - optimum(folder, tmp_path, [p], f"a{i}")
        assert saving <= bounds[i] + 1e-6


@pytest.mark.parametrize("seed", [3, 7])
def test_a_proven_resolve_gives_the_exact_saving(seed: int, tmp_path: Path) -> None:
    """The incremental route, allowed to prove, gives the saving the independent model
    gives, labelled exact, for every profile."""
    folder = random_instance(tmp_path / "r", seed)
    profiles = profiles_for(seed, 3)
    screen = screen_of(folder, profiles)
    base = outcome(solve(Extender(folder).instance(()), OPTS))
    assert base.proven
    lp = screen.relax([])
    resolver = Resolver(screen, OPTS.time_limit)
    before = optimum(folder, tmp_path, [], "b")
    for i, p in enumerate(profiles):
        got = resolver.add([], i, base, lp)
        assert exact(base, got)
        saving = before - optimum(folder, tmp_path, [p], f"a{i}")
        assert base.objective - got.objective == pytest.approx(saving, rel=1e-9, abs=1e-6)


def test_a_plan_after_is_found_from_any_start(tmp_path: Path) -> None:
    """Started from the status quo (nobody placed), a re-solve still finds a plan as good
    as the independent optimum when allowed to prove, and says so."""
    folder = random_instance(tmp_path / "r", 8)
    profiles = profiles_for(8, 1)
    screen = screen_of(folder, profiles)
    n = screen.inst.n_children
    nobody = Outcome(float(screen.inst.unit_unplaced.sum()), "feasible", 0, 0.0,
                     np.full(n, -1, dtype=np.int64))
    got = Resolver(screen, OPTS.time_limit).add([], 0, nobody, screen.relax([]))
    assert got.proven
    assert got.objective == pytest.approx(optimum(folder, tmp_path, profiles, "a"),
                                          rel=1e-9, abs=1e-6)


def test_the_engine_re_solves_where_the_route_does_not_apply(tmp_path: Path) -> None:
    """Split siblings change the model: the incremental route must not be taken."""
    children = [{"child_id": "C1", "sibling_group": "G"}, {"child_id": "C2",
                                                          "sibling_group": "G"}]
    folder = write_instance(tmp_path / "s", children, [{"placement_id": "P1",
                                                        "vacancies": 2}],
                            policy="[rules]\nsplit_siblings = true\n")
    screen = screen_of(folder, [profile()])
    assert not applies(screen.inst)
    assert isinstance(verifier(str(folder), screen, Settings()), EngineVerifier)
    plain = screen_of(random_instance(tmp_path / "r", 1), [profile()])
    assert isinstance(verifier(str(folder), plain, Settings()), Resolver)
    assert isinstance(verifier(str(folder), plain, Settings(full_resolves=True)),
                      EngineVerifier)


def test_an_improved_allocation_is_what_the_checker_finds(tmp_path: Path) -> None:
    """The allocation searched again at the screen's prices (from nobody placed) is a
    better plan, and the result written with it is what the independent checker finds."""
    folder = random_instance(tmp_path / "r", 9)
    screen = screen_of(folder, profiles_for(9, 1))
    inst = Extender(folder).instance(())
    nobody = plan_result(inst, Plan(np.full(inst.n_children, -1, dtype=np.int64),
                                    float(inst.unit_unplaced.sum()), -np.inf), 0.0)
    better = Resolver(screen, OPTS.time_limit).settle((), outcome(nobody), screen.relax([]))
    assert better.objective < nobody.objective
    assert better.objective == pytest.approx(optimum(folder, tmp_path, [], "b"), rel=1e-9,
                                             abs=1e-6)
    result = improved(nobody, better)
    write_solution(result, tmp_path / "out")
    report = check(folder, tmp_path / "out")
    assert report.ok, [str(v) for v in report.violations]
    assert report.objective == pytest.approx(result.objective, rel=1e-9, abs=1e-6)
