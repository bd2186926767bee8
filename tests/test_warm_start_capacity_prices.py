"""`Result.capacity_prices`: the LP dual of each placement's capacity row (pounds a week),
as the solve found it, for sufficiency's bed values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from builders import write_instance

from optimiser.flow import BACKEND_NAME
from optimiser.reader import load_instance
from optimiser.solver import SolveOptions, solve

GENERAL = SolveOptions(time_limit=30.0, backend="highs", fast_path=False, workers=1)


def test_a_contested_bed_is_priced_at_what_it_saves(tmp_path: Path) -> None:
    """Two children from one home, one cheap bed and a dear placement with beds to spare:
    the LP's only dual solution prices the cheap bed at the difference of the two pairs'
    costs, and the dear placement's beds at 0."""
    kids = [{"child_id": "C1"}, {"child_id": "C2"}]
    pls = [{"placement_id": "CHEAP", "weekly_cost": 400, "vacancies": 1},
           {"placement_id": "DEAR", "weekly_cost": 900, "vacancies": 3}]
    inst = load_instance(write_instance(tmp_path / "i", kids, pls))
    res = solve(inst, GENERAL)
    assert res.status == "optimal" and res.placed == 2
    prices = res.capacity_prices
    assert prices is not None and prices.shape == (inst.n_placements,)
    ids = list(inst.placement_ids)
    cheap, dear = ids.index("CHEAP"), ids.index("DEAR")
    c = res.candidates
    cost = {int(p): float(o) for u, p, o in zip(c.unit, c.placement, c.objective,
                                                   strict=True) if u == 0}
    assert cost[dear] > cost[cheap]
    assert np.isclose(prices[cheap], cost[dear] - cost[cheap], atol=1e-6)
    assert np.isclose(prices[dear], 0.0, atol=1e-9)


def test_no_lp_no_prices(tmp_path: Path) -> None:
    """The flow's fast path runs no LP of the model: no prices, rather than zeros."""
    kids = [{"child_id": "C1"}]
    pls = [{"placement_id": "P1"}]
    inst = load_instance(write_instance(tmp_path / "i", kids, pls))
    res = solve(inst, SolveOptions(time_limit=30.0))
    assert res.status == "optimal" and res.stats["backend"] == BACKEND_NAME
    assert res.capacity_prices is None
    assert solve(inst, GENERAL).capacity_prices is not None
