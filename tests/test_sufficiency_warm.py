"""Re-solves from the allocation before: a step's tries pruned only where their bound shows
they cannot win (each bound checked against the exact saving of an independent model),
and a saving not proven labelled a lower bound."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optimiser.solver import solve
from optimiser.sufficiency.extend import Extender, Profile
from optimiser.sufficiency.recruit import (
    Outcome,
    Recommendation,
    Step,
    exact,
    greedy_plan,
    outcome,
    saving_bounds,
)
from optimiser.sufficiency.run import plan_table, recruit_table
from tests.test_sufficiency_recruit import (
    OPTS,
    ROUTES,
    profile,
    random_instance,
    reference_saving,
    screen_of,
    verifier_for,
)


def profiles_for(seed: int, n: int) -> list[Profile]:
    rng = np.random.default_rng(200 + seed)
    return [profile(lat=52.0 + float(rng.uniform(-0.2, 0.2)),
                    lon=-1.0 + float(rng.uniform(-0.2, 0.2)), beds=int(rng.integers(1, 3)),
                    age_min=int(rng.integers(0, 10)),
                    weekly_cost=float(rng.integers(300, 900))) for _ in range(n)]


@pytest.mark.parametrize("seed", [4, 5])
def test_the_saving_bound_holds(seed: int, tmp_path: Path) -> None:
    folder = random_instance(tmp_path / "r", seed)
    profiles = profiles_for(seed, 3)
    screen = screen_of(folder, profiles)
    lp = screen.relax([])
    base = outcome(solve(Extender(folder).instance(()), OPTS))
    bound = saving_bounds(lp, screen.predict(lp), base)
    for i, p in enumerate(profiles):
        exact = reference_saving(folder, tmp_path, [], [p], f"b{i}")
        assert exact <= bound[i] + 1e-6


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("seed", [4, 6])
def test_each_step_is_the_best_of_its_tries(seed: int, route: str, tmp_path: Path) -> None:
    """Pruned or not, a step's recruit saves the most of the tries (by the independent
    model), and its saving is the exact one."""
    folder = random_instance(tmp_path / "r", seed)
    profiles = profiles_for(seed, 4)
    screen = screen_of(folder, profiles)
    base = outcome(solve(Extender(folder).instance(()), OPTS))
    steps = greedy_plan(screen, base, 2, verifier_for(route, folder, screen), tries=4)
    done: list[Profile] = []
    for s in steps:
        rest = [p for p in profiles if p not in done]
        savings = [reference_saving(folder, tmp_path, done, done + [p], f"s{s.step}-{j}")
                   for j, p in enumerate(rest)]
        assert s.exact
        assert s.verified == pytest.approx(max(savings), rel=1e-9, abs=1e-6)
        done.append(s.profile)


def test_a_saving_not_proven_is_labelled_a_lower_bound() -> None:
    p = profile()
    proven = Outcome(100.0, "optimal", 3, 100.0)
    stopped = Outcome(100.0, "time_limit", 3, 100.0)
    recs = [Recommendation(p, 5.0, 4.0, proven, True),
            Recommendation(p, 5.0, 3.0, stopped, False)]
    assert list(recruit_table(recs)["verified_is"]) == ["exact", "lower bound"]
    steps = [Step(1, p, 5.0, 4.0, stopped, False)]
    assert list(plan_table(steps, proven)["verified_is"]) == ["lower bound"]


def test_a_saving_under_a_relative_gap_is_never_exact() -> None:
    proven = Outcome(100.0, "optimal", 3, 100.0)
    stopped = Outcome(100.0, "time_limit", 3, 100.0)
    assert exact(proven, proven, 0.0)
    assert not exact(proven, stopped, 0.0)
    assert not exact(stopped, proven, 0.0)
    assert not exact(proven, proven, 1e-4)
