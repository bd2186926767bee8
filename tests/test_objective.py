"""The objective's pair terms: one function, the same numbers wherever they are used, and
the same as the independent checker's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optimiser import load_instance, solve, write_solution
from optimiser.candidates import evaluate_block
from optimiser.checker import check
from optimiser.instance import Instance
from optimiser.objective import PAIR_TERMS, current_terms, pair_distances, pair_terms
from optimiser.reallocate import spec_terms

DEMO_PLACED = Path(__file__).resolve().parent.parent / "instances" / "demo-placed"


@pytest.fixture(scope="module")
def inst() -> Instance:
    return load_instance(DEMO_PLACED)


def test_block_terms_are_the_pair_terms(inst: Instance) -> None:
    rows = np.arange(min(40, inst.n_children))
    cols = np.arange(inst.n_placements)
    pb = evaluate_block(inst, rows, cols, keep_rules=True)
    r, c = np.meshgrid(rows, cols, indexing="ij")
    flat = pair_terms(inst, r.ravel(), c.ravel(), pb.distance.ravel())
    for name in PAIR_TERMS:
        np.testing.assert_array_equal(pb.terms[name].ravel(), flat.as_dict()[name])
    np.testing.assert_array_equal(pb.objective.ravel(), flat.total)


def test_stay_terms_are_the_block_terms_at_the_current_placement(inst: Instance) -> None:
    kids = np.flatnonzero(inst.current >= 0)
    assert len(kids)
    stay = current_terms(inst)
    assert np.isnan(stay[inst.current < 0]).all()
    for c in kids[:30].tolist():
        p = int(inst.current[c])
        pb = evaluate_block(inst, np.array([c]), np.array([p]), keep_rules=True)
        own = pb.terms["cost"] + pb.terms["distance"] + pb.terms["faith_mismatch"]
        assert stay[c] == pytest.approx(float(own[0, 0]), rel=1e-12)
        assert pb.terms["move"][0, 0] == 0.0


def test_spec_terms_agree_with_the_checker(inst: Instance, tmp_path: Path) -> None:
    result = solve(inst, time_limit=30, workers=1)
    write_solution(result, tmp_path / "out")
    report = check(DEMO_PLACED, tmp_path / "out")
    assert report.ok
    mine = spec_terms(inst, result.assignment)
    assert mine.keys() == report.terms.keys()
    for name, value in report.terms.items():
        assert mine[name] == pytest.approx(value, rel=1e-9, abs=1e-6), name
    assert mine["move"] > 0 or mine["faith_mismatch"] > 0  # the instance exercises them


def test_moves_pay_only_away_from_the_current_placement(inst: Instance) -> None:
    kids = np.flatnonzero(inst.current >= 0)[:5]
    here = inst.current[kids].astype(np.int64)
    away = (here + 1) % inst.n_placements
    w = inst.policy.weights.move
    assert pair_terms(inst, kids, here, pair_distances(inst, kids, here)).move.tolist() == [
        0.0] * len(kids)
    assert pair_terms(inst, kids, away, pair_distances(inst, kids, away)).move.tolist() == [
        w] * len(kids)
