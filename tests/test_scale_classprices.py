"""Prices by type of placement (pipeline/classprices.py) on short supply.

The bound at those prices must stay below the proven optimum on the spatial route
(floors where the search has not looked) and on a held pool, and must beat a common
price on every bed when some beds cannot be taken by anyone (secure homes no care plan
names): that is the bed a common price pays for and a price by type does not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from builders import solve_and_check

from optimiser.candidates import build_candidates
from optimiser.params import SolverParams
from optimiser.pipeline.classprices import class_bound, placement_classes
from optimiser.pipeline.lp import Duals
from optimiser.pipeline.pricing import lifted
from optimiser.reader import load_instance
from optimiser.research.families import write_family


def _tight_with_secure_homes(tmp_path: Path) -> Path:
    folder = write_family(tmp_path / "t", "tight", children=220, placements=160, seed=21,
                          shortage=0.3, authority="England")
    homes = pd.read_csv(folder / "placements.csv", dtype=str, keep_default_na=False)
    homes.loc[homes.index[::9], "type"] = "secure"  # no default care plan names it
    homes.to_csv(folder / "placements.csv", index=False)
    return folder


def test_prices_by_type_beat_a_common_price_and_stay_below_the_optimum(
        tmp_path: Path) -> None:
    folder = _tight_with_secure_homes(tmp_path)
    optimum, _, _ = solve_and_check(folder, time_limit=60)
    assert optimum.status == "optimal"
    inst = load_instance(folder)
    assert len(np.unique(placement_classes(inst))) > 1
    few, pool = build_candidates(inst, limit=None)
    assert pool is not None
    common, _ = lifted(inst, few, pool, Duals.zero(inst), evaluations=20)
    held, duals = class_bound(inst, few, pool)
    tol = 1e-6 * optimum.objective
    assert held <= optimum.objective + tol
    assert held > common + 1.0
    assert (duals.pi >= 0).all()
    spatial, none = build_candidates(inst, limit=3, spatial=True)
    assert none is None and spatial.space is not None
    by_space, _ = class_bound(inst, spatial, None)
    assert by_space <= held + tol  # floors where nothing was evaluated: never above


def test_the_spatial_route_on_short_supply_is_checked_and_bounded(tmp_path: Path) -> None:
    folder = _tight_with_secure_homes(tmp_path)
    optimum, _, _ = solve_and_check(folder, time_limit=60)
    assert optimum.status == "optimal"
    result, _, _ = solve_and_check(folder, time_limit=20,
                                   tuning=SolverParams(spatial_cells=0, transport_round_pairs=1,
                                                       transport_price_per_unit=1),
                                   max_pricing_rounds=0)
    assert result.stats["lp_method"] == "transport"
    tol = 1e-6 * optimum.objective
    assert result.bound <= optimum.objective + tol
    assert result.objective >= optimum.objective - tol
