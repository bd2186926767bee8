"""Demand: scenarios of children to place over the planning year, and their calibration.

A scenario is a children.csv table (the spec's columns, as text) of the children who
start to be looked after and need a placement in the planning year. Scenarios are either
given (`scenarios/<name>/children.csv`) or sampled from a `Demand` model. Sampling is
deterministic per seed, and scenario i depends only on (seed, i), not on how many are
drawn: the same children appear in the 50- and the 200-scenario runs (common random
numbers make plans compared across runs differ by the decision, not by the noise).

Default calibration (see DEFAULTS and models/commissioning.md): public DfE figures where
they exist, labelled assumptions where they do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .. import calibration as cal
from ..candidates import haversine_km
from .data import Area, CommissionData, Demand, NeedRule

CHILD_COLUMNS = ("child_id", "age", "gender", "home_lat", "home_lon", "sibling_group", "faith",
                 "faith_match", "needs", "placement_types", "max_distance_km", "solo",
                 "current_placement", "priority")

# Starts to be looked after, England (DFE-RATE: `cla_number_and_rate_per_10k_children.csv`,
# population_count "Children starting to be looked after each year", National, `number`).
STARTS_ENGLAND = {2020: 31_010, 2021: 28_480, 2022: 31_100, 2023: 33_090, 2024: 33_050}
STOCK_ENGLAND_2024 = 83_630  # same file, "Children looked after at 31 March each year"
_logs = np.diff(np.log([STARTS_ENGLAND[y] for y in sorted(STARTS_ENGLAND)]))
GROWTH_DEFAULT = float(np.exp(_logs.mean()) - 1)  # 2020-2024 yearly growth of starts, ~1.6%
GROWTH_SD_DEFAULT = float(_logs.std(ddof=1))  # year-on-year sd of log starts, ~0.08

# Age of children starting to be looked after. Assumption: the DfE starts-by-age table is
# not in ../shared/data; these shares are approximate (younger than the stock: more babies,
# fewer 10-15s) and should be replaced by the authority's own starts when it has them.
START_AGE_BANDS: tuple[tuple[int, int, float], ...] = (
    (0, 0, 0.19), (1, 4, 0.14), (5, 9, 0.15), (10, 15, 0.32), (16, 17, 0.20))

# The scalar defaults live on `Demand` itself (data.py, rounded from the figures above;
# tests/test_commission.py checks them against these sources); the tables are here.
DEFAULTS = Demand(
    age_bands=START_AGE_BANDS,
    sibling_sizes=cal.SIBLING_SIZES,
    needs=(
        NeedRule("disability", cal.P_DISABILITY, 0, 17),
        NeedRule("complex_behaviour", 0.06, 5, 10),
        NeedRule("complex_behaviour", 0.20, 11, 17),
        NeedRule("emotional_wellbeing", 0.10, 0, 4),
        NeedRule("emotional_wellbeing", 0.40, 5, 17),
    ),
)


def with_defaults(d: Demand) -> Demand:
    """`d` with the calibrated defaults where a table (age bands, sibling sizes, needs)
    is not given."""
    if not d.age_bands:
        d = replace(d, age_bands=DEFAULTS.age_bands)
    if not d.sibling_sizes:
        d = replace(d, sibling_sizes=DEFAULTS.sibling_sizes)
    if not d.needs:
        d = replace(d, needs=DEFAULTS.needs)
    return d


FOSTER_TYPES = "inhouse_foster;kinship_foster;ifa_foster"
RESIDENTIAL_TYPES = "inhouse_residential;external_residential"
FAITHS = tuple(f for f, _ in cal.FAITHS)


@dataclass(frozen=True, eq=False)
class Scenario:
    """One draw of the planning year's children (a children.csv table, text columns)."""

    name: str  # unique within a sample: "s<seed>-<i>", the folder name, or "expected"
    children: pd.DataFrame = field(repr=False)
    kind: str = "sampled"  # sampled | explicit | expected
    seed: int | None = None

    @property
    def n_children(self) -> int:
        return len(self.children)


