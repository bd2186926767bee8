"""The candidate pass keeps a warm start's pairs, even beyond each unit's cheapest."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from optimiser.pipeline import setup
from optimiser.pipeline.context import SolveContext
from optimiser.pipeline.warm import pair_index, start_units
from optimiser.reader import load_instance
from optimiser.solver import SolveOptions, solve

DEMO = Path(__file__).resolve().parents[1] / "instances" / "demo"


def lacking(with_start: bool) -> int:
    """Pairs of the demo's optimum missing from a one-pair-a-unit candidate pass."""
    inst = load_instance(DEMO)
    base = solve(inst, SolveOptions(time_limit=60.0, workers=1))
    assert base.status == "optimal"
    opts = SolveOptions(time_limit=60.0, workers=1, candidate_limit=1,
                        start=base.assignment if with_start else None)
    with SolveContext(inst, opts, None) as ctx:
        cands = setup.candidates(ctx)
    place = start_units(inst, base.assignment)
    assert place is not None
    placed = np.flatnonzero(place >= 0)
    at = pair_index(cands.unit, cands.placement, inst.n_placements, placed, place[placed])
    return int((at < 0).sum())


def test_a_start_beyond_the_cheapest_pairs_is_kept_whole() -> None:
    assert lacking(with_start=False) > 0  # the pass alone would not hold the start
    assert lacking(with_start=True) == 0
