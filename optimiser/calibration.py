"""Public figures the instance generator is calibrated on, each with its source.

Why a module and not a data file: the generator must run on any machine, without
`/work/shared/data`, and give the same instance for the same seed. Every number here is
either a public figure (DfE / Ofsted official statistics, or a council committee report
in `shared/seeds`) with the table, column or paragraph it came from, or an explicit
`assumption:` where no public figure was found. `optimiser.generate` reads only this
module (plus, optionally, the real files when a `data_dir` is given).

Sources, abbreviated below:

* DFE-PROV: `ofsted/national_cla_on_31_march_by_placement_provider_placement_type_and_locality.csv`
  (DfE "Children looked after in England", 2024 release, England, `time_period` 2024,
  column `number`; rows `2x.` = placed inside the council boundary, `3x.` = outside).
* DFE-DIST: `ofsted/national_cla_on_31_march_by_placement_distance_and_placement_locality.csv`
  (same release, 2024, column `number`).
* DFE-RATE: `ofsted/cla_number_and_rate_per_10k_children.csv` (2024, `population_count` =
  "Children looked after at 31 March each year", column `number`).
* SFR50: `ofsted/SFR50_CLA2017.csv`, row `geog_l = NATIONAL` (DfE SFR50/2017, 31 Mar 2017).
* OFSTED: `ofsted/provider_at_march.csv` (Ofsted providers at 31 Mar 2023; header on line 4),
  column "Overall experiences and progress of children and young people" and `Places`.
* OFSTED-JL: `ofsted/joiners_leavers_23.csv` (Ofsted joiners and leavers 2022-23).
* GEO: `geography/uk_local_authorities_current.csv` (mySociety, CC-BY-4.0): `lat`, `long`,
  `area` (km2) by `gss-code`.
* Seed reports (`shared/seeds`): CAMBS = 000 Cambridgeshire (Mar 2019), ROTH = 001 Rotherham
  (Nov 2018), LEICS = 002 Leicestershire (2018-21), BARNET = 003 Barnet (Feb 2017),
  BHAM = 004 Birmingham (Jan 2017).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """One calibration figure: the value used, its unit and where it comes from."""

    value: float
    unit: str
    source: str


# --- The public figures (and the few labelled assumptions) -------------------------------

FIGURES: dict[str, Figure] = {
    # Placement mix, England, 31 March 2024 (DFE-PROV: inside + outside the boundary).
    "cla_england_2024": Figure(83_630, "children", "DFE-RATE England 2024 `number`"),
    "foster_all": Figure(
        56_390, "children", "DFE-PROV 2a+3a Foster placements, All children: 32,480 + 23,910"
    ),
    "foster_own_provision": Figure(
        33_580, "children", "DFE-PROV 2a+3a Own provision (by the LA): 24,380 + 9,200"
    ),
    "foster_private_voluntary": Figure(
        22_530,
        "children",
        "DFE-PROV 2a+3a Private 5,510 + 12,390 and Voluntary 2,550 + 2,080 (= IFA)",
    ),
    "homes_all": Figure(
        8_650, "children", "DFE-PROV 2b+3b Secure homes and children's homes: 2,790 + 5,860"
    ),
    "homes_own_provision": Figure(
        1_110,
        "children",
        "DFE-PROV 2b Own provision 990 + 3b suppressed 'c' (~120 = 5,860 - 5,440 - 300)",
    ),
    "supported_all": Figure(
        6_250, "children", "DFE-PROV 2c+3c Independent/semi-independent/supported: 3,520 + 2,730"
    ),
    "kinship_share_of_own_foster": Figure(
        41 / 155, "share", "BARNET 5.8.3 table: Kinship Fostering 41 vs LBB Fostering 114"
    ),
    "secure_places_england": Figure(
        214, "places", "OFSTED Provision type 'Secure children's home': 13 homes, 214 places"
    ),
    "parent_and_child_beds": Figure(
        400, "beds", "assumption: not in DFE-PROV; a few parent-and-child places per authority"
    ),
    # Distance from home.
    "over_20_miles_all": Figure(
        18_040 / 83_630, "share", "DFE-DIST All children '2. Over 20 miles' 18,040 of 83,630"
    ),
    "over_20_miles_foster": Figure(
        10_650 / 56_390, "share", "DFE-DIST Foster placements 'Over 20 miles' 10,650 of 56,390"
    ),
    "over_20_miles_homes": Figure(
        4_220 / 8_640, "share", "DFE-DIST Secure homes and children's homes 4,220 of 8,640"
    ),
    "within_20_miles_bham": Figure(
        0.84, "share", "BHAM: 84% placed within Birmingham or within 20 miles"
    ),
    "foster_outside_boundary": Figure(
        23_910 / 56_390, "share", "DFE-PROV foster placed outside the LA: 23,910 of 56,390"
    ),
    # Who the children are (SFR50, 31 Mar 2017, of 72,670 children).
    "age_under_1": Figure(3_820, "children", "SFR50 CLA_U1"),
    "age_1_to_4": Figure(9_170, "children", "SFR50 CLA_1to4"),
    "age_5_to_9": Figure(14_100, "children", "SFR50 CLA_5to9"),
    "age_10_to_15": Figure(28_540, "children", "SFR50 CLA_10to15"),
    "age_16_over": Figure(17_040, "children", "SFR50 CLA_16over"),
    "cla_england_2017": Figure(72_670, "children", "SFR50 CLA_Mar2017"),
    "male": Figure(40_960, "children", "SFR50 CLA_male (CLA_female 31,710)"),
    "uasc": Figure(4_560, "children", "SFR50 CLA_UASC (6.3% of 72,670)"),
    "muslim_children_roth": Figure(59, "children", "ROTH 3.14: up to 59 LAC of the Muslim faith"),
    "muslim_foster_families_roth": Figure(
        3, "households", "ROTH 3.14: ... but only 3 Muslim foster families"
    ),
    "children_roth": Figure(651, "children", "ROTH 2.2: 651 children (August 2018)"),
    # Ofsted ratings ('Overall experiences and progress of children and young people').
    "homes_outstanding": Figure(288, "homes", "OFSTED Children's home (2,821 rows)"),
    "homes_good": Figure(1_962, "homes", "OFSTED Children's home"),
    "homes_requires_improvement": Figure(508, "homes", "OFSTED Children's home"),
    "homes_inadequate": Figure(63, "homes", "OFSTED Children's home"),
    "homes_new_uninspected": Figure(
        218, "homes", "OFSTED-JL: 370 homes joined in 2022-23; 152 of them are in OFSTED (rated)"
    ),
    "ifa_outstanding": Figure(64, "agencies", "OFSTED Independent Fostering Agency (313 rows)"),
    "ifa_good": Figure(233, "agencies", "OFSTED Independent Fostering Agency"),
    "ifa_requires_improvement": Figure(13, "agencies", "OFSTED Independent Fostering Agency"),
    "ifa_inadequate": Figure(3, "agencies", "OFSTED Independent Fostering Agency"),
    "home_places": Figure(11_103, "places", "OFSTED Children's home `Places` (2,821 homes)"),
    # Weekly costs (pounds per child per week).
    "cost_inhouse_foster_barnet": Figure(565, "GBP/week", "BARNET 1.4.7: LBB unit cost £565"),
    "cost_ifa_barnet": Figure(904, "GBP/week", "BARNET 1.4.7: IFA placement £904"),
    "cost_ifa_leics": Figure(795, "GBP/week", "LEICS: £795 per week on average for an IFA"),
    "cost_ifa_roth": Figure(
        795, "GBP/week", "ROTH 2.3: IFAs £11.5M for 278 placements (= £795/week)"
    ),
    "cost_residential_leics": Figure(
        3_500, "GBP/week", "LEICS: average cost of residential placement £3,500 per week"
    ),
    "cost_residential_cambs": Figure(
        4_041, "GBP/week", "CAMBS 2.2.13: out of county residential average £4,041/week+"
    ),
    "cost_residential_roth": Figure(
        3_815, "GBP/week", "ROTH 2.3: out-of-authority homes £12.3M for 62 (= £3,815/week)"
    ),
    "cost_block_home_roth": Figure(
        10_000 / 3, "GBP/week", "ROTH 3.9: a 3-bed home block-booked at £10k per week"
    ),
    "cost_kinship": Figure(375, "GBP/week", "assumption: allowance plus support, £300-450"),
    "cost_supported": Figure(
        1_000, "GBP/week", "assumption: £600-1,500 (BARNET 1.5: units with up to 10 h support)"
    ),
    "cost_secure": Figure(7_000, "GBP/week", "assumption: secure welfare bed £6,000-8,000"),
    "cost_parent_and_child": Figure(1_400, "GBP/week", "assumption: £1,000-1,800"),
    # Commissioning.
    "block_beds_bham": Figure(
        49, "beds", "BHAM: block contracts of 30 (Priory) and 19 (Meadows) beds"
    ),
    "block_children_bham": Figure(
        30 / 179, "share", "BHAM: 30 of 179 children in homes are in block beds (20 + 10)"
    ),
    "residential_share_leics": Figure(0.106, "share", "LEICS: 59 children, 10.6% of LAC"),
}


def _f(key: str) -> float:
    return FIGURES[key].value


# --- Children -------------------------------------------------------------------------------

# (age_min, age_max, weight): SFR50 bands; uniform within a band, "16 and over" = 16-17.
AGE_BANDS: tuple[tuple[int, int, float], ...] = (
    (0, 0, _f("age_under_1")),
    (1, 4, _f("age_1_to_4")),
    (5, 9, _f("age_5_to_9")),
    (10, 15, _f("age_10_to_15")),
    (16, 17, _f("age_16_over")),
)
MALE_SHARE: float = _f("male") / _f("cla_england_2017")  # 0.564
X_SHARE: float = 0.003  # assumption: DfE records only M/F; a few X to exercise the domain
UASC_SHARE: float = _f("uasc") / _f("cla_england_2017")  # 0.063
UASC_AGES: tuple[tuple[int, float], ...] = ((14, 0.05), (15, 0.10), (16, 0.35), (17, 0.50))
UASC_MALE_SHARE: float = 0.90  # assumption: "mostly 16-17 and male"

# Sibling groups (assumption, from the brief and the seed reports naming sibling groups as
# hard to place): ~40% of children are in a group; sizes 2-5 with mean 2.34.
SIBLING_SHARE: float = 0.40
SIBLING_SIZES: tuple[tuple[int, float], ...] = ((2, 0.75), (3, 0.18), (4, 0.05), (5, 0.02))
SIBLING_AGE_GAPS: tuple[tuple[int, float], ...] = ((0, 0.05), (1, 0.30), (2, 0.30), (3, 0.20),
                                                   (4, 0.15))

# Needs tags and P(tag) by age (assumptions; no child-level needs in the public tables).
NEED_TAGS: tuple[str, ...] = (
    "disability",
    "complex_behaviour",
    "emotional_wellbeing",
    "uasc",
    "parent_and_child",
)
P_DISABILITY: float = 0.06
P_COMPLEX_BY_AGE: tuple[tuple[int, float], ...] = ((0, 0.0), (5, 0.06), (11, 0.20))  # from age
P_EMOTIONAL_BY_AGE: tuple[tuple[int, float], ...] = ((0, 0.10), (5, 0.40))
P_PARENT_AND_CHILD: float = 0.03  # of girls aged 15-17 who are not UASC

# Faith of a family (child or sibling group); ROTH 59/651 = 9% Muslim children.
FAITHS: tuple[tuple[str, float], ...] = (
    ("christian", 0.28),
    ("muslim", _f("muslim_children_roth") / _f("children_roth")),
    ("sikh", 0.015),
    ("hindu", 0.01),
    ("jewish", 0.005),
)  # the rest: no faith recorded (assumption, apart from Muslim)
UASC_FAITHS: tuple[tuple[str, float], ...] = (("muslim", 0.55), ("christian", 0.25))
FAITH_MATCH: tuple[tuple[str, float], ...] = (("required", 0.06), ("preferred", 0.35))

# Care-plan limits (assumptions): 20 miles = 32.2 km is the statutory-guidance benchmark.
P_MAX_DISTANCE: float = 0.60
P_MAX_DISTANCE_RESIDENTIAL_ONLY: float = 0.45
P_MAX_DISTANCE_UASC: float = 0.40
MAX_DISTANCE_KM: tuple[tuple[float, float], ...] = (
    (25.0, 0.06), (32.0, 0.26), (40.0, 0.18), (50.0, 0.20), (65.0, 0.14), (80.0, 0.16),
)
P_FOSTER_ONLY_UNDER_10: float = 0.45
P_RESIDENTIAL_ONLY_COMPLEX_11: float = 0.35
P_SECURE_COMPLEX_12: float = 0.015
P_SUPPORTED_PLAN_16: float = 0.15  # 16-17 (not UASC): supported accommodation or foster
P_SUPPORTED_PLAN_UASC: float = 0.50
P_SOLO_COMPLEX_11: float = 0.25
P_SOLO_OTHER: float = 0.005
PRIORITIES: tuple[tuple[int, float], ...] = ((1, 0.70), (2, 0.20), (3, 0.10))

EXCLUSIONS_PER_100: float = 3.0  # assumption: "a few per 100 children"
EXCLUSION_REASONS: tuple[tuple[str, float], ...] = (
    ("previous breakdown", 0.45),
    ("risk from existing resident", 0.35),
    ("safeguarding advice", 0.20),
)

# Current placements (placed_share > 0) are drawn by a logit choice among feasible placements,
# P ~ exp(-km / KM_SCALE[type] - cost / COST_SCALE), as at admission: homes are matched on
# specialism more than distance. Tuned so that England-scale instances have ~22% of placed
# children over 20 miles from home (DFE-DIST 21.6%; foster 19%, homes 49%, supported 8%).
CURRENT_KM_SCALE: dict[str, float] = {
    "inhouse_foster": 45.0,
    "kinship_foster": 45.0,
    "ifa_foster": 45.0,
    "inhouse_residential": 400.0,
    "external_residential": 400.0,
    "supported_accommodation": 40.0,
    "secure": 400.0,
    "parent_and_child": 60.0,
}
CURRENT_COST_SCALE: float = 1000.0

# --- Placements -----------------------------------------------------------------------------

HOME_RATINGS: tuple[tuple[str, float], ...] = (
    ("outstanding", _f("homes_outstanding")),
    ("good", _f("homes_good")),
    ("requires_improvement", _f("homes_requires_improvement")),
    ("inadequate", _f("homes_inadequate")),
    ("not_rated", _f("homes_new_uninspected")),
)
IFA_RATINGS: tuple[tuple[str, float], ...] = (
    ("outstanding", _f("ifa_outstanding")),
    ("good", _f("ifa_good")),
    ("requires_improvement", _f("ifa_requires_improvement")),
    ("inadequate", _f("ifa_inadequate")),
)
# OFSTED `Places` of the 2,821 children's homes: places -> number of homes.
HOME_PLACES: tuple[tuple[int, float], ...] = (
    (1, 189), (2, 454), (3, 673), (4, 645), (5, 352), (6, 271), (7, 89), (8, 83), (9, 18),
    (10, 20), (11, 5), (12, 7), (13, 2), (14, 4), (15, 1), (16, 5), (17, 1), (19, 1), (20, 1),
)
HOME_MAX_FREE: int = 4  # a home offers 1..min(4, places) free beds in an instance

# Out-of-area homes: a home's authority is drawn in proportion to the real number of homes
# there, times exp(-d / L): a local mixture component and a national one. Tuned so that about
# half the children in homes are over 20 miles away (DFE-DIST 49%).
HOMES_LOCAL_SHARE: float = 0.45
HOMES_LOCAL_DECAY_KM: float = 25.0
HOMES_NATIONAL_DECAY_KM: float = 150.0


@dataclass(frozen=True)
class TypeProfile:
    """How one placement type is drawn. Beds from DFE-PROV; the rest as commented."""

    bed_share: float  # share of all beds (children) of the modelled types
    vacancies: tuple[tuple[int, float], ...]  # free beds now
    age_ranges: tuple[tuple[int, int, float], ...]
    genders: tuple[tuple[str, float], ...]  # single-gender options; the rest accept all
    faiths: tuple[tuple[str, float], ...]  # the rest: no faith
    needs: tuple[tuple[str, float], ...]  # P(tag in needs_supported)
    cost: tuple[float, float, float]  # triangular (low, mode, high), GBP/week
    ratings: str  # "homes", "ifa" (per agency) or "not_rated"
    block_share: float  # share of units in a block contract (weekly_cost 0)
    location: str  # "centroid_disc", "centroid_lognormal", "homes", "kin"
    spread_km: float  # disc radius, or lognormal median distance
    spread_sigma: float = 0.0


def _mix() -> dict[str, float]:
    """Bed shares of the modelled types, England 2024 (DFE-PROV)."""
    own_foster = _f("foster_own_provision")
    kin = own_foster * _f("kinship_share_of_own_foster")
    secure = _f("secure_places_england")
    beds = {
        "inhouse_foster": own_foster - kin,
        "kinship_foster": kin,
        "ifa_foster": _f("foster_private_voluntary"),
        "inhouse_residential": _f("homes_own_provision"),
        "external_residential": _f("homes_all") - _f("homes_own_provision") - secure,
        "supported_accommodation": _f("supported_all"),
        "secure": secure,
        "parent_and_child": _f("parent_and_child_beds"),
    }
    total = sum(beds.values())
    return {k: v / total for k, v in beds.items()}


BED_SHARE: dict[str, float] = _mix()

_FOSTER_FAITHS = (("christian", 0.30), ("muslim", 0.02), ("sikh", 0.005), ("hindu", 0.005),
                  ("jewish", 0.003))

TYPES: dict[str, TypeProfile] = {
    "inhouse_foster": TypeProfile(
        bed_share=BED_SHARE["inhouse_foster"],
        vacancies=((1, 0.60), (2, 0.30), (3, 0.10)),
        age_ranges=((0, 17, 0.30), (0, 4, 0.10), (0, 10, 0.17), (0, 12, 0.08), (5, 17, 0.12),
                    (8, 17, 0.13), (11, 17, 0.10)),
        genders=(("F", 0.05), ("M", 0.03)),
        faiths=_FOSTER_FAITHS,
        needs=(("disability", 0.10), ("complex_behaviour", 0.12), ("emotional_wellbeing", 0.70),
               ("uasc", 0.15)),
        cost=(450.0, 565.0, 700.0),  # BARNET £565
        ratings="not_rated",  # LA fostering is inspected within ILACS, no per-carer rating
        block_share=0.0,
        location="centroid_disc",
        spread_km=15.0,
    ),
    "kinship_foster": TypeProfile(
        bed_share=BED_SHARE["kinship_foster"],
        vacancies=((1, 1.0),),  # plus the size of the family it is approved for
        age_ranges=(),  # around the family it is approved for
        genders=(),
        faiths=(),
        needs=(("emotional_wellbeing", 0.50),),
        cost=(300.0, 375.0, 450.0),
        ratings="not_rated",
        block_share=0.0,
        location="kin",
        spread_km=6.0,  # lognormal median km from the family's home: relatives live nearby
        spread_sigma=1.2,
    ),
    "ifa_foster": TypeProfile(
        bed_share=BED_SHARE["ifa_foster"],
        vacancies=((1, 0.55), (2, 0.33), (3, 0.12)),
        age_ranges=((0, 17, 0.30), (0, 10, 0.12), (0, 4, 0.05), (5, 17, 0.15), (8, 17, 0.18),
                    (11, 17, 0.20)),
        genders=(("F", 0.05), ("M", 0.05)),
        faiths=(("christian", 0.25), ("muslim", 0.04), ("sikh", 0.01), ("hindu", 0.01)),
        needs=(("disability", 0.15), ("complex_behaviour", 0.30), ("emotional_wellbeing", 0.85),
               ("uasc", 0.25)),
        cost=(750.0, 850.0, 1000.0),  # LEICS/ROTH £795, BARNET £904
        ratings="ifa",
        block_share=0.0,
        location="centroid_lognormal",
        spread_km=30.0,  # DFE-PROV: 69% of IFA (private) foster children are outside the LA
        spread_sigma=0.8,
    ),
    "inhouse_residential": TypeProfile(
        bed_share=BED_SHARE["inhouse_residential"],
        vacancies=(),  # drawn from HOME_PLACES
        age_ranges=((8, 17, 0.35), (11, 17, 0.35), (10, 17, 0.10), (12, 17, 0.10),
                    (13, 17, 0.05), (5, 17, 0.05)),
        genders=(("M", 0.12), ("F", 0.08)),
        faiths=(),
        needs=(("disability", 0.30), ("complex_behaviour", 0.85), ("emotional_wellbeing", 0.95),
               ("uasc", 0.05)),
        cost=(3200.0, 3600.0, 5000.0),
        ratings="homes",
        block_share=0.0,
        location="centroid_disc",
        spread_km=20.0,
    ),
    "external_residential": TypeProfile(
        bed_share=BED_SHARE["external_residential"],
        vacancies=(),
        age_ranges=((8, 17, 0.35), (11, 17, 0.35), (10, 17, 0.10), (12, 17, 0.10),
                    (13, 17, 0.05), (5, 17, 0.05)),
        genders=(("M", 0.12), ("F", 0.08)),
        faiths=(("christian", 0.03),),
        needs=(("disability", 0.20), ("complex_behaviour", 0.85), ("emotional_wellbeing", 0.95),
               ("uasc", 0.10)),
        cost=(3500.0, 3800.0, 6000.0),  # LEICS £3,500, ROTH £3,815, CAMBS £4,041
        ratings="homes",
        block_share=0.17,  # BHAM 30 of 179
        location="homes",
        spread_km=0.0,
    ),
    "supported_accommodation": TypeProfile(
        bed_share=BED_SHARE["supported_accommodation"],
        vacancies=((2, 0.25), (3, 0.25), (4, 0.20), (5, 0.12), (6, 0.10), (8, 0.08)),
        age_ranges=((16, 17, 1.0),),
        genders=(("M", 0.10), ("F", 0.10)),
        faiths=(),
        needs=(("disability", 0.05), ("complex_behaviour", 0.15), ("emotional_wellbeing", 0.60),
               ("uasc", 0.70)),
        cost=(600.0, 900.0, 1500.0),
        ratings="not_rated",  # registered with Ofsted only since 2023, none rated yet
        block_share=0.25,  # BARNET 1.5: a block of 8 units
        location="centroid_lognormal",
        spread_km=8.0,
        spread_sigma=0.8,
    ),
    "secure": TypeProfile(
        bed_share=BED_SHARE["secure"],
        vacancies=((1, 0.75), (2, 0.25)),
        age_ranges=((10, 17, 1.0),),
        genders=(),
        faiths=(),
        needs=(("disability", 0.2), ("complex_behaviour", 1.0), ("emotional_wellbeing", 1.0)),
        cost=(6000.0, 7000.0, 8000.0),
        ratings="homes",
        block_share=0.0,
        location="homes",
        spread_km=0.0,
    ),
    "parent_and_child": TypeProfile(
        bed_share=BED_SHARE["parent_and_child"],
        vacancies=((1, 1.0),),
        age_ranges=((12, 17, 1.0),),
        genders=(("F", 0.6),),
        faiths=_FOSTER_FAITHS,
        needs=(("parent_and_child", 1.0), ("emotional_wellbeing", 0.8), ("disability", 0.1)),
        cost=(1000.0, 1400.0, 1800.0),
        ratings="not_rated",
        block_share=0.0,
        location="centroid_lognormal",
        spread_km=22.0,
        spread_sigma=0.75,
    ),
}

# --- Authorities ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Authority:
    """An English local authority: DFE-RATE children in care 2024, GEO centroid and area,
    OFSTED children's homes and places located there (Cumbria's 39 split evenly between
    Cumberland and Westmorland and Furness).

    County (CTY) centroids are the area-weighted mean of their districts' centroids: GEO's own
    county centroids are wrong by up to 190 km (Lancashire) - see
    `optimiser.generation.world.load_world`."""

    code: str  # GSS code
    name: str
    region: str
    children_in_care: int
    lat: float
    lon: float
    area_km2: float
    homes: int
    home_places: int


DEFAULT_AUTHORITY = "Leicestershire"  # mid-sized county (726 children, 59 homes), LEICS

# code, name, region (a key of REGION_NAMES; DFE-RATE), children in care 2024 (DFE-RATE),
# lat, lon, area km2 (GEO), children's homes, places (OFSTED)
_AUTHORITY_ROWS: tuple[tuple[str, str, str, int, float, float, float, int, int], ...] = (
    ("E06000015", "Derby", "EM", 598, 52.91254, -1.46834, 78, 20, 89),
    ("E10000007", "Derbyshire", "EM", 1057, 53.14131, -1.61507, 2547, 53, 214),
    ("E06000016", "Leicester", "EM", 599, 52.63791, -1.12849, 73, 15, 77),
    ("E10000018", "Leicestershire", "EM", 726, 52.66742, -1.11368, 2083, 59, 200),
    ("E10000019", "Lincolnshire", "EM", 754, 53.11432, -0.24415, 5937, 28, 137),
    ("E06000061", "North Northamptonshire", "EM", 533, 52.42549, -0.62605, 987, 27, 89),
    ("E06000018", "Nottingham", "EM", 674, 52.96058, -1.17652, 75, 32, 120),
    ("E10000024", "Nottinghamshire", "EM", 957, 53.13298, -1.00675, 2085, 52, 191),
    ("E06000017", "Rutland", "EM", 27, 52.66072, -0.65469, 382, 0, 0),
    ("E06000062", "West Northamptonshire", "EM", 648, 52.22282, -1.03635, 1377, 27, 109),
    ("E06000055", "Bedford", "EE", 262, 52.18918, -0.47708, 476, 14, 54),
    ("E10000003", "Cambridgeshire", "EE", 649, 52.33916, 0.03409, 3046, 27, 144),
    ("E06000056", "Central Bedfordshire", "EE", 365, 52.00663, -0.43629, 716, 13, 55),
    ("E10000012", "Essex", "EE", 1149, 51.81063, 0.56535, 3458, 48, 216),
    ("E10000015", "Hertfordshire", "EE", 971, 51.82957, -0.21707, 1643, 23, 98),
    ("E06000032", "Luton", "EE", 374, 51.89423, -0.42559, 43, 7, 27),
    ("E10000020", "Norfolk", "EE", 1152, 52.67341, 0.95122, 5384, 49, 215),
    ("E06000031", "Peterborough", "EE", 422, 52.60856, -0.25311, 343, 12, 57),
    ("E06000033", "Southend-on-Sea", "EE", 307, 51.53805, 0.72860, 42, 8, 39),
    ("E10000029", "Suffolk", "EE", 930, 52.21931, 1.05981, 3800, 30, 138),
    ("E06000034", "Thurrock", "EE", 290, 51.50598, 0.37320, 164, 4, 13),
    ("E09000007", "Camden", "IL", 214, 51.54639, -0.15741, 22, 4, 27),
    ("E09000001", "City of London", "IL", 7, 51.51441, -0.09244, 3, 0, 0),
    ("E09000012", "Hackney", "IL", 382, 51.55227, -0.06332, 19, 2, 10),
    ("E09000013", "Hammersmith and Fulham", "IL", 206, 51.49499, -0.22077, 16, 2, 11),
    ("E09000014", "Haringey", "IL", 334, 51.59037, -0.10747, 30, 6, 27),
    ("E09000019", "Islington", "IL", 298, 51.54848, -0.11024, 15, 2, 9),
    ("E09000020", "Kensington and Chelsea", "IL", 122, 51.50121, -0.19221, 12, 1, 7),
    ("E09000022", "Lambeth", "IL", 464, 51.45383, -0.11832, 27, 1, 6),
    ("E09000023", "Lewisham", "IL", 461, 51.44827, -0.02029, 35, 10, 46),
    ("E09000025", "Newham", "IL", 425, 51.52689, 0.03754, 36, 6, 27),
    ("E09000028", "Southwark", "IL", 397, 51.47423, -0.07406, 29, 1, 5),
    ("E09000030", "Tower Hamlets", "IL", 277, 51.51574, -0.03467, 20, 4, 20),
    ("E09000032", "Wandsworth", "IL", 218, 51.45196, -0.18619, 34, 2, 22),
    ("E09000033", "Westminster", "IL", 175, 51.51344, -0.16046, 21, 0, 0),
    ("E06000047", "County Durham", "NE", 1213, 54.69546, -1.83991, 2226, 42, 171),
    ("E06000005", "Darlington", "NE", 299, 54.54870, -1.55259, 197, 13, 64),
    ("E08000037", "Gateshead", "NE", 528, 54.93537, -1.68289, 142, 12, 50),
    ("E06000001", "Hartlepool", "NE", 334, 54.66901, -1.25565, 94, 8, 37),
    ("E06000002", "Middlesbrough", "NE", 513, 54.54248, -1.22243, 54, 12, 43),
    ("E08000021", "Newcastle upon Tyne", "NE", 600, 55.00767, -1.65782, 113, 16, 79),
    ("E08000022", "North Tyneside", "NE", 351, 55.02804, -1.51744, 82, 7, 29),
    ("E06000057", "Northumberland", "NE", 436, 55.24151, -2.06634, 5020, 12, 50),
    ("E06000003", "Redcar and Cleveland", "NE", 419, 54.55361, -1.02165, 245, 6, 25),
    ("E08000023", "South Tyneside", "NE", 307, 54.96353, -1.44425, 64, 3, 15),
    ("E06000004", "Stockton-on-Tees", "NE", 581, 54.56274, -1.32898, 205, 16, 82),
    ("E08000024", "Sunderland", "NE", 525, 54.88040, -1.45195, 137, 16, 78),
    ("E06000008", "Blackburn with Darwen", "NW", 349, 53.69261, -2.46755, 137, 4, 19),
    ("E06000009", "Blackpool", "NW", 520, 53.81766, -3.03553, 35, 33, 82),
    ("E08000001", "Bolton", "NW", 571, 53.57863, -2.46697, 140, 22, 78),
    ("E08000002", "Bury", "NW", 344, 53.58784, -2.31255, 99, 13, 40),
    ("E06000049", "Cheshire East", "NW", 542, 53.18027, -2.34994, 1166, 21, 88),
    ("E06000050", "Cheshire West and Chester", "NW", 570, 53.20016, -2.73586, 920, 19, 69),
    ("E06000063", "Cumberland", "NW", 482, 54.69862, -3.14327, 3012, 20, 82),
    ("E06000006", "Halton", "NW", 381, 53.34375, -2.71880, 79, 18, 42),
    ("E08000011", "Knowsley", "NW", 337, 53.42510, -2.83404, 87, 19, 57),
    ("E10000017", "Lancashire", "NW", 1754, 53.84555, -2.62084, 2894, 204, 721),
    ("E08000012", "Liverpool", "NW", 1490, 53.39545, -2.91701, 112, 28, 95),
    ("E08000003", "Manchester", "NW", 1303, 53.45148, -2.23252, 116, 27, 89),
    ("E08000004", "Oldham", "NW", 590, 53.55189, -2.05065, 142, 20, 80),
    ("E08000005", "Rochdale", "NW", 605, 53.61655, -2.15787, 158, 39, 97),
    ("E08000006", "Salford", "NW", 561, 53.48954, -2.37019, 97, 17, 65),
    ("E08000014", "Sefton", "NW", 581, 53.56538, -3.01502, 157, 27, 104),
    ("E08000013", "St. Helens", "NW", 488, 53.45947, -2.72362, 136, 32, 70),
    ("E08000007", "Stockport", "NW", 495, 53.39396, -2.12811, 126, 34, 138),
    ("E08000008", "Tameside", "NW", 645, 53.47747, -2.06281, 103, 21, 90),
    ("E08000009", "Trafford", "NW", 377, 53.41900, -2.35535, 106, 5, 23),
    ("E06000007", "Warrington", "NW", 354, 53.39881, -2.56363, 181, 28, 79),
    ("E06000064", "Westmorland and Furness", "NW", 246, 54.34401, -2.89473, 3755, 19, 79),
    ("E08000010", "Wigan", "NW", 741, 53.52415, -2.58951, 188, 32, 96),
    ("E08000015", "Wirral", "NW", 767, 53.36834, -3.09268, 161, 16, 56),
    ("E09000002", "Barking and Dagenham", "OL", 436, 51.54397, 0.13316, 36, 8, 40),
    ("E09000003", "Barnet", "OL", 330, 51.61602, -0.21001, 87, 7, 36),
    ("E09000004", "Bexley", "OL", 292, 51.46089, 0.14234, 61, 8, 37),
    ("E09000005", "Brent", "OL", 307, 51.55855, -0.26781, 43, 8, 37),
    ("E09000006", "Bromley", "OL", 350, 51.37198, 0.05153, 150, 3, 21),
    ("E09000008", "Croydon", "OL", 509, 51.35532, -0.08717, 86, 13, 61),
    ("E09000009", "Ealing", "OL", 301, 51.52247, -0.33103, 56, 7, 30),
    ("E09000010", "Enfield", "OL", 414, 51.65099, -0.08725, 81, 7, 27),
    ("E09000011", "Greenwich", "OL", 420, 51.47443, 0.05554, 47, 4, 15),
    ("E09000015", "Harrow", "OL", 176, 51.59772, -0.34128, 50, 4, 14),
    ("E09000016", "Havering", "OL", 284, 51.56310, 0.22043, 112, 8, 39),
    ("E09000017", "Hillingdon", "OL", 317, 51.54147, -0.44566, 116, 4, 37),
    ("E09000018", "Hounslow", "OL", 285, 51.46850, -0.36614, 56, 3, 16),
    ("E09000021", "Kingston upon Thames", "OL", 130, 51.38789, -0.28691, 37, 2, 13),
    ("E09000024", "Merton", "OL", 147, 51.40995, -0.19725, 38, 3, 16),
    ("E09000026", "Redbridge", "OL", 310, 51.58566, 0.07586, 56, 18, 87),
    ("E09000027", "Richmond upon Thames", "OL", 110, 51.44273, -0.31238, 57, 1, 5),
    ("E09000029", "Sutton", "OL", 234, 51.36209, -0.17757, 44, 2, 10),
    ("E09000031", "Waltham Forest", "OL", 308, 51.59402, -0.01264, 39, 10, 56),
    ("E06000036", "Bracknell Forest", "SE", 140, 51.40811, -0.73974, 109, 5, 21),
    ("E06000043", "Brighton and Hove", "SE", 354, 50.84349, -0.13314, 83, 6, 34),
    ("E06000060", "Buckinghamshire", "SE", 523, 51.78496, -0.81157, 1565, 14, 73),
    ("E10000011", "East Sussex", "SE", 657, 50.94147, 0.27522, 1709, 25, 109),
    ("E10000014", "Hampshire", "SE", 1917, 51.06696, -1.28712, 3678, 56, 255),
    ("E06000046", "Isle of Wight", "SE", 279, 50.67577, -1.29657, 380, 3, 17),
    ("E10000016", "Kent", "SE", 1960, 51.22005, 0.73173, 3544, 86, 398),
    ("E06000035", "Medway", "SE", 476, 51.42569, 0.56950, 194, 4, 24),
    ("E06000042", "Milton Keynes", "SE", 410, 52.08380, -0.73354, 309, 6, 33),
    ("E10000025", "Oxfordshire", "SE", 770, 51.76530, -1.32200, 2605, 21, 122),
    ("E06000044", "Portsmouth", "SE", 402, 50.82044, -1.07837, 40, 3, 14),
    ("E06000038", "Reading", "SE", 266, 51.45298, -0.98382, 40, 7, 32),
    ("E06000039", "Slough", "SE", 201, 51.50840, -0.58623, 33, 2, 10),
    ("E06000045", "Southampton", "SE", 488, 50.91700, -1.39871, 50, 9, 47),
    ("E10000030", "Surrey", "SE", 963, 51.24701, -0.42051, 1663, 20, 130),
    ("E06000037", "West Berkshire", "SE", 187, 51.44963, -1.30444, 704, 10, 52),
    ("E10000032", "West Sussex", "SE", 906, 50.95619, -0.49190, 1991, 29, 164),
    ("E06000040", "Windsor and Maidenhead", "SE", 140, 51.48567, -0.69948, 197, 1, 2),
    ("E06000041", "Wokingham", "SE", 137, 51.42941, -0.88384, 179, 3, 14),
    ("E06000022", "Bath and North East Somerset", "SW", 218, 51.35599, -2.47526, 346, 2, 9),
    ("E06000058", "Bournemouth, Christchurch and Poole", "SW", 546, 50.74702, -1.88328, 162, 10,
     24),
    ("E06000023", "Bristol, City of", "SW", 768, 51.45274, -2.77084, 110, 8, 31),
    ("E06000052", "Cornwall", "SW", 619, 50.40562, -4.82721, 3545, 19, 59),
    ("E10000008", "Devon", "SW", 873, 50.76049, -3.81108, 6564, 49, 136),
    ("E06000059", "Dorset", "SW", 446, 50.80637, -2.33356, 2491, 13, 40),
    ("E10000013", "Gloucestershire", "SW", 842, 51.82576, -2.12093, 2653, 17, 72),
    ("E06000053", "Isles of Scilly", "SW", 0, 49.93693, -6.31717, 16, 0, 0),
    ("E06000024", "North Somerset", "SW", 254, 51.38915, -2.80090, 374, 4, 14),
    ("E06000026", "Plymouth", "SW", 513, 50.39177, -4.11992, 80, 15, 29),
    ("E06000066", "Somerset", "SW", 586, 51.11561, -2.89249, 3450, 37, 114),
    ("E06000025", "South Gloucestershire", "SW", 214, 51.54686, -2.47055, 497, 3, 13),
    ("E06000030", "Swindon", "SW", 320, 51.57152, -1.74381, 230, 4, 15),
    ("E06000027", "Torbay", "SW", 300, 50.44062, -3.53021, 63, 6, 10),
    ("E06000054", "Wiltshire", "SW", 476, 51.29712, -1.94461, 3255, 18, 76),
    ("E08000025", "Birmingham", "WM", 2300, 52.48855, -1.87480, 268, 67, 243),
    ("E08000026", "Coventry", "WM", 674, 52.41687, -1.51975, 99, 13, 50),
    ("E08000027", "Dudley", "WM", 574, 52.48285, -2.10874, 98, 9, 43),
    ("E06000019", "Herefordshire, County of", "WM", 387, 52.10348, -2.74496, 2180, 19, 81),
    ("E08000028", "Sandwell", "WM", 812, 52.51543, -2.00897, 86, 16, 49),
    ("E06000051", "Shropshire", "WM", 717, 52.63490, -2.73405, 3197, 67, 246),
    ("E08000029", "Solihull", "WM", 554, 52.41312, -1.72708, 178, 3, 14),
    ("E10000028", "Staffordshire", "WM", 1307, 52.85135, -2.03251, 2620, 127, 447),
    ("E06000021", "Stoke-on-Trent", "WM", 1151, 53.01802, -2.16453, 93, 29, 74),
    ("E06000020", "Telford and Wrekin", "WM", 412, 52.73019, -2.48880, 290, 23, 80),
    ("E08000030", "Walsall", "WM", 665, 52.59926, -1.96635, 104, 13, 68),
    ("E10000031", "Warwickshire", "WM", 805, 52.30003, -1.55989, 1975, 15, 70),
    ("E08000031", "Wolverhampton", "WM", 522, 52.58919, -2.12099, 69, 26, 81),
    ("E10000034", "Worcestershire", "WM", 1044, 52.22340, -2.16898, 1741, 21, 79),
    ("E08000016", "Barnsley", "YH", 405, 53.53587, -1.53257, 329, 16, 58),
    ("E08000032", "Bradford", "YH", 1483, 53.84467, -1.85467, 366, 27, 116),
    ("E08000033", "Calderdale", "YH", 363, 53.72118, -1.97341, 364, 34, 101),
    ("E08000017", "Doncaster", "YH", 523, 53.54430, -1.09577, 568, 16, 51),
    ("E06000011", "East Riding of Yorkshire", "YH", 351, 53.86804, -0.48246, 2404, 14, 46),
    ("E06000010", "Kingston upon Hull, City of", "YH", 747, 53.75991, -0.33538, 72, 17, 62),
    ("E08000034", "Kirklees", "YH", 603, 53.62736, -1.76331, 409, 34, 127),
    ("E08000035", "Leeds", "YH", 1549, 53.82575, -1.50602, 552, 23, 98),
    ("E06000012", "North East Lincolnshire", "YH", 469, 53.54397, -0.13345, 193, 8, 36),
    ("E06000013", "North Lincolnshire", "YH", 205, 53.59433, -0.59250, 847, 4, 19),
    ("E06000065", "North Yorkshire", "YH", 501, 54.16561, -1.37784, 8037, 21, 96),
    ("E08000018", "Rotherham", "YH", 502, 53.40862, -1.28615, 287, 17, 52),
    ("E08000019", "Sheffield", "YH", 646, 53.40441, -1.55038, 368, 16, 73),
    ("E08000036", "Wakefield", "YH", 684, 53.66068, -1.41181, 339, 18, 80),
    ("E06000014", "York", "YH", 243, 53.95872, -1.06145, 272, 3, 12),
)

REGION_NAMES: dict[str, str] = {
    "NE": "North East",
    "NW": "North West",
    "YH": "Yorkshire and The Humber",
    "EM": "East Midlands",
    "WM": "West Midlands",
    "EE": "East of England",
    "IL": "Inner London",
    "OL": "Outer London",
    "SE": "South East",
    "SW": "South West",
}

AUTHORITIES: tuple[Authority, ...] = tuple(
    Authority(code, name, REGION_NAMES[region], cla, lat, lon, area, homes, places)
    for code, name, region, cla, lat, lon, area, homes, places in _AUTHORITY_ROWS
)

# Regions as named in DFE-RATE, plus "London" (Inner + Outer) and "England" (all).
REGIONS: tuple[str, ...] = tuple(sorted({a.region for a in AUTHORITIES}))
