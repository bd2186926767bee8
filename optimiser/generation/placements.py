"""The placements of an instance: the mix of types, where each is, whom it accepts, its
beds, rating, provider, block contract and weekly cost.

Types are drawn one after the other from one generator, in `PLACEMENT_TYPES` order; a
kinship carer is drawn for one family of the children already drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optimiser import calibration as cal
from optimiser.categories import PLACEMENT_TYPES

from .children import Children
from .codes import ALL_GENDERS_MASK, FAITH_INDEX, GENDER_BIT, NEED_BIT, RATING_INDEX
from .homes import home_authorities, real_homes, real_secure_homes
from .sampling import choice, code_or_none, disc, distribution, largest_remainder, offset
from .world import World, locate

HOME_TYPES = ("inhouse_residential", "external_residential", "secure")
# The authority's own services: one provider per authority.
_OWN_PROVIDERS = {
    "inhouse_foster": "Inhouse fostering",
    "kinship_foster": "Kinship carers",
    "inhouse_residential": "Inhouse homes",
}
# Other providers: name, rows per provider, most providers, how unequal their sizes are.
_PROVIDERS = {
    "ifa_foster": ("IFA-", 40, 313, 0.8),
    "external_residential": ("Home provider ", 3, 2500, 0.6),
    "supported_accommodation": ("Supported provider ", 4, 2000, 0.6),
    "secure": ("Secure provider ", 1, 13, 0.0),
    "parent_and_child": ("Parent and child provider ", 2, 200, 0.5),
}


@dataclass
class Placements:
    type: np.ndarray
    provider: np.ndarray
    capacity: np.ndarray  # free beds when nobody in the instance is placed
    age_min: np.ndarray
    age_max: np.ndarray
    genders: np.ndarray  # bit mask over GENDERS
    faith: np.ndarray
    needs: np.ndarray
    rating: np.ndarray  # index into ALL_RATINGS
    lat: np.ndarray
    lon: np.ndarray
    cost: np.ndarray
    block: np.ndarray  # "" = none
    area: np.ndarray  # authority (world index) the placement lies in
    family: np.ndarray  # a kinship carer's family (unit index), -1 for other types


def type_counts(m: int, type_rows: dict[str, int] | None = None) -> np.ndarray:
    """Placement rows per type (in `PLACEMENT_TYPES` order) for `m` rows.

    Why: the calibrated mix fixes the ratio of fostering households to children's homes,
    and a recipe may need given counts of some types (e.g. England: 3,500 homes). Types in
    `type_rows` get exactly that many rows; the other rows are split among the other types
    by the calibrated shares (largest remainder). Without `type_rows`: the calibrated mix
    (unchanged draws, so existing recipes give the same bytes)."""
    shares = _unit_shares()
    if not type_rows:
        return largest_remainder(m, shares)
    unknown = sorted(set(type_rows) - set(PLACEMENT_TYPES))
    if unknown:
        raise ValueError(f"type_rows: unknown placement type(s) {unknown}; "
                         f"known: {', '.join(PLACEMENT_TYPES)}")
    for t, n in type_rows.items():
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"type_rows: {t} must be a whole number >= 0, got {n!r}")
    fixed = sum(int(n) for n in type_rows.values())
    if fixed > m:
        raise ValueError(f"type_rows: {fixed} fixed rows exceed placements={m}")
    free = np.array([t not in type_rows for t in PLACEMENT_TYPES])
    counts = np.array([int(type_rows.get(t, 0)) for t in PLACEMENT_TYPES], dtype=np.int64)
    if free.any():
        counts[free] = largest_remainder(m - fixed, shares[free])
    elif fixed != m:
        raise ValueError(f"type_rows: every type is fixed, so they must add up to "
                         f"placements={m}, not {fixed}")
    return counts


def _mean_free_home_beds() -> float:
    places, p = distribution(cal.HOME_PLACES)
    return float(p @ ((1 + np.minimum(places, cal.HOME_MAX_FREE)) / 2))


def _unit_shares() -> np.ndarray:
    """Share of placement rows per type = share of beds / mean free beds per row."""
    sibling_sizes, sp = distribution(cal.SIBLING_SIZES)
    s = cal.SIBLING_SHARE
    mean_family = 1 / ((1 - s) + s / float(sibling_sizes @ sp))  # children per unit
    shares = []
    for t in PLACEMENT_TYPES:
        prof = cal.TYPES[t]
        if t == "kinship_foster":
            beds = mean_family
        elif prof.vacancies:
            v, p = distribution(prof.vacancies)
            beds = float(v @ p)
        else:
            beds = _mean_free_home_beds()
        shares.append(prof.bed_share / beds)
    return np.array(shares)


def draw_placements(rng: np.random.Generator, m: int, world: World, sel: np.ndarray,
                    sel_w: np.ndarray, kids: Children,
                    type_rows: dict[str, int] | None = None) -> Placements:
    """`m` placements for the authorities `sel` (weights `sel_w`) and the children `kids`."""
    counts = type_counts(m, type_rows)
    ptype = rng.permutation(np.repeat(np.arange(len(PLACEMENT_TYPES)), counts))
    owner = sel[rng.choice(len(sel), size=m, p=sel_w)]
    plc = _unfilled(ptype)
    n_blocks = 0
    for t, tname in enumerate(PLACEMENT_TYPES):
        idx = np.flatnonzero(ptype == t)
        if len(idx):
            n_blocks = _draw_type(rng, plc, tname, idx, owner[idx], world, kids,
                                  len(sel) > 1, n_blocks)
    plc.cost[plc.block != ""] = 0.0
    plc.lat, plc.lon = np.round(plc.lat, 5), np.round(plc.lon, 5)
    free = plc.area < 0
    plc.area[free] = locate(world, plc.lat[free], plc.lon[free])
    return plc


def _unfilled(ptype: np.ndarray) -> Placements:
    """Placements of the given types with every other field at its default."""
    m = len(ptype)
    return Placements(
        type=ptype, provider=np.empty(m, dtype=object), capacity=np.zeros(m, dtype=np.int64),
        age_min=np.zeros(m, dtype=np.int64), age_max=np.full(m, 17, dtype=np.int64),
        genders=np.full(m, ALL_GENDERS_MASK, dtype=np.int64), faith=np.zeros(m, dtype=np.int64),
        needs=np.zeros(m, dtype=np.int64),
        rating=np.full(m, RATING_INDEX["not_rated"], dtype=np.int64),
        lat=np.zeros(m), lon=np.zeros(m), cost=np.zeros(m), block=np.full(m, "", dtype=object),
        area=np.full(m, -1, dtype=np.int64),  # -1: found from lat/lon at the end
        family=np.full(m, -1, dtype=np.int64))


def _draw_type(rng: np.random.Generator, plc: Placements, tname: str, idx: np.ndarray,
               own: np.ndarray, world: World, kids: Children, multi: bool,
               n_blocks: int) -> int:
    """Fill the rows `idx` of type `tname` (placing authorities `own`): where, whom they
    accept, homes' places and ratings, provider and cost. Returns the block contracts
    numbered so far."""
    prof = cal.TYPES[tname]
    own, where = _locations(rng, plc, prof, tname, idx, own, world, kids)
    if tname == "kinship_foster":
        _kin_accepts(rng, plc, prof, idx, kids)
    else:
        _accepts(rng, plc, prof, idx)
    if tname in HOME_TYPES:
        _homes(rng, plc, tname, idx, where, world)
    n_blocks = _providers(rng, plc, prof, tname, idx, world.code[own], multi, n_blocks)
    lo_c, mode_c, hi_c = prof.cost
    plc.cost[idx] = np.round(rng.triangular(lo_c, mode_c, hi_c, size=len(idx)))
    return n_blocks


def _locations(rng: np.random.Generator, plc: Placements, prof: cal.TypeProfile, tname: str,
               idx: np.ndarray, own: np.ndarray, world: World,
               kids: Children) -> tuple[np.ndarray, np.ndarray]:
    """Where each row is (and its area where known now); returns the authority it belongs
    to (a kinship carer's: its family's) and the authority it lies in."""
    k = len(idx)
    where = own
    if prof.location == "centroid_disc":
        la, lo = disc(rng, world.lat[own], world.lon[own], prof.spread_km)
    elif prof.location == "centroid_lognormal":
        dist = prof.spread_km * np.exp(prof.spread_sigma * rng.standard_normal(k))
        la, lo = offset(world.lat[own], world.lon[own], dist, rng.random(k) * 2 * math.pi)
    elif prof.location == "kin":
        fam = rng.choice(len(kids.size), size=k, replace=k > len(kids.size))
        own = kids.authority[fam]
        dist = prof.spread_km * np.exp(prof.spread_sigma * rng.standard_normal(k))
        la, lo = offset(kids.lat[fam], kids.lon[fam], dist, rng.random(k) * 2 * math.pi)
        plc.family[idx] = fam
    else:  # "homes": a real-looking spread of homes across England
        share = 0.0 if tname == "secure" else cal.HOMES_LOCAL_SHARE
        where = home_authorities(rng, world, own, world.homes, share)
        la, lo = disc(rng, world.lat[where], world.lon[where],
                      np.clip(world.radius_km[where], 2.0, 25.0))
    plc.lat[idx], plc.lon[idx] = la, lo
    if prof.location in ("centroid_disc", "homes"):
        plc.area[idx] = where
    return own, where


def _extra_needs(rng: np.random.Generator, prof: cal.TypeProfile, k: int) -> np.ndarray:
    """Needs supported, each drawn with its calibrated probability (a bit mask)."""
    mask = np.zeros(k, dtype=np.int64)
    for tag, p in prof.needs:
        mask |= np.where(rng.random(k) < p, NEED_BIT[tag], 0)
    return mask


def _kin_accepts(rng: np.random.Generator, plc: Placements, prof: cal.TypeProfile,
                 idx: np.ndarray, kids: Children) -> None:
    """A kinship carer is approved for its own family: their ages, genders, needs, faith
    and number, and sometimes a few needs more."""
    fam = plc.family[idx]
    plc.age_min[idx] = np.maximum(kids.min_age[fam] - 1, 0)
    plc.age_max[idx] = np.minimum(kids.max_age[fam] + 2, 17)
    plc.faith[idx] = kids.faith[fam]
    plc.genders[idx] = kids.u_genders[fam]
    plc.capacity[idx] = kids.size[fam]
    plc.needs[idx] = kids.u_needs[fam] | _extra_needs(rng, prof, len(idx))


def _accepts(rng: np.random.Generator, plc: Placements, prof: cal.TypeProfile,
             idx: np.ndarray) -> None:
    """Ages, genders, faith and needs accepted, and vacancies, from the type's profile."""
    k = len(idx)
    ranges = choice(rng, tuple(((a, b), w) for a, b, w in prof.age_ranges), k)
    plc.age_min[idx], plc.age_max[idx] = ranges[:, 0], ranges[:, 1]
    gcode = code_or_none(rng, prof.genders, {"F": 1, "M": 2}, k)
    plc.genders[idx] = np.choose(gcode, [ALL_GENDERS_MASK, GENDER_BIT["F"], GENDER_BIT["M"]])
    plc.faith[idx] = code_or_none(rng, prof.faiths, FAITH_INDEX, k)
    plc.needs[idx] = _extra_needs(rng, prof, k)
    if prof.vacancies:
        plc.capacity[idx] = choice(rng, prof.vacancies, k)


