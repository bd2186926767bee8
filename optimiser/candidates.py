"""Feasible (unit, placement) pairs and their objective terms, vectorised.

Work is done in blocks: a set of units (sibling groups or single children) against a set
of placement columns, every rule a numpy operation on the whole block (the checks of
:mod:`optimiser.registry`, the terms of :mod:`optimiser.objective`). Units with a
distance limit only look at placements inside a KD-tree ball around their home, so a
national register is never evaluated densely for them. The same block evaluator serves
the candidate pass, the pricing pass that proves pruning safe, and the explanations.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .categories import EARTH_RADIUS_KM, FaithMatch, Rating
from .instance import Instance
from .interest import in_child_interest, reservation_allowed
from .objective import PairTerms, haversine_km, pair_distances, pair_terms
from .registry import FIT_RULES, PAIR_CHECKS, Fit, Pairs
from .rules import Rule
from .spatial import MASK_CELLS, CellIndex, FitTable, SpatialPool

__all__ = [
    "BlockPlan", "Candidates", "PairBlock", "PairPool", "UnitBlock", "block_km",
    "build_candidates", "evaluate_block", "haversine_km", "pair_distances", "unit_blocks",
    "unit_slices",
]

BLOCK_ELEMENTS = 1_500_000  # child-placement cells evaluated at once (memory ~ 100 MB)


CELL_DEG = 0.05  # grid of homes for the distance-limit balls (about 5.5 km by 3.5 km)


def block_km(v_rows: np.ndarray, v_cols: np.ndarray) -> np.ndarray:
    """Great-circle km between every row and every column (unit vectors, (n, 3)).

    haversine's a is (chord/2)^2 = (1 - cos)/2, and cos is one matrix product, so the
    whole block costs one arcsin per pair instead of four trigonometric calls and no
    gathers: distances were most of the candidate pass on a region. Equal to
    `haversine_km` within 4e-9 km / d (4 micrometres at 1 km): far below a penny.
    """
    half = np.clip(0.5 - 0.5 * (v_rows @ v_cols.T), 0.0, 1.0)
    return (2 * EARTH_RADIUS_KM) * np.arcsin(np.sqrt(half))


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


@dataclass(frozen=True)
class PairBlock:
    """Rules and terms for children `rows` x placements `cols`."""

    rows: np.ndarray
    cols: np.ndarray
    distance: np.ndarray  # km
    violations: dict[Rule, np.ndarray]  # True where the rule is broken
    feasible: np.ndarray  # no per-pair rule broken (current placement exempt)
    objective: np.ndarray  # pounds/week for this child at this placement
    terms: dict[str, np.ndarray]


def _position(index: np.ndarray, size: int) -> np.ndarray:
    pos = np.full(size, -1, dtype=np.int64)
    pos[index] = np.arange(len(index))
    return pos


FAR_KM = 1e9  # distance stand-in for pairs a fit rule already rules out (never used)


def fit_inputs(inst: Instance, rows: np.ndarray, cols: np.ndarray) -> Fit:
    """The fit rules' inputs for children `rows` (as a column) x placements `cols` (a row)."""
    r, c = rows[:, None], cols[None, :]
    age = inst.age[r]
    return Fit(
        age_lo=age, age_hi=age, genders=np.left_shift(1, inst.gender[r].astype(np.int64)),
        types=inst.types_allowed[r], faith=inst.faith[r], faith_match=inst.faith_match[r],
        needs=tuple(inst.needs[rows, w][:, None] for w in range(inst.needs.shape[1])),
        ptype=inst.ptype[c], age_min=inst.age_min[c], age_max=inst.age_max[c],
        accepts=inst.genders_allowed[c], pfaith=inst.pfaith[c],
        supports=tuple(inst.needs_supported[cols, w][None, :]
                       for w in range(inst.needs_supported.shape[1])),
        rating=inst.rating[c],
        floor=int(Rating.parse(inst.policy.rules.min_ofsted_rating)),
    )



