"""Tests of the calibrated instance generator (optimiser/generate.py).

Why: every other part of the engine is tested and benchmarked on these instances, so they
must be reproducible (byte-identical by seed), inside the spec's domains, calibrated on the
public figures, and - when children are already placed - a consistent snapshot.
The rule checks here are written independently of the generator's own vectorised ones.
"""

from __future__ import annotations

import filecmp
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from optimiser import calibration as cal
from optimiser.categories import (
    ALL_RATINGS,
    DEFAULT_TYPES,
    EARTH_RADIUS_KM,
    FAITH_MATCH,
    GENDERS,
    PLACEMENT_TYPES,
    SUPPORTED_MIN_AGE,
    rating_allowed,
)
from optimiser.generate import (
    RECIPES_PATH,
    generate,
    generate_recipe,
    instance_stats,
    load_recipes,
    recipe_kwargs,
    type_counts,
)

REPO = Path(__file__).resolve().parent.parent
FILES = ("children.csv", "placements.csv", "exclusions.csv", "policy.toml", "README.md")
UK_LAT, UK_LON = (49.8, 60.9), (-8.7, 1.8)


def _data_dir() -> Path | None:
    env = os.environ.get("PLACEMENT_DATA_DIR")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


def _read(folder: Path) -> dict[str, pd.DataFrame]:
    """The instance as a reader of the format sees it: text, empty cell = not given."""
    return {
        name: pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
        for name in ("children", "placements", "exclusions", "adjoining")
    }


def _items(cell: str) -> set[str]:
    return set(cell.split(";")) if cell else set()


@pytest.fixture(scope="module")
def authority_2000(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    out = tmp_path_factory.mktemp("a2000")
    generate(out, children=2000, placements=1500, seed=11)
    return _read(out)


@pytest.fixture(scope="module")
def placed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    out = tmp_path_factory.mktemp("placed")
    generate(out, children=2000, placements=1500, seed=5, placed_share=0.7,
             authority="West Midlands")
    return _read(out)


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    for run in ("a", "b"):
        generate(tmp_path / run, children=300, placements=250, seed=4, placed_share=0.5)
    generate(tmp_path / "c", children=300, placements=250, seed=5, placed_share=0.5)
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "children.csv").read_bytes() != (
        tmp_path / "c" / "children.csv").read_bytes()


def test_returned_tables_match_files(tmp_path: Path) -> None:
    tables = generate(tmp_path, children=60, placements=50, seed=2)
    files = _read(tmp_path)
    for name, frame in tables.items():
        assert list(frame.columns) == list(files[name].columns)
        assert len(frame) == len(files[name])
    assert tables["children"]["child_id"].tolist() == files["children"]["child_id"].tolist()
    assert np.allclose(tables["placements"]["lat"], files["placements"]["lat"].astype(float))


@pytest.mark.parametrize("n,m", [(12, 10), (60, 50), (301, 249)])
def test_sizes_and_unique_ids(tmp_path: Path, n: int, m: int) -> None:
    generate(tmp_path, children=n, placements=m, seed=1)
    t = _read(tmp_path)
    c, p, e = t["children"], t["placements"], t["exclusions"]
    assert len(c) == n and len(p) == m
    assert c["child_id"].is_unique and p["placement_id"].is_unique
    assert c["child_id"].str.fullmatch(r"C\d{5}").all()
    assert p["placement_id"].str.fullmatch(r"P\d{5}").all()
    groups = c.loc[c["sibling_group"] != "", "sibling_group"]
    assert groups.str.fullmatch(r"G\d{4}").all()
    assert not e.duplicated(["child_id", "placement_id"]).any()
    assert set(e["child_id"]) <= set(c["child_id"])
    assert set(e["placement_id"]) <= set(p["placement_id"])
    assert (tmp_path / "policy.toml").read_text().count("min_ofsted_rating") == 1
    assert "seed=1" in (tmp_path / "README.md").read_text()


