"""The spatial route (optimiser/spatial.py) against the full enumeration of every pair.

On random generated instances and random capacity prices: the Lagrangian bound, each
unit's best option and the pairs that price in (column generation and fixing) are the
same to the penny once the spatial pool has grown, and the bound is valid (never above
the full one) at every step before. A wrong bound, a pruned pair that could matter, or a
cell radius too small shows up as a difference here.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from optimiser.candidates import build_candidates
from optimiser.generate import generate
from optimiser.instance import Instance
from optimiser.pipeline.lp import Duals
from optimiser.pipeline.pricing import price
from optimiser.reader import load_instance
from optimiser.spatial import CellIndex, chord_km, spatial_applies, unit_vectors

CASES = [  # (children, placements, seed, authority, placed_share)
    (150, 120, 1, None, 0.0),
    (200, 150, 2, "England", 0.0),
    (180, 160, 3, "North West", 0.5),
    (120, 60, 4, "England", 0.3),  # supply short
]


def _instance(tmp_path: Path, children: int, placements: int, seed: int,
              authority: str | None, placed_share: float) -> Instance:
    folder = tmp_path / f"i{seed}"
    generate(folder, children=children, placements=placements, seed=seed,
             authority=authority, placed_share=placed_share)
    return load_instance(folder)


def _keys(inst: Instance, u: np.ndarray, p: np.ndarray) -> set[int]:
    return set((u.astype(np.int64) * inst.n_placements + p).tolist())


def _random_prices(inst: Instance, rng: np.random.Generator, k: int) -> Duals:
    if k == 0:
        pi = np.zeros(inst.n_placements)
    else:
        scale = [500.0, 5_000.0, 100_000.0][k % 3]
        pi = rng.exponential(scale, inst.n_placements) * (rng.random(inst.n_placements) < 0.6)
    return Duals(pi, np.zeros(inst.n_placements))


@pytest.mark.parametrize("case", CASES)
def test_bound_and_pricing_match_full_enumeration(tmp_path: Path, case: tuple) -> None:
    inst = _instance(tmp_path, *case)
    assert spatial_applies(inst)
    full, pool = build_candidates(inst, limit=8)
    assert pool is not None
    sp, none = build_candidates(inst, limit=8, spatial=True)
    assert none is None and sp.space is not None
    # the spatial zero-price bound is valid: never above the exact one
    assert sp.stats["lagrangian_zero_bound"] <= full.stats["lagrangian_zero_bound"] + 1e-6
    # the same kept pairs on both routes: the pairs priced in must then be the same
    sp = replace(full, space=sp.space)
    assert sp.space is not None
    rng = np.random.default_rng(case[2])
    for k in range(5):
        duals = _random_prices(inst, rng, k)
        a = price(inst, full, pool, duals, None, per_unit=None)
        for _ in range(50):  # grow until nothing is left below the thresholds
            before = len(sp.space)
            b = price(inst, sp, None, duals, None, per_unit=None)
            assert b.lagrangian_bound <= a.lagrangian_bound + 1e-6
            if len(sp.space) == before:
                break
        assert b.lagrangian_bound == pytest.approx(a.lagrangian_bound, abs=0.005)
        np.testing.assert_allclose(b.best_option, a.best_option, atol=0.005)
        assert _keys(inst, b.add_unit, b.add_placement) == _keys(inst, a.add_unit,
                                                                 a.add_placement)


@pytest.mark.parametrize("case", CASES[:2])
def test_fixing_keeps_every_pair_that_could_improve(tmp_path: Path, case: tuple) -> None:
    inst = _instance(tmp_path, *case)
    full, pool = build_candidates(inst, limit=8)
    space = build_candidates(inst, limit=8, spatial=True)[0].space
    assert pool is not None and space is not None
    sp = replace(full, space=space)
    duals = _random_prices(inst, np.random.default_rng(7), 1)
    lag = price(inst, full, pool, duals, None, per_unit=0).lagrangian_bound
    incumbent = lag + 3_000.0
    a = price(inst, full, pool, duals, incumbent, per_unit=None)
    for _ in range(50):
        before = len(sp.space)
        b = price(inst, sp, None, duals, incumbent, per_unit=None)
        if len(sp.space) == before:
            break
    assert b.lagrangian_bound == pytest.approx(a.lagrangian_bound, abs=0.005)
    assert _keys(inst, a.add_unit, a.add_placement) == _keys(inst, b.add_unit,
                                                             b.add_placement)
    assert b.min_dropped_rc <= a.min_dropped_rc + 1e-6


def test_every_placement_lies_inside_its_cell_radius(tmp_path: Path) -> None:
    inst = _instance(tmp_path, *CASES[1])
    cells = CellIndex.build(inst, per_cell=5)
    v = unit_vectors(inst.lat, inst.lon)
    d = chord_km(v, cells.centre)[np.arange(inst.n_placements), cells.cell_of]
    assert (d <= cells.radius[cells.cell_of]).all()
    assert np.array_equal(np.sort(cells.order), np.arange(inst.n_placements))


def test_distance_overrides_turn_the_spatial_route_off(tmp_path: Path) -> None:
    folder = tmp_path / "o"
    tables = generate(folder, children=20, placements=15, seed=5)
    (folder / "distances.csv").write_text(
        "child_id,placement_id,km\n"
        f"{tables['children'].child_id.iloc[0]},{tables['placements'].placement_id.iloc[0]},"
        "1.0\n")
    inst = load_instance(folder)
    assert len(inst.dist_child) and not spatial_applies(inst)


@pytest.mark.parametrize("spatial", [False, True])
def test_a_passed_deadline_stops_the_candidate_pass_with_a_valid_bound(
        tmp_path: Path, spatial: bool) -> None:
    inst = _instance(tmp_path, *CASES[0])
    full, _ = build_candidates(inst, limit=8)
    cut, pool = build_candidates(inst, limit=8, spatial=spatial, deadline=0.0)
    assert pool is None and cut.pruned
    assert cut.stats["lagrangian_zero_bound"] <= full.stats["lagrangian_zero_bound"] + 1e-6
