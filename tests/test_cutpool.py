"""The cut proof's pieces (optimiser/cutpool.py): certificates, the rows over a pair set,
and where the route applies. The route end to end is in test_solver.py."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from builders import write_instance

from optimiser import load_instance
from optimiser.candidates import build_candidates
from optimiser.cutpool import Cuts, applies, certify
from optimiser.pipeline.plans import forced_units, subset
from optimiser.pipeline.rows import NO_CLIQUES


def _three_beds(tmp_path: Path):
    """One placement of three beds; two sibling pairs (G1, G2) and one single child."""
    kids = [{"child_id": "C1", "sibling_group": "G1"}, {"child_id": "C2", "sibling_group": "G1"},
            {"child_id": "C3", "sibling_group": "G2"}, {"child_id": "C4", "sibling_group": "G2"},
            {"child_id": "C5"}]
    inst = load_instance(write_instance(tmp_path / "i", kids,
                                        [{"placement_id": "P1", "vacancies": 3}]))
    cands, _ = build_candidates(inst, limit=None)
    return inst, cands


def _cut(inst, cands, coef: dict[int, float], rhs: float) -> Cuts:
    """One cut over the pairs of the units given (each unit has one pair here)."""
    idx = [int(np.flatnonzero(cands.unit == u)[0]) for u in coef]
    keys = cands.unit[idx] * inst.n_placements + cands.placement[idx]
    return Cuts(np.array([0, len(idx)]), keys, np.array(list(coef.values()), dtype=float),
                np.array([rhs]))


def _units(inst) -> tuple[int, int, int]:
    """(group G1, group G2, the single child) as unit indices."""
    size = inst.units.size
    groups = [int(u) for u in np.flatnonzero(size == 2)]
    single = int(np.flatnonzero(size == 1)[0])
    return groups[0], groups[1], single


def test_certify_keeps_a_valid_right_hand_side(tmp_path: Path) -> None:
    """Two sibling pairs cannot share three beds: x_G1 + x_G2 <= 1 holds, kept as is."""
    inst, cands = _three_beds(tmp_path)
    g1, g2, _ = _units(inst)
    out = certify(inst, cands, _cut(inst, cands, {g1: 1.0, g2: 1.0}, 1.0), NO_CLIQUES)
    assert out.rhs.tolist() == [1.0]


def test_certify_gives_an_invalid_cut_its_slack_back(tmp_path: Path) -> None:
    """x_G1 + x_G2 + x_C5 <= 1 is false (a pair and the single child fit in three beds):
    the certificate raises the right-hand side to the true maximum, 2."""
    inst, cands = _three_beds(tmp_path)
    g1, g2, s = _units(inst)
    out = certify(inst, cands, _cut(inst, cands, {g1: 1.0, g2: 1.0, s: 1.0}, 1.0), NO_CLIQUES)
    assert out.rhs.tolist() == [2.0]


def test_certify_fractional_coefficients(tmp_path: Path) -> None:
    """Non-integral coefficients: the LP maximum, never below the true one (1.5 here:
    one pair at 1.0 and the single child at 0.5)."""
    inst, cands = _three_beds(tmp_path)
    g1, g2, s = _units(inst)
    out = certify(inst, cands, _cut(inst, cands, {g1: 1.0, g2: 1.0, s: 0.5}, 1.0), NO_CLIQUES)
    assert out.rhs[0] == pytest.approx(1.5, abs=1e-5)
    assert out.rhs[0] >= 1.5


def test_rows_over_a_pair_set_leave_absent_pairs_at_zero(tmp_path: Path) -> None:
    inst, cands = _three_beds(tmp_path)
    g1, g2, s = _units(inst)
    cut = _cut(inst, cands, {g1: 1.0, g2: 2.0, s: 3.0}, 4.0)
    full = cut.over(inst, cands).toarray()
    assert sorted(full[0][full[0] > 0].tolist()) == [1.0, 2.0, 3.0]
    without_single = subset(cands, cands.unit != s)
    part = cut.over(inst, without_single).toarray()
    assert part.shape == (1, len(without_single))
    assert sorted(part[0][part[0] > 0].tolist()) == [1.0, 2.0]


def test_applies_to_packing_rows_only(tmp_path: Path) -> None:
    """Pins and a moves limit are not packing rows: the route is off for them."""
    inst, cands = _three_beds(tmp_path)
    assert applies(inst, forced_units(inst, cands), None)
    assert not applies(inst, None, 3)
    pinned = np.zeros(inst.units.n, dtype=bool)
    pinned[0] = True
    assert not applies(inst, pinned, None)


def _knapsacks(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three knapsack rows over 12 binaries (a packing model, as the engine's)."""
    rng = np.random.default_rng(seed)
    n = 12
    w = rng.integers(3, 12, size=(3, n)).astype(float)
    return w, np.array([23.0, 29.0, 31.0]), rng.integers(5, 20, size=n).astype(float)


