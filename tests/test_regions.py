"""Calibrated regions: members and their DfE counts, children split in proportion, the
1.1 columns (responsible authority, where a placement lies), borders from the boundaries."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimiser import calibration as cal
from optimiser.generate import default_data_dir, generate
from optimiser.objective import haversine_km
from optimiser.reader import load_instance
from optimiser.regions import (
    REGION_GROUPS,
    adjoining_pairs,
    build_region,
    dfe_children_in_care,
    region_members,
)

DATA = default_data_dir()
needs_data = pytest.mark.skipif(DATA is None, reason="public data (shared/data) not here")


def test_members_of_a_region_and_of_a_group() -> None:
    nw = region_members("North West", None)
    assert {m.code for m in nw} == {a.code for a in cal.AUTHORITIES
                                    if a.region == "North West"}
    gm = region_members("greater manchester", None)
    assert [m.code for m in gm] == list(REGION_GROUPS["Greater Manchester"])
    assert [m.code for m in region_members(["Manchester", "e08000009"], None)] == [
        "E08000003", "E08000009"]
    with pytest.raises(ValueError, match="unknown region"):
        region_members("Atlantis", None)


@needs_data
def test_dfe_counts_are_the_latest_year_of_the_file() -> None:
    assert DATA is not None
    with open(DATA / "ofsted" / "cla_number_and_rate_per_10k_children.csv",
              encoding="utf-8-sig") as fh:
        rows = [r for r in csv.DictReader(fh) if r["geographic_level"] == "Local authority"
                and r["population_count"].startswith("Children looked after at 31 March")]
    latest = max(r["time_period"] for r in rows)
    manchester = [r for r in rows if r["time_period"] == latest
                  and r["new_la_code"] == "E08000003"]
    counts = dfe_children_in_care(DATA)
    assert counts["E08000003"] == int(manchester[0]["number"])
    assert region_members(["E08000003"], DATA)[0].children_in_care == counts["E08000003"]


def test_children_split_by_the_counts_and_columns_filled(tmp_path: Path) -> None:
    codes = ["E08000003", "E08000009", "E08000002"]
    tables = build_region(tmp_path / "r", codes, children=300, placements=200, seed=4)
    members = region_members(codes, DATA)
    weights = np.array([m.children_in_care for m in members], dtype=float)
    got = tables["children"]["authority"].value_counts()
    for m, w in zip(members, weights, strict=True):
        assert abs(got[m.code] - 300 * w / weights.sum()) < 1.0  # largest remainder
    assert len(tables["children"]) == 300 and len(tables["placements"]) == 200
    inst = load_instance(tmp_path / "r")
    assert inst.format_11 and inst.n_children == 300
    assert len(set(inst.child_ids)) == 300 and len(set(inst.placement_ids)) == 200
    for cid, auth in zip(tables["children"]["child_id"], tables["children"]["authority"],
                         strict=True):
        assert cid.startswith(auth + "-")
    # the member's own services are its; a market bed lies where the generator put it
    pl = tables["placements"]
    own = pl["type"].isin(["inhouse_foster", "kinship_foster", "inhouse_residential"])
    assert own.any() and (~own).any()
    assert (pl.loc[own, "authority"] == pl.loc[own, "placement_id"].str[:9]).all()
    first = members[0]
    alone = generate(None, children=int(got[first.code]),
                     placements=int((pl["placement_id"].str[:9] == first.code).sum()),
                     seed=4, authority=first.code, data_dir=DATA)["placements"]
    mine = pl[pl["placement_id"].str[:9] == first.code].reset_index(drop=True)
    market = ~mine["type"].isin(["inhouse_foster", "kinship_foster", "inhouse_residential"])
    if "authority" in alone:
        assert (mine.loc[market, "authority"] == alone.loc[market, "authority"]).all()
    else:  # an older generator: the nearest authority centroid
        lat = np.array([a.lat for a in cal.AUTHORITIES])
        lon = np.array([a.lon for a in cal.AUTHORITIES])
        for row in mine[market].itertuples():
            d = haversine_km(row.lat, row.lon, lat, lon)
            assert row.authority == cal.AUTHORITIES[int(np.argmin(d))].code
    if "reserved_for" in pl:  # kinship carers reserved for their own member's family
        for row in pl[pl["reserved_for"].fillna("") != ""].itertuples():
            assert all(x.startswith(row.authority + "-") for x in row.reserved_for.split(";"))


def test_same_seed_same_region(tmp_path: Path) -> None:
    a = build_region(None, ["E08000001", "E08000002"], children=80, seed=2)
    b = build_region(None, ["E08000001", "E08000002"], children=80, seed=2)
    c = build_region(None, ["E08000001", "E08000002"], children=80, seed=3)
    pd.testing.assert_frame_equal(a["children"], b["children"])
    assert not a["children"].equals(c["children"])


@needs_data
def test_borders_from_the_boundaries(tmp_path: Path) -> None:
    gm = list(REGION_GROUPS["Greater Manchester"])
    pairs = {frozenset(p) for p in adjoining_pairs(gm, DATA)}
    assert frozenset(("E08000003", "E08000009")) in pairs  # Manchester - Trafford
    assert frozenset(("E08000001", "E08000010")) in pairs  # Bolton - Wigan
    assert frozenset(("E08000001", "E08000007")) not in pairs  # Bolton - Stockport
    # a county is the union of its districts: Lancashire borders Wigan and Bolton
    lanc = {frozenset(p) for p in adjoining_pairs(["E10000017", "E08000010", "E08000001",
                                                   "E08000003"], DATA)}
    assert frozenset(("E10000017", "E08000010")) in lanc
    assert frozenset(("E10000017", "E08000003")) not in lanc
    build_region(tmp_path / "r", gm[:3], children=30, seed=1)
    adj = pd.read_csv(tmp_path / "r" / "adjoining.csv")
    assert {frozenset(p) for p in adj.itertuples(index=False)} == {
        frozenset(p) for p in adjoining_pairs(gm[:3], DATA)}
    inst = load_instance(tmp_path / "r")
    assert inst.adjoining is not None and inst.adjoining.any()