def _profiles(inst: Instance, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct fit profiles of children `rows` (age, gender, care-plan types,
    required faith, needs): one representative row each, and each row's profile."""
    key = np.column_stack([
        inst.age[rows].astype(np.int64), inst.gender[rows].astype(np.int64),
        inst.types_allowed[rows].astype(np.int64),
        np.where(inst.faith_match[rows] == FaithMatch.REQUIRED, inst.faith[rows],
                 -2).astype(np.int64),
        inst.needs[rows].view(np.int64),
    ])
    _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    return rows[first], inv.ravel()


def _profile_rules(inst: Instance, rows: np.ndarray, cols: np.ndarray,
                   ) -> tuple[list[tuple[Rule, np.ndarray]], np.ndarray]:
    """The fit rules (they see a child only through its age, gender, care-plan types,
    required faith and needs), evaluated once per distinct profile in the block.

    Returns the masks (profiles x cols) and each row's profile: children who share a
    profile share these rules, so a block of hundreds of children needs far fewer rows.
    """
    rep, inv = _profiles(inst, rows)
    x = fit_inputs(inst, rep, cols)
    shape = (len(rep), len(cols))
    masks = []
    for d in FIT_RULES:
        assert d.fit is not None
        masks.append((d.rule, np.broadcast_to(d.fit(x), shape)))
    return masks, inv


FIT_PROFILES = 64  # profiles per step when the fit table is built (memory ~ 50 MB)


def fit_table(inst: Instance, cells: CellIndex) -> FitTable:
    """Per child profile and unit size, the placements (in cell order) that pass every
    fit rule for the profile and have the beds (spatial.FitTable)."""
    units = inst.units
    rep, prof = _profiles(inst, np.arange(inst.n_children))
    size = units.size[units.unit_of].astype(np.int64)
    wide = int(size.max()) + 1 if len(size) else 1
    keys, row = np.unique(prof * wide + size, return_inverse=True)
    row_prof, row_size = keys // wide, keys % wide
    cols = cells.order
    beds = inst.capacity[cols]
    fits = np.zeros((len(keys), len(cols)), dtype=bool)
    for lo in range(0, len(rep), FIT_PROFILES):
        x = fit_inputs(inst, rep[lo:lo + FIT_PROFILES], cols)
        bad = np.zeros((min(FIT_PROFILES, len(rep) - lo), len(cols)), dtype=bool)
        for d in FIT_RULES:
            assert d.fit is not None
            bad |= d.fit(x)
        at = np.flatnonzero((row_prof >= lo) & (row_prof < lo + FIT_PROFILES))
        fits[at] = ~bad[row_prof[at] - lo] & (beds[None, :] >= row_size[at][:, None])
    placed_now = np.zeros(units.n, dtype=bool)
    placed_now[units.unit_of[inst.current >= 0]] = True
    return FitTable(row.ravel(), fits, placed_now)


def evaluate_block(inst: Instance, rows: np.ndarray, cols: np.ndarray, *,
                   keep_rules: bool = False) -> PairBlock:
    """Every per-pair rule and objective term for children `rows` x placements `cols`.

    Without `keep_rules` (the candidate and pricing passes) only feasibility and the
    objective are needed, so distances are computed only where the fit rules pass.
    """
    r, c = rows[:, None], cols[None, :]
    shape = (len(rows), len(cols))
    pos_r = _position(rows, inst.n_children)
    pos_c = _position(cols, inst.n_placements)
    profile, inv = _profile_rules(inst, rows, cols)
    cur = inst.current[rows]
    has_cur = (cur >= 0) & (pos_c[np.maximum(cur, 0)] >= 0)
    cur_col = np.where(has_cur, pos_c[np.maximum(cur, 0)], -1)
    is_cur = np.zeros(shape, dtype=bool)
    is_cur[np.flatnonzero(has_cur), cur_col[has_cur]] = True
    if keep_rules:
        dist = haversine_km(inst.home_lat[r], inst.home_lon[r], inst.lat[c], inst.lon[c])
        static = [(rule, m[inv]) for rule, m in profile]
    else:
        bad = np.zeros(profile[0][1].shape, dtype=bool)
        for _, m in profile:
            bad |= m
        static_bad = bad[inv]
        dist = np.where(static_bad & ~is_cur, FAR_KM, block_km(
            _unit_vectors(inst.home_lat[rows], inst.home_lon[rows]),
            _unit_vectors(inst.lat[cols], inst.lon[cols])))
        static = [(Rule.AGE_RANGE, static_bad)]  # any fit rule: only feasibility is used
    if len(inst.dist_child):
        dr, dc = pos_r[inst.dist_child], pos_c[inst.dist_placement]
        hit = (dr >= 0) & (dc >= 0)
        dist[dr[hit], dc[hit]] = inst.dist_km[hit]
    excluded = np.zeros(shape, dtype=bool)
    if len(inst.excl_child):
        er, ec = pos_r[inst.excl_child], pos_c[inst.excl_placement]
        hit = (er >= 0) & (ec >= 0)
        excluded[er[hit], ec[hit]] = True

    terms = pair_terms(inst, r, c, dist, is_current=is_cur)
    checks = [*static, *_pair_checks(inst, rows, cols, dist, excluded, is_cur, terms,
                                     keep_rules)]
    broken = np.zeros(shape, dtype=bool)
    for _, mask in checks:
        broken |= mask
    broken[is_cur] = False

    objective = terms.total
    named = terms.as_dict()
    prev = inst.reallocation.previous
    if prev is not None:
        # stability (`--previous`): a proposal unlike yesterday's costs previous_weight
        p_r = np.asarray(prev)[rows]
        t_prev = inst.reallocation.previous_weight * (
            inst.previous_known[rows][:, None] & (p_r[:, None] != cols[None, :]))
        objective = objective + t_prev
        named["stability"] = t_prev
    return PairBlock(
        rows=rows, cols=cols, distance=dist,
        violations=dict(checks) if keep_rules else {},
        feasible=~broken, objective=objective, terms=named if keep_rules else {},
    )


def _pair_checks(inst: Instance, rows: np.ndarray, cols: np.ndarray, dist: np.ndarray,
                 excluded: np.ndarray, is_cur: np.ndarray, terms: PairTerms,
                 keep_rules: bool) -> list[tuple[Rule, np.ndarray]]:
    """The pair and run rules (exclusions, distance limits, reservations, pinned, held and
    not-yet-available placements, minimum own saving, moves in the child's interest).

    A run rule that cannot bind in this instance gives no mask, so an ordinary instance
    pays nothing for it; when explaining, it is kept as an all-False view.
    """
    assert inst.pinned is not None
    held = inst.held[cols][None, :]
    x = Pairs(km=dist, max_km=inst.max_distance_km[rows][:, None], excluded=excluded,
              is_current=is_cur, pinned=inst.pinned[rows][:, None], held=held,
              later=inst.not_yet_available[cols][None, :],
              stay=(inst.stay_terms[rows][:, None] if inst.reallocation.min_saving is not None
                    else None),
              terms=terms, min_saving=inst.reallocation.min_saving,
              reserved=inst.reserved[cols][None, :],
              named=(reservation_allowed(inst, rows, cols) if inst.reserved[cols].any()
                     else None),
              interest=in_child_interest(inst, rows, cols, dist))
    out: list[tuple[Rule, np.ndarray]] = []
    for d in PAIR_CHECKS:
        assert d.pair is not None
        mask = d.pair(x)
        if mask is not None:
            out.append((d.rule, mask))
        elif keep_rules:
            out.append((d.rule, np.broadcast_to(np.zeros(1, dtype=bool), is_cur.shape)))
    return out


@dataclass(frozen=True)
class Candidates:
    """The sparse candidate set: one row per kept (unit, placement) pair."""

    unit: np.ndarray  # int64, sorted by unit then placement
    placement: np.ndarray  # int64
    objective: np.ndarray  # pounds/week for the whole unit there
    use: np.ndarray  # beds used: unit size, or the whole capacity for a solo child
    n_feasible: np.ndarray  # per unit: feasible placements before pruning
    limit: int | None  # per-unit cap used for pruning (None: every feasible pair kept)
    stats: dict[str, float] = field(default_factory=dict)
    # the spatial route: the evaluated blocks, which pricing grows (None: the register
    # was enumerated, and the pool, when held, is every feasible pair)
    space: SpatialPool | None = None

    @property
    def pruned(self) -> bool:
        if self.space is not None:
            return True
        return bool((self.n_feasible > np.bincount(self.unit, minlength=len(self.n_feasible)))
                    .any())

    def __len__(self) -> int:
        return len(self.unit)


class BlockPlan:
    """Which units are evaluated together, and against which placements."""

    def __init__(self, inst: Instance):
        self.inst = inst
        units = inst.units
        from scipy.spatial import cKDTree

        self.tree = cKDTree(_unit_vectors(inst.lat, inst.lon)) if inst.n_placements else None
        self.cap = inst.capacity
        child_maxd = inst.max_distance_km
        # a unit is bounded by its tightest member's limit
        unit_maxd = np.full(units.n, np.inf)
        np.minimum.at(unit_maxd, units.unit_of, child_maxd)
        self.unit_maxd = unit_maxd
        first = units.order[units.start[:-1]]
        lat, lon = inst.home_lat[first], inst.home_lon[first]
        bounded = np.isfinite(unit_maxd)
        # spatial order (0.2 degree bands) so a block's balls overlap
        key = np.lexsort((lon, np.floor(lat / 0.2), ~bounded))
        self.order = key
        self.bounded = bounded

    def blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (units, placement columns) blocks."""
        inst, units = self.inst, self.inst.units
        m = inst.n_placements
        order = self.order
        i = 0
        all_cols = np.arange(m, dtype=np.int64)
        mean_size = max(1.0, inst.n_children / max(units.n, 1))
        while i < len(order):
            if self.bounded[order[i]]:
                step = max(8, int(BLOCK_ELEMENTS / mean_size / max(min(m, 2000), 1)))
            else:
                step = max(1, int(BLOCK_ELEMENTS / mean_size / max(m, 1)))
            block = order[i : i + step]
            # keep bounded and unbounded apart
            bnd = self.bounded[block]
            if bnd[0] and not bnd.all():
                block = block[: int(np.argmin(bnd))]
            i += len(block)
            if self.bounded[block[0]] and self.tree is not None:
                yield block, self._ball_columns(block)
            else:
                yield block, all_cols

    def _ball_columns(self, block: np.ndarray) -> np.ndarray:
        inst, units = self.inst, self.inst.units
        members = np.concatenate([units.members(u) for u in block])
        maxd = inst.max_distance_km[members]
        finite = np.isfinite(maxd)
        lat, lon = inst.home_lat[members[finite]], inst.home_lon[members[finite]]
        # one ball per 0.05-degree cell of homes (not per child: a block's children live
        # close together, and their balls are nearly the same): centred on the cell's
        # centre, radius = the largest limit in the cell plus the distance to its corner.
        # A superset of the children's own balls; the rules trim it to the exact pairs.
        cell = np.floor(lat / CELL_DEG) * 100_000 + np.floor(lon / CELL_DEG)
        cells, inv = np.unique(cell, return_inverse=True)
        inv = inv.ravel()
        lim = np.zeros(len(cells))
        np.maximum.at(lim, inv, maxd[finite])
        first = np.unique(inv, return_index=True)[1]
        c_lat = (np.floor(lat / CELL_DEG)[first] + 0.5) * CELL_DEG
        c_lon = (np.floor(lon / CELL_DEG)[first] + 0.5) * CELL_DEG
        half = np.maximum(  # the corner on the equator's side is the farther
            haversine_km(c_lat, c_lon, c_lat + CELL_DEG / 2, c_lon + CELL_DEG / 2),
            haversine_km(c_lat, c_lon, c_lat - CELL_DEG / 2, c_lon + CELL_DEG / 2))
        arc = np.minimum((lim + half) / EARTH_RADIUS_KM, np.pi)
        # chord length for the arc, with a little slack for float error
        radius = 2 * np.sin(arc / 2) * 1.000001 + 1e-9
        assert self.tree is not None
        hits = self.tree.query_ball_point(_unit_vectors(c_lat, c_lon), radius,
                                          return_sorted=False)
        parts = [np.asarray(h, dtype=np.int64) for h in hits]
        cur = inst.current[members]
        parts.append(cur[cur >= 0].astype(np.int64))
        if len(inst.dist_child):
            in_block = np.isin(inst.dist_child, members)
            parts.append(inst.dist_placement[in_block].astype(np.int64))
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class UnitBlock:
    units: np.ndarray
    cols: np.ndarray
    feasible: np.ndarray  # (units, cols)
    objective: np.ndarray  # (units, cols), pounds/week for the unit
    use: np.ndarray  # (units, cols) beds used


def unit_blocks(inst: Instance, plan: BlockPlan | None = None) -> Iterator[UnitBlock]:
    """Per block: which units can go where (all members together), and at what price."""
    plan = plan or BlockPlan(inst)
    for block, cols in plan.blocks():
        if len(cols):
            yield unit_block(inst, block, cols)


def unit_block(inst: Instance, block: np.ndarray, cols: np.ndarray) -> UnitBlock:
    """Units `block` against placement columns `cols`: feasibility, objective, beds."""
    units = inst.units
    cap = inst.capacity
    pload = inst.pinned_load
    sizes = units.size[block]
    rows = np.concatenate([units.members(u) for u in block])
    pb = evaluate_block(inst, rows, cols)
    feas, obj = _per_unit(pb.feasible, pb.objective, sizes)
    solo = units.solo[block]
    ccap = cap[cols]
    feas &= sizes[:, None] <= ccap[None, :]
    # a solo child takes the whole placement; a group that contains one cannot be placed
    feas &= ~(solo & (sizes > 1))[:, None]
    if pload.any():
        # beds of pinned children are never free: others fit in what is left
        pinned = inst.pinned_unit[block] >= 0
        held = pload[cols]
        feas &= pinned[:, None] | (sizes[:, None] <= (ccap - held)[None, :])
        feas &= ~(solo & ~pinned)[:, None] | (held == 0)[None, :]
    use = np.where(solo[:, None], ccap[None, :], sizes[:, None]).astype(np.int64)
    return UnitBlock(block, cols, feas, obj, use)


def _per_unit(feasible: np.ndarray, objective: np.ndarray, sizes: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Per unit (members' rows consecutive): every member feasible, and the members'
    objectives summed. A single child's row is taken as it is; only the groups' rows go
    through `reduceat`, which copies a one-row segment many times slower than a gather
    (the same sums, in the same order)."""
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    feas, obj = feasible[offsets], objective[offsets]
    multi = np.flatnonzero(sizes > 1)
    if len(multi):
        rows = np.concatenate([np.arange(offsets[i], offsets[i] + sizes[i]) for i in multi])
        starts = np.concatenate([[0], np.cumsum(sizes[multi])[:-1]])
        feas[multi] = np.logical_and.reduceat(feasible[rows], starts, axis=0)
        obj[multi] = np.add.reduceat(objective[rows], starts, axis=0)
    return feas, obj


POOL_LIMIT = 60_000_000  # feasible pairs kept in memory for pricing (~1.1 GB at 18 B each)


@dataclass(frozen=True)
class PairPool:
    """Every feasible (unit, placement) pair, when they fit in memory; sorted by unit."""

    unit: np.ndarray
    placement: np.ndarray
    objective: np.ndarray
    use: np.ndarray

    def __len__(self) -> int:
        return len(self.unit)


def _block_choice(inst: Instance, ub: UnitBlock, limit: int | None,
                  cur_unit: np.ndarray) -> np.ndarray:
    """Mask of each unit's `limit` cheapest feasible pairs in the block, its `limit // 2`
    nearest (by the objective less the weekly cost: the cheapest beds are the same few
    for everyone, so without the near ones most units would find all their candidates
    full) and its current placement. All feasible pairs when `limit` is None."""
    if limit is None or ub.feasible.shape[1] <= limit:
        return ub.feasible.copy()
    obj = np.where(ub.feasible, ub.objective, np.inf)
    keep = np.zeros_like(ub.feasible)
    np.put_along_axis(keep, np.argpartition(obj, limit - 1, axis=1)[:, :limit], True, axis=1)
    if limit >= 2:
        near = obj - (inst.units.size[ub.units][:, None] * inst.policy.weights.cost
                      * inst.weekly_cost[ub.cols][None, :])
        near_idx = np.argpartition(near, limit // 2 - 1, axis=1)[:, : limit // 2]
        np.put_along_axis(keep, near_idx, True, axis=1)
    keep &= ub.feasible
    keep |= ub.feasible & (ub.cols[None, :] == cur_unit[ub.units][:, None])
    return keep


def unit_slices(unit: np.ndarray, step: int = 4_000_000) -> Iterator[tuple[int, int]]:
    """[start, end) slices of a unit-sorted array holding whole units."""
    start = 0
    while start < len(unit):
        end = min(start + step, len(unit))
        if end < len(unit):
            end = int(np.searchsorted(unit, unit[end], side="right"))
        yield start, end
        start = end


def _pool(parts: list[tuple[np.ndarray, ...]]) -> tuple[PairPool, np.ndarray]:
    """Join block parts into one pool sorted by unit, then placement (and the start-set
    mask alongside)."""
    if not parts or not sum(len(x[0]) for x in parts):
        z = np.zeros(0, dtype=np.int32)
        return PairPool(z, z, np.zeros(0), z.astype(np.int16)), np.zeros(0, dtype=bool)
    # field by field, dropping each field's pieces once joined: the pool may hold tens
    # of millions of pairs, and two copies of it would double the peak memory
    fields: list[list[np.ndarray]] = [list(x) for x in zip(*parts, strict=True)]
    parts.clear()
    joined = []
    for pieces in fields:
        joined.append(np.concatenate(pieces))
        pieces.clear()
    u, p, o, w, chosen = joined
    joined.clear()
    w = w.astype(np.int16) if len(w) and int(w.max()) < 2**15 else w
    # each unit's pairs are one run (a unit is in one block), in placement order; blocks
    # come in spatial order, so put the runs in unit order: a gather, not a sort
    starts = np.flatnonzero(np.diff(u, prepend=u[0] - 1))
    if len(starts) > 1 and (np.diff(u[starts]) < 0).any():
        lengths = np.diff(np.append(starts, len(u)))
        order = np.argsort(u[starts], kind="stable")
        new_starts = np.cumsum(lengths[order]) - lengths[order]
        perm = np.repeat(starts[order] - new_starts, lengths[order])
        perm += np.arange(len(u))
        # one field at a time, so only one extra copy is alive at once
        u = u[perm]
        p = p[perm]
        o = o[perm]
        w = w[perm]
        chosen = chosen[perm]
        del perm
    d = np.diff(u)
    if not ((d >= 0).all() and ((d > 0) | (np.diff(p) > 0)).all()):  # a unit split: sort
        order = np.lexsort((p, u))
        u, p, o, w, chosen = u[order], p[order], o[order], w[order], chosen[order]
    return PairPool(u, p, o, w), chosen


def build_candidates(inst: Instance, *, limit: int | None = 40,
                     pool_limit: int = POOL_LIMIT, spatial: bool = False,
                     deadline: float | None = None) -> tuple[Candidates, PairPool | None]:
    """Feasible pairs, keeping at most `limit` cheapest per unit plus current placements.

    Also returns the pool of all feasible pairs when it fits in `pool_limit` (the pricing
    passes then work on arrays instead of re-evaluating the rules). Pruning is safe:
    `solve` prices every dropped pair and adds back any that could improve the solution.
    With `spatial` (national registers) only the blocks near each unit are evaluated
    (optimiser/spatial.py); pricing evaluates more as the prices ask, and no pool is
    returned. `deadline` (time.perf_counter()) cuts the spatial pass short.
    """
    if spatial and limit is not None:
        return spatial_candidates(inst, limit, deadline), None
    t0 = time.perf_counter()
    units = inst.units
    n_feasible = np.zeros(units.n, dtype=np.int64)
    cur_unit = np.full(units.n, -1, dtype=np.int64)  # current placement of a unit (first)
    cur = inst.current[units.order]
    has = cur >= 0
    cur_unit[units.unit_of[units.order[has]]] = cur[has]
    parts: list[tuple[np.ndarray, ...]] = []
    pooled = 0
    evaluated = 0
    full = True
    unit_min = np.full(units.n, np.inf)  # cheapest feasible pair per unit, for L(0)
    seen = np.zeros(units.n, dtype=bool)
    stopped = False
    for ub in unit_blocks(inst):
        if deadline is not None and time.perf_counter() > deadline:
            stopped = True  # what is left is never evaluated: no pool, a weaker L(0)
            break
        seen[ub.units] = True
        evaluated += ub.feasible.size
        n_feasible[ub.units] = ub.feasible.sum(axis=1)
        if ub.feasible.shape[1]:
            unit_min[ub.units] = np.where(ub.feasible, ub.objective, np.inf).min(axis=1)
        # the start set (each unit's cheapest and nearest pairs) chosen here, on the
        # block's matrix, rather than by sorting the whole pool afterwards
        chosen = _block_choice(inst, ub, limit, cur_unit)
        keep = ub.feasible if full else chosen
        r, c = np.nonzero(keep)
        pooled += len(r)
        # compact storage: the pool may hold tens of millions of pairs
        parts.append((ub.units[r].astype(np.int32), ub.cols[c].astype(np.int32),
                      ub.objective[r, c], ub.use[r, c].astype(np.int32), chosen[r, c]))
        if full and limit is not None and pooled > pool_limit:
            # from here on keep only each unit's cheapest pairs, and prune what is held
            full = False
            held, held_chosen = _pool(parts)
            idx = np.flatnonzero(held_chosen)
            parts = [(held.unit[idx], held.placement[idx], held.objective[idx],
                      held.use[idx].astype(np.int32), np.ones(len(idx), dtype=bool))]
            pooled = len(idx)
    if stopped:
        full = False
        unit_min[~seen] = _unit_floor(inst)[~seen]
        n_feasible[~seen] = 1  # unknown: such a unit is never claimed whole
    pool, pool_chosen = _pool(parts)
    idx = np.flatnonzero(pool_chosen)
    cands = Candidates(
        unit=pool.unit[idx].astype(np.int64), placement=pool.placement[idx].astype(np.int64),
        objective=pool.objective[idx], use=pool.use[idx].astype(np.int64),
        n_feasible=n_feasible, limit=limit,
        stats={"pairs_evaluated": float(evaluated), "pairs_feasible": float(n_feasible.sum()),
               "pairs_kept": float(len(idx)), "seconds": time.perf_counter() - t0,
               # Lagrangian bound with zero duals (capacity relaxed): valid over every pair
               "lagrangian_zero_bound": float(np.minimum(
                   inst.policy.weights.unplaced * units.unplaced_cost, unit_min).sum())},
    )
    return cands, (pool if full else None)


def _unit_floor(inst: Instance) -> np.ndarray:
    """Per unit, a lower bound on any pair's objective without evaluating it: its beds
    at the cheapest weekly cost when every weight is >= 0 (every other term is then
    >= 0), else -inf."""
    w = inst.policy.weights
    if min(w.cost, w.per_km, w.faith_mismatch, w.move, w.out_of_area) < 0 or not len(
            inst.weekly_cost) or inst.reallocation.previous_weight < 0:
        return np.full(inst.units.n, -np.inf)
    return inst.units.size * min(0.0, w.cost * float(inst.weekly_cost.min()))


def spatial_candidates(inst: Instance, limit: int, deadline: float | None = None
                       ) -> Candidates:
    """The start set from the blocks near each unit (`SpatialPool.start`): each unit's
    `limit` cheapest, `limit // 2` nearest and its current pairs among those evaluated."""
    t0 = time.perf_counter()
    units = inst.units
    cells = CellIndex.build(inst, max_cells=max(1, MASK_CELLS // max(units.n, 1)))
    space = SpatialPool(inst, cells, unit_block, fit_table(inst, cells))
    space.start(limit, deadline)
    u = space.unit.astype(np.int64)
    p = space.placement.astype(np.int64)
    chosen = _ranked(u, space.objective, limit)
    if limit >= 2:
        near = space.objective - (units.size[u] * inst.policy.weights.cost
                                  * inst.weekly_cost[p])
        chosen |= _ranked(u, near, limit // 2)
    first_cur = np.full(units.n, -1, dtype=np.int64)
    cur = inst.current[units.order]
    has = cur >= 0
    first_cur[units.unit_of[units.order[has]]] = cur[has]
    chosen |= p == first_cur[u]
    idx = np.flatnonzero(chosen)
    # the zero-dual bound over every pair: what is not evaluated floored by its beds'
    # cheapest weekly cost (no bound pass: the first pricing pass gives a better one)
    unit_min = _unit_floor(inst)
    if len(u):
        starts = np.flatnonzero(np.diff(u, prepend=u[0] - 1))
        unit_min[u[starts]] = np.minimum(unit_min[u[starts]],
                                         np.minimum.reduceat(space.objective, starts))
    # a unit is never claimed whole: blocks are left unevaluated (see `pruned`)
    n_feasible = space.n_feasible + 1
    return Candidates(
        unit=u[idx], placement=p[idx], objective=space.objective[idx],
        use=space.use[idx].astype(np.int64), n_feasible=n_feasible, limit=limit,
        stats={"pairs_evaluated": space.evaluated,
               "pairs_feasible": float(space.n_feasible.sum()),
               "pairs_kept": float(len(idx)), "pairs_pooled": float(len(space)),
               "spatial_cells": float(cells.n), "seconds": time.perf_counter() - t0,
               "lagrangian_zero_bound": float(np.minimum(
                   inst.policy.weights.unplaced * units.unplaced_cost, unit_min).sum())},
        space=space)


def _ranked(u: np.ndarray, key: np.ndarray, k: int) -> np.ndarray:
    """Mask of each unit's `k` lowest `key`, for pairs sorted by unit."""
    if not len(u):
        return np.zeros(0, dtype=bool)
    order = np.lexsort((key, u))
    us = u[order]
    rank = np.arange(len(us)) - np.searchsorted(us, us, side="left")
    out = np.zeros(len(u), dtype=bool)
    out[order[rank < k]] = True
    return out
