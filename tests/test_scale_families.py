"""Benchmark families (research/families.py) and the bounds made for short supply."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optimiser import flow
from optimiser.candidates import build_candidates
from optimiser.pipeline.colgen import smoothed
from optimiser.pipeline.lp import Duals
from optimiser.pipeline.pricing import lifted, price
from optimiser.reader import load_instance
from optimiser.research.families import family_tables, write_family


def test_tight_family_is_short_by_the_shortage() -> None:
    t = family_tables("tight", children=400, placements=300, seed=3, shortage=0.3)
    beds = int(t["placements"]["vacancies"].sum())
    assert beds == int(np.floor(400 / 1.3))
    assert (t["placements"]["vacancies"] >= 0).all()


def test_uasc_and_sibling_families_change_what_they_say() -> None:
    plain = family_tables("plain", children=600, placements=400, seed=4)
    uasc = family_tables("uasc", children=600, placements=400, seed=4, share=0.8)
    sib = family_tables("siblings", children=600, placements=400, seed=4, share=0.6)

    def n_uasc(t: dict) -> int:
        return int(t["children"]["needs"].fillna("").str.contains("uasc").sum())

    def n_grouped(t: dict) -> int:
        return int(t["children"]["sibling_group"].notna().sum())

    assert n_uasc(uasc) > 2 * max(n_uasc(plain), 1)
    assert n_grouped(sib) > 1.5 * max(n_grouped(plain), 1)
    groups = sib["children"].dropna(subset=["sibling_group"]).groupby("sibling_group")
    assert (groups["home_lat"].nunique() == 1).all()  # one home per group
    with pytest.raises(ValueError):
        family_tables("nope", children=10, placements=10)


def test_same_arguments_same_tables() -> None:
    a = family_tables("siblings", children=200, placements=150, seed=6)
    b = family_tables("siblings", children=200, placements=150, seed=6)
    for name in a:
        assert a[name].equals(b[name])


def test_lifted_bound_is_valid_and_no_worse(tmp_path: Path) -> None:
    folder = write_family(tmp_path / "t", "tight", children=300, placements=220, seed=8,
                          shortage=0.35)
    inst = load_instance(folder)
    full, pool = build_candidates(inst, limit=None)
    assert pool is not None
    lp = flow.transport_relaxation(inst, full).value  # the LP optimum over every pair
    few, _ = build_candidates(inst, limit=3)
    tr = flow.transport_relaxation(inst, few)
    duals = Duals(tr.pi, np.zeros(inst.n_placements))
    plain = price(inst, few, pool, duals, None, per_unit=0).lagrangian_bound
    lag, lifted_duals = lifted(inst, few, pool, duals)
    assert plain <= lag <= lp + 1e-6 * abs(lp)
    assert (lifted_duals.pi >= duals.pi).all()
    # the smoothed point lies between the two price vectors
    mid = smoothed(lifted_duals, duals, 0.5)
    assert np.allclose(mid.pi, 0.5 * (lifted_duals.pi + duals.pi))
