"""The rows of the restricted model a x <= b over candidate pairs, and the cuts on them.

One builder for the LP, HiGHS's MIP, the root cuts and their certificates: units,
capacity, departures, kept placements, the moves limit, cardinality and clique cuts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from ..candidates import Candidates
from ..instance import Instance
from ..params import SolverParams


def departure_coef(inst: Instance, unit: np.ndarray, placement: np.ndarray,
                   use: np.ndarray) -> np.ndarray:
    """Coefficient of a pair in its placement's departure row (a valid inequality):

        sum_k [max(new_k - v_p, 0) + stay_k] x_k <= R_p

    `stay_k`: members of the unit living at p now, `new_k` = use - stay_k the beds the
    others need, `v_p` the vacancies offered, `R_p` the residents. A newcomer needing
    more than the free beds forces that many residents out; the plain capacity row lets
    the LP spread a sibling group of five as a fifth over five single vacancies, this row
    does not. It is what makes the bound of a re-allocation (most children staying) tight.
    """
    stay = inst.unit_placed[unit] - inst.pair_moves(unit, placement)
    vac = inst.capacity[placement] - inst.residents[placement]
    return np.maximum(use - stay - vac, 0) + stay


@dataclass(frozen=True)
class Rows:
    """The restricted model as sparse rows: units, capacity, departures, moves."""

    a: sparse.csr_matrix
    b: np.ndarray
    places: np.ndarray  # placements with a capacity row, in row order
    dep_places: np.ndarray  # placements with a departure row, in row order
    has_moves: bool
    cut_place: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    cut_w: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    n_cliques: int = 0  # clique rows, after the cardinality cuts, in `cliques` order
    must_units: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


NO_CLIQUES = np.zeros((0, 3), dtype=np.int64)


def clique_cuts(inst: Instance, cands: Candidates, x: np.ndarray,
                known: np.ndarray = NO_CLIQUES,
                per_round: int = SolverParams.cliques_per_round) -> np.ndarray:
    """Clique cuts violated by the LP solution `x` on `cands`: rows (p, a, s).

    In placement p of capacity c, units of use >= a > c/2 exclude one another, and each
    excludes any unit s of use in (c - a, a): together they take more than c beds. So
        sum_{k at p, use_k >= a} x_k + x_{s,p} <= 1
    holds for every integer plan. The capacity row and the cardinality cut allow a pair
    of siblings at half and a single child whole in a two-bed home; this row does not
    (formulation.md). Returns the new rows not in `known`, most violated first.
    """
    if inst.policy.rules.split_siblings or not len(cands) or not len(x):
        return NO_CLIQUES
    use = cands.use.astype(np.int64)
    cp = cands.placement
    c = inst.capacity[cp].astype(np.int64)
    found, viol = [], []
    for a in range(2, int(min(use.max(), c.max())) + 1):
        big = (use >= a) & (2 * a > c) & (a <= c)
        if not big.any():
            continue
        f = np.bincount(cp[big], weights=x[big], minlength=inst.n_placements)
        over = x + f[cp] - 1.0
        k = np.flatnonzero((use < a) & (use > c - a) & (x > 1e-6) & (over > 1e-6)
                           & (f[cp] > 1e-6))
        if len(k):
            found.append(np.stack([cp[k], np.full(len(k), a), cands.unit[k]], axis=1))
            viol.append(over[k])
    if not found:
        return NO_CLIQUES
    rows = np.concatenate(found)
    order = np.argsort(-np.concatenate(viol), kind="stable")
    rows = rows[order]
    if len(known):
        m, w = inst.n_placements, int(max(rows[:, 1].max(), known[:, 1].max())) + 1
        def code(r: np.ndarray) -> np.ndarray:
            return (r[:, 2] * m + r[:, 0]) * w + r[:, 1]
        rows = rows[~np.isin(code(rows), code(known))]
    return rows[:per_round]


def clique_rows(inst: Instance, cands: Candidates, cliques: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(pair index, row number from 0) of each clique row over `cands`."""
    idx: list[np.ndarray] = []
    row: list[np.ndarray] = []
    if not len(cliques) or not len(cands):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    by_p = np.argsort(cands.placement, kind="stable")
    starts = np.searchsorted(cands.placement[by_p], np.arange(inst.n_placements + 1))
    keys = cands.unit * inst.n_placements + cands.placement  # cands are sorted by it
    for r, (p, a, su) in enumerate(cliques.tolist()):
        at = by_p[starts[p]: starts[p + 1]]
        mem = at[cands.use[at] >= a]
        k = np.searchsorted(keys, su * inst.n_placements + p)
        if k < len(keys) and keys[k] == su * inst.n_placements + p:
            mem = np.append(mem, k)
        idx.append(mem)
        row.append(np.full(len(mem), r, dtype=np.int64))
    return np.concatenate(idx), np.concatenate(row)


