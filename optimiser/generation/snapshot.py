"""What an instance already says about its children: exclusions (a child and a placement
ruled out, with a reason) and current placements (a consistent snapshot of who lives
where, drawn only when `placed_share > 0`, after everything else)."""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from optimiser import calibration as cal
from optimiser.categories import PLACEMENT_TYPES, Rating
from optimiser.objective import haversine_km
from optimiser.registry import DEFINITIONS, Fit, Pairs, Scope

from .children import Children
from .codes import DEFAULT_TYPE_MASK
from .placements import Placements
from .sampling import choice, xyz

MIN_RATING = "requires_improvement"  # the policy's floor, as written into policy.toml


def draw_exclusions(rng: np.random.Generator, kids: Children,
                    plc: Placements) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A few (child, nearby placement) pairs per 100 children, with a short reason."""
    n, m = len(kids.unit), len(plc.type)
    k_exc = math.ceil(n * cal.EXCLUSIONS_PER_100 / 100)
    if k_exc == 0 or m == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=object)
    who = rng.choice(n, size=k_exc)
    k = min(8, m)
    tree = cKDTree(xyz(plc.lat, plc.lon))
    _, near = tree.query(xyz(kids.lat[kids.unit[who]], kids.lon[kids.unit[who]]), k=k)
    near = np.asarray(near).reshape(k_exc, k)
    where = near[np.arange(k_exc), rng.integers(0, k, size=k_exc)]
    reason = choice(rng, cal.EXCLUSION_REASONS, k_exc)
    _, first = np.unique(who * m + where, return_index=True)
    first.sort()
    return who[first], where[first], reason[first]


def pair_ok(kids: Children, plc: Placements, u: np.ndarray, p: np.ndarray,
            excluded_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every per-pair rule of the spec (the registry's checks) for units u at placements p
    (whole sibling groups: youngest and oldest age, every gender and need)."""
    fit = Fit(
        age_lo=kids.min_age[u], age_hi=kids.max_age[u], genders=kids.u_genders[u],
        types=np.where(kids.types[u] == 0, DEFAULT_TYPE_MASK, kids.types[u]),
        faith=kids.faith[u], faith_match=kids.faith_match[u], needs=(kids.u_needs[u],),
        ptype=plc.type[p], age_min=plc.age_min[p], age_max=plc.age_max[p],
        accepts=plc.genders[p], pfaith=plc.faith[p], supports=(plc.needs[p],),
        rating=plc.rating[p], floor=int(Rating.parse(MIN_RATING)))
    dist = haversine_km(kids.lat[u], kids.lon[u], plc.lat[p], plc.lon[p])
    excluded = (np.isin(u * len(plc.type) + p, excluded_keys) if excluded_keys.size
                else np.zeros(len(u), dtype=bool))
    pairs = Pairs(km=dist, max_km=kids.max_km[u], excluded=excluded,
                  is_current=np.zeros(len(u), dtype=bool))
    ok = (plc.family[p] < 0) | (plc.family[p] == u)  # a kinship carer takes its family only
    for d in DEFINITIONS:
        if d.fit is not None and d.scope is Scope.FIT:
            ok &= ~d.fit(fit)
        elif d.pair is not None and d.scope is Scope.PAIR:
            ok &= ~np.asarray(d.pair(pairs), dtype=bool)
    return ok, dist


def draw_current(rng: np.random.Generator, kids: Children, plc: Placements,
                 exc_child: np.ndarray, exc_place: np.ndarray, placed_share: float) -> None:
    """Fill `kids.current` for about `placed_share` of the children, by a randomised greedy
    that respects capacity, solo, sibling groups and every per-pair rule (so the instance is
    a consistent snapshot), with a logit preference for near and cheap placements."""
    n_units, m = len(kids.size), len(plc.type)
    target = int(round(placed_share * len(kids.unit)))
    if target == 0 or m == 0:
        return
    excluded = np.unique(kids.unit[exc_child] * m + exc_place)
    trees = _trees_by_type(plc)
    km_scale = np.array([cal.CURRENT_KM_SCALE[t] for t in PLACEMENT_TYPES])
    remaining = plc.capacity.copy()
    occupants = np.zeros(m, dtype=np.int64)
    queue = rng.permutation(n_units)  # the order children came into care
    placed_children = 0
    tries = np.zeros(n_units, dtype=np.int64)
    for _wave in range(8):
        if placed_children >= target or queue.size == 0:
            break
        short = target - placed_children
        take = max(1, int(np.searchsorted(np.cumsum(kids.size[queue]), short * 1.05,
                                          side="right")))
        wave, queue = queue[:take], queue[take:]
        cand, ok, score = _candidates(rng, kids, plc, wave, trees, excluded, km_scale)
        assigned = _place_wave(kids, wave, cand, ok, score, remaining, occupants)
        keep = _keep_within(kids, plc, wave, assigned, short, remaining, occupants)
        kids.current[wave[keep]] = assigned[keep]
        placed_children += int(kids.size[wave[keep]].sum())
        # Children not placed get one more try, with fresh candidates, after the others.
        tries[wave] += 1
        retry = wave[(assigned < 0) & (tries[wave] < 2)]
        queue = np.concatenate([queue, retry])


