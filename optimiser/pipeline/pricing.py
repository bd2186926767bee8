"""Lagrangian pricing over every feasible pair: the bound, and the pairs to add back.

With the duals of the relaxed rows, L(duals) is a lower bound over *all* pairs, and a
pair's reduced cost says how far above it any plan using the pair must be
(models/formulation.md, "Pruning made exact").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from ..candidates import Candidates, PairPool, unit_blocks, unit_slices
from ..instance import Instance
from ..spatial import SpatialPool
from .lp import Duals


@dataclass(frozen=True)
class Pricing:
    lagrangian_bound: float  # valid lower bound over every feasible pair
    min_dropped_rc: float  # smallest reduced cost among dropped pairs (inf: none)
    best_option: np.ndarray  # per unit: min(unplaced, min_p c + a pi) over every pair
    add_unit: np.ndarray
    add_placement: np.ndarray
    add_objective: np.ndarray
    add_use: np.ndarray


def _feasible_chunks(inst: Instance
                     ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """All feasible pairs re-evaluated from the instance (a register too large to hold),
    as (unit, placement, objective, use) chunks; whole units per chunk."""
    for ub in unit_blocks(inst):
        r, c = np.nonzero(ub.feasible)
        yield ub.units[r], ub.cols[c], ub.objective[r, c], ub.use[r, c]


def _unplaced_option(inst: Instance, duals: Duals, max_moves: int | None,
                     forced: np.ndarray | None) -> tuple[Duals, np.ndarray]:
    """Per unit, the value of leaving it unplaced under `duals` (inf where it may not
    be: pinned, or placed with a minimum saving), and the duals without a moves price
    when there is no moves row."""
    if max_moves is None and duals.mu:
        duals = replace(duals, mu=0.0)
    unplaced = inst.unit_unplaced.astype(float) + duals.unplaced_price(inst)
    if forced is not None and forced.any():
        unplaced = np.where(forced, np.inf, unplaced)
    if inst.keep_placed.any():
        unplaced = np.where(inst.keep_placed, np.inf, unplaced)
    return duals, unplaced


def price(inst: Instance, cands: Candidates, pool: PairPool | None, duals: Duals,
          incumbent: float | None = None, per_unit: int | None = 10,
          max_moves: int | None = None, forced: np.ndarray | None = None,
          deadline: float | None = None, grow: bool = True) -> Pricing:
    """One pass over every feasible pair: the Lagrangian bound and the pairs to add back.

    `incumbent=None`: column generation for the LP (add pairs with negative reduced cost).
    Otherwise: add pairs that could lead to a solution better than `incumbent`.
    Every relaxed row (capacity, departures, moves) is a valid inequality over *all*
    pairs, so L(duals) is a lower bound over every pair (see formulation.md). A `forced`
    (pinned) unit has no unplaced option: its one pair is part of every admissible plan.
    """
    duals, unplaced = _unplaced_option(inst, duals, max_moves, forced)
    m_full = unplaced.copy()
    m_kept = unplaced.copy()
    kept_rc = cands.objective + duals.pair_price(inst, cands.unit, cands.placement, cands.use)
    np.minimum.at(m_kept, cands.unit, kept_rc)
    kept_sorted = np.sort(cands.unit * inst.n_placements + cands.placement)
    if pool is None and cands.space is not None:
        return _price_space(inst, cands.space, duals, m_full, m_kept, kept_sorted,
                            incumbent, per_unit, max_moves, deadline if grow else 0.0)
    if pool is not None:
        return _price_pool(inst, pool, duals, m_full, m_kept, kept_sorted, incumbent,
                           per_unit, max_moves)
    best: list[tuple[np.ndarray, ...]] = []
    for u, p, o, a in _feasible_chunks(inst):
        rc = o + duals.pair_price(inst, u, p, a)
        np.minimum.at(m_full, u, rc)
        key = u * inst.n_placements + p
        pos = np.minimum(np.searchsorted(kept_sorted, key), max(len(kept_sorted) - 1, 0))
        dropped = kept_sorted[pos] != key if len(kept_sorted) else np.ones(len(key), bool)
        u, p, o, a, rc = u[dropped], p[dropped], o[dropped], a[dropped], rc[dropped]
        order = np.lexsort((p, rc, u))
        u, p, o, a, rc = u[order], p[order], o[order], a[order], rc[order]
        if per_unit is not None:
            first = np.searchsorted(u, u, side="left")
            sel = (np.arange(len(u)) - first) < per_unit
        else:
            sel = np.ones(len(u), dtype=bool)
        best.append((u[sel], p[sel], o[sel], a[sel], rc[sel]))
    lag = float(m_full.sum() - duals.constant(inst, max_moves))
    z = np.zeros(0, dtype=np.int64)
    if not best:
        return Pricing(lag, np.inf, m_full, z, z, np.zeros(0), z)
    du, dp, do, dw, drc = (np.concatenate(x) for x in zip(*best, strict=True))
    red = drc - m_full[du]
    min_rc = float(red.min()) if len(red) else np.inf
    if incumbent is None:
        add = drc < m_kept[du] - 1e-7 * np.maximum(1.0, np.abs(m_kept[du]))
    else:
        add = lag + red < incumbent - 1e-6 * max(1.0, abs(incumbent))
    return Pricing(lag, min_rc, m_full, du[add], dp[add], do[add], dw[add])


def reduced_costs(inst: Instance, cands: Candidates, duals: Duals,
                  best_option: np.ndarray) -> np.ndarray:
    """Per pair, what it costs over its unit's best option under `duals` (>= 0): the
    quantity reduced-cost fixing compares with the gap."""
    return (cands.objective + duals.pair_price(inst, cands.unit, cands.placement, cands.use)
            - best_option[cands.unit])


def _unit_min(m: np.ndarray, u: np.ndarray, rc: np.ndarray) -> None:
    """m[unit] = min(m[unit], min rc of its pairs), for pairs sorted by unit (a reduceat,
    many times faster than `np.minimum.at` on tens of millions of pairs)."""
    if not len(u):
        return
    starts = np.flatnonzero(np.diff(u, prepend=u[0] - 1))
    us = u[starts]
    m[us] = np.minimum(m[us], np.minimum.reduceat(rc, starts))


def best_per_unit(u: np.ndarray, rc: np.ndarray, per_unit: int | None) -> np.ndarray:
    """Indices of each unit's `per_unit` lowest rc, for pairs sorted by unit.

    Units with few pairs keep them all; the others are ranked by one float sort on
    (unit, rc scaled into [0, 0.5)), several times faster than a lexsort on millions.
    """
    if per_unit is None or not len(u):
        return np.arange(len(u))
    starts = np.flatnonzero(np.diff(u, prepend=u[0] - 1))
    count = np.diff(np.append(starts, len(u)))
    grp = np.repeat(np.arange(len(starts)), count)
    small = count[grp] <= per_unit
    big = np.flatnonzero(~small)
    if not len(big):
        return np.arange(len(u))
    lo = np.minimum.reduceat(rc, starts)[grp[big]]
    span = np.maximum.reduceat(rc, starts)[grp[big]] - lo
    norm = np.divide(rc[big] - lo, span, out=np.zeros(len(big)), where=span > 0) * 0.5
    order = big[np.argsort(grp[big] + norm, kind="stable")]
    rank = np.arange(len(order)) - np.searchsorted(grp[order], grp[order], side="left")
    return np.sort(np.concatenate([np.flatnonzero(small), order[rank < per_unit]]))


def _pool_slice(inst: Instance, pool: PairPool, duals: Duals, s: int, e: int
                ) -> tuple[np.ndarray, ...]:
    """Pool pairs [s, e) widened to int64 (unit * m + p cannot overflow), and their
    objective plus what the relaxed rows charge them: (u, p, objective, use, rc)."""
    u = pool.unit[s:e].astype(np.int64)
    p = pool.placement[s:e].astype(np.int64)
    a = pool.use[s:e].astype(np.int64)
    o = pool.objective[s:e]
    return u, p, o, a, o + duals.pair_price(inst, u, p, a)


def _price_pool(inst: Instance, pool: PairPool, duals: Duals, m_full: np.ndarray,
                m_kept: np.ndarray, kept_sorted: np.ndarray, incumbent: float | None,
                per_unit: int | None, max_moves: int | None) -> Pricing:
    """`price` over a pool held in memory, in the same result, without sorting it.

    Column generation: a pair can only enter with rc below its unit's best kept pair,
    and no kept pair is (rc >= m_kept by definition), so one pass finds the few that
    do. Fixing: a first pass gives every unit's best option (hence L), a second keeps
    the pairs with L + reduced cost below the incumbent. Only those few are sorted or
    looked up among the kept pairs.
    """
    m = inst.n_placements
    chunks = list(unit_slices(pool.unit))

    found: list[tuple[np.ndarray, ...]] = []
    if incumbent is None:
        for s, e in chunks:
            u, p, o, a, rc = _pool_slice(inst, pool, duals, s, e)
            _unit_min(m_full, u, rc)
            mk = m_kept[u]
            sel = np.flatnonzero(rc < mk - 1e-7 * np.maximum(1.0, np.abs(mk)))
            sel = sel[best_per_unit(u[sel], rc[sel], per_unit)]  # units are whole here
            if len(sel):
                found.append((u[sel], p[sel], o[sel], a[sel], rc[sel]))
        lag = float(m_full.sum() - duals.constant(inst, max_moves))
        min_rc = np.inf  # not needed by column generation
    else:
        for s, e in chunks:
            u, _, _, _, rc = _pool_slice(inst, pool, duals, s, e)
            _unit_min(m_full, u, rc)
        lag = float(m_full.sum() - duals.constant(inst, max_moves))
        room = incumbent - 1e-6 * max(1.0, abs(incumbent)) - lag
        min_rc = max(room, 0.0)  # every pair not found below has a reduced cost above room
        for s, e in chunks:
            u, p, o, a, rc = _pool_slice(inst, pool, duals, s, e)
            red = rc - m_full[u]
            sel = np.flatnonzero(red < room)
            if not len(sel):
                continue
            key = u[sel] * m + p[sel]
            if len(kept_sorted):
                pos = np.minimum(np.searchsorted(kept_sorted, key), len(kept_sorted) - 1)
                sel = sel[kept_sorted[pos] != key]
            if len(sel):
                min_rc = min(min_rc, float(red[sel].min()))
                sel = sel[best_per_unit(u[sel], rc[sel], per_unit)]  # whole units here
                found.append((u[sel], p[sel], o[sel], a[sel], rc[sel]))
    z = np.zeros(0, dtype=np.int64)
    if not found:
        return Pricing(lag, min_rc, m_full, z, z, np.zeros(0), z)
    du, dp, do, dw, drc = (np.concatenate(x) for x in zip(*found, strict=True))
    pick = best_per_unit(du, drc, per_unit)
    return Pricing(lag, min_rc, m_full, du[pick], dp[pick], do[pick], dw[pick])


def _space_pool(space: SpatialPool) -> PairPool:
    """The evaluated feasible pairs, sorted by unit then placement."""
    return PairPool(space.unit, space.placement, space.objective, space.use)


GROW_CELLS = 4  # cells a unit may evaluate per pricing pass (the bound holds for the rest)


def _price_space(inst: Instance, space: SpatialPool, duals: Duals, m_full: np.ndarray,
                 m_kept: np.ndarray, kept_sorted: np.ndarray, incumbent: float | None,
                 per_unit: int | None, max_moves: int | None,
                 deadline: float | None) -> Pricing:
    """`price` on the spatial route. A pair of a block not evaluated has reduced cost at
    least the block's bound, so: evaluate the blocks whose bound is below the unit's best
    kept option (only there can a pair price in or lower the unit's best option), then
    price the evaluated pairs as a pool, each unit's best option floored by the bound of
    what is still not evaluated (a valid Lagrangian bound, whatever is left). Fixing
    (`incumbent`) also evaluates the blocks below the unit's best option plus the room."""
    space.grow(duals.pi, m_kept, max_cells=GROW_CELLS, deadline=deadline)
    m_floor = np.minimum(m_full, space.floor_lb)
    if incumbent is not None:
        first = _price_pool(inst, _space_pool(space), duals, m_floor.copy(), m_kept,
                            kept_sorted, None, 0, max_moves)
        room = incumbent - first.lagrangian_bound
        space.grow(duals.pi, first.best_option + max(room, 0.0), max_cells=GROW_CELLS,
                   deadline=deadline)
        m_floor = np.minimum(m_full, space.floor_lb)
    pr = _price_pool(inst, _space_pool(space), duals, m_floor.copy(), m_kept, kept_sorted,
                     incumbent, per_unit, max_moves)
    left = space.floor_lb - pr.best_option
    if incumbent is not None and np.isfinite(left).any():
        pr = replace(pr, min_dropped_rc=min(pr.min_dropped_rc, float(left.min())))
    return pr


def lifted(inst: Instance, cands: Candidates, pool: PairPool | None, duals: Duals,
           evaluations: int = 6) -> tuple[float, Duals]:
    """The best bound over prices max(pi, lam) on every bed, lam by golden section.

    When supply is short every bed that can take a child is worth nearly what leaving
    a child unplaced costs, but a restricted LP prices only the beds its few pairs
    reach, and leaves the others free: its bound is far below the LP's. Any prices >= 0
    give a valid bound; lifting them all to a common floor recovers most of it. Bound
    passes only (nothing evaluated on the spatial route). Returns (bound, prices)."""
    units = inst.units
    top = float((inst.unit_unplaced / np.maximum(units.size, 1)).max()) if units.n else 0.0

    def at(lam: float) -> tuple[float, Duals]:
        d = Duals(np.maximum(duals.pi, lam), duals.rho)
        if pool is not None:
            return lagrangian_pool(inst, pool, d, None), d
        return price(inst, cands, None, d, None, per_unit=0, grow=False).lagrangian_bound, d

    g = (np.sqrt(5) - 1) / 2
    lo, hi = 0.0, top
    x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
    (f1, d1), (f2, d2) = at(x1), at(x2)
    best = max((f1, d1), (f2, d2), key=lambda t: t[0])
    for _ in range(max(evaluations - 2, 0)):
        if f1 >= f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - g * (hi - lo)
            f1, d1 = at(x1)
            best = max(best, (f1, d1), key=lambda t: t[0])
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + g * (hi - lo)
            f2, d2 = at(x2)
            best = max(best, (f2, d2), key=lambda t: t[0])
    return best


def _blend(a: Duals, b: Duals, t: float) -> Duals:
    """(1 - t) a + t b, every relaxed row's multiplier alike (keeps them >= 0)."""
    def mix(x: np.ndarray | None, y: np.ndarray | None) -> np.ndarray | None:
        if x is None and y is None:
            return None
        xx = np.zeros_like(y) if x is None else x
        yy = np.zeros_like(x) if y is None else y
        if xx.shape != yy.shape:  # cut duals of different widths: pad the narrower
            w = max(xx.shape[1], yy.shape[1])
            xx = np.pad(xx, ((0, 0), (0, w - xx.shape[1])), mode="edge")
            yy = np.pad(yy, ((0, 0), (0, w - yy.shape[1])), mode="edge")
        return (1 - t) * xx + t * yy

    pi, rho, gamma = mix(a.pi, b.pi), mix(a.rho, b.rho), mix(a.gamma, b.gamma)
    assert pi is not None and rho is not None
    keys = [d.pair_key for d in (a, b) if d.pair_key is not None]
    pair_key = pair_add = None
    if keys:  # clique duals on single pairs: the union, each side weighted
        adds = [w * d.pair_add for w, d in ((1 - t, a), (t, b)) if d.pair_add is not None]
        pair_key, inv = np.unique(np.concatenate(keys), return_inverse=True)
        pair_add = np.bincount(inv.ravel(), weights=np.concatenate(adds),
                               minlength=len(pair_key))
    return Duals(pi, rho, (1 - t) * a.mu + t * b.mu, gamma,
                 (1 - t) * a.gamma_rhs + t * b.gamma_rhs, pair_key, pair_add)


def lagrangian_pool(inst: Instance, pool: PairPool, duals: Duals, max_moves: int | None,
                    forced: np.ndarray | None = None) -> float:
    """L(duals) over a pool in memory: one pass, nothing selected (for line searches)."""
    duals, m_full = _unplaced_option(inst, duals, max_moves, forced)
    for s, e in unit_slices(pool.unit):
        u, _, _, _, rc = _pool_slice(inst, pool, duals, s, e)
        _unit_min(m_full, u, rc)
    return float(m_full.sum() - duals.constant(inst, max_moves))


def line_search(inst: Instance, pool: PairPool, a: Duals, b: Duals, max_moves: int | None,
                forced: np.ndarray | None, evaluations: int = 7) -> tuple[float, Duals]:
    """Best L on the segment from `a` to `b` by golden section (L is concave on it).

    The duals of a restricted LP over-price the beds its few columns compete for, so
    early on L(b) can sit far below L(a), even below L(0); a point between the two is
    a valid and often much better bound, for the price of a few cheap passes.
    """
    g = (np.sqrt(5) - 1) / 2
    lo, hi = 0.0, 1.0
    x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
    f1 = lagrangian_pool(inst, pool, _blend(a, b, x1), max_moves, forced)
    f2 = lagrangian_pool(inst, pool, _blend(a, b, x2), max_moves, forced)
    best_t, best_f = (x1, f1) if f1 >= f2 else (x2, f2)
    for _ in range(max(evaluations - 2, 0)):
        if f1 >= f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - g * (hi - lo)
            f1 = lagrangian_pool(inst, pool, _blend(a, b, x1), max_moves, forced)
            if f1 > best_f:
                best_t, best_f = x1, f1
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + g * (hi - lo)
            f2 = lagrangian_pool(inst, pool, _blend(a, b, x2), max_moves, forced)
            if f2 > best_f:
                best_t, best_f = x2, f2
    return best_f, _blend(a, b, best_t)


def merge(cands: Candidates, pr: Pricing) -> Candidates:
    u = np.concatenate([cands.unit, pr.add_unit])
    p = np.concatenate([cands.placement, pr.add_placement])
    o = np.concatenate([cands.objective, pr.add_objective])
    w = np.concatenate([cands.use, pr.add_use])
    order = np.lexsort((p, u))
    stats = dict(cands.stats)
    stats["pairs_kept"] = float(len(u))
    return Candidates(u[order], p[order], o[order], w[order], cands.n_feasible, cands.limit,
                      stats, cands.space)


def dive_pairs(inst: Instance, cands: Candidates, duals: Duals, best_option: np.ndarray,
                lp_x: np.ndarray | None, per_unit: int) -> np.ndarray:
    """Pairs for the MIP dive: each unit's few best by reduced cost, the LP's support,
    and every unit's stay pair (so the status quo, always admissible, is in it)."""
    red = reduced_costs(inst, cands, duals, best_option)
    order = np.lexsort((cands.placement, red, cands.unit))
    u = cands.unit[order]
    rank = np.arange(len(u)) - np.searchsorted(u, u)
    keep = np.zeros(len(cands), dtype=bool)
    keep[order[rank < per_unit]] = True
    if lp_x is not None:
        keep |= lp_x > 1e-6
    keep |= ((inst.pair_moves(cands.unit, cands.placement) == 0)
             & (inst.unit_placed[cands.unit] > 0))
    return keep
