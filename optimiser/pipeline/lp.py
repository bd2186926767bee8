"""The restricted model's LP relaxation and the multipliers it gives (`Duals`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from ..candidates import Candidates
from ..instance import Instance
from ..lpserver import LpServer
from .plans import forced_pairs, moves_limit_rhs
from .rows import NO_CLIQUES, Rows, departure_coef, model_rows, row_keys, stacked

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Duals:
    """Multipliers >= 0 of the rows relaxed in the Lagrangian bound: capacity (pi),
    departures (rho, per placement) and the moves limit (mu)."""

    pi: np.ndarray
    rho: np.ndarray
    mu: float = 0.0
    # cardinality cuts (see `cut_rows`): gamma[p, a] = sum of the duals of p's cuts
    # with threshold w <= a (what a pair of use a pays), and their right-hand sides' total
    gamma: np.ndarray | None = None
    gamma_rhs: float = 0.0
    # clique cuts (see `clique_cuts`): the one unit s of each cut pays its dual on its
    # pair (s, p); keys s * n_placements + p, sorted and unique, with the summed duals
    pair_key: np.ndarray | None = None
    pair_add: np.ndarray | None = None

    @staticmethod
    def zero(inst: Instance) -> Duals:
        return Duals(np.zeros(inst.n_placements), np.zeros(inst.n_placements))

    def pair_price(self, inst: Instance, u: np.ndarray, p: np.ndarray,
                   a: np.ndarray) -> np.ndarray:
        """What the relaxed rows charge a pair: a pi_p + rho_p g_up + mu moves_up."""
        out = a * self.pi[p]
        r = self.rho[p]
        if r.any():
            out = out + r * departure_coef(inst, u, p, a)
        if self.mu:
            out = out + self.mu * inst.pair_moves(u, p)
        if self.gamma is not None:
            out = out + self.gamma[p, np.minimum(a, self.gamma.shape[1] - 1)]
        if self.pair_key is not None and len(self.pair_key):
            assert self.pair_add is not None
            key = np.asarray(u, dtype=np.int64) * inst.n_placements + p
            pos = np.minimum(np.searchsorted(self.pair_key, key), len(self.pair_key) - 1)
            out = out + np.where(self.pair_key[pos] == key, self.pair_add[pos], 0.0)
        return out

    def unplaced_price(self, inst: Instance) -> np.ndarray:
        """What the moves row charges a unit left unplaced: mu per member already placed."""
        return self.mu * inst.unit_placed.astype(float)

    def constant(self, inst: Instance, max_moves: int | None) -> float:
        """The right-hand sides given back: pi.cap + rho.R + mu.N."""
        return float((self.pi * inst.capacity).sum() + (self.rho * inst.residents).sum()
                     + self.mu * (max_moves or 0) + self.gamma_rhs)


def lp_duals(inst: Instance, cands: Candidates, max_moves: int | None = None,
             forced: np.ndarray | None = None, time_limit: float | None = None,
             cliques: np.ndarray = NO_CLIQUES,
             extra: tuple[sparse.csr_matrix, np.ndarray] | None = None,
             server: LpServer | None = None, extra_tag: int = 0,
             ) -> tuple[Duals, float, np.ndarray]:
    """Duals (>= 0), value and solution of the restricted model's LP relaxation.

    Rows: one per unit, capacity and departure rows per placement, the moves row with
    `max_moves`; pinned pairs have x = 1. `extra`: more rows a x <= b over `cands`
    (certified cuts, optimiser/cutpool.py), valid for every plan with a pair outside
    `cands` at zero: their duals become per-pair charges (`pair_add`) and a constant.
    `server`: a warm HiGHS LP (lpserver.py) re-solving from the last round's basis;
    `extra_tag` names the set of `extra` rows for it. Without it, or when it fails,
    SciPy's LP from nothing. No solution in time: zero duals and value -inf.
    """
    k = len(cands)
    unplaced = inst.unit_unplaced
    offset = float(unplaced.sum())
    if k == 0:
        return Duals.zero(inst), offset, np.zeros(k)
    c = cands.objective - unplaced[cands.unit]
    rw = model_rows(inst, cands, moves_rhs=moves_limit_rhs(inst, max_moves), cliques=cliques)
    lb = np.zeros(k)
    lb[forced_pairs(inst, cands, forced)] = 1.0
    a_ub, b_ub = stacked(rw, extra)
    n_x = len(b_ub) - len(rw.b)
    keys = row_keys(inst, rw, cliques, n_x, extra_tag) if server is not None else None
    solved = solve_lp(c, lb, a_ub, b_ub, time_limit, server, keys,
                      cands.unit * inst.n_placements + cands.placement)
    if solved is None:
        return Duals.zero(inst), -np.inf, np.zeros(k)
    x_lp, marginals, fun = solved
    duals = duals_of(inst, cands, rw, cliques, extra, np.maximum(-marginals, 0.0), n_x)
    return duals, fun + offset, x_lp


def solve_lp(c: np.ndarray, lb: np.ndarray, a_ub: sparse.csr_matrix, b_ub: np.ndarray,
             time_limit: float | None, server: LpServer | None, row_ids: np.ndarray | None,
             col_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """min c.x, a_ub x <= b_ub, lb <= x <= 1: (x, row marginals, value), warm in the
    server when there is one (and it answers), else SciPy's LP; None when neither solved
    it in time."""
    limit = None if time_limit is None else max(time_limit, 0.5)
    if server is not None:
        assert row_ids is not None
        solved = server.solve(c, lb, np.ones(len(c)), a_ub, b_ub, row_ids, col_ids,
                              1e9 if limit is None else limit)
        if solved is not None:
            return solved
        if server.last_status == "Time limit reached":
            log.warning("LP relaxation did not solve (time limit); pricing uses zero duals")
            return None
    bounds = np.stack([lb, np.ones(len(c))], axis=1)
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs",
                  options={} if limit is None else {"time_limit": limit})
    if res.status != 0:
        log.warning("LP relaxation did not solve (%s); pricing uses zero duals", res.message)
        return None
    return np.asarray(res.x), np.asarray(res.ineqlin.marginals), float(res.fun)


def duals_of(inst: Instance, cands: Candidates, rw: Rows, cliques: np.ndarray,
             extra: tuple[sparse.csr_matrix, np.ndarray] | None, marg: np.ndarray,
             n_x: int) -> Duals:
    """The multipliers of each kind of row from the LP's (non-negative) row duals `marg`,
    in `model_rows`' order then `n_x` extra rows."""
    units = inst.units
    q_x = marg[len(marg) - n_x:] if n_x else np.zeros(0)
    marg = marg[: len(marg) - n_x]
    n_q = rw.n_cliques
    q = marg[len(marg) - n_q:] if n_q else np.zeros(0)
    marg = marg[: len(marg) - n_q]
    pi = np.zeros(inst.n_placements)
    pi[rw.places] = marg[units.n: units.n + len(rw.places)]
    rho = np.zeros(inst.n_placements)
    at = units.n + len(rw.places)
    rho[rw.dep_places] = marg[at: at + len(rw.dep_places)]
    n_cuts = len(rw.cut_place)
    mu = float(marg[len(marg) - n_cuts - 1]) if rw.has_moves else 0.0
    gamma, gamma_rhs = None, 0.0
    pair_key = pair_add = None
    if n_cuts or n_q:
        g = marg[len(marg) - n_cuts:] if n_cuts else np.zeros(0)
        w_max = int(max(rw.cut_w.max() if n_cuts else 0, cliques[:, 1].max() if n_q else 0))
        gamma = np.zeros((inst.n_placements, w_max + 1))
        np.add.at(gamma, (rw.cut_place, rw.cut_w), g)
        if n_q:  # a clique's big units pay like a cut of threshold a; its s on its pair
            np.add.at(gamma, (cliques[:, 0], cliques[:, 1]), q)
            pair_key, inv = np.unique(cliques[:, 2] * inst.n_placements + cliques[:, 0],
                                      return_inverse=True)
            pair_add = np.bincount(inv.ravel(), weights=q, minlength=len(pair_key))
        gamma = np.cumsum(gamma, axis=1)  # a pair of use a pays every cut with w <= a
        gamma_rhs = float((g * (inst.capacity[rw.cut_place] // rw.cut_w)).sum() + q.sum())
    if n_x and extra is not None:
        # each pair of `cands` pays its rows' duals; the right-hand sides come back
        charge = np.asarray(extra[0].T @ q_x).ravel()
        on = np.flatnonzero(charge > 0)
        keys = cands.unit[on] * inst.n_placements + cands.placement[on]
        adds = charge[on]
        if pair_key is not None and pair_add is not None:
            keys, adds = np.concatenate([pair_key, keys]), np.concatenate([pair_add, adds])
        pair_key, inv = np.unique(keys, return_inverse=True)
        pair_add = np.bincount(inv.ravel(), weights=adds, minlength=len(pair_key))
        gamma_rhs += float(q_x @ extra[1])
    return Duals(pi, rho, mu, gamma, gamma_rhs, pair_key, pair_add)