def test_values_within_spec_domains(authority_2000: dict[str, pd.DataFrame]) -> None:
    c, p = authority_2000["children"], authority_2000["placements"]
    age = c["age"].astype(int)
    assert age.between(0, 17).all()
    assert c["gender"].isin(GENDERS).all()
    assert c["home_lat"].astype(float).between(*UK_LAT).all()
    assert c["home_lon"].astype(float).between(*UK_LON).all()
    assert c["faith_match"].isin([*FAITH_MATCH, ""]).all()
    required = c["faith_match"] == "required"
    assert required.any() and (c.loc[required, "faith"] != "").all()
    assert c["faith"].str.fullmatch(r"[a-z]*").all()
    assert all(_items(x) <= set(PLACEMENT_TYPES) for x in c["placement_types"])
    assert all(_items(x) <= set(cal.NEED_TAGS) for x in c["needs"])
    dist = c.loc[c["max_distance_km"] != "", "max_distance_km"].astype(float)
    assert (dist > 0).all()
    assert c["solo"].isin(["true", "false"]).all()
    assert c["priority"].astype(int).between(1, 3).all()
    assert (c["current_placement"] == "").all()

    assert p["type"].isin(PLACEMENT_TYPES).all()
    assert (p["vacancies"].astype(int) >= 0).all()
    lo, hi = p["age_min"].astype(int), p["age_max"].astype(int)
    assert (lo >= 0).all() and (hi <= 17).all() and (lo <= hi).all()
    supported = p["type"] == "supported_accommodation"
    assert supported.any() and (lo[supported] >= SUPPORTED_MIN_AGE).all()
    assert all(_items(x) <= set(GENDERS) for x in p["genders"])
    assert (p["genders"] != "").any()
    assert all(_items(x) <= set(cal.NEED_TAGS) for x in p["needs_supported"])
    assert p["ofsted_rating"].isin(ALL_RATINGS).all()
    assert p["lat"].astype(float).between(*UK_LAT).all()
    assert p["lon"].astype(float).between(*UK_LON).all()
    cost = p["weekly_cost"].astype(float)
    assert (cost >= 0).all()
    block = p["block_contract"] != ""
    assert block.any() and (cost[block] == 0).all()
    # Formatting: 5 decimals for coordinates, 2 for costs.
    assert p["lat"].str.fullmatch(r"-?\d+\.\d{5}").all()
    assert p["weekly_cost"].str.fullmatch(r"\d+\.\d{2}").all()


def test_calibration_shares(authority_2000: dict[str, pd.DataFrame]) -> None:
    c, p = authority_2000["children"], authority_2000["placements"]
    sizes = c.loc[c["sibling_group"] != "", "sibling_group"].value_counts()
    assert 2.0 <= sizes.mean() <= 2.6
    assert sizes.max() <= 5 and (sizes >= 4).any()
    assert 0.30 <= sizes.sum() / len(c) <= 0.50
    age = c["age"].astype(int)
    assert 0.5 <= (age >= 10).mean() <= 0.75  # SFR50: 63% aged 10 and over
    assert 0.5 <= (c["max_distance_km"] != "").mean() <= 0.8
    uasc = c["needs"].str.contains("uasc")
    assert 0.03 <= uasc.mean() <= 0.10
    assert (age[uasc] >= 14).all() and (c.loc[uasc, "gender"] == "M").mean() > 0.75
    assert 0.0 < (c["solo"] == "true").mean() < 0.06
    # Placement mix (rows): foster types dominate, then homes, then supported accommodation.
    share = p["type"].value_counts(normalize=True)
    assert share["inhouse_foster"] > share["ifa_foster"] > share["external_residential"]
    assert 0.05 <= share["external_residential"] + share["inhouse_residential"] <= 0.15


@pytest.mark.parametrize("ptype,low,high,mean_low,mean_high", [
    ("inhouse_foster", 450, 700, 540, 610),  # Barnet £565
    ("ifa_foster", 750, 1000, 795, 904),  # Leicestershire £795 .. Barnet £904
    ("kinship_foster", 300, 450, 330, 420),
    ("external_residential", 3500, 6000, 3900, 4800),  # £3,500 .. Cambridgeshire £4,041+
    ("supported_accommodation", 600, 1500, 800, 1200),
])
def test_costs_in_calibrated_ranges(authority_2000: dict[str, pd.DataFrame], ptype: str,
                                    low: float, high: float, mean_low: float,
                                    mean_high: float) -> None:
    p = authority_2000["placements"]
    rows = p[(p["type"] == ptype) & (p["block_contract"] == "")]
    cost = rows["weekly_cost"].astype(float)
    assert len(cost) > 10
    assert cost.between(low, high).all()
    assert mean_low <= cost.mean() <= mean_high


def _haversine(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(
        np.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))


