"""Candidates in proportion to what matters: pairs found by spatial search with bounds.

Placements are grouped into compact cells (equal-count strips of latitude, each cut into
equal-count runs of longitude). For a unit and a cell, and prices `pi` >= 0 on capacity,

    LB(u, c) = per_km * sum_members max(0, d(home, centre_c) - r_c)
               + size_u * min_{p in c} (cost_weight * weekly_cost_p + pi_p)

is below the reduced cost of every pair (u, p), p in c: every other term of a pair's
objective, and every other relaxed row's charge, is >= 0, a pair uses at least `size_u`
beds, and the triangle inequality bounds the distance (models/formulation.md, "Pairs by
spatial search"). So a pair can only price in, or change a unit's best option, where the
cell's bound is below the unit's threshold: only those (unit, cell) blocks are evaluated,
and the others keep a valid floor in the Lagrangian bound.

`SpatialPool` holds the pairs of the evaluated blocks and which blocks those are; it
grows as the prices ask for more.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .categories import EARTH_RADIUS_KM
from .instance import Instance


class Block(Protocol):
    """What the block evaluator gives (candidates.UnitBlock)."""

    @property
    def units(self) -> np.ndarray: ...
    @property
    def cols(self) -> np.ndarray: ...
    @property
    def feasible(self) -> np.ndarray: ...
    @property
    def objective(self) -> np.ndarray: ...
    @property
    def use(self) -> np.ndarray: ...


Evaluator = Callable[[Instance, np.ndarray, np.ndarray], Block]

__all__ = ["CellIndex", "FitTable", "Floors", "SpatialPool", "spatial_applies"]

PER_CELL = 48  # placements per cell (about): fewer cells cost less per bound pass
MASK_CELLS = 250_000_000  # units x cells of the evaluated mask at most (one byte each)
LB_ELEMENTS = 4_000_000  # children x cells per bound block (memory ~ 100 MB)
SUB_UNITS = 96  # units evaluated together (neighbours in the batch order)
LB_CACHE_ELEMENTS = 100_000_000  # units x cells of distance bounds kept (8 bytes each)
SLACK_KM = 1e-6  # float slack on distances (block_km is within 4e-9 km per km)
FIT_ROWS = 64  # fit rows per step when the floors by fit are worked out (memory ~ 25 MB)


def spatial_applies(inst: Instance) -> bool:
    """The bounds hold: every weight >= 0 and no distance overrides (a road distance may
    be below the great circle, and the triangle inequality would not bound it)."""
    w = inst.policy.weights
    weights = (w.cost, w.per_km, w.faith_mismatch, w.move, w.out_of_area)
    if min(weights) < 0 or inst.reallocation.previous_weight < 0:
        return False
    return len(inst.dist_child) == 0 and inst.n_placements > 0


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def chord_km(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Great-circle km between rows of `a` and rows of `b` (unit vectors)."""
    half = np.clip(0.5 - 0.5 * (a @ b.T), 0.0, 1.0)
    return (2 * EARTH_RADIUS_KM) * np.arcsin(np.sqrt(half))


