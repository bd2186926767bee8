"""The moves route of column generation (pipeline/moves_relax.py) on small re-allocations.

Against the LP over every feasible pair (HiGHS's simplex with every row of the model) and
the exact optimum of tests/reference_model.py (which shares no code with the engine):
the bound is never above either, whatever the moves price, and the rounds reach the LP
when given the time. The flows' relaxed value never exceeds the LP over the same pairs
(it relaxes the moves row, the departures and a solo child's beds).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from reference_model import read_spec, solve_reference

from optimiser import load_instance
from optimiser.candidates import Candidates
from optimiser.flow import pool_candidates
from optimiser.generate import generate
from optimiser.instance import Instance
from optimiser.pipeline import moves_relax, setup
from optimiser.pipeline.context import SolveContext
from optimiser.pipeline.lp import lp_duals
from optimiser.pipeline.pricing import price
from optimiser.pipeline.types import SolveOptions
from optimiser.reallocate import ReallocOptions, tonight
from optimiser.variants import add_reallocation_columns

DAY = dt.date(2025, 6, 2)


def authority(tmp: Path, seed: int, children: int = 90, placements: int = 70) -> Path:
    """A small authority, 70% of children placed, with pins and held beds."""
    folder = tmp / f"a{seed}"
    generate(folder, children=children, placements=placements, seed=seed, placed_share=0.7)
    add_reallocation_columns(folder, seed, DAY, hold_share=0.08, later_share=0.05,
                             placed_days=900, later_days=40)
    return folder


def context(folder: Path, max_moves: int, limit: float = 120.0) -> tuple[SolveContext,
                                                                          Candidates]:
    """A solve's context up to column generation (few pairs a unit, the pool held)."""
    run = tonight(load_instance(folder), ReallocOptions(date=DAY, max_moves=max_moves))
    ctx = SolveContext(run, SolveOptions(time_limit=limit, workers=1, backend="highs",
                                         candidate_limit=3, lp_tolerance=1e-7))
    cands = setup.candidates(ctx)
    setup.reallocation(ctx, cands)
    assert ctx.pool is not None and ctx.max_moves is not None
    return ctx, cands


def full_lp(ctx: SolveContext, cands: Candidates) -> float:
    """The LP relaxation over every feasible pair, every row of the model."""
    assert ctx.pool is not None
    full = pool_candidates(ctx.inst, ctx.pool, cands.n_feasible, cands.stats)
    _, value, _ = lp_duals(ctx.inst, full, ctx.max_moves, ctx.forced)
    assert np.isfinite(value)
    return value


def bound_at(ctx: SolveContext, cands: Candidates, f: moves_relax.MovesFlow) -> float:
    """The Lagrangian bound over every pair at a flow's prices and moves price."""
    assert f.duals.mu == f.lam and np.array_equal(f.duals.pi, f.pi)
    return price(ctx.inst, cands, ctx.pool, f.duals, None, per_unit=0,
                 max_moves=ctx.max_moves, forced=ctx.forced).lagrangian_bound


def moves_bind(inst: Instance, cands: Candidates, ctx: SolveContext) -> bool:
    """Whether the moves limit binds the flow over every pair at price 0 (else the test
    would be idle)."""
    assert ctx.max_moves is not None and ctx.pool is not None
    full = pool_candidates(inst, ctx.pool, cands.n_feasible, cands.stats)
    f0 = moves_relax.moves_flow(inst, full, 0.0, ctx.forced, ctx.max_moves)
    return f0.moves > ctx.max_moves + 1e-9


