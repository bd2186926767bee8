"""Recruitment profiles: predicted savings against LP re-solves, verified savings against an
independent exact model (tests/reference_model.py shares no code with the engine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from optimiser.candidates import build_candidates
from optimiser.solver import SolveOptions, solve
from optimiser.sufficiency.extend import Extender, Profile
from optimiser.sufficiency.recruit import (
    EngineVerifier,
    Screen,
    Verifier,
    greedy_plan,
    outcome,
    recommend,
)
from optimiser.sufficiency.resolve import Resolver, applies
from tests.builders import write_instance
from tests.reference_model import solve_reference

OPTS = SolveOptions(time_limit=20, workers=1)
ROUTES = ("incremental", "engine")


def verifier_for(route: str, folder: Path, screen: Screen) -> Verifier:
    """The re-solves by `route`: the incremental search (which must apply to these
    plain instances) or the whole engine."""
    if route == "engine":
        return EngineVerifier(str(folder), screen.profiles, OPTS)
    assert applies(screen.inst)
    return Resolver(screen, OPTS.time_limit)


def with_profiles(src: Path, dst: Path, profiles: list[Profile]) -> Path:
    """The test's own copy of `src` with the profiles appended to placements.csv."""
    dst.mkdir(parents=True)
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    pl = pd.read_csv(src / "placements.csv", dtype=str, keep_default_na=False)
    rows = [{"placement_id": f"T{i}", "provider": "t", "type": p.type, "vacancies": p.beds,
             "age_min": p.age_min, "age_max": p.age_max, "genders": p.genders,
             "faith": p.faith, "needs_supported": p.needs_supported,
             "ofsted_rating": "not_rated", "lat": p.lat, "lon": p.lon,
             "weekly_cost": p.weekly_cost} for i, p in enumerate(profiles)]
    pd.concat([pl, pd.DataFrame(rows)], ignore_index=True).fillna("").to_csv(
        dst / "placements.csv", index=False)
    return dst


def reference_saving(src: Path, tmp: Path, before: list[Profile], after: list[Profile],
                     tag: str) -> float:
    a = solve_reference(with_profiles(src, tmp / f"{tag}-a", before))
    b = solve_reference(with_profiles(src, tmp / f"{tag}-b", after))
    assert a.status == b.status == "optimal"
    return a.objective - b.objective


def screen_of(folder: Path, profiles: list[Profile]) -> Screen:
    ext = Extender(folder)
    base = ext.instance(())
    aug = ext.instance(tuple(profiles))
    pool, _ = build_candidates(aug, limit=None)
    return Screen(aug, pool, base.n_placements, tuple(profiles))


def lp_value(folder: Path) -> float:
    """The LP relaxation over every pair, built here from the engine's pairs (not value.py)."""
    inst = Extender(folder).instance(())
    pool, _ = build_candidates(inst, limit=None)
    n_u, m, k = inst.units.n, inst.n_placements, len(pool)
    c = np.concatenate([pool.objective, inst.unit_unplaced])
    a_eq = np.zeros((n_u, k + n_u))
    a_eq[pool.unit, np.arange(k)] = 1
    a_eq[np.arange(n_u), k + np.arange(n_u)] = 1
    a_ub = np.zeros((m, k + n_u))
    a_ub[pool.placement, np.arange(k)] = pool.use
    res = linprog(c, A_ub=a_ub, b_ub=inst.capacity, A_eq=a_eq, b_eq=np.ones(n_u))
    assert res.status == 0
    return float(res.fun)


def profile(**kw: object) -> Profile:
    base = dict(type="inhouse_foster", authority="here", lat=52.0, lon=-1.0, age_min=0,
                age_max=17, genders="", needs_supported="", faith="", beds=2,
                weekly_cost=600.0)
    base.update(kw)
    return Profile(**base)  # type: ignore[arg-type]


@pytest.fixture()
def slack(tmp_path: Path) -> Path:
    """Children placed far away in a home with beds to spare, one child nobody can take:
    no capacity binds, so the relaxation is integral and its duals unique."""
    children = [{"child_id": f"C{i}", "home_lat": 52.0 + 0.01 * i} for i in range(4)]
    children.append({"child_id": "C9", "needs": "disability"})
    placements = [{"placement_id": "P1", "vacancies": 10, "lat": 52.5, "weekly_cost": 500}]
    return write_instance(tmp_path / "slack", children, placements)


