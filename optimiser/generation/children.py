"""The children of an instance: sibling groups, where they live, ages, genders, needs,
faith and care plans, drawn from the public figures in `optimiser.calibration`.

Draws happen in a fixed order from one generator, so the same seed gives the same
children; changing that order changes every shipped instance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimiser import calibration as cal
from optimiser.categories import GENDERS, SUPPORTED_MIN_AGE, FaithMatch

from .codes import (
    FAITH_INDEX,
    FAMILY_MASK,
    NEED_BIT,
    RESIDENTIAL_MASK,
    T_IFA,
    T_INHOUSE,
    T_PC,
    T_SECURE,
    T_SUPPORTED,
)
from .sampling import choice, code_or_none, disc, distribution, step
from .world import World


@dataclass
class Children:
    """Children in internal order; units are sibling groups or single children."""

    unit: np.ndarray  # per child
    age: np.ndarray
    gender: np.ndarray  # index into GENDERS
    needs: np.ndarray  # bit mask over NEED_TAGS
    size: np.ndarray  # per unit
    start: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    authority: np.ndarray
    faith: np.ndarray
    faith_match: np.ndarray  # FaithMatch code
    types: np.ndarray  # bit mask over PLACEMENT_TYPES; 0 = not given
    max_km: np.ndarray  # nan = not given
    solo: np.ndarray
    priority: np.ndarray
    min_age: np.ndarray
    max_age: np.ndarray
    u_needs: np.ndarray
    u_genders: np.ndarray
    current: np.ndarray  # per unit: placement index or -1


def draw_children(rng: np.random.Generator, n: int, world: World, sel: np.ndarray,
                  sel_w: np.ndarray) -> Children:
    """`n` children in the authorities `sel` (weights `sel_w`), none placed yet."""
    size, start, unit = _sibling_units(rng, n)
    n_units = len(size)
    single = size == 1
    authority = sel[rng.choice(len(sel), size=n_units, p=sel_w)]
    lat, lon = disc(rng, world.lat[authority], world.lon[authority],
                    world.radius_km[authority])
    p_uasc = min(1.0, cal.UASC_SHARE * n / max(int(single.sum()), 1))
    uasc = single & (rng.random(n_units) < p_uasc)
    age = _ages(rng, n, uasc, size, start, unit)
    child_uasc = uasc[unit]
    gender = _genders(rng, n, child_uasc)
    needs = _needs(rng, n, age, gender, child_uasc, single[unit])
    min_age = np.minimum.reduceat(age, start)
    max_age = np.maximum.reduceat(age, start)
    u_needs = np.bitwise_or.reduceat(needs, start)
    u_genders = np.bitwise_or.reduceat(1 << gender, start)
    faith, faith_match = _faiths(rng, uasc, n_units)
    types, res_only, secure = _care_plans(rng, single, uasc, u_needs, min_age, max_age)
    solo = _solo(rng, single, u_needs, min_age)
    max_km = _distance_limits(rng, uasc, res_only, secure)
    priority = choice(rng, cal.PRIORITIES, n_units).astype(np.int64)
    return Children(unit=unit, age=age, gender=gender, needs=needs, size=size, start=start,
                    lat=lat, lon=lon, authority=authority, faith=faith,
                    faith_match=faith_match, types=types, max_km=max_km, solo=solo,
                    priority=priority, min_age=min_age, max_age=max_age, u_needs=u_needs,
                    u_genders=u_genders, current=np.full(n_units, -1, dtype=np.int64))


def _sibling_units(rng: np.random.Generator,
                   n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sibling groups first, then single children: each unit's size and first child, and
    each child's unit."""
    sizes, size_p = distribution(cal.SIBLING_SIZES)
    n_groups = int(round(n * cal.SIBLING_SHARE / float(sizes @ size_p)))
    gsize = rng.choice(sizes, size=n_groups, p=size_p).astype(np.int64)
    gsize = gsize[np.cumsum(gsize) <= n]
    size = np.concatenate([gsize, np.ones(n - int(gsize.sum()), dtype=np.int64)])
    start = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
    unit = np.repeat(np.arange(len(size)), size)
    return size, start, unit


def _profile_ages(rng: np.random.Generator, size: int) -> np.ndarray:
    """Ages drawn from the DfE profile's age bands."""
    bands = cal.AGE_BANDS
    w = np.array([b[2] for b in bands], dtype=float)
    band = rng.choice(len(bands), size=size, p=w / w.sum())
    lo = np.array([b[0] for b in bands])[band]
    hi = np.array([b[1] for b in bands])[band]
    return lo + np.floor(rng.random(size) * (hi - lo + 1)).astype(np.int64)