def _pair_violations(child: pd.Series, place: pd.Series, excluded: set[tuple[str, str]],
                     floor: str = "requires_improvement") -> list[str]:
    """Every per-pair rule of the spec, written out plainly, for one child and placement."""
    bad = []
    types = _items(child["placement_types"]) or set(DEFAULT_TYPES)
    age = int(child["age"])
    if place["type"] == "supported_accommodation" and age < SUPPORTED_MIN_AGE:
        bad.append("supported_under_16")
    if place["type"] not in types:
        bad.append("placement_type")
    if not int(place["age_min"]) <= age <= int(place["age_max"]):
        bad.append("age_range")
    if child["gender"] not in (_items(place["genders"]) or set(GENDERS)):
        bad.append("gender")
    if not _items(child["needs"]) <= _items(place["needs_supported"]):
        bad.append("needs")
    if child["faith_match"] == "required" and child["faith"] != place["faith"]:
        bad.append("faith_required")
    if not rating_allowed(place["ofsted_rating"] or "not_rated", floor):
        bad.append("ofsted_rating")
    if (child["child_id"], place["placement_id"]) in excluded:
        bad.append("exclusion")
    if child["max_distance_km"]:
        d = _haversine(float(child["home_lat"]), float(child["home_lon"]), float(place["lat"]),
                       float(place["lon"]))
        if d > float(child["max_distance_km"]):
            bad.append("max_distance")
    return bad


def test_placed_children_are_a_consistent_snapshot(placed: dict[str, pd.DataFrame]) -> None:
    c, p, e = placed["children"], placed["placements"], placed["exclusions"]
    here = c[c["current_placement"] != ""]
    assert 0.6 <= len(here) / len(c) <= 0.7
    assert set(here["current_placement"]) <= set(p["placement_id"])
    excluded = set(zip(e["child_id"], e["placement_id"], strict=True))
    by_id = p.set_index("placement_id", drop=False)
    for _, child in here.iterrows():
        place = by_id.loc[child["current_placement"]]
        assert _pair_violations(child, place, excluded) == [], child["child_id"]
    # Capacity = vacancies + children placed there; a solo child is alone.
    vac = p.set_index("placement_id")["vacancies"].astype(int)
    assert (vac >= 0).all()
    occupants = here["current_placement"].value_counts()
    solo_places = here.loc[here["solo"] == "true", "current_placement"]
    assert (occupants[solo_places] == 1).all()
    # Siblings live together (or all wait).
    groups = c[c["sibling_group"] != ""].groupby("sibling_group")["current_placement"]
    assert (groups.nunique() == 1).all()


def test_placed_share_keeps_children_and_placements(tmp_path: Path) -> None:
    a = generate(None, children=300, placements=250, seed=8)
    b = generate(None, children=300, placements=250, seed=8, placed_share=0.7)
    same = [col for col in a["children"].columns
            if col not in ("current_placement", "placed_since")]
    pd.testing.assert_frame_equal(a["children"][same], b["children"][same])
    same = [col for col in a["placements"].columns if col != "vacancies"]
    pd.testing.assert_frame_equal(a["placements"][same], b["placements"][same])
    pd.testing.assert_frame_equal(a["exclusions"], b["exclusions"])
    # Capacity is unchanged: free beds + children now placed there.
    occupants = b["children"]["current_placement"].value_counts()
    capacity = b["placements"]["vacancies"] + b["placements"]["placement_id"].map(
        occupants).fillna(0)
    assert (capacity == a["placements"]["vacancies"]).all()
    assert instance_stats(b)["placed"] == 210


def test_distance_calibration_of_current_placements() -> None:
    """Region scale: about 22% of placed children over 20 miles from home (DfE 21.6%)."""
    t = generate(None, children=6000, placements=4500, seed=3, authority="North West",
                 placed_share=0.7)
    c = t["children"].dropna(subset=["current_placement"])
    p = t["placements"].set_index("placement_id").loc[c["current_placement"]]
    d = _haversine(c["home_lat"].to_numpy(), c["home_lon"].to_numpy(), p["lat"].to_numpy(),
                   p["lon"].to_numpy())
    assert 0.12 <= (d > 20 * 1.609344).mean() <= 0.32


def test_authority_choices() -> None:
    one = generate(None, children=200, placements=150, seed=1, authority="Camden")
    lat = one["children"]["home_lat"]
    assert lat.between(51.50, 51.60).all()  # a borough of 22 km2
    region = generate(None, children=500, placements=300, seed=1, authority="south west")
    assert region["children"]["home_lat"].between(49.9, 52.2).all()
    assert "Inhouse fostering E" in " ".join(region["placements"]["provider"])
    with pytest.raises(ValueError, match="unknown authority"):
        generate(None, children=5, placements=5, authority="Atlantis")