def expected_arrivals(data: CommissionData) -> float:
    """Mean number of children in a scenario: arrivals x (1 + growth)^years."""
    d = data.demand
    base = d.arrivals_per_year
    if base is None:
        base = d.starts_per_stock * data.instance.n_children
    return float(base * (1.0 + d.growth) ** d.years * d.years)


def _homes(rng: np.random.Generator, data: CommissionData, d: Demand, n: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """Home locations: around the given areas, or around today's children's homes."""
    inst = data.instance
    if d.areas:
        w = np.array([a.weight for a in d.areas], dtype=float)
        if w.sum() <= 0:
            w = np.ones(len(d.areas))
        idx = rng.choice(len(d.areas), size=n, p=w / w.sum())
        lat = np.array([d.areas[i].lat for i in idx])
        lon = np.array([d.areas[i].lon for i in idx])
        rad = np.array([d.areas[i].radius_km for i in idx])
    elif inst.n_children:
        idx = rng.integers(0, inst.n_children, size=n)
        lat, lon = inst.home_lat[idx].astype(float), inst.home_lon[idx].astype(float)
        rad = np.full(n, d.home_jitter_km)
    else:  # no children today: around the placements
        idx = rng.integers(0, max(inst.n_placements, 1), size=n)
        lat = inst.lat[idx].astype(float) if inst.n_placements else np.full(n, 52.6)
        lon = inst.lon[idx].astype(float) if inst.n_placements else np.full(n, -1.1)
        rad = np.full(n, 10.0)
    r = rad * np.sqrt(rng.random(n))
    theta = rng.random(n) * 2 * np.pi
    dlat = r * np.cos(theta) / 111.2
    dlon = r * np.sin(theta) / (111.2 * np.maximum(np.cos(np.radians(lat)), 0.1))
    return np.clip(lat + dlat, -90, 90), np.clip(lon + dlon, -180, 180)


def _family_sizes(rng: np.random.Generator, d: Demand, n: int) -> list[int]:
    """Families (1 = a single child) until n children; groups so that a share
    `sibling_share` of children are in a group of the given size distribution."""
    sizes = np.array([s for s, _ in d.sibling_sizes], dtype=int)
    w = np.array([p for _, p in d.sibling_sizes], dtype=float)
    out: list[int] = []
    if n <= 0:
        return out
    if len(sizes) == 0 or w.sum() <= 0 or d.sibling_share <= 0:
        return [1] * n
    w = w / w.sum()
    m = float((sizes * w).sum())
    s = min(d.sibling_share, 0.999)
    p_group = s / (m - s * (m - 1))  # P(a family is a group), giving share s of children
    total = 0
    while total < n:
        k = int(rng.choice(sizes, p=w)) if rng.random() < p_group else 1
        k = min(k, n - total)
        out.append(k)
        total += k
    return out


def _age(rng: np.random.Generator, bands: tuple[tuple[int, int, float], ...]) -> int:
    w = np.array([b[2] for b in bands], dtype=float)
    b = bands[int(rng.choice(len(bands), p=w / w.sum()))]
    return int(rng.integers(b[0], b[1] + 1))


def draw_children(rng: np.random.Generator, data: CommissionData, n: int,
                  prefix: str) -> pd.DataFrame:
    """n children of the planning year (spec children.csv columns, as text)."""
    d = with_defaults(data.demand)
    fams = _family_sizes(rng, d, n)
    lat, lon = _homes(rng, data, d, len(fams))
    rows: list[dict[str, str]] = []
    uasc_ages = np.array([a for a, _ in cal.UASC_AGES])
    uasc_w = np.array([w for _, w in cal.UASC_AGES])
    g = 0
    for f, size in enumerate(fams):
        uasc = size == 1 and rng.random() < d.uasc_share
        group = ""
        if size > 1:
            g += 1
            group = f"{prefix}G{g:04d}"
        base_age = (int(rng.choice(uasc_ages, p=uasc_w / uasc_w.sum())) if uasc
                    else _age(rng, d.age_bands))
        faith, match = "", "none"
        if uasc:
            r = rng.random()
            acc = 0.0
            for name, p in cal.UASC_FAITHS:
                acc += p
                if r < acc:
                    faith = name
                    break
        else:
            r = rng.random()
            acc = 0.0
            for name, p in cal.FAITHS:
                acc += p
                if r < acc:
                    faith = name
                    break
        if faith and rng.random() < d.faith_preferred_share:
            match = "preferred"
        for k in range(size):
            age = base_age if k == 0 else int(np.clip(
                base_age + int(rng.choice([-4, -3, -2, -1, 1, 2, 3, 4])), 0, 17))
            male = rng.random() < (0.9 if uasc else d.male_share)
            needs = []
            if uasc:
                needs.append("uasc")
            for rule in d.needs:
                if rule.age_min <= age <= rule.age_max and rule.tag not in needs \
                        and rng.random() < rule.share:
                    needs.append(rule.tag)
            types = ""
            solo = False
            complex11 = "complex_behaviour" in needs and age >= 11
            if complex11 and size == 1:
                if rng.random() < d.residential_only_complex_11:
                    types = RESIDENTIAL_TYPES
                solo = rng.random() < d.solo_complex_11
            elif age < 10 and rng.random() < d.foster_only_under_10:
                types = FOSTER_TYPES
            rows.append({
                "child_id": f"{prefix}C{len(rows) + 1:05d}", "age": str(age),
                "gender": "M" if male else "F", "home_lat": f"{lat[f]:.5f}",
                "home_lon": f"{lon[f]:.5f}", "sibling_group": group, "faith": faith,
                "faith_match": match, "needs": ";".join(needs), "placement_types": types,
                "max_distance_km": "", "solo": "true" if solo else "false",
                "current_placement": "", "priority": "1"})
    return pd.DataFrame(rows, columns=list(CHILD_COLUMNS), dtype=object)


def _count(rng: np.random.Generator, data: CommissionData) -> int:
    """Children in one scenario: Poisson around a lognormal year level (growth uncertainty)."""
    d = data.demand
    mean = expected_arrivals(data)
    sd = d.growth_sd * np.sqrt(max(d.years, 0.0))
    level = mean * float(np.exp(sd * rng.standard_normal() - sd * sd / 2))
    return int(rng.poisson(level))


def sample_scenarios(data: CommissionData, n: int, seed: int = 0) -> list[Scenario]:
    """n scenarios: the explicit ones (the first n) when `scenarios/` is given, else drawn
    from the demand model; scenario i depends only on (seed, i)."""
    if data.explicit:
        return [Scenario(name, frame, "explicit", None) for name, frame in data.explicit[:n]]
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i, 0xC0])
        k = _count(rng, data)
        out.append(Scenario(f"s{seed}-{i}", draw_children(rng, data, k, f"S{i}-"), "sampled",
                            seed))
    return out