def _homes(rng: np.random.Generator, plc: Placements, tname: str, idx: np.ndarray,
           where: np.ndarray, world: World) -> None:
    """A home's places and rating (real rows where available) and its free beds."""
    k = len(idx)
    places = choice(rng, cal.HOME_PLACES, k).astype(np.int64)
    rate = choice(rng, tuple((RATING_INDEX[r], w) for r, w in cal.HOME_RATINGS), k)
    rows = world.home_rows
    secure_rows = rows is not None and bool(rows["secure"].any())
    if rows is not None and tname == "secure" and secure_rows:
        at, places, rate = real_secure_homes(rng, rows, k)
        plc.lat[idx], plc.lon[idx] = disc(rng, world.lat[at], world.lon[at],
                                          np.clip(world.radius_km[at], 2.0, 25.0))
        plc.area[idx] = at
    elif rows is not None and tname != "secure":
        places, rate = real_homes(rng, rows, tname == "inhouse_residential", where,
                                  len(world.code), places, rate)
    if tname == "secure":
        plc.capacity[idx] = np.minimum(plc.capacity[idx], places)
    else:
        limit = np.minimum(places, cal.HOME_MAX_FREE)
        plc.capacity[idx] = 1 + np.floor(rng.random(k) * limit).astype(np.int64)
    plc.rating[idx] = rate