@pytest.mark.parametrize("seed", [0, 3, 6, 7])
def test_harvested_cuts_once_certified_hold_for_every_plan(seed: int) -> None:
    """HiGHS's root cuts through the worker with the engine's harvest options, certified,
    against every feasible point by enumeration: each certified cut holds, and is no
    weaker than the true maximum rounded (it equals it here: the MIP decides). HiGHS's
    own right-hand side is not trusted: with seed 3 one of its cuts (4) is below the
    true maximum (6), derived under its incumbent's cutoff. With HiGHS's primal
    heuristics on, its feasibility jump finds the optimum of these knapsacks before the
    root LP (seeds 3, 6 and 7 with highspy 1.16), the root's separation then closes the
    gap and HiGHS returns before its cut-pool callback: no cut comes back. The harvest
    turns them off, so the root ends with cuts on these seeds."""
    import itertools

    from scipy import sparse

    from optimiser.cutpool import certified_rhs, harvest_options
    from optimiser.highs import milp_start

    w, cap, v = _knapsacks(seed)
    n = len(v)
    res = milp_start(-v, sparse.csr_matrix(w), -np.inf, cap, np.zeros(n), np.ones(n),
                     np.ones(n), harvest_options(10.0)).result()
    assert res is not None and res.route == "highspy"
    assert res.cuts is not None, f"no cut pool: HiGHS ended with {res.message}"
    start, index, value, _, upper = res.cuts
    assert len(upper) >= 1
    cols = [index[start[k]: start[k + 1]] for k in range(len(upper))]
    coefs = [value[start[k]: start[k + 1]] for k in range(len(upper))]
    rhs = certified_rhs(sparse.csr_matrix(w), cap, cols, coefs, upper)
    points = np.array(list(itertools.product([0, 1], repeat=n)), dtype=float)
    feasible = points[(points @ w.T <= cap + 1e-9).all(axis=1)]
    for k in range(len(upper)):
        a = np.zeros(n)
        a[cols[k]] = coefs[k]
        true_max = float((feasible @ a).max())
        assert true_max <= rhs[k] + 1e-9
        assert rhs[k] <= np.floor(true_max + 1e-6) + 1e-6 or not np.allclose(a, np.round(a))


def test_a_started_solve_can_be_cancelled() -> None:
    """`Pending.cancel` stops the worker (a harvest no longer wanted) and cleans up."""
    from scipy import sparse

    from optimiser.highs import milp_start

    w, cap, v = _knapsacks(3)
    n = len(v)
    pending = milp_start(-v, sparse.csr_matrix(w), -np.inf, cap, np.zeros(n), np.ones(n),
                         np.ones(n), {"time_limit": 10})
    pending.cancel()
    assert pending.proc.poll() is not None
    assert not pending.src.exists()


def test_certify_past_its_deadline_keeps_only_the_cuts_certified(tmp_path: Path) -> None:
    """Certificates stop at the deadline (the last MIP needs the time): the cuts not
    certified by then are dropped, never kept with HiGHS's unchecked right-hand side."""
    inst, cands = _three_beds(tmp_path)
    g1, g2, s = _units(inst)
    a = _cut(inst, cands, {g1: 1.0, g2: 1.0}, 1.0)
    b = _cut(inst, cands, {g1: 1.0, g2: 1.0, s: 1.0}, 1.0)
    cuts = Cuts(np.array([0, 2, 5]), np.concatenate([a.key, b.key]),
                np.concatenate([a.value, b.value]), np.array([1.0, 1.0]))
    assert certify(inst, cands, cuts, NO_CLIQUES).rhs.tolist() == [1.0, 2.0]
    late = certify(inst, cands, cuts, NO_CLIQUES, deadline=time.perf_counter() - 1.0)
    assert len(late) == 0 and len(late.key) == 0 and late.start.tolist() == [0]
    first = cuts.first(1)
    assert first.start.tolist() == [0, 2] and first.key.tolist() == a.key.tolist()