def _ages(rng: np.random.Generator, n: int, uasc: np.ndarray, size: np.ndarray,
          start: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """Each child's age: the eldest from the DfE profile (the UASC one for an
    unaccompanied child), younger siblings 0-4 years apart."""
    n_units = len(size)
    pos = np.arange(n) - start[unit]
    eldest = _profile_ages(rng, n_units)
    eldest = np.where(uasc, choice(rng, cal.UASC_AGES, n_units), eldest)
    gap = choice(rng, cal.SIBLING_AGE_GAPS, n).astype(np.int64)
    gap[pos == 0] = 0
    cum = np.cumsum(gap)
    offset = cum - cum[start[unit]]
    span = offset[start + size - 1]
    eldest = np.minimum(np.maximum(eldest, span), 17)
    return np.clip(eldest[unit] - offset, 0, 17)


def _genders(rng: np.random.Generator, n: int, child_uasc: np.ndarray) -> np.ndarray:
    """Each child's gender (index into GENDERS); unaccompanied children mostly boys."""
    r = rng.random(n)
    male_cut = cal.X_SHARE + (1 - cal.X_SHARE) * cal.MALE_SHARE
    gender = np.where(r < cal.X_SHARE, GENDERS.index("X"),
                      np.where(r < male_cut, GENDERS.index("M"), GENDERS.index("F")))
    uasc_gender = np.where(rng.random(n) < cal.UASC_MALE_SHARE, GENDERS.index("M"),
                           GENDERS.index("F"))
    return np.where(child_uasc, uasc_gender, gender)


def _needs(rng: np.random.Generator, n: int, age: np.ndarray, gender: np.ndarray,
           child_uasc: np.ndarray, child_single: np.ndarray) -> np.ndarray:
    """Each child's needs as a bit mask over NEED_TAGS."""
    needs = np.zeros(n, dtype=np.int64)
    needs |= np.where(rng.random(n) < cal.P_DISABILITY, NEED_BIT["disability"], 0)
    needs |= np.where(rng.random(n) < step(age, cal.P_COMPLEX_BY_AGE),
                      NEED_BIT["complex_behaviour"], 0)
    needs |= np.where(rng.random(n) < step(age, cal.P_EMOTIONAL_BY_AGE),
                      NEED_BIT["emotional_wellbeing"], 0)
    needs |= np.where(child_uasc, NEED_BIT["uasc"], 0)
    young_mother = (~child_uasc & child_single & (gender == GENDERS.index("F")) & (age >= 15)
                    & (rng.random(n) < cal.P_PARENT_AND_CHILD))
    needs |= np.where(young_mother, NEED_BIT["parent_and_child"], 0)
    return needs


def _faiths(rng: np.random.Generator, uasc: np.ndarray,
            n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's faith code (0 = none) and, where it has one, its FaithMatch code."""
    faith = np.where(uasc, code_or_none(rng, cal.UASC_FAITHS, FAITH_INDEX, n_units),
                     code_or_none(rng, cal.FAITHS, FAITH_INDEX, n_units))
    match_idx = {m.word: int(m) for m in FaithMatch}
    faith_match = np.where(faith > 0, code_or_none(rng, cal.FAITH_MATCH, match_idx, n_units),
                           0)
    return faith, faith_match


def _care_plans(rng: np.random.Generator, single: np.ndarray, uasc: np.ndarray,
                u_needs: np.ndarray, min_age: np.ndarray,
                max_age: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which placement types each unit's care plan accepts (a mask; 0 = the spec's default
    list), with the units whose plan is residential only and secure only."""
    n_units = len(single)
    complex_ = (u_needs & NEED_BIT["complex_behaviour"]) != 0
    mother = (u_needs & NEED_BIT["parent_and_child"]) != 0
    r1, r2, r3 = rng.random(n_units), rng.random(n_units), rng.random(n_units)
    types = np.zeros(n_units, dtype=np.int64)
    types[(max_age < 10) & (r1 < cal.P_FOSTER_ONLY_UNDER_10)] = FAMILY_MASK
    teen_complex = single & complex_ & ~mother
    secure = teen_complex & (min_age >= 12) & (r2 < cal.P_SECURE_COMPLEX_12)
    res_only = (teen_complex & (min_age >= 11) & ~secure
                & (r2 < cal.P_SECURE_COMPLEX_12 + cal.P_RESIDENTIAL_ONLY_COMPLEX_11))
    types[res_only] = RESIDENTIAL_MASK
    types[secure] = 1 << T_SECURE
    supported_plan = single & (min_age >= SUPPORTED_MIN_AGE) & (
        (uasc & (r3 < cal.P_SUPPORTED_PLAN_UASC))
        | (~uasc & ~complex_ & ~mother & (r3 < cal.P_SUPPORTED_PLAN_16)))
    types[supported_plan] = (1 << T_INHOUSE) | (1 << T_IFA) | (1 << T_SUPPORTED)
    types[mother] = 1 << T_PC
    return types, res_only, secure


def _solo(rng: np.random.Generator, single: np.ndarray, u_needs: np.ndarray,
          min_age: np.ndarray) -> np.ndarray:
    """The single children who must live alone (more often older ones with complex needs)."""
    complex_ = (u_needs & NEED_BIT["complex_behaviour"]) != 0
    mother = (u_needs & NEED_BIT["parent_and_child"]) != 0
    r4 = rng.random(len(single))
    return single & ~mother & (
        (complex_ & (min_age >= 11) & (r4 < cal.P_SOLO_COMPLEX_11)) | (r4 > 1 - cal.P_SOLO_OTHER))


def _distance_limits(rng: np.random.Generator, uasc: np.ndarray, res_only: np.ndarray,
                     secure: np.ndarray) -> np.ndarray:
    """Each unit's max_distance_km, nan where its plan sets none (never for secure)."""
    n_units = len(uasc)
    p_limit = np.where(res_only, cal.P_MAX_DISTANCE_RESIDENTIAL_ONLY,
                       np.where(uasc, cal.P_MAX_DISTANCE_UASC, cal.P_MAX_DISTANCE))
    p_limit = np.where(secure, 0.0, p_limit)
    limit = choice(rng, cal.MAX_DISTANCE_KM, n_units).astype(float)
    return np.where(rng.random(n_units) < p_limit, limit, np.nan)
