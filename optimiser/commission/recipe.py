"""Make a commissioning instance from any instance folder: the shipped demo and benchmarks.

`make_commission_instance(src, out)` copies the authority (children.csv, placements.csv,
policy.toml, exclusions.csv), keeps a share of each placement's vacancies (the beds
expected to come free to the planning year's arrivals: today's vacancies are mostly taken
by today's waiting children), and writes five candidate block contracts, a spot market
(framework and off-framework) and a demand.toml, priced from `optimiser.calibration`.
Deterministic per seed. `instances/demo-commission` is `make_commission_instance(
"instances/demo", "instances/demo-commission", seed=6)`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from .. import calibration as cal
from ..safe_text import safe_text_frame

ALL_NEEDS = "complex_behaviour;disability;emotional_wellbeing;uasc"


def _contracts(lat: float, lon: float, scale: float) -> pd.DataFrame:
    """Five candidates: two children's homes, an IFA block, supported and a solo home.

    Prices: a block home bed at £10k/3 beds a week (ROTH 3.9), an IFA block bed a little
    under the IFA average (£795, LEICS/ROTH), supported accommodation under its spot price.
    `scale`: arrivals / 120 (the demo's), so larger authorities get larger contracts.
    """
    def n(v: float) -> int:
        return max(1, int(round(v * scale)))

    block_home = round(cal.FIGURES["cost_block_home_roth"].value, 2)
    rows = [
        ("BLK1", "Meadow House Ltd", "external_residential", 0.05, 0.08, 10, 17, "",
         "complex_behaviour;emotional_wellbeing", "good", 1, 2, n(6), block_home, 104, n(2)),
        ("BLK2", "Northfield Care", "external_residential", -0.10, 0.15, 8, 17, "",
         "complex_behaviour;emotional_wellbeing;disability", "outstanding", 2, 2, 2 * n(3),
         3600.0, 52, 0),
        ("BLK3", "Foster Partners IFA", "ifa_foster", 0.02, -0.05, 0, 17, "",
         "emotional_wellbeing;disability;uasc", "good", n(2), n(2), n(40), 760.0, 52, n(4)),
        ("BLK4", "Step Up Living", "supported_accommodation", -0.03, 0.02, 16, 17, "",
         "emotional_wellbeing;uasc", "not_rated", 1, 0, n(8), 820.0, 26, n(2)),
        ("BLK5", "Solo Homes", "external_residential", 0.12, -0.12, 11, 17, "",
         ALL_NEEDS, "good", 1, 0, n(3), 4400.0, 52, 0),
    ]
    cols = ["contract_id", "provider", "type", "dlat", "dlon", "age_min", "age_max", "genders",
            "needs_supported", "ofsted_rating", "step", "min_beds", "max_beds", "weekly_price",
            "min_term_weeks", "current_beds"]
    df = pd.DataFrame(rows, columns=cols)
    df["lat"] = (lat + df.pop("dlat")).round(5)
    df["lon"] = (lon + df.pop("dlon")).round(5)
    df["faith"] = ""
    return df[["contract_id", "provider", "type", "lat", "lon", "age_min", "age_max", "genders",
               "needs_supported", "faith", "ofsted_rating", "step", "min_beds", "max_beds",
               "weekly_price", "min_term_weeks", "current_beds"]]


def _spot() -> pd.DataFrame:
    """Spot market: framework prices near the calibration's averages, off-framework dearer
    and out of area (so that every child has some option)."""
    ifa = cal.FIGURES["cost_ifa_barnet"].value  # £904
    res = cal.FIGURES["cost_residential_cambs"].value  # £4,041 out of county
    rows = [
        ("SP-IFA", "framework IFA", "ifa_foster", "framework", round(ifa), 25.0,
         "emotional_wellbeing;disability;uasc", 0, 17, ""),
        ("SP-IFA-CX", "framework IFA (complex)", "ifa_foster", "framework",
         round(1.3 * ifa), 35.0, ALL_NEEDS, 0, 17, ""),
        ("SP-RES", "framework homes", "external_residential", "framework", round(1.1 * res),
         45.0, ALL_NEEDS, 8, 17, ""),
        ("SP-SUP", "framework supported", "supported_accommodation", "framework",
         round(cal.FIGURES["cost_supported"].value), 20.0, "emotional_wellbeing;uasc", 16, 17,
         ""),
        ("SP-OFF-FOS", "off-framework foster", "ifa_foster", "off_framework",
         round(1.6 * ifa), 90.0, ALL_NEEDS, 0, 17, ""),
        ("SP-OFF-RES", "off-framework homes", "external_residential", "off_framework",
         round(1.6 * res), 120.0, ALL_NEEDS, 0, 17, ""),
    ]
    return pd.DataFrame(rows, columns=["spot_id", "provider", "type", "tier", "weekly_cost",
                                       "typical_distance_km", "needs_supported", "age_min",
                                       "age_max", "max_beds"])


DEMAND_TOML = """\
# Demand for the planning year (models/commissioning.md, "Demand"). Keys left out take the
# defaults calibrated from DfE figures (optimiser/commission/demand.py: DEFAULTS).
[demand]
# arrivals_per_year: default = starts_per_stock (33,050 / 83,630, England 2024) x the
# children in children.csv
growth = {growth}        # yearly growth of arrivals (England starts 2020-2024: ~1.6%)
growth_sd = 0.08         # uncertainty of the year's level (sd of log year-on-year change)
uasc_share = 0.063
sibling_share = 0.40

[demand.sibling_sizes]   # group size = share of groups (mean 2.34)
"2" = 0.75
"3" = 0.18
"4" = 0.05
"5" = 0.02
"""


def make_commission_instance(src: str | Path, out: str | Path, *, seed: int = 6,
                             vacancy_share: float = 0.35, residential_share: float = 0.15,
                             growth: float = 0.016) -> Path:
    """Write a commissioning instance built on `src` (see the module docstring)."""
    src, out = Path(src), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in ("children.csv", "policy.toml", "exclusions.csv"):
        if (src / name).exists():
            shutil.copyfile(src / name, out / name)
    pl = pd.read_csv(src / "placements.csv", dtype=str, keep_default_na=False)
    vac = pl["vacancies"].astype(int).to_numpy()
    homes = pl["type"].isin(["external_residential", "inhouse_residential"]).to_numpy()
    share = np.where(homes, residential_share, vacancy_share)
    pl["vacancies"] = rng.binomial(vac, share).astype(str)
    safe_text_frame(pl).to_csv(out / "placements.csv", index=False)
    ch = pd.read_csv(src / "children.csv", dtype=str, keep_default_na=False)
    lat = float(ch["home_lat"].astype(float).mean())
    lon = float(ch["home_lon"].astype(float).mean())
    scale = len(ch) * 33_050 / 83_630 / 120.0
    safe_text_frame(_contracts(lat, lon, scale)).to_csv(out / "contracts.csv", index=False)
    safe_text_frame(_spot()).to_csv(out / "spot.csv", index=False)
    (out / "demand.toml").write_text(DEMAND_TOML.format(growth=growth))
    (out / "README.md").write_text(
        f"# Commissioning instance built on `{src.name}`\n\n"
        "Synthetic: no real child, carer or provider. Made by "
        "`optimiser.commission.recipe.make_commission_instance("
        f"{str(src)!r}, {str(out)!r}, seed={seed}, vacancy_share={vacancy_share}, "
        f"residential_share={residential_share})`.\n\n"
        "- children.csv, exclusions.csv, policy.toml: as in the source instance (today's "
        "children: the stock that sets the default arrivals and the home areas)\n"
        f"- placements.csv: the source's placements with a share {vacancy_share} of each "
        f"one's vacancies kept ({residential_share} for children's homes; binomial draw): "
        "the beds expected to come free to the planning year's arrivals\n"
        "- contracts.csv: five candidate block contracts; spot.csv: framework and "
        "off-framework spot; demand.toml: the year's arrivals (models/commissioning.md)\n")
    return out