def _provider_index(rng: np.random.Generator, k: int, n_providers: int,
                    exponent: float) -> np.ndarray:
    """Providers of very unequal sizes (a few large agencies, many small ones)."""
    w = 1.0 / np.arange(1, n_providers + 1) ** exponent
    return rng.choice(n_providers, size=k, p=w / w.sum())


def _providers(rng: np.random.Generator, plc: Placements, prof: cal.TypeProfile, tname: str,
               idx: np.ndarray, own_code: np.ndarray, multi: bool, n_blocks: int) -> int:
    """Who provides each row (an IFA's rating is its agency's), and block contracts.
    Returns the block contracts numbered so far."""
    suffix = np.array([f" {c}" if multi else "" for c in own_code], dtype=object)
    if tname in _OWN_PROVIDERS:
        plc.provider[idx] = _OWN_PROVIDERS[tname] + suffix
        return n_blocks
    label, per, cap, expo = _PROVIDERS[tname]
    k = len(idx)
    n_prov = int(np.clip(math.ceil(k / per), 1, cap))
    if tname == "ifa_foster":
        n_prov = int(np.clip(round(2 * math.sqrt(k)), 1, cap))
    who = _provider_index(rng, k, n_prov, expo)
    width = max(2, len(str(n_prov)))
    names = np.array([f"{label}{i + 1:0{width}d}" if label == "IFA-"
                      else f"{label}{i + 1}" for i in range(n_prov)], dtype=object)
    plc.provider[idx] = names[who]
    if prof.ratings == "ifa":
        agency = choice(rng, tuple((RATING_INDEX[r], w) for r, w in cal.IFA_RATINGS), n_prov)
        plc.rating[idx] = agency[who]
    if prof.block_share > 0:
        in_block = rng.random(k) < prof.block_share
        firms, first = np.unique(who[in_block], return_index=True)
        order = firms[np.argsort(first, kind="stable")]
        ids = np.full(n_prov, "", dtype=object)
        ids[order] = [f"BC-{n_blocks + j + 1:02d}" for j in range(len(order))]
        n_blocks += len(order)
        plc.block[idx] = np.where(in_block, ids[who], "")
    return n_blocks