def test_recipes_and_committed_instances(tmp_path: Path) -> None:
    book = load_recipes()
    for name in ("tiny", "small", "demo", "demo-placed", "authority-2000", "region-20000",
                 "england"):
        assert name in book
    assert recipe_kwargs("england") == {
        "children": 84000, "placements": 48791, "seed": 1, "authority": "England",
        "type_rows": {"inhouse_residential": 442, "external_residential": 2914, "secure": 144}}
    assert book["demo"]["out"] == "demo"
    with pytest.raises(KeyError):
        recipe_kwargs("nope")
    for name, entry in book.items():
        if not entry.get("commit"):
            continue
        shipped = RECIPES_PATH.parent / entry["out"]
        if not shipped.is_dir():
            pytest.fail(f"recipe {name} is marked commit but instances/{entry['out']} is missing")
        fresh = generate_recipe(name, out_root=tmp_path)
        _, mismatch, errors = filecmp.cmpfiles(shipped, fresh, FILES, shallow=False)
        assert mismatch == [] and errors == [], (name, mismatch, errors)
        size = sum(f.stat().st_size for f in shipped.iterdir())
        assert size < 1_000_000


def test_type_rows_fix_counts_and_keep_the_rest_in_the_calibrated_mix() -> None:
    """type_rows: exact rows for the named types; the others keep their calibrated ratios;
    without it the draws are those of the calibrated mix (shipped recipes unchanged)."""
    fixed = {"inhouse_residential": 4, "external_residential": 30, "secure": 1}
    t = generate(None, children=400, placements=500, seed=5, type_rows=fixed)
    got = t["placements"]["type"].value_counts()
    for typ, n in fixed.items():
        assert got.get(typ, 0) == n
    assert len(t["placements"]) == 500
    free = [x for x in PLACEMENT_TYPES if x not in fixed]
    base = generate(None, children=400, placements=500, seed=5)["placements"]["type"]
    ref = base.value_counts()
    # the free types take the 465 other rows in the calibrated proportions (both rounded)
    total_ref = sum(ref.get(x, 0) for x in free)
    for x in free:
        assert abs(got.get(x, 0) - ref.get(x, 0) * 465 / total_ref) <= 2.0, x
    # same children whatever the placement mix (children are drawn first)
    base_children = generate(None, children=400, placements=500, seed=5)["children"]
    pd.testing.assert_frame_equal(t["children"], base_children)
    with pytest.raises(ValueError, match="unknown placement type"):
        generate(None, children=5, placements=5, type_rows={"castle": 1})
    with pytest.raises(ValueError, match="exceed"):
        generate(None, children=5, placements=5, type_rows={"secure": 6})
    with pytest.raises(ValueError, match="whole number"):
        generate(None, children=5, placements=5, type_rows={"secure": -1})
    with pytest.raises(ValueError, match="add up"):
        generate(None, children=5, placements=9, type_rows={t: 1 for t in PLACEMENT_TYPES})


def test_england_recipe_has_englands_counts() -> None:
    """England: 43,000 fostering households and 3,500 children's homes."""
    kw = recipe_kwargs("england")
    counts = dict(zip(PLACEMENT_TYPES, type_counts(kw["placements"], kw["type_rows"]),
                      strict=True))
    assert counts["inhouse_foster"] + counts["kinship_foster"] + counts["ifa_foster"] == 43000
    homes = ("inhouse_residential", "external_residential", "secure")
    assert sum(counts[h] for h in homes) == 3500
    assert sum(counts.values()) == kw["placements"]


def test_real_data_dir() -> None:
    data = _data_dir()
    if data is None:
        pytest.skip("shared/data not found: set PLACEMENT_DATA_DIR to run the real-data path")
    t = generate(None, children=2000, placements=1500, seed=3, data_dir=data,
                 authority="Lancashire")
    c, p = t["children"], t["placements"]
    # Lancashire's own centroid in the geography file is ~190 km off (in Northamptonshire);
    # the generator uses its districts' centroid instead.
    assert c["home_lat"].between(53.4, 54.3).all()
    homes = p[p["type"].isin(["external_residential", "inhouse_residential"])]
    assert homes["ofsted_rating"].isin(ALL_RATINGS).all()
    assert (homes["ofsted_rating"] == "good").mean() > 0.4
    assert p["lat"].between(*UK_LAT).all()
    # The embedded table is the real data, so the default path gives the same children.
    embedded = generate(None, children=2000, placements=1500, seed=3, authority="Lancashire")
    pd.testing.assert_frame_equal(embedded["children"], c)


def test_england_scale_is_fast() -> None:
    import time

    start = time.perf_counter()
    t = generate(None, children=84000, placements=46500, seed=1, authority="England")
    elapsed = time.perf_counter() - start
    assert len(t["children"]) == 84000 and len(t["placements"]) == 46500
    assert t["children"]["child_id"].is_unique
    assert elapsed < 15, elapsed
    cla = {a.region: 0 for a in cal.AUTHORITIES}
    for a in cal.AUTHORITIES:
        cla[a.region] += a.children_in_care
    assert math.isclose(sum(cla.values()), cal.FIGURES["cla_england_2024"].value, rel_tol=0.01)