@dataclass(frozen=True)
class CellIndex:
    """Placements by cell (CSR), each cell's centre and radius (km)."""

    cell_of: np.ndarray  # (m,)
    order: np.ndarray  # placements sorted by cell
    start: np.ndarray  # (K+1,)
    centre: np.ndarray  # (K, 3)
    radius: np.ndarray  # (K,) km, the farthest member from the centre, with slack

    @property
    def n(self) -> int:
        return len(self.radius)

    @staticmethod
    def build(inst: Instance, per_cell: int = PER_CELL, max_cells: int | None = None
              ) -> CellIndex:
        m = inst.n_placements
        k = max(1, m // per_cell)
        if max_cells is not None:
            k = max(1, min(k, max_cells))
        strips = max(1, int(round(np.sqrt(k))))
        per_strip = max(1, int(np.ceil(k / strips)))
        by_lat = np.argsort(inst.lat, kind="stable")
        cell_of = np.empty(m, dtype=np.int64)
        next_cell = 0
        for chunk in np.array_split(by_lat, strips):
            if not len(chunk):
                continue
            chunk = chunk[np.argsort(inst.lon[chunk], kind="stable")]
            parts = [p for p in np.array_split(chunk, min(per_strip, len(chunk))) if len(p)]
            for part in parts:
                cell_of[part] = next_cell
                next_cell += 1
        order = np.argsort(cell_of, kind="stable")
        start = np.searchsorted(cell_of[order], np.arange(next_cell + 1))
        v = unit_vectors(inst.lat, inst.lon)
        sums = np.zeros((next_cell, 3))
        np.add.at(sums, cell_of, v)
        centre = sums / np.maximum(np.linalg.norm(sums, axis=1), 1e-12)[:, None]
        d = _member_km(v, centre, cell_of)
        radius = np.zeros(next_cell)
        np.maximum.at(radius, cell_of, d)
        return CellIndex(cell_of, order, start, centre, radius * (1 + 1e-9) + SLACK_KM)

    def floor(self, inst: Instance, pi: np.ndarray) -> np.ndarray:
        """Per cell, min over its placements of cost_weight * weekly_cost + q, with q = pi
        where pi >= 0 (a pair uses at least its unit's size in beds) and capacity x pi
        below (at most the capacity): size x this floor is below every pair's charge."""
        q = np.where(pi >= 0, pi, inst.capacity * pi)
        val = inst.policy.weights.cost * inst.weekly_cost + q
        # a placement without a bed is no unit's pair (a unit needs at least one)
        val = np.where(inst.capacity > 0, val, np.inf)
        return np.minimum.reduceat(val[self.order], self.start[:-1])

    def members(self, cells: np.ndarray) -> np.ndarray:
        if not len(cells):
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([self.order[self.start[c]:self.start[c + 1]] for c in cells])


@dataclass(frozen=True)
class FitTable:
    """Which placements a child's fit profile allows, with the beds its unit needs.

    The fit rules see a child only through its age, gender, care-plan types, required
    faith and needs (`candidates._profile_rules`); a row is one such profile together
    with the size of the child's unit, and allows the placements that pass every fit
    rule for the profile and have at least that many beds. A feasible pair's placement
    is allowed by every member's row, except a member's current placement (exempt from
    the rules): a unit with a member placed now is `plain` (its floor is the cell's)."""

    row: np.ndarray  # (children,) the child's row
    fits: np.ndarray  # (rows, placements) bool, placements in cell order (CellIndex.order)
    plain: np.ndarray  # (units,) bool


@dataclass(frozen=True)
class Floors:
    """Per bed, under some prices: each cell's floor (`CellIndex.floor`), and each fit
    row's floor over the placements of the cell it allows (inf: none), or None."""

    cell: np.ndarray  # (cells,)
    rows: np.ndarray | None  # (fit rows, cells)


def _member_km(v: np.ndarray, centre: np.ndarray, cell_of: np.ndarray) -> np.ndarray:
    dot = np.einsum("ij,ij->i", v, centre[cell_of])
    return (2 * EARTH_RADIUS_KM) * np.arcsin(np.sqrt(np.clip(0.5 - 0.5 * dot, 0.0, 1.0)))


def unit_batches(inst: Instance, order: np.ndarray) -> Iterator[np.ndarray]:
    """Units in `order`, in batches of about LB_ELEMENTS / cells children."""
    units = inst.units
    if not len(order):
        return
    sizes = units.size[order]
    cum = np.cumsum(sizes)
    i = 0
    while i < len(order):
        j = int(np.searchsorted(cum, cum[i] - sizes[i] + 4096, side="right"))
        j = max(j, i + 1)
        yield order[i:j]
        i = j


class SpatialPool:
    """The pairs of the evaluated (unit, cell) blocks, and which blocks those are.

    `done[u, c]`: every pair of unit u with a placement of cell c has been evaluated (the
    feasible ones are in the pool). `floor_lb[u]`: a lower bound on the reduced cost,
    under the last prices, of every pair of u in a cell not evaluated (inf: none left).
    """

    def __init__(self, inst: Instance, cells: CellIndex, evaluator: Evaluator,
                 fits: FitTable | None = None):
        self.inst = inst
        self.cells = cells
        self.evaluator = evaluator
        self.fits = fits
        self._parts: list[tuple[np.ndarray, ...]] = []
        u = inst.units
        self.done = np.zeros((u.n, cells.n), dtype=bool)
        self.floor_lb = np.zeros(u.n)
        first = u.order[u.start[:-1]]
        # spatial order of the units (half-degree tiles, then 0.1 degree bands), so a
        # batch's units are near one another and their cells overlap
        lat, lon = inst.home_lat[first], inst.home_lon[first]
        self.unit_order = np.lexsort((lon, np.floor(lat / 0.1), np.floor(lon / 0.5),
                                      np.floor(lat / 0.5)))
        self.unit: np.ndarray = np.zeros(0, dtype=np.int32)
        self.placement: np.ndarray = np.zeros(0, dtype=np.int32)
        self.objective: np.ndarray = np.zeros(0)
        self.use: np.ndarray = np.zeros(0, dtype=np.int32)
        self.n_feasible = np.zeros(u.n, dtype=np.int64)
        self.evaluated = 0.0  # pairs evaluated so far
        self.home = unit_vectors(inst.home_lat, inst.home_lon)
        self._distance_lb: np.ndarray | None = None  # (units, cells), once first needed

    # --- bounds ------------------------------------------------------------------------
    def floors(self, pi: np.ndarray) -> Floors:
        """The floors per bed under prices `pi`: each cell's, and each fit row's over
        the placements it allows (a unit's pair is at a placement every member's row
        allows, so the highest of its members' floors is below the pair's charge)."""
        cell = self.cells.floor(self.inst, pi)
        if self.fits is None:
            return Floors(cell, None)
        inst, cells = self.inst, self.cells
        q = np.where(pi >= 0, pi, inst.capacity * pi)
        val = np.where(inst.capacity > 0, inst.policy.weights.cost * inst.weekly_cost + q,
                       np.inf)[cells.order]
        fits = self.fits.fits
        rows = np.empty((len(fits), cells.n))
        for i in range(0, len(fits), FIT_ROWS):
            block = np.where(fits[i:i + FIT_ROWS], val[None, :], np.inf)
            rows[i:i + FIT_ROWS] = np.minimum.reduceat(block, cells.start[:-1], axis=1)
        return Floors(cell, rows)

    def bed_floor(self, batch: np.ndarray, floor: Floors) -> np.ndarray:
        """Per unit of `batch` and cell, the floor per bed of the unit's pairs there: the
        highest of its members' fit rows' floors (the cell's for a `plain` unit)."""
        if self.fits is None or floor.rows is None:
            return np.broadcast_to(floor.cell[None, :], (len(batch), self.cells.n))
        return self._members_max(batch, floor.rows, floor.cell)

    def _members_max(self, batch: np.ndarray, rows_floor: np.ndarray,
                     plain_floor: np.ndarray) -> np.ndarray:
        """Per unit of `batch`, the highest of its members' rows of `rows_floor` (fit
        rows x columns); `plain_floor` (columns) for a `plain` unit."""
        assert self.fits is not None
        units = self.inst.units
        sizes = units.size[batch]
        rows = np.concatenate([units.members(u) for u in batch])
        per_child = rows_floor[self.fits.row[rows]]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        out = per_child[offsets]
        multi = np.flatnonzero(sizes > 1)
        if len(multi):  # only the groups' rows through reduceat (see candidates._per_unit)
            idx = np.concatenate([np.arange(offsets[i], offsets[i] + sizes[i])
                                  for i in multi])
            out[multi] = np.maximum.reduceat(per_child[idx], np.concatenate(
                [[0], np.cumsum(sizes[multi])[:-1]]), axis=0)
        plain = self.fits.plain[batch]
        if plain.any():
            out[plain] = plain_floor[None, :]
        return out

    def lower_bounds(self, batch: np.ndarray, floor: Floors) -> np.ndarray:
        """LB(u, c) for the units of `batch` against every cell (inf: every member's
        distance limit rules the cell out, and no member lives there now, or no
        placement of the cell passes the fit rules of every member)."""
        units = self.inst.units
        if self._distance_lb is None and units.n * self.cells.n <= LB_CACHE_ELEMENTS:
            # the distance part does not depend on the prices: worked out once, every
            # later pass (pricing, lifting, filling) is an addition
            self._distance_lb = np.concatenate(
                [self.distance_bounds(b) for b in unit_batches(self.inst,
                                                               np.arange(units.n))])
        dist = (self._distance_lb[batch] if self._distance_lb is not None
                else self.distance_bounds(batch))
        with np.errstate(invalid="ignore"):  # inf floor: a cell without a bed
            return dist + units.size[batch][:, None] * self.bed_floor(batch, floor)

    def distance_bounds(self, batch: np.ndarray) -> np.ndarray:
        """per_km x the members' distances to each cell less its radius (inf: every
        member's distance limit rules the cell out, and no member lives there now)."""
        inst, units, cells = self.inst, self.inst.units, self.cells
        rows = np.concatenate([units.members(u) for u in batch])
        gap = np.maximum(chord_km(self.home[rows], cells.centre) - cells.radius[None, :], 0.0)
        too_far = gap > inst.max_distance_km[rows][:, None]
        offsets = np.concatenate([[0], np.cumsum(units.size[batch])[:-1]])
        lb = inst.policy.weights.per_km * np.add.reduceat(gap, offsets, axis=0)
        # the current placement is exempt from the rules: its cell stays open
        far = np.logical_or.reduceat(too_far, offsets, axis=0)
        cur = inst.current[rows]
        if (cur >= 0).any():
            has = np.flatnonzero(cur >= 0)
            unit_row = np.repeat(np.arange(len(batch)), units.size[batch])[has]
            far[unit_row, cells.cell_of[cur[has]]] = False
        lb[far] = np.inf
        return lb

    # --- evaluation ----------------------------------------------------------------------
    def evaluate(self, batch: np.ndarray, want: np.ndarray) -> None:
        """Evaluate the blocks (batch[i], c) where want[i, c], add the feasible pairs."""
        cells = self.cells
        hit = want.any(axis=0)
        if not hit.any():
            return
        cols = np.sort(cells.members(np.flatnonzero(hit)))
        mean = max(1.0, float(self.inst.units.size[batch].mean()))
        # a few neighbours at a time: the union of their cells is what is evaluated
        step = max(1, min(SUB_UNITS, int(1_500_000 / mean / max(len(cols), 1))))
        for i in range(0, len(batch), step):
            sub = batch[i:i + step]
            sub_want = want[i:i + step]
            sub_cols = cols[sub_want[:, cells.cell_of[cols]].any(axis=0)]
            if not len(sub_cols):
                continue
            ub = self.evaluator(self.inst, sub, sub_cols)
            self.evaluated += ub.feasible.size
            mask = ub.feasible & sub_want[:, cells.cell_of[sub_cols]]
            r, c = np.nonzero(mask)
            self._add(ub.units[r], ub.cols[c], ub.objective[r, c], ub.use[r, c])
            np.add.at(self.n_feasible, ub.units, mask.sum(axis=1))
        self.done[batch] |= want

    def _add(self, u: np.ndarray, p: np.ndarray, o: np.ndarray, a: np.ndarray) -> None:
        self._parts.append((u.astype(np.int32), p.astype(np.int32), o, a.astype(np.int32)))

    def _join(self) -> None:
        """Fold the new pairs into the pool, sorted by unit then placement."""
        if not self._parts:
            return
        parts = [(self.unit, self.placement, self.objective, self.use), *self._parts]
        self._parts = []
        u, p, o, a = (np.concatenate(x) for x in zip(*parts, strict=True))
        order = np.lexsort((p, u))
        self.unit, self.placement, self.objective, self.use = u[order], p[order], o[order], \
            a[order]

    def grow(self, pi: np.ndarray, threshold: np.ndarray, *, max_cells: int | None = None,
             deadline: float | None = None, only: np.ndarray | None = None) -> int:
        """Evaluate every block whose bound is below the unit's `threshold` (up to
        `max_cells` per unit, the lowest bounds first), then set `floor_lb` under `pi`.
        Returns how many blocks were evaluated. Past `deadline` nothing more is
        evaluated, and `floor_lb` stays a valid floor. With `only` (a mask of units),
        only those units are looked at, and only their `floor_lb` is set."""
        floor = self.floors(pi)
        n_new = 0
        order = self.unit_order if only is None else self.unit_order[only[self.unit_order]]
        for batch in unit_batches(self.inst, order):
            lb = self.lower_bounds(batch, floor)
            open_ = ~self.done[batch] & np.isfinite(lb)
            if deadline is None or time.perf_counter() < deadline:
                want = open_ & (lb < threshold[batch][:, None])
                if max_cells is not None:
                    want &= _lowest(np.where(want, lb, np.inf), max_cells)
                if want.any():
                    self.evaluate(batch, want)
                    n_new += int(want.sum())
                    open_ &= ~want
            self.floor_lb[batch] = np.where(open_, lb, np.inf).min(axis=1)
        self._join()
        return n_new

    def start(self, limit: int, deadline: float | None = None) -> None:
        """The first blocks: per unit, its nearest cells by the zero-price bound until
        they hold about 4 x `limit` placements (and the cells of its members' current
        placements); more, up to every cell, for units that find fewer than `limit`
        feasible pairs there."""
        self._parts = []
        cells = self.cells
        floor = self.floors(np.zeros(self.inst.n_placements))
        counts = np.diff(cells.start)
        target = 4 * max(limit, 1)
        for rnd in range(4):
            low = self.n_feasible < limit
            todo = self.unit_order[low[self.unit_order]] if rnd else self.unit_order
            for batch in unit_batches(self.inst, todo):
                lb = self.lower_bounds(batch, floor)
                open_ = ~self.done[batch] & np.isfinite(lb)
                want = open_ & _cells_for(np.where(open_, lb, np.inf), counts,
                                          target << (2 * rnd))
                if not rnd:
                    want |= self._current_cells(batch)
                if want.any():
                    self.evaluate(batch, want)
            if deadline is not None and time.perf_counter() > deadline:
                break
        self._join()
        self.floor_lb = np.zeros(self.inst.units.n)  # set by the first `grow`

    def _current_cells(self, batch: np.ndarray) -> np.ndarray:
        """Mask (batch x cells) of the cells of the members' current placements."""
        units = self.inst.units
        out = np.zeros((len(batch), self.cells.n), dtype=bool)
        rows = np.concatenate([units.members(u) for u in batch])
        cur = self.inst.current[rows]
        has = np.flatnonzero(cur >= 0)
        if len(has):
            unit_row = np.repeat(np.arange(len(batch)), units.size[batch])[has]
            out[unit_row, self.cells.cell_of[cur[has]]] = True
        return out

    def open_blocks(self) -> int:
        """(unit, cell) blocks not evaluated yet."""
        return int(self.done.size - self.done.sum())

    def __len__(self) -> int:
        return len(self.unit)


def _lowest(lb: np.ndarray, k: int) -> np.ndarray:
    """Mask of each row's k lowest finite entries."""
    if lb.shape[1] <= k:
        return np.isfinite(lb)
    idx = np.argpartition(lb, k - 1, axis=1)[:, :k]
    out = np.zeros(lb.shape, dtype=bool)
    np.put_along_axis(out, idx, True, axis=1)
    return out & np.isfinite(lb)


def _cells_for(lb: np.ndarray, counts: np.ndarray, target: int) -> np.ndarray:
    """Per row, the cells of lowest bound until they hold `target` placements (at most
    the few lowest that could: a start set, not a bound)."""
    k = min(lb.shape[1], 2 * int(np.ceil(target / max(float(np.median(counts)), 1.0))) + 1)
    if k < lb.shape[1]:
        part = np.argpartition(lb, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(part, np.argsort(np.take_along_axis(lb, part, axis=1),
                                                    axis=1), axis=1)
    else:
        order = np.argsort(lb, axis=1, kind="stable")
    held = np.cumsum(counts[order], axis=1)
    take = (held - counts[order]) < target
    out = np.zeros(lb.shape, dtype=bool)
    np.put_along_axis(out, order, take, axis=1)
    return out & np.isfinite(lb)