def test_predicted_equals_resolve_where_lp_integral(slack: Path, tmp_path: Path) -> None:
    profiles = [profile(beds=2), profile(beds=1, needs_supported="disability",
                                         weekly_cost=900.0),
                profile(lat=52.3, beds=3, weekly_cost=450.0)]
    screen = screen_of(slack, profiles)
    lp = screen.relax([])
    assert lp.integral
    pred = screen.predict(lp)
    for i, p in enumerate(profiles):
        exact = reference_saving(slack, tmp_path, [], [p], f"p{i}")
        assert exact > 0
        assert pred[i] == pytest.approx(exact, rel=1e-9, abs=1e-6)


def random_instance(folder: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    children = [{"child_id": f"C{i}", "age": int(rng.integers(0, 18)),
                 "gender": "FM"[int(rng.integers(0, 2))],
                 "home_lat": 52.0 + float(rng.uniform(-0.2, 0.2)),
                 "home_lon": -1.0 + float(rng.uniform(-0.2, 0.2)),
                 "sibling_group": "G1" if i < 2 else ""} for i in range(9)]
    placements = [{"placement_id": f"P{j}", "vacancies": int(rng.integers(1, 3)),
                   "lat": 52.0 + float(rng.uniform(-0.3, 0.3)),
                   "lon": -1.0 + float(rng.uniform(-0.3, 0.3)),
                   "age_min": int(rng.integers(0, 8)), "age_max": int(rng.integers(10, 18)),
                   "weekly_cost": float(rng.integers(400, 1500))} for j in range(4)]
    return write_instance(folder, children, placements)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_predicted_bounds_the_lp_saving(seed: int, tmp_path: Path) -> None:
    folder = random_instance(tmp_path / "r", seed)
    rng = np.random.default_rng(100 + seed)
    profiles = [profile(lat=52.0 + float(rng.uniform(-0.2, 0.2)),
                        lon=-1.0 + float(rng.uniform(-0.2, 0.2)),
                        beds=int(rng.integers(1, 3)), age_min=int(rng.integers(0, 10)),
                        weekly_cost=float(rng.integers(300, 900))) for _ in range(3)]
    screen = screen_of(folder, profiles)
    lp = screen.relax([])
    base = lp_value(folder)
    assert lp.value == pytest.approx(base, rel=1e-9, abs=1e-6)
    pred = screen.predict(lp)
    for i, p in enumerate(profiles):
        after = lp_value(with_profiles(folder, tmp_path / f"lp{i}", [p]))
        assert pred[i] >= base - after - 1e-6


@pytest.mark.parametrize("route", ROUTES)
def test_verified_saving_is_the_resolve(route: str, tmp_path: Path) -> None:
    folder = random_instance(tmp_path / "r", 7)
    rng = np.random.default_rng(7)
    profiles = [profile(lat=52.0 + float(rng.uniform(-0.2, 0.2)),
                        lon=-1.0 + float(rng.uniform(-0.2, 0.2)), beds=1,
                        weekly_cost=float(rng.integers(300, 900))) for _ in range(4)]
    screen = screen_of(folder, profiles)
    base = outcome(solve(Extender(folder).instance(()), OPTS))
    recs, _ = recommend(screen, screen.relax([]), base, 4, verifier_for(route, folder, screen))
    assert recs
    for i, r in enumerate(recs):
        exact = reference_saving(folder, tmp_path, [], [r.profile], f"v{i}")
        assert r.verified == pytest.approx(exact, rel=1e-9, abs=1e-6)
    assert [r.verified for r in recs] == sorted((r.verified for r in recs), reverse=True)


@pytest.mark.parametrize("route", ROUTES)
def test_greedy_steps_each_verified(route: str, slack: Path, tmp_path: Path) -> None:
    profiles = [profile(beds=1), profile(beds=1, needs_supported="disability",
                                         weekly_cost=900.0),
                profile(lat=52.02, beds=1, weekly_cost=650.0)]
    screen = screen_of(slack, profiles)
    base = outcome(solve(Extender(slack).instance(()), OPTS))
    steps = greedy_plan(screen, base, 3, verifier_for(route, slack, screen), tries=2)
    assert len(steps) >= 2
    done: list[Profile] = []
    for s in steps:
        exact = reference_saving(slack, tmp_path, done, done + [s.profile], f"g{s.step}")
        assert s.verified == pytest.approx(exact, rel=1e-9, abs=1e-6)
        done.append(s.profile)
        ref = solve_reference(with_profiles(slack, tmp_path / f"g{s.step}-obj", done))
        assert s.outcome.objective == pytest.approx(ref.objective, rel=1e-9, abs=1e-6)
