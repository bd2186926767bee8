"""How the generator codes categories in its arrays: type and need bit masks, rating and
faith indices, and the text of every mask (for vectorised formatting of the tables)."""

from __future__ import annotations

import numpy as np

from optimiser import calibration as cal
from optimiser.categories import ALL_RATINGS, DEFAULT_TYPES, GENDERS, PLACEMENT_TYPES

TYPE_INDEX = {t: i for i, t in enumerate(PLACEMENT_TYPES)}
T_INHOUSE, T_KIN, T_IFA = (TYPE_INDEX[t] for t in ("inhouse_foster", "kinship_foster",
                                                    "ifa_foster"))
T_IN_RES, T_EXT_RES = TYPE_INDEX["inhouse_residential"], TYPE_INDEX["external_residential"]
T_SUPPORTED, T_SECURE, T_PC = (TYPE_INDEX[t] for t in ("supported_accommodation", "secure",
                                                       "parent_and_child"))
DEFAULT_TYPE_MASK = sum(1 << TYPE_INDEX[t] for t in DEFAULT_TYPES)
FAMILY_MASK = (1 << T_INHOUSE) | (1 << T_KIN) | (1 << T_IFA)
RESIDENTIAL_MASK = (1 << T_IN_RES) | (1 << T_EXT_RES)

NEED_BIT = {tag: 1 << i for i, tag in enumerate(cal.NEED_TAGS)}
GENDER_BIT = {g: 1 << i for i, g in enumerate(GENDERS)}
ALL_GENDERS_MASK = (1 << len(GENDERS)) - 1
RATING_INDEX = {r: i for i, r in enumerate(ALL_RATINGS)}


def _faith_names() -> tuple[str, ...]:
    names = {f for f, _ in cal.FAITHS} | {f for f, _ in cal.UASC_FAITHS}
    for prof in cal.TYPES.values():
        names |= {f for f, _ in prof.faiths}
    return ("", *sorted(names))


FAITH_NAMES = _faith_names()  # code 0 = no faith
FAITH_INDEX = {f: i for i, f in enumerate(FAITH_NAMES)}


def _mask_lookup(names: tuple[str, ...], empty_for_all: bool = False) -> np.ndarray:
    """String of every bit mask over `names` ("a;b"), for vectorised formatting."""
    full = (1 << len(names)) - 1
    out = []
    for mask in range(1 << len(names)):
        if empty_for_all and mask == full:
            out.append("")
        else:
            out.append(";".join(n for i, n in enumerate(names) if mask >> i & 1))
    return np.array(out, dtype=object)


NEEDS_TEXT = _mask_lookup(cal.NEED_TAGS)
TYPES_TEXT = _mask_lookup(PLACEMENT_TYPES)
GENDERS_TEXT = _mask_lookup(GENDERS, empty_for_all=True)