def _trees_by_type(plc: Placements) -> list[tuple[np.ndarray, cKDTree]]:
    """Per placement type present: its rows and a k-d tree over where they are."""
    trees = []
    for t in range(len(PLACEMENT_TYPES)):
        idx = np.flatnonzero(plc.type == t)
        if idx.size:
            trees.append((idx, cKDTree(xyz(plc.lat[idx], plc.lon[idx]))))
    return trees


def _candidates(rng: np.random.Generator, kids: Children, plc: Placements, wave: np.ndarray,
                trees: list[tuple[np.ndarray, cKDTree]], excluded: np.ndarray,
                km_scale: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates of each unit of a wave (per type the 4 nearest and 8 random placements),
    whether each pair is allowed, and its score (lower is preferred)."""
    n_w = wave.size
    home = xyz(kids.lat[wave], kids.lon[wave])
    cols = []
    for idx, tree in trees:
        k = min(4, idx.size)
        _, near = tree.query(home, k=k)
        cols.append(idx[np.asarray(near).reshape(n_w, k)])
        cols.append(idx[rng.integers(0, idx.size, size=(n_w, 8))])
    cand = np.concatenate(cols, axis=1)
    uu = np.repeat(wave, cand.shape[1])
    ok, dist = pair_ok(kids, plc, uu, cand.ravel(), excluded)
    ok, dist = ok.reshape(cand.shape), dist.reshape(cand.shape)
    score = (dist / km_scale[plc.type[cand]] + plc.cost[cand] / cal.CURRENT_COST_SCALE
             + rng.gumbel(size=cand.shape))
    return cand, ok, score


def _place_wave(kids: Children, wave: np.ndarray, cand: np.ndarray, ok: np.ndarray,
                score: np.ndarray, remaining: np.ndarray, occupants: np.ndarray) -> np.ndarray:
    """Place the units of one wave at their best free candidates (updating remaining and
    occupants); the placement of each unit or -1."""
    size, solo = kids.size[wave], kids.solo[wave]
    assigned = np.full(wave.size, -1, dtype=np.int64)
    for _ in range(60):
        free = (remaining[cand] >= size[:, None]) & (~solo[:, None] | (occupants[cand] == 0))
        live = ok & free & (assigned < 0)[:, None]
        rows = np.flatnonzero(live.any(axis=1))
        if rows.size == 0:
            break
        best = np.argmin(np.where(live[rows], score[rows], np.inf), axis=1)
        u, p = rows, cand[rows, best]
        need = np.where(solo[u], remaining[p], size[u])  # a solo child takes the lot
        order = np.lexsort((u, p))  # earlier arrivals first
        u, p, need = u[order], p[order], need[order]
        cum = np.cumsum(need)
        first = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
        before = np.repeat(cum[first] - need[first], np.diff(np.r_[first, p.size]))
        accept = (cum - before) <= remaining[p]
        assigned[u[accept]] = p[accept]
        np.subtract.at(remaining, p[accept], need[accept])
        np.add.at(occupants, p[accept], size[u[accept]])
    return assigned


def _keep_within(kids: Children, plc: Placements, wave: np.ndarray, assigned: np.ndarray,
                 short: int, remaining: np.ndarray, occupants: np.ndarray) -> np.ndarray:
    """The placed units of a wave (positions in it, in arrival order) while they add up to
    at most `short` children; the beds of the others given back."""
    got = np.flatnonzero(assigned >= 0)  # in wave (arrival) order
    keep = got[np.cumsum(kids.size[wave[got]]) <= short]
    dropped = got[~np.isin(got, keep)]
    np.add.at(remaining, assigned[dropped],
              np.where(kids.solo[wave[dropped]], 0, kids.size[wave[dropped]]))
    np.subtract.at(occupants, assigned[dropped], kids.size[wave[dropped]])
    if dropped.size:  # a solo leaving frees its whole placement
        solo_left = assigned[dropped][kids.solo[wave[dropped]]]
        remaining[solo_left] = plc.capacity[solo_left] - occupants[solo_left]
    return keep