def cut_rows(inst: Instance, cands: Candidates, cap: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cardinality cuts: at most floor(cap_p / w) units of `use` >= w fit in placement p.

    Valid for every integer plan (two sibling pairs cannot share three beds), and not
    implied by the capacity row when w does not divide cap_p: there the LP would place
    one pair and half of another. On generated authorities they close most of the gap
    between the LP and the optimum (formulation.md). Returns (pair index, row number
    from 0, and per row its placement and threshold w).
    """
    if inst.policy.rules.split_siblings or not len(cands):
        z = np.zeros(0, dtype=np.int64)
        return z, z, z, z
    use = cands.use.astype(np.int64)
    c = cap[cands.placement].astype(np.int64)
    w_max = int(min(use.max(), c.max())) if len(use) else 0
    pair_idx, row_of, rows_p, rows_w = [], [], [], []
    n_rows = 0
    for w in range(2, w_max + 1):
        sel = np.flatnonzero((use >= w) & (c >= w) & (c % w != 0))
        if not len(sel):
            continue
        ps, inv = np.unique(cands.placement[sel], return_inverse=True)
        if len(ps) == 0:
            continue
        pair_idx.append(sel)
        row_of.append(n_rows + inv.ravel())
        rows_p.append(ps)
        rows_w.append(np.full(len(ps), w, dtype=np.int64))
        n_rows += len(ps)
    if not n_rows:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z, z
    return (np.concatenate(pair_idx), np.concatenate(row_of), np.concatenate(rows_p),
            np.concatenate(rows_w))


class _RowStack:
    """Blocks of sparse rows (local row numbers from 0) stacked one under the other."""

    def __init__(self, n_cols: int) -> None:
        self.n_cols, self.n = n_cols, 0
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []
        self.rhs: list[np.ndarray] = []

    def add(self, row: np.ndarray, col: np.ndarray, val: np.ndarray, rhs: np.ndarray) -> None:
        self.rows.append(self.n + row)
        self.cols.append(col)
        self.vals.append(val)
        self.rhs.append(rhs)
        self.n += len(rhs)

    def matrix(self) -> tuple[sparse.csr_matrix, np.ndarray]:
        a = sparse.csr_matrix((np.concatenate(self.vals),
                               (np.concatenate(self.rows), np.concatenate(self.cols))),
                              shape=(self.n, self.n_cols))
        return a, np.concatenate(self.rhs)


def model_rows(inst: Instance, cands: Candidates, capacity: np.ndarray | None = None,
               moves_rhs: int | None = None, cliques: np.ndarray = NO_CLIQUES) -> Rows:
    """Rows of the LP/MIP over `cands`, in this order: units, capacity, departures (only
    with the full capacity), kept placements, the moves row, cardinality cuts, cliques
    (cuts last: their duals are read from the end)."""
    k = len(cands)
    cap = inst.capacity if capacity is None else capacity
    st = _RowStack(k)
    st.add(cands.unit, np.arange(k), np.ones(k), np.ones(inst.units.n))
    places, prow = np.unique(cands.placement, return_inverse=True)
    st.add(prow, np.arange(k), cands.use.astype(float), cap[places].astype(float))
    dep_places = np.zeros(0, dtype=np.int64)
    if capacity is None and inst.residents.any():
        dep_places = _departure_rows(inst, cands, st)
    must = np.flatnonzero(inst.keep_placed[cands.unit])
    mu_units = np.zeros(0, dtype=np.int64)
    if len(must):
        # units already placed that may not be left unplaced: -sum_p x[u,p] <= -1
        mu_units, mrow = np.unique(cands.unit[must], return_inverse=True)
        st.add(mrow.ravel(), must, -np.ones(len(must)), -np.ones(len(mu_units)))
    if moves_rhs is not None:
        coef = (inst.pair_moves(cands.unit, cands.placement)
                - inst.unit_placed[cands.unit]).astype(float)
        nz = np.flatnonzero(coef)
        st.add(np.zeros(len(nz), dtype=np.int64), nz, coef[nz], np.array([float(moves_rhs)]))
    c_idx, c_row, cut_p, cut_w = cut_rows(inst, cands, cap)
    if len(cut_p):
        st.add(c_row, c_idx, np.ones(len(c_idx)), (cap[cut_p] // cut_w).astype(float))
    if len(cliques):
        q_idx, q_row = clique_rows(inst, cands, cliques)
        st.add(q_row, q_idx, np.ones(len(q_idx)), np.ones(len(cliques)))
    a, b = st.matrix()
    return Rows(a, b, places, dep_places, moves_rhs is not None, cut_p, cut_w, len(cliques),
                mu_units)


def _departure_rows(inst: Instance, cands: Candidates, st: _RowStack) -> np.ndarray:
    """The departure rows (see `departure_coef`) onto `st`, only where a newcomer needs
    more beds than are free; returns their placements, in row order."""
    g = departure_coef(inst, cands.unit, cands.placement, cands.use)
    stay = inst.unit_placed[cands.unit] - inst.pair_moves(cands.unit, cands.placement)
    tight = np.zeros(inst.n_placements, dtype=bool)
    tight[cands.placement[g > stay]] = True
    tight &= inst.residents > 0
    dep_places = np.flatnonzero(tight)
    if len(dep_places):
        drow = np.full(inst.n_placements, -1, dtype=np.int64)
        drow[dep_places] = np.arange(len(dep_places))
        sel = np.flatnonzero(tight[cands.placement] & (g > 0))
        st.add(drow[cands.placement[sel]], sel, g[sel].astype(float),
               inst.residents[dep_places].astype(float))
    return dep_places


def row_keys(inst: Instance, rw: Rows, cliques: np.ndarray, n_extra: int = 0,
              extra_tag: int = 0) -> np.ndarray:
    """A key per row of `rw` (then `n_extra` extra rows), naming what the row is: the
    warm LP server (lpserver.py) adds only the rows it has not seen. Kind in the top
    bits; extra rows carry `extra_tag` (which set of cuts they come from)."""
    m = inst.n_placements

    def kind(k: int, ids: np.ndarray) -> np.ndarray:
        return (np.int64(k) << np.int64(56)) + np.asarray(ids, dtype=np.int64)

    parts = [kind(0, np.arange(inst.units.n)), kind(1, rw.places), kind(2, rw.dep_places),
             kind(3, rw.must_units)]
    if rw.has_moves:
        parts.append(kind(4, np.zeros(1)))
    parts.append(kind(5, rw.cut_place * 65536 + rw.cut_w))
    if rw.n_cliques:
        q = cliques[: rw.n_cliques].astype(np.int64)
        parts.append(kind(6, (q[:, 2] * m + q[:, 0]) * 65536 + q[:, 1]))
    if n_extra:
        parts.append(kind(7, (np.int64(extra_tag % (1 << 30)) << np.int64(24))
                          + np.arange(n_extra)))
    return np.concatenate(parts)


def stacked(rw: Rows, extra: tuple[sparse.csr_matrix, np.ndarray] | None
             ) -> tuple[sparse.csr_matrix, np.ndarray]:
    """The rows of `rw` with `extra` rows a x <= b (certified cuts) below them."""
    if extra is None or not extra[0].shape[0]:
        return rw.a, rw.b
    return sparse.vstack([rw.a, extra[0]]).tocsr(), np.concatenate([rw.b, extra[1]])