@pytest.mark.parametrize("seed", [3, 4, 5, 11])
def test_bound_below_lp_and_optimum_and_reaches_the_lp(tmp_path: Path, seed: int) -> None:
    folder = authority(tmp_path, seed)
    ctx, cands = context(folder, max_moves=2)
    with ctx:
        assert ctx.max_moves is not None
        assert moves_bind(ctx.inst, cands, ctx)
        lp = full_lp(ctx, cands)
        ref = solve_reference(read_spec(folder, day=DAY, max_moves=ctx.max_moves))
        assert ref.status == "optimal"
        tol = 1e-6 * abs(ref.objective)
        assert lp <= ref.objective + tol
        out, lag, duals, pricing, lp_x, rounds, cliques = moves_relax.moves_rounds(ctx, cands)
        assert pricing is not None and lp_x is not None and len(lp_x) == len(out)
        assert duals.mu >= 0 and (duals.pi >= 0).all() and (duals.rho >= 0).all()
        assert lag <= ref.objective + tol
        if not len(cliques):  # clique cuts hold for plans, not for the LP: above it
            assert lag <= lp + 1e-6 * abs(lp)
        assert lag >= lp - 1e-5 * abs(lp) - 1.0  # given the time, the LP over every pair
        # the bound reported is the bound of the multipliers reported
        again = price(ctx.inst, out, ctx.pool, duals, None, per_unit=0,
                      max_moves=ctx.max_moves, forced=ctx.forced).lagrangian_bound
        assert again == pytest.approx(lag, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("seed", [6, 7])
def test_every_moves_price_gives_a_valid_bound(tmp_path: Path, seed: int) -> None:
    """Any moves price: the flow's relaxed value is at most the LP over the same pairs,
    and the bound at its prices at most the LP over every pair."""
    folder = authority(tmp_path, seed)
    ctx, cands = context(folder, max_moves=1)
    with ctx:
        inst = ctx.inst
        assert ctx.max_moves is not None
        assert moves_bind(inst, cands, ctx)
        lp = full_lp(ctx, cands)
        kept_duals, kept_lp, _ = lp_duals(inst, cands, ctx.max_moves, ctx.forced)
        top = moves_relax.moves_ceiling(inst, cands)
        assert ctx.pool is not None
        gain = moves_relax.resident_gain(inst, ctx.pool, ctx.forced)
        values = []
        for lam in (0.0, 0.01 * top, 0.1 * top, 0.3 * top, top, 3 * top):
            for g in (None, gain):  # the departure rows priced or not
                f = moves_relax.moves_flow(inst, cands, lam, ctx.forced, ctx.max_moves, g)
                assert (f.rho >= 0).all() and (f.rho > 0).any() == (g is not None and lam > 0)
                assert f.value <= kept_lp + 1e-6 * abs(kept_lp) + 1.0
                assert bound_at(ctx, cands, f) <= lp + 1e-6 * abs(lp)
            values.append(f.value)
            # the LP's other multipliers (departures, cuts) with the flow's capacity prices
            f = moves_relax.moves_flow(inst, cands, lam, ctx.forced, ctx.max_moves,
                                       template=kept_duals)
            assert f.value <= kept_lp + 1e-6 * abs(kept_lp) + 1.0
            assert bound_at(ctx, cands, f) <= lp + 1e-6 * abs(lp)
        # the search finds a price at least as good as those tried at its ends
        best, feasible = moves_relax.search_price(inst, cands, ctx.forced, ctx.max_moves,
                                                  0.0, top, moves_relax.PRICE_SEARCH_FIRST,
                                                  gain)
        assert best.value >= max(values[0], values[-2]) - 1e-9 * abs(best.value)
        # the blended solution keeps the moves limit
        x = moves_relax.blended_x(best, feasible, ctx.max_moves)
        share = np.bincount(cands.unit, weights=x, minlength=inst.units.n)
        placed = inst.unit_placed.astype(float)
        moved = inst.pair_moves(cands.unit, cands.placement).astype(float)
        assert (x * moved).sum() + (placed * (1 - share)).sum() <= ctx.max_moves + 1e-6


def test_no_binding_limit_needs_no_moves_price(tmp_path: Path) -> None:
    """A limit the flow keeps at price 0: the search stops there."""
    folder = authority(tmp_path, 8)
    ctx, cands = context(folder, max_moves=10_000)
    with ctx:
        assert ctx.max_moves is not None
        best, feasible = moves_relax.search_price(ctx.inst, cands, ctx.forced, ctx.max_moves,
                                                  0.0, 1e6, moves_relax.PRICE_SEARCH_FIRST)
        assert best.lam == 0.0 and feasible is None
        assert best.moves <= ctx.max_moves


def test_pinned_children_stay_and_kept_children_stay_placed_in_the_flow(
        tmp_path: Path) -> None:
    """Pins take their pair, and a child kept placed is placed, at any moves price."""
    folder = authority(tmp_path, 9)
    ctx, cands = context(folder, max_moves=2)
    with ctx:
        inst = ctx.inst
        assert ctx.max_moves is not None
        assert ctx.forced.any() and inst.keep_placed.any()
        for lam in (0.0, 1e4, 1e7):
            f = moves_relax.moves_flow(inst, cands, lam, ctx.forced, ctx.max_moves)
            share = np.bincount(cands.unit, weights=f.x, minlength=inst.units.n)
            must = moves_relax.must_place(inst, ctx.forced)
            assert np.allclose(share[must], 1.0)
            pu = inst.pinned_unit
            pin = ctx.forced[cands.unit] & (pu[cands.unit] == cands.placement)
            assert np.allclose(f.x[pin], 1.0)