def expected_scenario(data: CommissionData, scenarios: list[Scenario], seed: int = 0
                      ) -> Scenario:
    """The average-demand scenario of the expected-value problem.

    Sampled demand: the expected number of children (no growth noise, no Poisson draw),
    drawn once with `seed`. Explicit scenarios: the one whose size is nearest the mean size
    (ties: the first), since children cannot be averaged.
    """
    if data.explicit or any(s.kind == "explicit" for s in scenarios):
        sizes = np.array([s.n_children for s in scenarios], dtype=float)
        i = int(np.argmin(np.abs(sizes - sizes.mean())))
        return replace(scenarios[i], kind="expected")
    rng = np.random.default_rng([seed, 0xE7])
    k = int(round(expected_arrivals(data)))
    return Scenario("expected", draw_children(rng, data, k, "E-"), "expected", seed)


def describe(scenarios: list[Scenario]) -> dict[str, float]:
    """Sizes of a sample (children per scenario): for the report."""
    sizes = np.array([s.n_children for s in scenarios], dtype=float)
    if not len(sizes):
        return {"n": 0}
    return {"n": float(len(sizes)), "mean_children": float(sizes.mean()),
            "sd_children": float(sizes.std(ddof=1)) if len(sizes) > 1 else 0.0,
            "min_children": float(sizes.min()), "max_children": float(sizes.max())}


__all__ = ["DEFAULTS", "Scenario", "draw_children", "expected_arrivals", "expected_scenario",
           "sample_scenarios", "haversine_km", "Area"]
