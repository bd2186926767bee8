"""The fast bracket of a coalition's cost (`optimiser.pooling.quick`): its plan is a plan
(the checker's objective), its lower bound never above the proven optimum, whether every
pair is held or the pairs grow by pricing; and a pool priced by it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pooling_helpers import small_region

from optimiser.candidates import build_candidates
from optimiser.flow import transport_relaxation
from optimiser.pooling import pool, split_instance
from optimiser.pooling.cli import add_parser
from optimiser.pooling.coalition import bracket_coalition, coalition_instance, solve_coalition
from optimiser.pooling.quick import (
    PairCache,
    applies,
    bracket,
    candidates_of,
    every_pair,
    price,
)
from optimiser.pooling.report import child_objective
from optimiser.solver import SolveOptions

OPTS = SolveOptions(time_limit=30, workers=1)


@pytest.mark.parametrize("seed,full_pairs,limit", [(21, 10**9, None), (22, 0, None),
                                                   (23, 0, 1e-9)])
def test_bracket_holds_the_proven_optimum(tmp_path: Path, seed: int, full_pairs: int,
                                          limit: float | None) -> None:
    """Every pair held, grown by pricing, or pricing cut short by the time limit."""
    inst = small_region(tmp_path / "r", 3, seed, children=45, beds_per_child=0.5)
    split = split_instance(inst)
    for mask in (1, 6, split.grand):
        sub, _, _ = coalition_instance(split, mask)
        assert applies(sub)
        plan, upper, lower, _ = bracket(sub, full_pairs, limit)
        exact = solve_coalition(split, mask, OPTS)
        assert exact.status == "optimal"
        assert lower <= exact.objective + 1e-6 <= upper + 2e-6
        assert float(child_objective(sub, plan).sum()) == pytest.approx(upper, abs=1e-6)
        load = np.bincount(plan[plan >= 0], minlength=sub.n_placements)
        assert (load <= sub.capacity).all()


def test_pricing_grows_the_pairs_to_the_full_relaxation(tmp_path: Path) -> None:
    inst = small_region(tmp_path / "r", 3, 24, children=60, beds_per_child=0.5)
    pairs = every_pair(inst)
    full, _ = build_candidates(inst, limit=None)
    assert len(pairs) == len(full)
    np.testing.assert_array_equal(pairs.unit, full.unit)  # the engine's pairs, its order
    np.testing.assert_array_equal(pairs.placement, full.placement)
    np.testing.assert_allclose(pairs.objective, full.objective)
    tr_full = transport_relaxation(inst, full)
    value = tr_full.value
    bound, new = price(inst, pairs, np.ones(len(pairs), dtype=bool), tr_full.pi, 10)
    assert len(new) == 0  # every pair held: none prices in
    assert bound == pytest.approx(value, rel=1e-6)
    held = np.zeros(len(pairs), dtype=bool)
    held[pairs.starts[:-1][pairs.starts[:-1] < pairs.starts[1:]]] = True  # one pair a unit
    for _ in range(50):
        tr = transport_relaxation(inst, candidates_of(pairs, np.flatnonzero(held)))
        bound, new = price(inst, pairs, held, tr.pi, 3)
        assert bound <= value + 1.0  # a Lagrangian bound: never above the relaxation
        if not len(new):
            break
        assert not held[new].any()
        held[new] = True
    assert not len(new) and tr.value == pytest.approx(value, rel=1e-6)


def test_pool_by_bracket_is_efficient_and_within_its_ranges(tmp_path: Path) -> None:
    inst = small_region(tmp_path / "r", 3, 25, children=45, beds_per_child=0.5)
    res = pool(inst, OPTS, method="bracket")
    assert res.costs.method == "bracket"
    sh = res.shares
    assert sh.exact and sh.allocated.sum() == pytest.approx(sh.pooled)
    assert res.share_lo is not None and res.share_hi is not None
    assert (res.share_lo <= sh.share + 1e-6).all() and (sh.share <= res.share_hi + 1e-6).all()
    for m, s in res.costs.solved.items():
        assert s.bound <= s.objective + 1e-9
        gap = (s.objective - s.bound) / abs(s.objective)
        assert gap <= 1e-6 if s.status == "optimal" else gap > 1e-9
        assert bracket_coalition(res.split, m, OPTS).objective == pytest.approx(s.objective)
    # at this size a gap left by the bracket is closed by the engine's solve
    assert all(s.status == "optimal" for s in res.costs.solved.values())


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="placement")
    add_parser(ap.add_subparsers(dest="command", required=True))
    return ap


def test_pool_command_by_bracket_reports_gaps_and_ranges(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small_region(tmp_path / "r", 3, 26, children=45, beds_per_child=0.5)
    args = _parser().parse_args(["pool", str(tmp_path / "r"), "--out", str(tmp_path / "o"),
                                 "--workers", "0", "--method", "bracket", "--samples", "40",
                                 "--precision", "0.5", "--budget", "120", "-q"])
    assert args.func(args) == 0
    assert "proven optimal" in capsys.readouterr().out
    figures = json.loads((tmp_path / "o" / "pooling.json").read_text())
    assert figures["shapley"]["coalition_method"] == "bracket"
    assert not figures["shapley"]["exact"] and 10 <= figures["shapley"]["samples"] <= 40
    coalitions = pd.read_csv(tmp_path / "o" / "coalitions.csv")
    np.testing.assert_allclose(
        (coalitions["objective"] - coalitions["bound"]) / coalitions["objective"],
        coalitions["gap"], rtol=1e-9, atol=1e-12)
    table = pd.read_csv(tmp_path / "o" / "authorities.csv")
    assert (table["share_low"] <= table["shapley_share"] + 1e-6).all()
    assert (table["shapley_share"] <= table["share_high"] + 1e-6).all()
    assert figures["shapley"]["coalitions_proven_optimal"] == int(
        (coalitions["status"] == "optimal").sum())


@pytest.mark.parametrize("flag,value", [("--precision", "0"), ("--precision", "1.5"),
                                        ("--budget", "0")])
def test_pool_command_refuses_bad_sampling_limits(tmp_path: Path, flag: str, value: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(["pool", str(tmp_path / "r"), "--out", str(tmp_path / "o"),
                                 flag, value])
    assert args.func(args) == 2
    assert flag in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_coalitions_pairs_from_the_regions_blocks_are_its_own(tmp_path: Path) -> None:
    """The cache shares pairs evaluated on the region between coalitions: the same pairs,
    objectives and beds as evaluating the coalition's own instance."""
    inst = small_region(tmp_path / "r", 4, 27, children=60, beds_per_child=0.6)
    split = split_instance(inst)
    cache = PairCache(split)
    for mask in (split.grand, 0b0101, 0b0010, 0b1110):
        sub, kids, places = coalition_instance(split, mask)
        got, want = cache.pairs(mask, sub, kids, places), every_pair(sub)
        for name in ("unit", "placement", "use", "starts"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
        np.testing.assert_allclose(got.objective, want.objective, rtol=1e-12)
    assert len(cache.blocks) == 16  # each block evaluated once, the grand's first
