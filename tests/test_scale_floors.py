"""The spatial bound by fit (optimiser/spatial.py, `FitTable`): against every pair.

A unit's bound for a cell, LB(u, c), must stay below the reduced cost of every feasible
pair (u, p) with p in the cell, under any prices, whatever the unit's members' fit
profiles, its size and whether a member lives somewhere now (the current placement is
exempt from every rule). The floors by fit must also be higher than the cell's plain
floor where a cell holds no placement a unit fits: that is what they are for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimiser.candidates import build_candidates
from optimiser.generate import generate
from optimiser.reader import load_instance
from optimiser.spatial import unit_batches

CASES = [  # (children, placements, seed, authority, placed_share)
    (160, 130, 11, "England", 0.0),
    (150, 120, 12, "North West", 0.5),
    (120, 60, 13, "England", 0.3),
]


@pytest.mark.parametrize("case", CASES)
def test_cell_bounds_by_fit_stay_below_every_pair(tmp_path: Path, case: tuple) -> None:
    children, placements, seed, authority, placed = case
    folder = tmp_path / f"f{seed}"
    generate(folder, children=children, placements=placements, seed=seed,
             authority=authority, placed_share=placed)
    if placed:  # children placed where no rule would now allow them: too old for it
        kids = pd.read_csv(folder / "children.csv", dtype=str, keep_default_na=False)
        homes = pd.read_csv(folder / "placements.csv", dtype=str, keep_default_na=False)
        age_max = dict(zip(homes.placement_id, homes.age_max.astype(int), strict=True))
        over = [i for i, cur in enumerate(kids.current_placement)
                if cur and age_max[cur] < 17][::2]
        assert over
        kids.loc[over, "age"] = "17"
        kids.to_csv(folder / "children.csv", index=False)
    inst = load_instance(folder)
    full, pool = build_candidates(inst, limit=None)
    assert pool is not None
    space = build_candidates(inst, limit=4, spatial=True)[0].space
    assert space is not None and space.fits is not None
    rng = np.random.default_rng(seed)
    higher = 0
    for k in range(4):
        pi = (rng.exponential([0.0, 300.0, 5_000.0, 80_000.0][k], inst.n_placements)
              * (rng.random(inst.n_placements) < 0.7))
        if k == 3:
            pi[rng.random(inst.n_placements) < 0.2] *= -0.01  # negative prices too
        floors = space.floors(pi)
        lb = np.concatenate([space.lower_bounds(b, floors)
                             for b in unit_batches(inst, np.arange(inst.units.n))])
        order = np.concatenate(list(unit_batches(inst, np.arange(inst.units.n))))
        at = np.empty(inst.units.n, dtype=np.int64)
        at[order] = np.arange(len(order))
        u, p, a = pool.unit.astype(np.int64), pool.placement.astype(np.int64), pool.use
        charge = pool.objective + a * pi[p]
        bound = lb[at[u], space.cells.cell_of[p]]
        assert (charge >= bound - 1e-6).all()
        plain = space.distance_bounds(order) + (inst.units.size[order][:, None]
                                                * floors.cell[None, :])
        assert (lb >= plain - 1e-6).all()
        higher += int((lb > plain + 1e-6).sum())
    assert higher > 0
