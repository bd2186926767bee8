"""Solve an instance: candidates -> greedy hint -> CP-SAT -> pricing proof -> Result.

The model (see models/formulation.md): one Boolean per kept (unit, placement) pair, at
most one placement per unit (leaving it unplaced is a priced option, so a solve is never
infeasible), a knapsack row per placement that can overflow, and with `split_siblings`
a spread count per sibling group. It is written straight into the CP-SAT proto from
numpy arrays; nothing is built pair by pair through the Python modelling layer.

Pruning to the cheapest pairs per unit is made exact by Lagrangian pricing: with the
LP duals pi of the capacity rows, L(pi) = sum_u min(U_u, min_p c_up + a_up pi_p) -
sum_p pi_p cap_p is a lower bound over *all* pairs; any solution using a dropped pair
costs at least L(pi) + its reduced cost. Dropped pairs that could beat the incumbent are
added back and the model re-solved, so "optimal" is a proof on the whole problem.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from ortools.sat.python import cp_model
from scipy import sparse
from scipy.optimize import linprog

from .candidates import Candidates, PairPool, build_candidates, unit_blocks, unit_slices
from .cutpool import Cuts, harvest_start
from .cutpool import applies as cut_proof_applies
from .highs import MilpResult, Pending
from .instance import Instance, InstanceError, Problem
from .lpserver import LpServer
from .params import SolverParams
from .scaling import MONEY_SCALE, to_int
from .status import Status

log = logging.getLogger(__name__)

BACKENDS = ("auto", "cpsat", "highs", "cbc")  # MIP solver of the restricted model
STATUS_OPTIMAL = Status.OPTIMAL
STATUS_FEASIBLE = Status.FEASIBLE
STATUS_TIME_LIMIT = Status.TIME_LIMIT
STATUS_INFEASIBLE = Status.INFEASIBLE


@dataclass(frozen=True)
class SolveOptions:
    time_limit: float = 60.0
    seed: int = 0
    workers: int = 0  # 0: all cores
    candidate_limit: int | None = 40  # cheapest pairs kept per unit before pricing
    max_pricing_rounds: int = 5
    hint: bool = True
    relative_gap: float = 0.0
    params: dict[str, object] = field(default_factory=dict)  # passed to CP-SAT
    # MIP solver of the restricted model: "cpsat", or "highs" (HiGHS branch and cut via
    # highspy: deterministic, and much stronger when most children stay, as in
    # re-allocation)
    backend: str = "auto"
    # column generation stops when LP and Lagrangian bound agree to this relative gap
    lp_tolerance: float = 1e-6
    # issue 4 (optimiser/flow.py): solve a transportation problem (no sibling group, no
    # solo child, no split option, no re-allocation constraint) as a min-cost flow, in
    # place of the default CP-SAT route (an explicit "highs" or "cbc" is honoured)
    fast_path: bool = True
    # the solver's tuning: route sizes and time shares (optimiser/params.py)
    tuning: SolverParams = field(default_factory=SolverParams)


@dataclass(frozen=True)
class Result:
    """What a solve found. Money in pounds per week."""

    status: Status
    objective: float
    bound: float
    gap: float
    runtime: float
    seed: int
    assignment: np.ndarray  # per child: placement index, -1 unplaced
    greedy_objective: float
    timings: dict[str, float]
    stats: dict[str, Any]  # counts (float); "backend" (str): what solved the model
    instance: Instance = field(repr=False)
    candidates: Candidates = field(repr=False)

    @property
    def placed(self) -> int:
        return int((self.assignment >= 0).sum())

    @property
    def unplaced(self) -> int:
        return int((self.assignment < 0).sum())


# --------------------------------------------------------------------------- pricing


def objective_of(inst: Instance, cands: Candidates, chosen: np.ndarray) -> float:
    """Exact objective of a unit-level choice (indices into cands, -1 = unplaced).

    With `--previous` this includes the stability term (the objective the model
    minimises); `solve` reports the spec's objective apart from it.
    """
    placed = chosen >= 0
    total = float(cands.objective[chosen[placed]].sum())
    total += float(inst.unit_unplaced[~placed].sum())
    total += split_penalty(inst, unit_placement(cands, chosen))
    return total


def unit_placement(cands: Candidates, chosen: np.ndarray) -> np.ndarray:
    out = np.full(len(chosen), -1, dtype=np.int64)
    placed = chosen >= 0
    out[placed] = cands.placement[chosen[placed]]
    return out


def split_penalty(inst: Instance, unit_place: np.ndarray) -> float:
    """sibling_split x (placements a group is spread over - 1), split_siblings only."""
    if not inst.policy.rules.split_siblings:
        return 0.0
    units = inst.units
    g = units.group_of_child
    p = unit_place[units.unit_of]
    ok = (g >= 0) & (p >= 0)
    if not ok.any():
        return 0.0
    pairs = np.unique(np.stack([g[ok], p[ok]]), axis=1)
    spread = np.bincount(pairs[0])
    return float(inst.policy.weights.sibling_split * np.maximum(spread - 1, 0).sum())


# --------------------------------------------------------------------------- re-allocation


def forced_units(inst: Instance, cands: Candidates) -> np.ndarray:
    """Per unit: it holds a pinned child and must take its one pair (the pinned placement).

    Pinned pairs are the only candidates of their unit (rule `pinned` in the evaluator).
    They fit together in any consistent snapshot. A pin that cannot hold (its sibling
    group may not all live there under the rules, or the pinned children there need more
    beds than it has) is an error in the input, as two siblings pinned in two placements
    is for the reader: any plan would break a hard rule (found by fuzzing: the plan then
    broke the pin, reported optimal, and the checker rejected it).
    """
    pu = inst.pinned_unit
    out = np.zeros(inst.units.n, dtype=bool)
    if not (pu >= 0).any():
        return out
    k = np.flatnonzero(pu[cands.unit] == cands.placement)
    load = np.zeros(inst.n_placements, dtype=np.int64)
    cap = inst.capacity
    for kk in k.tolist():
        p, a = int(cands.placement[kk]), int(cands.use[kk])
        if load[p] + a <= cap[p]:
            load[p] += a
            out[int(cands.unit[kk])] = True
    lost = np.flatnonzero((pu >= 0) & ~out)
    if len(lost):
        has_pair = np.zeros(inst.units.n, dtype=bool)
        has_pair[cands.unit[k]] = True
        problems = []
        for u in lost.tolist():
            members = inst.units.members(u)
            pinned = [int(c) for c in members if inst.pinned is not None and inst.pinned[c]]
            c = pinned[0] if pinned else int(members[0])
            pid = str(inst.placement_ids[int(pu[u])])
            if not has_pair[u]:
                why = (f"its sibling group of {len(members)} cannot all live there under "
                       f"the rules (a sibling is excluded from it or does not match it)")
            else:
                why = (f"{pid} has {int(inst.capacity[pu[u]])} bed(s) and the children "
                       f"pinned there need more")
            problems.append(Problem("children.csv", None, "pinned",
                                    f"{inst.child_ids[c]} is pinned to {pid}, but {why}: "
                                    f"unpin the child or resolve the conflict"))
        raise InstanceError(problems)
    return out


def forced_pairs(inst: Instance, cands: Candidates, forced: np.ndarray | None) -> np.ndarray:
    """Indices into `cands` of the pairs the forced units must take."""
    if forced is None or not forced.any() or len(cands) == 0:
        return np.zeros(0, dtype=np.int64)
    pu = inst.pinned_unit
    return np.flatnonzero(forced[cands.unit] & (pu[cands.unit] == cands.placement))


def moves_of(inst: Instance, cands: Candidates, chosen: np.ndarray) -> int:
    """Children already placed whom a choice moves or leaves unplaced (`--max-moves`)."""
    placed = chosen >= 0
    total = int(inst.unit_placed[~placed].sum())
    if placed.any():
        k = chosen[placed]
        total += int(inst.pair_moves(cands.unit[k], cands.placement[k]).sum())
    return total


def status_quo(inst: Instance, cands: Candidates, forced: np.ndarray | None) -> np.ndarray:
    """Pinned units, then everyone already placed stays; waiting units fill what is left.

    The fewest moves any plan needs: so a feasible start under any `--max-moves`.
    """
    stay = np.flatnonzero((inst.pair_moves(cands.unit, cands.placement) == 0)
                          & (inst.unit_placed[cands.unit] > 0))
    return greedy(inst, cands, first=np.concatenate([forced_pairs(inst, cands, forced), stay]))


def admissible(inst: Instance, cands: Candidates, chosen: np.ndarray,
               forced: np.ndarray | None, max_moves: int | None) -> bool:
    """Pinned units placed as pinned, and the moves limit kept (capacity is the caller's)."""
    k = forced_pairs(inst, cands, forced)
    if len(k) and not np.array_equal(chosen[cands.unit[k]], k):
        return False
    if (chosen[inst.keep_placed] < 0).any():
        return False
    return max_moves is None or moves_of(inst, cands, chosen) <= max_moves


def stability_of(inst: Instance, assignment: np.ndarray) -> float:
    """The `--previous` term of a per-child assignment: proposals unlike yesterday's."""
    prev = inst.reallocation.previous
    if prev is None:
        return 0.0
    changed = inst.previous_known & (assignment != np.asarray(prev))
    return float(inst.reallocation.previous_weight * changed.sum())


# --------------------------------------------------------------------------- pricing


def greedy(inst: Instance, cands: Candidates, lp_x: np.ndarray | None = None,
           capacity: np.ndarray | None = None, first: np.ndarray | None = None) -> np.ndarray:
    """Largest saving over leaving unplaced first, capacity respected: a fast hint.

    With `lp_x` (the LP relaxation's values), pairs the LP chose come first: LP rounding.
    `first`: pairs taken before any other, whatever their saving (pinned, staying).
    """
    units = inst.units
    saving = cands.objective - inst.unit_unplaced[cands.unit]
    keys = (cands.placement, saving) if lp_x is None else (cands.placement, saving,
                                                           -np.round(lp_x, 6))
    order = np.lexsort(keys)
    chosen = np.full(units.n, -1, dtype=np.int64)
    cu, cp, cw, sv = (cands.unit.tolist(), cands.placement.tolist(), cands.use.tolist(),
                      saving.tolist())
    rem = (inst.capacity if capacity is None else capacity).astype(np.int64).tolist()
    ch = chosen.tolist()
    for k in (first.tolist() if first is not None else []):
        u, p = cu[k], cp[k]
        if ch[u] < 0 and rem[p] >= cw[k]:
            rem[p] -= cw[k]
            ch[u] = k
    for k in order.tolist():
        if sv[k] >= 0:
            continue
        u = cu[k]
        if ch[u] >= 0:
            continue
        p = cp[k]
        if rem[p] >= cw[k]:
            rem[p] -= cw[k]
            ch[u] = k
    return np.asarray(ch, dtype=np.int64)


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
class Duals:
    """Multipliers >= 0 of the rows relaxed in the Lagrangian bound: capacity (pi),
    departures (rho, per placement) and the moves limit (mu)."""

    pi: np.ndarray
    rho: np.ndarray
    mu: float = 0.0
    # cardinality cuts (see `_cut_rows`): gamma[p, a] = sum of the duals of p's cuts
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


@dataclass(frozen=True)
class _Rows:
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
    of siblings at half and a single child whole in a two-bed home; this row does not.
    On authority-2000 they raise the LP by £197 of the £420 between it and the optimum
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


def _clique_rows(inst: Instance, cands: Candidates, cliques: np.ndarray
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


def _cut_rows(inst: Instance, cands: Candidates, cap: np.ndarray
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


def _rows(inst: Instance, cands: Candidates, capacity: np.ndarray | None = None,
          moves_rhs: int | None = None, cliques: np.ndarray = NO_CLIQUES) -> _Rows:
    """Rows of the LP/MIP over `cands`; departure rows only with the full capacity."""
    units = inst.units
    k = len(cands)
    cap = inst.capacity if capacity is None else capacity
    places, prow = np.unique(cands.placement, return_inverse=True)
    rows = [cands.unit, units.n + prow]
    cols = [np.arange(k), np.arange(k)]
    vals = [np.ones(k), cands.use.astype(float)]
    b = [np.ones(units.n), cap[places].astype(float)]
    n_rows = units.n + len(places)
    dep_places = np.zeros(0, dtype=np.int64)
    if capacity is None and inst.residents.any():
        # departure rows only where a newcomer needs more beds than are free
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
            rows.append(n_rows + drow[cands.placement[sel]])
            cols.append(sel)
            vals.append(g[sel].astype(float))
            b.append(inst.residents[dep_places].astype(float))
            n_rows += len(dep_places)
    must = np.flatnonzero(inst.keep_placed[cands.unit])
    mu_units = np.zeros(0, dtype=np.int64)
    if len(must):
        # units already placed that may not be left unplaced: -sum_p x[u,p] <= -1
        mu_units, mrow = np.unique(cands.unit[must], return_inverse=True)
        rows.append(n_rows + mrow.ravel())
        cols.append(must)
        vals.append(-np.ones(len(must)))
        b.append(-np.ones(len(mu_units)))
        n_rows += len(mu_units)
    if moves_rhs is not None:
        coef = (inst.pair_moves(cands.unit, cands.placement)
                - inst.unit_placed[cands.unit]).astype(float)
        nz = np.flatnonzero(coef)
        rows.append(np.full(len(nz), n_rows))
        cols.append(nz)
        vals.append(coef[nz])
        b.append(np.array([float(moves_rhs)]))
        n_rows += 1
    # cuts last: their duals are read from the end
    c_idx, c_row, cut_p, cut_w = _cut_rows(inst, cands, cap)
    if len(cut_p):
        rows.append(n_rows + c_row)
        cols.append(c_idx)
        vals.append(np.ones(len(c_idx)))
        b.append((cap[cut_p] // cut_w).astype(float))
        n_rows += len(cut_p)
    if len(cliques):
        q_idx, q_row = _clique_rows(inst, cands, cliques)
        rows.append(n_rows + q_row)
        cols.append(q_idx)
        vals.append(np.ones(len(q_idx)))
        b.append(np.ones(len(cliques)))
        n_rows += len(cliques)
    a = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n_rows, k))
    return _Rows(a, np.concatenate(b), places, dep_places, moves_rhs is not None, cut_p, cut_w,
                 len(cliques), mu_units)


def _row_keys(inst: Instance, rw: _Rows, cliques: np.ndarray, n_extra: int = 0,
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


def _stacked(rw: _Rows, extra: tuple[sparse.csr_matrix, np.ndarray] | None
             ) -> tuple[sparse.csr_matrix, np.ndarray]:
    """The rows of `rw` with `extra` rows a x <= b (certified cuts) below them."""
    if extra is None or not extra[0].shape[0]:
        return rw.a, rw.b
    return sparse.vstack([rw.a, extra[0]]).tocsr(), np.concatenate([rw.b, extra[1]])


def _moves_rhs(inst: Instance, max_moves: int | None) -> int | None:
    """Right-hand side of the moves row: sum_k (moves_k - placed_k) x_k <= N - placed."""
    return None if max_moves is None else max_moves - int(inst.unit_placed.sum())


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
    SciPy's LP from nothing.
    """
    units = inst.units
    k = len(cands)
    duals = Duals.zero(inst)
    unplaced = inst.unit_unplaced
    offset = float(unplaced.sum())
    x = np.zeros(k)
    if k == 0:
        return duals, offset, x
    c = cands.objective - unplaced[cands.unit]
    rw = _rows(inst, cands, moves_rhs=_moves_rhs(inst, max_moves), cliques=cliques)
    bounds = np.zeros((k, 2))
    bounds[:, 1] = 1.0
    bounds[forced_pairs(inst, cands, forced), 0] = 1.0
    a_ub, b_ub = _stacked(rw, extra)
    n_x = len(b_ub) - len(rw.b)
    solved = None
    if server is not None:
        keys = _row_keys(inst, rw, cliques, n_x, extra_tag)
        solved = server.solve(c, bounds[:, 0], bounds[:, 1], a_ub, b_ub, keys,
                              cands.unit * inst.n_placements + cands.placement,
                              1e9 if time_limit is None else max(time_limit, 0.5))
        if solved is None and server.last_status == "Time limit reached":
            log.warning("LP relaxation did not solve (time limit); pricing uses zero duals")
            return duals, -np.inf, x
    if solved is None:
        res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs",
                      options={} if time_limit is None else {"time_limit": max(time_limit, 0.5)})
        if res.status != 0:
            log.warning("LP relaxation did not solve (%s); pricing uses zero duals", res.message)
            return duals, -np.inf, x
        solved = np.asarray(res.x), np.asarray(res.ineqlin.marginals), float(res.fun)
    x_lp, marginals, fun = solved
    marg = np.maximum(-marginals, 0.0)
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
    return (Duals(pi, rho, mu, gamma, gamma_rhs, pair_key, pair_add), fun + offset, x_lp)


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """HiGHS's MIP prints debugging lines to the C stdout without presolve: drop them,
    so the command's own output (and a JSON on stdout) stays clean."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real file descriptor (an embedding host): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def solve_milp(inst: Instance, cands: Candidates, time_limit: float,
               forced: np.ndarray | None = None, max_moves: int | None = None,
               capacity: np.ndarray | None = None, moves_rhs: int | None = None,
               cliques: np.ndarray = NO_CLIQUES, hint: np.ndarray | None = None,
               route: str = "highspy",
               extra: tuple[sparse.csr_matrix, np.ndarray] | None = None,
               ) -> tuple[np.ndarray | None, bool, float]:
    """The restricted model with HiGHS branch and cut (`highs.milp`: highspy).

    Coefficients are the same pence as CP-SAT's, so "optimal" means the same thing; the
    gap tolerance is zero. `hint`: a starting plan (pair per unit, -1 unplaced) that
    keeps every row. `route`: see `highs.milp`. `extra`: more rows a x <= b over `cands`
    (certified cuts). Returns (choice per unit or None, proven optimal, bound in pounds
    including the unplaced offset, -inf when none).
    """
    from .highs import milp

    k = len(cands)
    if k == 0:
        return np.full(inst.units.n, -1, dtype=np.int64), True, float(inst.unit_unplaced.sum())
    c, a_ub, b_ub, lb, x0 = _milp_arrays(inst, cands, forced, max_moves, capacity, moves_rhs,
                                         cliques, hint, extra)
    with _quiet_stdout():
        res = milp(c, a_ub, -np.inf, b_ub, lb, np.ones(k), np.ones(k),
                   _milp_options(time_limit), hint=x0, route=route)
    return _milp_answer(inst, cands, res)


def _milp_options(time_limit: float, presolve: bool = False,
                  seed: int | None = None) -> dict[str, object]:
    """HiGHS's options for `solve_milp`'s model: a zero gap, so "optimal" means what it
    means for CP-SAT. Presolve off by default: it costs more than it saves on these
    models (and it does not stop at the time limit); the race runs it as an alternative."""
    opts: dict[str, object] = {"time_limit": max(time_limit, 0.1), "mip_rel_gap": 0.0,
                               "disp": False, "presolve": presolve}
    if seed is not None:
        opts["random_seed"] = seed
    return opts


def _milp_arrays(inst: Instance, cands: Candidates, forced: np.ndarray | None,
                 max_moves: int | None, capacity: np.ndarray | None, moves_rhs: int | None,
                 cliques: np.ndarray, hint: np.ndarray | None,
                 extra: tuple[sparse.csr_matrix, np.ndarray] | None,
                 ) -> tuple[np.ndarray, sparse.csr_matrix, np.ndarray, np.ndarray,
                            np.ndarray | None]:
    """`solve_milp`'s model: costs in pence, rows a x <= b, lower bounds, the start."""
    k = len(cands)
    c = to_int(cands.objective - inst.unit_unplaced[cands.unit]).astype(float)
    rhs = moves_rhs if moves_rhs is not None else _moves_rhs(inst, max_moves)
    rw = _rows(inst, cands, capacity, rhs, cliques=cliques)
    lb = np.zeros(k)
    lb[forced_pairs(inst, cands, forced)] = 1.0
    x0 = None
    if hint is not None:
        x0 = np.zeros(k)
        x0[hint[hint >= 0]] = 1.0
    a_ub, b_ub = _stacked(rw, extra)
    return c, a_ub, b_ub, lb, x0


def _milp_answer(inst: Instance, cands: Candidates, res: MilpResult
                 ) -> tuple[np.ndarray | None, bool, float]:
    """(choice per unit or None, proven optimal, bound in pounds with the unplaced
    offset) from HiGHS's answer on `solve_milp`'s model."""
    log.info("HiGHS: %s (status %s, %d pairs)", res.message, res.status, len(cands))
    offset = float(inst.unit_unplaced.sum())
    bound = res.mip_dual_bound
    bound_p = (float(bound) / MONEY_SCALE + offset
               if bound is not None and np.isfinite(bound) else -np.inf)
    if res.x is None:
        return None, False, bound_p
    sel = np.flatnonzero(np.asarray(res.x) > 0.5)
    chosen = np.full(inst.units.n, -1, dtype=np.int64)
    chosen[cands.unit[sel]] = sel
    return chosen, res.status == 0, bound_p


def race_milp(inst: Instance, cands: Candidates, time_limit: float, seeds: int,
              forced: np.ndarray | None = None, max_moves: int | None = None,
              cliques: np.ndarray = NO_CLIQUES, hint: np.ndarray | None = None,
              extra: tuple[sparse.csr_matrix, np.ndarray] | None = None,
              ) -> tuple[np.ndarray | None, bool, float]:
    """`solve_milp` run by `seeds` HiGHS processes at once, with presolve off and on in
    turn, then other random seeds; the first proof ends them all, else the best plan and
    the highest bound (each is valid). Why: HiGHS's branch and cut is serial, and its
    time to a proof varies from setting to setting: on the last MIPs of four 2,000-child
    authorities, presolve off proved them in 1.2, 5.0, 7.5 and 23.6 s, presolve on in
    1.8, 9.1, 9.7 and 13.6 s (other seeds, off: 30.6 s on the last). Where the other core
    would idle, the faster of the two wins."""
    from .highs import milp_start

    k = len(cands)
    if seeds <= 1 or k == 0:
        return solve_milp(inst, cands, time_limit, forced, max_moves, cliques=cliques,
                          hint=hint, extra=extra)
    t0 = time.perf_counter()
    c, a_ub, b_ub, lb, x0 = _milp_arrays(inst, cands, forced, max_moves, None, None,
                                         cliques, hint, extra)
    running = [milp_start(c, a_ub, -np.inf, b_ub, lb, np.ones(k), np.ones(k),
                          _milp_options(time_limit, presolve=i % 2 == 1, seed=i // 2),
                          hint=x0) for i in range(seeds)]
    answers: list[tuple[np.ndarray | None, bool, float]] = []
    # HiGHS's presolve does not look at the clock: past the limit (and a grace second)
    # a run still in it is dropped
    late = t0 + max(time_limit, 0.1) + 1.0
    try:
        while (running and not any(a[1] for a in answers)
               and time.perf_counter() < late):
            for run in [r for r in running if r.wait(0.0)]:
                running.remove(run)
                res = run.result()
                if res is None:  # no highspy: SciPy's HiGHS, once, for the time left
                    return solve_milp(inst, cands, time_limit - (time.perf_counter() - t0),
                                      forced, max_moves, cliques=cliques, hint=hint,
                                      extra=extra)
                answers.append(_milp_answer(inst, cands, res))
            if running:
                time.sleep(0.05)
    finally:
        for run in running:
            run.cancel()
    proven = [a for a in answers if a[1]]
    if proven:
        return proven[0]
    plans = [a[0] for a in answers if a[0] is not None]
    best = (min(plans, key=lambda x: objective_of(inst, cands, x)) if plans else None)
    return best, False, max((a[2] for a in answers), default=-np.inf)


def start_milp(inst: Instance, cands: Candidates, time_limit: float,
               forced: np.ndarray | None, max_moves: int | None, cliques: np.ndarray,
               ) -> Pending | None:
    """`solve_milp` started in HiGHS's process and not waited for (None: no model to
    solve); read it with `_milp_answer(inst, cands, pending.result())`, which is None
    when highspy could not run it. Why: this process can work on the cut proof's bound
    while the dive searches, and stop the dive when that bound is ready."""
    from .highs import milp_start

    k = len(cands)
    if k == 0:
        return None
    c, a_ub, b_ub, lb, _ = _milp_arrays(inst, cands, forced, max_moves, None, None, cliques,
                                        None, None)
    return milp_start(c, a_ub, -np.inf, b_ub, lb, np.ones(k), np.ones(k),
                      _milp_options(time_limit))


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
          max_moves: int | None = None, forced: np.ndarray | None = None) -> Pricing:
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


def _best_per_unit(u: np.ndarray, rc: np.ndarray, per_unit: int | None) -> np.ndarray:
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
            sel = sel[_best_per_unit(u[sel], rc[sel], per_unit)]  # units are whole here
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
                sel = sel[_best_per_unit(u[sel], rc[sel], per_unit)]  # whole units here
                found.append((u[sel], p[sel], o[sel], a[sel], rc[sel]))
    z = np.zeros(0, dtype=np.int64)
    if not found:
        return Pricing(lag, min_rc, m_full, z, z, np.zeros(0), z)
    du, dp, do, dw, drc = (np.concatenate(x) for x in zip(*found, strict=True))
    pick = _best_per_unit(du, drc, per_unit)
    return Pricing(lag, min_rc, m_full, du[pick], dp[pick], do[pick], dw[pick])


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


def _merge(cands: Candidates, pr: Pricing) -> Candidates:
    u = np.concatenate([cands.unit, pr.add_unit])
    p = np.concatenate([cands.placement, pr.add_placement])
    o = np.concatenate([cands.objective, pr.add_objective])
    w = np.concatenate([cands.use, pr.add_use])
    order = np.lexsort((p, u))
    stats = dict(cands.stats)
    stats["pairs_kept"] = float(len(u))
    return Candidates(u[order], p[order], o[order], w[order], cands.n_feasible, cands.limit,
                      stats)


# --------------------------------------------------------------------------- CP-SAT model


def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of the runs of equal values in a sorted array."""
    if len(sorted_keys) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    starts = np.flatnonzero(np.diff(sorted_keys, prepend=sorted_keys[0] - 1))
    return starts, np.append(starts[1:], len(sorted_keys))


def build_model(inst: Instance, cands: Candidates, hint: np.ndarray | None,
                capacity: np.ndarray | None = None, *, forced: np.ndarray | None = None,
                moves_rhs: int | None = None) -> cp_model.CpModel:
    """Write the CP-SAT proto directly from the candidate arrays.

    `forced`: indices of pairs fixed to 1 (pinned units). `moves_rhs`: the moves row
    sum_k (moves_k - placed_k) x_k <= moves_rhs, i.e. max_moves minus the children
    already placed in the units the model decides (`--max-moves`).
    """
    k = len(cands)
    model = cp_model.CpModel()
    proto = model.proto
    if k:
        proto.merge_text_format("variables { domain: [0, 1] }\n" * k)
    if forced is not None:
        for kk in forced.tolist():
            dom = proto.variables[kk].domain
            dom.clear()
            dom.extend([1, 1])
    coef = to_int(cands.objective - inst.unit_unplaced[cands.unit])
    obj_vars: list[int] = list(range(k))
    obj_coefs: list[int] = coef.tolist()
    # one placement per unit
    starts, ends = _runs(cands.unit)
    must = inst.keep_placed
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if e - s > 1:
            proto.constraints.add().at_most_one.literals.extend(range(s, e))
        if must[int(cands.unit[s])]:  # already placed, may not be left unplaced
            proto.constraints.add().bool_or.literals.extend(range(s, e))
    # capacity rows, only where the candidates could overflow
    by_p = np.argsort(cands.placement, kind="stable")
    pp = cands.placement[by_p]
    pstarts, pends = _runs(pp)
    cap = inst.capacity if capacity is None else capacity
    load = np.add.reduceat(cands.use[by_p], pstarts) if k else np.zeros(0)
    for s, e, ld in zip(pstarts.tolist(), pends.tolist(), load.tolist(), strict=True):
        p = int(pp[s])
        if ld <= cap[p]:
            continue
        ct = proto.constraints.add().linear
        ct.vars.extend(by_p[s:e].tolist())
        ct.coeffs.extend(cands.use[by_p[s:e]].tolist())
        ct.domain.extend([0, int(cap[p])])
    c_idx, c_row, cut_p, cut_w = _cut_rows(inst, cands, cap)
    if len(cut_p):
        # the LP relaxation CP-SAT's linear workers use gets the same cuts as ours
        order = np.argsort(c_row, kind="stable")
        rs, re_ = _runs(c_row[order])
        rhs = (cap[cut_p] // cut_w).tolist()
        for r, (s, e) in enumerate(zip(rs.tolist(), re_.tolist(), strict=True)):
            ct = proto.constraints.add().linear
            ct.vars.extend(c_idx[order[s:e]].tolist())
            ct.coeffs.extend([1] * (e - s))
            ct.domain.extend([0, int(rhs[r])])
    if moves_rhs is not None and k:
        mv = inst.pair_moves(cands.unit, cands.placement) - inst.unit_placed[cands.unit]
        nz = np.flatnonzero(mv)
        ct = proto.constraints.add().linear
        ct.vars.extend(nz.tolist())
        ct.coeffs.extend(mv[nz].tolist())
        ct.domain.extend([-(2**40), int(moves_rhs)])
    hint_vals: dict[int, int] = {}
    if hint is not None:
        for kk in hint[hint >= 0].tolist():
            hint_vals[kk] = 1
    if inst.policy.rules.split_siblings and k:
        _add_split(inst, cands, proto, obj_vars, obj_coefs, hint_vals, hint)
    proto.objective.vars.extend(obj_vars)
    proto.objective.coeffs.extend(obj_coefs)
    if hint is not None:
        n_vars = len(proto.variables)
        proto.solution_hint.vars.extend(range(n_vars))
        proto.solution_hint.values.extend([hint_vals.get(i, 0) for i in range(n_vars)])
    return model


def _add_split(inst: Instance, cands: Candidates, proto: object, obj_vars: list[int],
               obj_coefs: list[int], hint_vals: dict[int, int], hint: np.ndarray | None) -> None:
    """y[g,p] >= x[c,p]; s_g >= sum_p y[g,p] - 1; minimise sibling_split * s_g."""
    units = inst.units
    g_of_unit = units.group_of_child[units.order[units.start[:-1]]]
    g = g_of_unit[cands.unit]
    sizes = np.bincount(units.group_of_child[units.group_of_child >= 0],
                        minlength=len(units.group_names) + 1)
    grouped = (g >= 0) & (sizes[np.maximum(g, 0)] > 1)
    if not grouped.any():
        return
    idx = np.flatnonzero(grouped)
    gp, inv = np.unique(np.stack([g[idx], cands.placement[idx]]), axis=1, return_inverse=True)
    inv = inv.ravel()
    base = len(proto.variables)  # type: ignore[attr-defined]
    proto.merge_text_format("variables { domain: [0, 1] }\n" * gp.shape[1])  # type: ignore
    used_pairs: set[int] = set()
    if hint is not None:
        chosen_set = set(hint[hint >= 0].tolist())
        for j, kk in enumerate(idx.tolist()):
            if kk in chosen_set:
                used_pairs.add(int(inv[j]))
    for j, kk in enumerate(idx.tolist()):
        ct = proto.constraints.add()  # type: ignore[attr-defined]
        ct.enforcement_literal.append(kk)
        ct.bool_and.literals.append(base + int(inv[j]))
    split_w = int(to_int(inst.policy.weights.sibling_split))
    groups = np.unique(gp[0])
    for grp in groups.tolist():
        ys = (base + np.flatnonzero(gp[0] == grp)).tolist()
        s_var = len(proto.variables)  # type: ignore[attr-defined]
        proto.merge_text_format(  # type: ignore[attr-defined]
            f"variables {{ domain: [0, {max(len(ys) - 1, 0)}] }}")
        ct = proto.constraints.add().linear  # type: ignore[attr-defined]
        ct.vars.extend([s_var, *ys])
        ct.coeffs.extend([1] + [-1] * len(ys))
        ct.domain.extend([-1, 2**40])
        obj_vars.append(s_var)
        obj_coefs.append(split_w)
        if hint is not None:
            used = sum(1 for y in ys if (y - base) in used_pairs)
            for y in ys:
                hint_vals[y] = int((y - base) in used_pairs)
            hint_vals[s_var] = max(used - 1, 0)


class _Progress(cp_model.CpSolverSolutionCallback):
    def __init__(self, report: Callable[[str], None], offset: float):
        super().__init__()
        self.report = report
        self.offset = offset
        self.t0 = time.perf_counter()

    def on_solution_callback(self) -> None:
        obj = self.objective_value / MONEY_SCALE + self.offset
        bound = self.best_objective_bound / MONEY_SCALE + self.offset
        self.report(
            f"  {time.perf_counter() - self.t0:7.1f}s  solution £{obj:,.2f}/week"
            f"  bound £{bound:,.2f}"
        )


def _run_cpsat(model: cp_model.CpModel, opts: SolveOptions, time_limit: float,
               offset: float, progress: Callable[[str], None] | None,
               ) -> tuple[cp_model.CpSolver, object]:
    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.max_time_in_seconds = max(time_limit, 0.05)
    prm.random_seed = opts.seed
    prm.cp_model_probing_level = 0  # probing costs seconds on 1e5 Booleans for little gain
    if opts.workers:
        prm.num_workers = opts.workers
    if opts.relative_gap:
        prm.relative_gap_limit = opts.relative_gap
    for key, value in opts.params.items():
        setattr(prm, key, value)
    cb = _Progress(progress, offset) if progress else None
    status = solver.solve(model, cb)
    return solver, status


def beds_left(inst: Instance, cands: Candidates, pairs: np.ndarray) -> np.ndarray:
    """Each placement's capacity less the beds the given pairs (indices into `cands`)
    take."""
    return inst.capacity.astype(np.int64) - np.bincount(
        cands.placement[pairs], weights=cands.use[pairs], minlength=inst.n_placements
    ).astype(np.int64)


def lp_dive(inst: Instance, cands: Candidates, lp_x: np.ndarray, opts: SolveOptions,
            time_limit: float, forced: np.ndarray | None = None,
            max_moves: int | None = None) -> np.ndarray:
    """Fix the pairs the LP chose whole, solve the small rest exactly: a strong incumbent."""
    units = inst.units
    whole = lp_x > 1 - 1e-6
    # free the neighbourhood of the fractional part: units at placements the LP splits
    frac_places = np.unique(cands.placement[(lp_x > 1e-6) & ~whole])
    fixed = np.flatnonzero(whole & ~np.isin(cands.placement, frac_places))
    chosen = np.full(units.n, -1, dtype=np.int64)
    chosen[cands.unit[fixed]] = fixed
    cap = beds_left(inst, cands, fixed)
    if inst.policy.rules.split_siblings:
        return chosen  # the split penalty couples children; keep the plain rounding
    open_units = chosen < 0
    rest = np.flatnonzero(open_units[cands.unit] & (cands.use <= cap[cands.placement]))
    if len(rest) == 0:
        return chosen
    sub = _subset(cands, np.isin(np.arange(len(cands)), rest))
    sub_forced = forced_pairs(inst, sub, forced)
    moves_rhs = None
    if max_moves is not None:
        used = int(inst.pair_moves(cands.unit[fixed], cands.placement[fixed]).sum())
        moves_rhs = max_moves - used - int(inst.unit_placed[open_units].sum())
    first = sub_forced
    if max_moves is not None:
        stay = np.flatnonzero((inst.pair_moves(sub.unit, sub.placement) == 0)
                              & (inst.unit_placed[sub.unit] > 0))
        first = np.concatenate([sub_forced, stay])
    hint = greedy(inst, sub, capacity=cap, first=first)
    model = build_model(inst, sub, hint, capacity=cap, forced=sub_forced, moves_rhs=moves_rhs)
    solver, st = _run_cpsat(model, opts, time_limit, 0.0, None)
    if st in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        vals = np.asarray(solver.response_proto.solution, dtype=np.int64)[: len(sub)]
        sel = np.flatnonzero(vals)
    else:
        sel = hint[hint >= 0]
    chosen[sub.unit[sel]] = rest[sel]
    return chosen


def _flow_roundable(inst: Instance, forced: np.ndarray, max_moves: int | None) -> bool:
    """No row the flow leaves out matters to a plan's admissibility or bound: no moves
    limit, no pins, no placed children kept placed."""
    return max_moves is None and not forced.any() and not inst.keep_placed.any()


def _use_transport(inst: Instance, pool: PairPool | None, forced: np.ndarray,
                   max_moves: int | None, tuning: SolverParams) -> bool:
    """The transportation relaxation stands in for the LP on large pools, unless a row
    it leaves out carries the bound (see `_flow_roundable`)."""
    return (pool is not None and len(pool) > tuning.transport_pairs
            and _flow_roundable(inst, forced, max_moves))


def transport_rounds(inst: Instance, cands: Candidates, pool: PairPool, opts: SolveOptions,
                     elapsed: Callable[[], float], say: Callable[[str], None]
                     ) -> tuple[Candidates, float, Duals, Pricing | None, np.ndarray | None,
                                int]:
    """Column generation with the transportation relaxation as the restricted LP.

    Each round: min-cost flow over the kept pairs (its capacity prices are the LP's
    duals), then one pricing pass over the pool: the Lagrangian bound over every pair and
    each unit's pairs with negative reduced cost. Stops when the flow's value and the
    bound meet (the LP optimum over every pair is reached), or when another round would
    end past 55% of the time limit.
    Returns (cands, bound, its duals, its pricing, the last flow's x on cands, rounds).
    """
    from .flow import transport_relaxation

    lag, duals, pricing = -np.inf, Duals.zero(inst), None
    lp_x: np.ndarray | None = None
    rounds = 0
    while len(cands):
        t_round = elapsed()
        try:
            tr = transport_relaxation(inst, cands)
        except RuntimeError as exc:  # cannot happen with integer costs; never crash on it
            log.warning("transportation relaxation failed (%s): zero-dual bound", exc)
            break
        if rounds == 0 and t_round > opts.tuning.no_lp_share * opts.time_limit:
            # the candidate pass took half the time (a slow machine): no pricing pass,
            # so no bound from these prices; the flow over the kept pairs still gives
            # the rounding its start
            say("no time left for pricing: flow rounding and the zero-dual bound")
            return cands, lag, Duals(tr.pi, np.zeros(inst.n_placements)), None, tr.x, 0
        rounds += 1
        duals_r = Duals(tr.pi, np.zeros(inst.n_placements))
        pr = price(inst, cands, pool, duals_r, None,
                   per_unit=opts.tuning.transport_price_per_unit)
        if pr.lagrangian_bound >= lag:
            lag, duals, pricing = pr.lagrangian_bound, duals_r, pr
        lp_x = tr.x
        say(f"transport round {rounds}: flow £{tr.value:,.2f}, bound over all pairs "
            f"£{pr.lagrangian_bound:,.2f}, {len(pr.add_unit):,} pairs priced in "
            f"({elapsed():.1f}s)")
        converged = tr.value - pr.lagrangian_bound <= max(1.0, 1e-4 * abs(tr.value))
        round_s = elapsed() - t_round  # the next round is not started late
        if (len(pr.add_unit) == 0 or converged
                or elapsed() + round_s > opts.tuning.transport_rounds_share * opts.time_limit
                or rounds >= opts.max_pricing_rounds * 4):
            break
        cands = _merge(cands, pr)
        lp_x = None
    return cands, lag, duals, pricing, lp_x, rounds


def _flow_hint(inst: Instance, cands: Candidates, deadline: float,
               x: np.ndarray | None = None, pi: np.ndarray | None = None
               ) -> np.ndarray | None:
    """The flow rounding of `cands` (`flow.transport_rounding`) from the relaxation's `x`
    and prices `pi`, or from one flow over `cands` when not given; None when the flow
    fails (a hint less, never a crash, as in `transport_rounds`)."""
    from .flow import transport_relaxation, transport_rounding

    try:
        if x is None or pi is None:
            tr = transport_relaxation(inst, cands)
            x, pi = tr.x, tr.pi
        return transport_rounding(inst, cands, x, pi, deadline=deadline)
    except RuntimeError as exc:
        log.warning("flow rounding failed (%s)", exc)
        return None


def _with_musts(inst: Instance, cands: Candidates, keep: np.ndarray, incumbent: np.ndarray,
                forced: np.ndarray | None) -> np.ndarray:
    """`keep` (a mask of `cands`) with the pairs every model of reduced-cost fixing must
    hold: the incumbent's (indices), the pinned ones, and each kept-placed unit's stay."""
    keep = keep.copy()
    keep[incumbent] = True
    keep[forced_pairs(inst, cands, forced)] = True
    keep |= inst.keep_placed[cands.unit] & (inst.pair_moves(cands.unit, cands.placement) == 0)
    return keep


@dataclass(frozen=True)
class _CutProof:
    model: Candidates  # every pair the cut bound leaves in play
    chosen: np.ndarray | None  # HiGHS's plan over `model` (None: none)
    optimal: bool  # HiGHS proved `model` optimal
    mip_bound: float  # HiGHS's bound on `model`, pounds
    lag: float  # the Lagrangian bound with the certified cuts, over every pair
    min_excluded: float  # least reduced cost of a pair left out of `model`
    hint: np.ndarray  # the incumbent as indices into `model`
    best_obj: float  # its objective
    cuts: int
    rounds: int
    complete: bool  # `model` holds every pair the bound leaves in play (else a search)


@dataclass(frozen=True)
class _CutBound:
    cuts: Cuts  # certified
    cands: Candidates  # the column-generation pairs, with those the rounds priced in
    lag: float  # the Lagrangian bound with the cuts, over every pair
    duals: Duals  # its duals
    rounds: int


def _cut_proof(inst: Instance, cands: Candidates, model: Candidates, pool: PairPool,
               cliques: np.ndarray, best: np.ndarray, best_obj: float, lag: float,
               deadline: float, say: Callable[[str], None],
               harvest: tuple[Candidates, np.ndarray, Pending],
               min_final: float, tuning: SolverParams, server: LpServer | None = None,
               seeds: int = 1) -> _CutProof | None:
    """HiGHS's root cuts (`harvest`: the pairs and cliques it was started on, and the
    running solve), certified, priced over every pair, then reduced-cost fixing and
    HiGHS on what is left (optimiser/cutpool.py). None when HiGHS returned no cut, the
    time ran out first, or the bound did not improve on `lag`; `best` indexes `model`.
    With less than `min_final` seconds left for the last MIP, only the bound."""
    bound = _cut_bound(inst, cands, pool, cliques, lag, deadline, say, harvest, min_final,
                       server, tuning)
    if bound is None:
        return None
    return _cut_search(inst, bound, model, pool, cliques, best, best_obj, deadline, say,
                       min_final, tuning, seeds)


def _cut_bound(inst: Instance, cands: Candidates, pool: PairPool, cliques: np.ndarray,
               lag: float, deadline: float, say: Callable[[str], None],
               harvest: tuple[Candidates, np.ndarray, Pending], min_final: float,
               server: LpServer | None, tuning: SolverParams) -> _CutBound | None:
    """The cut proof's bound (see `_cut_proof`), which needs no incumbent: it can be
    found while the dive searches for one."""
    from .cutpool import certify, harvest_cuts

    h_cands, h_cliques, pending = harvest
    cuts = harvest_cuts(inst, h_cands, pending)
    ran = "" if pending.runtime is None else f"its root ended after {pending.runtime:.1f}s, "
    say(f"root cuts: {0 if cuts is None else len(cuts)} from HiGHS "
        f"({ran}read {time.perf_counter() - pending.started:.1f}s after it started)")
    if cuts is None or time.perf_counter() > deadline:
        return None
    raw = cuts.rhs
    n_raw = len(cuts)
    # the certificates end in time for the last MIP (on s3 of benchmarks/README.md, 50
    # cuts took 1.0 s; a cut whose LP does not round to its claim gets a MIP)
    cuts = certify(inst, h_cands, cuts, h_cliques, deadline=deadline - min_final)
    say(f"cut proof: {len(cuts)} of HiGHS's {n_raw} root cuts certified, "
        f"{int((cuts.rhs <= raw[: len(cuts)] + 1e-9).sum())} as HiGHS had them")
    if not len(cuts):
        return None
    cc = cands
    lag_c, duals_c = -np.inf, None
    rounds = 0
    # rounds while they leave half the time for the last MIP: each round tightens the
    # bound, so fewer pairs go to that MIP (authority-2000: three rounds, 11,586 pairs)
    half = time.perf_counter() + tuning.cut_rounds_share * (deadline - time.perf_counter())
    while rounds < tuning.cut_rounds:
        t_round = time.perf_counter()
        rounds += 1
        duals_r, lp_val, _ = lp_duals(inst, cc, cliques=cliques,
                                      time_limit=deadline - time.perf_counter(),
                                      extra=(cuts.over(inst, cc), cuts.rhs),
                                      server=server, extra_tag=1)
        if not np.isfinite(lp_val):
            break
        pr = price(inst, cc, pool, duals_r, None, per_unit=tuning.transport_price_per_unit)
        lag_r = pr.lagrangian_bound
        if duals_c is not None:
            # the LP's duals jump between its many optima; a point between them and the
            # best so far is a valid and usually better bound (authority-2000: £755.42
            # against £746.19 at round 3; formulation.md)
            lag_t, duals_t = line_search(inst, pool, duals_c, duals_r, None, None)
            if lag_t > max(lag_r, lag_c):
                lag_c, duals_c = lag_t, duals_t
        if lag_r > lag_c:
            lag_c, duals_c = lag_r, duals_r
        say(f"cut proof round {rounds}: LP £{lp_val:,.2f}, bound over all pairs "
            f"£{lag_c:,.2f}")
        if (not len(pr.add_unit) or lp_val - lag_c <= 1e-7 * abs(lp_val)
                or 2 * time.perf_counter() - t_round > half):
            break
        cc = _merge(cc, pr)
    if duals_c is None or lag_c <= lag:
        return None
    return _CutBound(cuts, cc, lag_c, duals_c, rounds)


def _cut_search(inst: Instance, bound: _CutBound, model: Candidates, pool: PairPool,
                cliques: np.ndarray, best: np.ndarray, best_obj: float, deadline: float,
                say: Callable[[str], None], min_final: float, tuning: SolverParams,
                seeds: int = 1) -> _CutProof:
    """Reduced-cost fixing against the cut bound, then HiGHS with the cuts on the pairs
    left (see `_cut_proof`)."""
    cuts, cc, lag_c, duals_c, rounds = (bound.cuts, bound.cands, bound.lag, bound.duals,
                                        bound.rounds)
    if deadline - time.perf_counter() < min_final:
        # no time for the last MIP: the bound over all pairs is what this gives
        return _CutProof(model, None, False, -np.inf, lag_c, 0.0, best, best_obj,
                         len(cuts), rounds, False)
    # reduced-cost fixing against the cut bound: only pairs within the gap stay
    ex = price(inst, cc, pool, duals_c, best_obj, per_unit=None)
    place = unit_placement(model, best)
    key = cc.unit * inst.n_placements + cc.placement
    placed = np.flatnonzero(place >= 0)
    inc = np.searchsorted(key, placed * inst.n_placements + place[placed])
    slack = best_obj - lag_c
    tol = 1e-6 * max(1.0, abs(best_obj))
    red = reduced_costs(inst, cc, duals_c, ex.best_option)
    keep = _with_musts(inst, cc, red <= slack + tol, inc, None)
    # pool pairs `price` did not add have lag_c + reduced cost >= the incumbent
    min_excluded = min(float(red[~keep].min()) if (~keep).any() else np.inf, slack - tol)
    final = _merge(_subset(cc, keep), ex)
    complete = len(final) <= max(tuning.fixing_factor * len(model), tuning.cut_proof_pairs)
    if not complete:
        # the bound is still far (cuts weaker than usual, or one round only): too many
        # pairs for a proof in the time; search the search model's pairs it keeps, the
        # bound over all pairs stands as it is
        mkey = np.sort(model.unit * inst.n_placements + model.placement)
        final = _subset(cc, _with_musts(inst, cc, keep & np.isin(key, mkey), inc, None))
    fkey = final.unit * inst.n_placements + final.placement
    hint = np.full(inst.units.n, -1, dtype=np.int64)
    hint[placed] = np.searchsorted(fkey, placed * inst.n_placements + place[placed])
    say(f"cut proof: bound £{lag_c:,.2f} over all pairs; {len(final):,} pairs "
        + ("can still matter" if complete else "searched, of the more that could matter")
        + f" (gap £{slack:,.2f})")
    chosen, optimal, mip_bound = race_milp(inst, final, deadline - time.perf_counter(), seeds,
                                           cliques=cliques, hint=hint,
                                           extra=(cuts.over(inst, final), cuts.rhs))
    return _CutProof(final, chosen, optimal, mip_bound, lag_c, min_excluded, hint,
                     best_obj, len(cuts), rounds, complete)


def _race_seeds(opts: SolveOptions) -> int:
    """HiGHS processes racing the last MIP: one per worker (0: per core), at most 4."""
    return max(1, min(opts.workers or (os.cpu_count() or 1), opts.tuning.race_max))


def _margin(opts: SolveOptions) -> float:
    """Seconds kept back from the MIP for writing up (HiGHS may overrun a little)."""
    return opts.tuning.margin_seconds + opts.tuning.margin_share * opts.time_limit



def _min_final(opts: SolveOptions) -> float:
    """Seconds the cut proof's last MIP needs; with less left, only its bound is used."""
    return opts.tuning.final_mip_seconds + opts.tuning.final_mip_share * opts.time_limit


def _dive_pairs(inst: Instance, cands: Candidates, duals: Duals, best_option: np.ndarray,
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


def _subset(cands: Candidates, keep: np.ndarray) -> Candidates:
    stats = dict(cands.stats)
    stats["pairs_in_model"] = float(keep.sum())
    return Candidates(cands.unit[keep], cands.placement[keep], cands.objective[keep],
                      cands.use[keep], cands.n_feasible, cands.limit, stats)


def _start_server(stack: contextlib.ExitStack) -> LpServer | None:
    """A warm LP server closed with `stack`, or None (SciPy's LP) when it cannot start."""
    try:
        return stack.enter_context(LpServer())
    except OSError as e:
        log.warning("no warm LP server (%s): SciPy's LP from nothing each round", e)
        return None


def solve(inst: Instance, options: SolveOptions | None = None, *,
          progress: Callable[[str], None] | None = None, **kw: object) -> Result:
    """Allocate children to placements; see the module docstring for the method."""
    with contextlib.ExitStack() as stack:  # closes the warm LP server, if one started
        return _solve(inst, options or SolveOptions(**kw), progress,  # type: ignore[arg-type]
                      stack)


def _solve(inst: Instance, opts: SolveOptions, progress: Callable[[str], None] | None,
           stack: contextlib.ExitStack) -> Result:
    t_start = time.perf_counter()
    timings: dict[str, float] = {"candidates": 0.0, "lp": 0.0, "greedy": 0.0, "build": 0.0,
                                 "solve": 0.0}
    say = progress or (lambda s: None)
    tp = opts.tuning
    units = inst.units
    offset = float(inst.unit_unplaced.sum())

    def elapsed() -> float:
        return time.perf_counter() - t_start

    t = time.perf_counter()
    limit = opts.candidate_limit
    if limit is not None and units.n * limit > tp.lp_columns:
        # keep the restricted LP small enough to solve within the time limit at regional
        # scale; pricing brings back any pair the smaller start leaves out
        limit = max(tp.min_candidates, tp.lp_columns // units.n)
    cands, pool = build_candidates(inst, limit=limit)
    timings["candidates"] = time.perf_counter() - t
    # --- issue 4 dispatch (optimiser/flow.py, optimiser/cbc.py) --------------------------
    if opts.backend not in BACKENDS:
        raise ValueError(f"unknown backend {opts.backend!r}; one of {', '.join(BACKENDS)}")
    if opts.fast_path and opts.backend in ("auto", "cpsat") and pool is not None:
        from .flow import flow_blocker, solve_flow  # others: as asked

        if flow_blocker(inst) is None:  # a transportation problem, over every pair
            try:
                return solve_flow(inst, cands, pool, opts.seed, timings, t_start)
            except RuntimeError as exc:  # costs beyond the flow's range: never a crash
                log.warning("min-cost flow fast path failed (%s): the general route", exc)
    if opts.backend == "auto":
        # with split_siblings, "highs" is the array model with the spread variables
        # (mip.solve_highs_placement): on generated authorities of 155 children it came
        # within 4.5% in 10 s where CP-SAT was 42% off (found by fuzzing)
        small = units.n <= tp.auto_highs_units
        opts = replace(opts, backend="highs" if small else "cpsat")
    # --- end issue 4 dispatch ----------------------------------------------------------
    say(f"candidates: {len(cands):,} pairs kept of {int(cands.stats['pairs_feasible']):,} "
        f"feasible for {units.n:,} units ({timings['candidates']:.1f}s)")

    # 0. re-allocation: pinned units must take their pair; the moves limit can never be
    #    below what the status quo itself needs (a sibling group living apart)
    forced = forced_units(inst, cands)
    extra_stats: dict[str, float] = {}
    max_moves = inst.reallocation.max_moves
    sq: np.ndarray | None = None
    if max_moves is not None or forced.any() or inst.keep_placed.any():
        sq = status_quo(inst, cands, forced)
    if max_moves is not None and sq is not None:
        floor = moves_of(inst, cands, sq)
        if floor > max_moves:
            log.warning("max_moves %d is below the %d moves the current placements already "
                        "need (sibling groups living apart); using %d", max_moves, floor, floor)
            max_moves = floor
        extra_stats["max_moves_used"] = float(max_moves)
    if forced.any():
        extra_stats["pinned_units"] = float(forced.sum())

    # a register where fixing may keep too many pairs for the search: the cut proof of
    # step 4 needs HiGHS's root cuts on the column-generation pairs. They are started on
    # the other core when the LP ends, and run while the hints are found here. (Started
    # at the third LP round instead, on authority-2000, HiGHS's root took 23.4 s, not
    # 17.0 s, and the proof ended at 40.2 s, not 36.4 s.)
    harvest: tuple[Candidates, np.ndarray, Pending] | None = None
    early: _CutBound | None = None  # the cut proof's bound, when found during the dive
    harvest_wanted = (opts.backend == "highs" and pool is not None
                      and len(pool) > tp.fixing_pairs and opts.hint and tp.cut_proof
                      and cut_proof_applies(inst, forced, max_moves))

    # 1. LP by column generation: duals pi give a bound over *all* pairs
    t = time.perf_counter()
    lag, duals, lp_x, pricing = -np.inf, Duals.zero(inst), None, None
    lag0 = cands.stats.get("lagrangian_zero_bound", -np.inf)  # capacity relaxed: weak, valid
    rounds = 0
    cliques = NO_CLIQUES  # clique cuts found so far (rows p, a, s), kept across rounds
    transport = _use_transport(inst, pool, forced, max_moves, tp)
    # a large restricted LP: re-solved warm from the last round's basis (lpserver.py;
    # authority-2000: 0.5-0.8 s a round against about 2 s from nothing)
    server = (_start_server(stack)
              if opts.backend == "highs" and not transport and len(cands) >= tp.lp_server_pairs
              else None)
    if transport:
        assert pool is not None
        # a regional register: the LP relaxation is a transportation problem, solved by
        # min-cost flow in seconds where the LP code needs minutes (flow.py)
        cands, lag, duals, pricing, lp_x, rounds = transport_rounds(
            inst, cands, pool, opts, elapsed, say)
    while len(cands) and not transport:
        budget = tp.lp_share * opts.time_limit - elapsed()
        if rounds and budget <= 0:
            break
        if elapsed() > tp.no_lp_share * opts.time_limit:
            # the candidate pass took half the time (a national register on a slow
            # machine): no LP; the hints and the zero-dual bound keep to the limit
            say("no time left for the LP: greedy start and the zero-dual bound")
            break
        rounds += 1
        duals_r, lp_val, x_r = lp_duals(inst, cands, max_moves, forced,
                                        time_limit=max(budget,
                                                       tp.lp_round_min_share * opts.time_limit),
                                        cliques=cliques, server=server)
        if not np.isfinite(lp_val) and pool is None:
            break  # no duals in time, and a pricing pass over the register is not cheap
        if (pool is None and elapsed() + timings["candidates"]
                > tp.register_pricing_share * opts.time_limit):
            # a pricing pass re-evaluates the whole register, about as long as the
            # candidate pass: it would not end in time. Keep the LP for the hints only.
            lp_x = x_r
            say("no time for a pricing pass over the register: LP used for the hints only")
            break
        pr = price(inst, cands, pool, duals_r, None, per_unit=tp.price_per_unit,
                   max_moves=max_moves, forced=forced)
        before = duals  # the best duals so far (zero at first: their bound is lag0)
        if pr.lagrangian_bound >= lag:
            lag, duals, pricing = pr.lagrangian_bound, duals_r, pr
        if (pool is not None and len(pool) > tp.line_search_pairs and np.isfinite(lp_val)
                and lp_val - pr.lagrangian_bound > 1e-4 * abs(lp_val)
                and elapsed() < tp.no_lp_share * opts.time_limit):
            # a large register: the restricted LP's duals are poor early on, and there
            # is no time for many rounds; the best point between them and the best
            # duals so far is a valid, much stronger bound (formulation.md)
            lag_t, duals_t = line_search(inst, pool, before, duals_r, max_moves, forced)
            if lag_t > lag:
                m_t = price(inst, cands, pool, duals_t, None, per_unit=0,
                            max_moves=max_moves, forced=forced)
                lag, duals = lag_t, duals_t
                pricing = Pricing(m_t.lagrangian_bound, m_t.min_dropped_rc, m_t.best_option,
                                  pr.add_unit, pr.add_placement, pr.add_objective, pr.add_use)
            say(f"LP round {rounds}: line search between duals: bound £{lag_t:,.2f}")
        lp_x = x_r
        say(f"LP round {rounds}: LP £{lp_val:,.2f}, bound over all pairs "
            f"£{pr.lagrangian_bound:,.2f}, {len(pr.add_unit):,} pairs priced in")
        # stop when the LP over the kept pairs is within a penny-scale tolerance of the
        # bound over all pairs: more rounds cannot move either by more than that
        converged = lp_val - pr.lagrangian_bound <= max(1.0, opts.lp_tolerance * abs(lp_val))
        new_q = (clique_cuts(inst, cands, x_r, cliques, tp.cliques_per_round)
                 if units.n <= tp.clique_units and np.isfinite(lp_val) else NO_CLIQUES)
        if len(new_q):
            say(f"LP round {rounds}: {len(new_q)} clique cuts added")
        if ((len(pr.add_unit) == 0 or converged) and not len(new_q)) \
                or elapsed() > tp.lp_share * opts.time_limit \
                or rounds >= opts.max_pricing_rounds * 4:
            break
        cliques = np.concatenate([cliques, new_q])
        if len(pr.add_unit):
            cands = _merge(cands, pr)
        lp_x = None
    timings["lp"] = time.perf_counter() - t
    if (harvest_wanted and np.isfinite(lag) and not transport
            and elapsed() + tp.harvest_vs_lp * timings["lp"]
            < tp.harvest_share * opts.time_limit):
        # by harvest_share of the limit, or no cuts: the search then has the rest
        h_cands = (cands if pricing is None else _subset(cands, _dive_pairs(
            inst, cands, duals, pricing.best_option, lp_x, tp.harvest_pairs_per_unit)))
        harvest = (h_cands, cliques, harvest_start(
            inst, h_cands, max(tp.harvest_share * opts.time_limit - elapsed(), 0.1), cliques))
        stack.callback(harvest[2].cancel)  # however the solve ends, no worker is left
        say(f"root cuts: HiGHS started on {len(h_cands):,} of the column-generation pairs")

    # 2. hints: plain greedy, and greedy guided by the LP (rounding); only hints that keep
    #    the pins and the moves limit count, and the status quo always does
    t = time.perf_counter()
    first = forced_pairs(inst, cands, forced)

    def ok(chosen: np.ndarray) -> bool:
        return admissible(inst, cands, chosen, forced, max_moves)

    start = greedy(inst, cands, first=first)
    if not ok(start):
        start = status_quo(inst, cands, forced)  # cands may have grown since
    greedy_obj = objective_of(inst, cands, start)
    greedy_stability = stability_of(inst, unit_placement(cands, start)[units.unit_of])
    best, best_obj = start, greedy_obj
    use_highs = opts.backend == "highs" and not inst.policy.rules.split_siblings
    if lp_x is not None:
        hints = [greedy(inst, cands, lp_x, first=first)]
        if not transport and _flow_roundable(inst, forced, max_moves):
            # the flow rounding of the regional route, on the kept pairs: a near-LP plan
            # in a fraction of a second, whatever happens to the MIP dive below on a
            # busy machine (formulation.md)
            flow_hint = _flow_hint(inst, cands,
                                   time.perf_counter() + tp.flow_hint_share * opts.time_limit)
            if flow_hint is not None:
                hints.append(flow_hint)
                say(f"flow rounding £{objective_of(inst, cands, flow_hint):,.2f}/week")
        if transport:
            # re-solves stop at 70% of the time limit: the search needs the rest
            flow_hint = _flow_hint(inst, cands,
                                   time.perf_counter() + tp.transport_hint_share * opts.time_limit
                                   - elapsed(),
                                   lp_x, duals.pi)
            if flow_hint is not None:
                hints.append(flow_hint)
        elif use_highs and pricing is not None:
            # branch and cut on each unit's few best pairs by LP reduced cost (and the
            # LP's own, and staying): a near-optimal incumbent in seconds, so that
            # reduced-cost fixing below leaves a small model to prove
            sub_keep = _dive_pairs(inst, cands, duals, pricing.best_option, lp_x,
                                   tp.dive_pairs_per_unit)
            sub = _subset(cands, sub_keep)
            # HiGHS finds this model's optimum late: on authority-2000 its incumbent
            # after 4 s was £28.0M, after 5.8 s the optimum £8,604,813 (load 2.8); on a
            # busier machine a quarter of the limit was too little (20.9% gap once)
            dive_limit = min(tp.dive_share * opts.time_limit, opts.time_limit - elapsed())
            running = (start_milp(inst, sub, dive_limit, forced, max_moves, cliques)
                       if harvest is not None and pool is not None else None)
            mip = None
            if running is not None:
                stack.callback(running.cancel)
            if running is not None and harvest is not None and pool is not None:
                # the cut proof's bound needs no incumbent: found here while the dive
                # searches on its own process, it ends the dive (after DIVE_MIN_SHARE of
                # the limit), and the last MIP gets the time the dive would have had
                # (a dive that ends first goes on as before: the root cuts are then read,
                # or dropped, after fixing)
                dive_from = time.perf_counter()
                while not harvest[2].wait(0.0) and not running.wait(0.05):
                    pass
                if harvest[2].wait(0.0):
                    early = _cut_bound(inst, cands, pool, cliques, lag,
                                       t_start + opts.time_limit - _margin(opts), say,
                                       harvest, _min_final(opts), server, tp)
                    harvest = None
                if early is not None:
                    wait = dive_from + tp.dive_min_share * opts.time_limit - time.perf_counter()
                    if not running.wait(max(wait, 0.0)):
                        running.stop()
                        say(f"dive stopped after {time.perf_counter() - dive_from:.1f}s: "
                            "the cut bound is ready")
                res = running.result()
                if res is not None:
                    mip = _milp_answer(inst, sub, res)[0]
                else:  # no highspy: SciPy's HiGHS, for what is left of the dive's time
                    mip, _, _ = solve_milp(inst, sub, dive_limit - (time.perf_counter()
                                                                    - dive_from),
                                           forced, max_moves, cliques=cliques)
            else:
                mip, _, _ = solve_milp(inst, sub, dive_limit, forced, max_moves,
                                       cliques=cliques)
            if mip is not None:
                index = np.flatnonzero(sub_keep)
                hints.append(np.where(mip >= 0, index[np.maximum(mip, 0)], -1))
        else:
            hints.append(lp_dive(inst, cands, lp_x, opts,
                                 min(tp.cpsat_dive_seconds, tp.cpsat_dive_share * opts.time_limit),
                                 forced, max_moves))
        for rounded in hints:
            r_obj = objective_of(inst, cands, rounded)
            if r_obj < best_obj and ok(rounded):
                best, best_obj = rounded, r_obj
    elif len(cands) and _flow_roundable(inst, forced, max_moves):
        # no LP in time (a national register's candidate pass takes most of the limit):
        # one flow over the kept pairs, rounded, is still far better than the greedy;
        # re-solves while 15% of the limit is left
        flow_only = _flow_hint(inst, cands,
                               time.perf_counter() + tp.flow_only_share * opts.time_limit
                               - elapsed())
        if flow_only is not None:
            r_obj = objective_of(inst, cands, flow_only)
            if r_obj < best_obj and ok(flow_only):
                best, best_obj = flow_only, r_obj
    timings["greedy"] = time.perf_counter() - t
    say(f"greedy start £{greedy_obj:,.2f}/week; LP-rounded hint £{best_obj:,.2f}/week")

    # 3. reduced-cost fixing: a pair whose reduced cost exceeds (incumbent - bound) is in
    #    no better solution, so the model holds only the pairs that could matter. With
    #    pins and a moves limit this still holds: the incumbent is admissible, and
    #    L(duals) + rc is a lower bound on any admissible solution using the pair.
    proof_complete = True
    model_cands = cands
    min_excluded = np.inf
    fix_lag = lag  # the bound min_excluded is measured from (the cut proof's, if it ran)
    # every pair fixing keeps, when the search model holds less (the proof stage's
    # model), and the least reduced cost of those it leaves out
    proof_cands: Candidates | None = None
    proof_min = np.inf
    m_best: np.ndarray | None = None  # per unit, its best option priced with the duals
    if transport and pricing is not None:
        # regional scale: fixing by reduced cost would keep far more pairs than a
        # search can use in the time left, so the model holds each unit's best pairs
        # by reduced cost and the incumbent's; the bound is the Lagrangian one
        keep = _dive_pairs(inst, cands, duals, pricing.best_option, None,
                           tp.transport_dive_pairs)
        keep[best[best >= 0]] = True
        index = np.cumsum(keep) - 1
        best = np.where(best >= 0, index[np.maximum(best, 0)], -1).astype(np.int64)
        model_cands = _subset(cands, keep)
        proof_complete = False
        say(f"search model: {len(model_cands):,} of {len(cands):,} pairs, each unit's "
            f"{tp.transport_dive_pairs} best by reduced cost and the incumbent's")
    elif pricing is not None and np.isfinite(lag) and pool is None:
        # a register too large to hold: another pass over every pair would cost as much
        # as the candidate pass, and could not complete the proof; the bound is lag
        proof_complete = False
    elif pricing is not None and np.isfinite(lag):
        t = time.perf_counter()
        # every dropped pair is looked at only when the pool is small enough to hold
        # them all; else each unit's 50 best, and the proof may be incomplete
        whole = pool is not None and len(pool) <= tp.fixing_whole_pairs
        extra = price(inst, cands, pool, duals, best_obj,
                      per_unit=None if whole else tp.fixing_per_unit, max_moves=max_moves,
                      forced=forced)
        proof_complete = whole
        old = cands.unit * inst.n_placements + cands.placement
        slack = best_obj - lag
        tol = 1e-6 * max(1.0, abs(best_obj))
        if len(extra.add_unit) > max(tp.fixing_factor * len(cands), tp.fixing_pairs):
            # far too many could matter to add them to the search model: they stay out of
            # it, counted in the bound, and make up the proof stage's model with it
            min_excluded = extra.min_dropped_rc
            proof_complete = False
            if whole and len(cands) + len(extra.add_unit) <= tp.proof_pairs:
                merged = _merge(cands, extra)
                red_w = reduced_costs(inst, merged, duals, extra.best_option)
                # the incumbent's pairs stay (its hint), as in the search model
                at = np.searchsorted(merged.unit * inst.n_placements + merged.placement,
                                     old[best[best >= 0]])
                in_w = _with_musts(inst, merged, red_w <= slack + tol, at, forced)
                proof_cands = _subset(merged, in_w)
                # a pool pair `price` did not return has lag + reduced cost >= incumbent
                room = slack - tol
                proof_min = min(float(red_w[~in_w].min()) if (~in_w).any() else np.inf,
                                room)
        elif len(extra.add_unit):
            cands = _merge(cands, extra)
            new = cands.unit * inst.n_placements + cands.placement
            best = np.where(best >= 0, np.searchsorted(new, old[np.maximum(best, 0)]), -1)
        m_full = m_best = extra.best_option
        red = reduced_costs(inst, cands, duals, m_full)
        keep = _with_musts(inst, cands, red <= slack + tol, best[best >= 0], forced)
        if keep.sum() > max(tp.fixing_factor * len(old), tp.fixing_pairs):
            # the incumbent is too far from the bound for fixing to bite: search the
            # column-generation pairs only (the bound below stays valid for all pairs)
            if proof_complete:
                proof_cands = _subset(cands, keep)
                proof_min = min(float(red[~keep].min()) if (~keep).any() else np.inf, slack)
            keep = _with_musts(inst, cands,
                               keep & np.isin(cands.unit * inst.n_placements + cands.placement,
                                              old),
                               best[best >= 0], forced)
        if (~keep).any():
            min_excluded = min(min_excluded, float(red[~keep].min()))
        # dropped pairs never added back all have lag + red >= incumbent
        min_excluded = min(min_excluded, slack) if proof_complete else min_excluded
        index = np.cumsum(keep) - 1
        best = np.where(best >= 0, index[np.maximum(best, 0)], -1).astype(np.int64)
        model_cands = _subset(cands, keep)
        timings["lp"] += time.perf_counter() - t
        say(f"reduced-cost fixing: {len(model_cands):,} of {len(cands):,} pairs can still "
            f"matter (gap £{slack:,.2f})")

    cut_wanted = proof_cands is not None or len(model_cands) >= tp.cut_proof_min_pairs
    if harvest is not None and not cut_wanted:
        harvest[2].cancel()  # fixing left a model the search can prove: not needed
        harvest = None

    # 4. CP-SAT (or HiGHS) on what is left, from the hint
    t = time.perf_counter()
    moves_rhs = _moves_rhs(inst, max_moves)
    model_forced = forced_pairs(inst, model_cands, forced)
    cp_bound = -np.inf
    exact_optimal = False
    chosen: np.ndarray | None = None
    if use_highs:
        timings["build"] = 0.0
        left = opts.time_limit - elapsed() - _margin(opts)
        if len(model_cands) > tp.highs_pairs and pricing is not None and m_best is not None:
            # too many pairs for branch and cut in the time (regional scale): a wider
            # dive, each unit's best pairs by reduced cost and the incumbent's; the
            # bound stays the Lagrangian one
            per_unit = 2 * tp.dive_pairs_per_unit
            while left > tp.wide_dive_min_share * opts.time_limit:
                wide = _dive_pairs(inst, model_cands, duals, m_best, None, per_unit)
                wide[best[best >= 0]] = True
                sub = _subset(model_cands, wide)
                say(f"wider dive: {len(sub):,} of {len(model_cands):,} pairs")
                # HiGHS checks its clock between LP solves, which take long at this size
                mip, done, _ = solve_milp(inst, sub, tp.wide_dive_share * left, forced, max_moves,
                                          cliques=cliques)
                if mip is not None:
                    index = np.flatnonzero(wide)
                    cand = np.where(mip >= 0, index[np.maximum(mip, 0)], -1)
                    if objective_of(inst, model_cands, cand) < best_obj - 1e-9 and admissible(
                            inst, model_cands, cand, forced, max_moves):
                        best, best_obj = cand, objective_of(inst, model_cands, cand)
                left = opts.time_limit - elapsed() - _margin(opts)
                if not done or wide.all() or left < tp.wide_dive_stop_share * opts.time_limit:
                    break
                per_unit *= 2
        else:
            cut = None
            if early is not None and pool is not None:
                # the cut bound came during the dive: used whatever fixing left (it fixes
                # at least as many pairs as the plain bound)
                cut = _cut_search(inst, early, model_cands, pool, cliques, best, best_obj,
                                  time.perf_counter() + left, say,
                                  min_final=_min_final(opts), tuning=tp,
                                  seeds=_race_seeds(opts))
            elif cut_wanted and pool is not None and harvest is not None:
                # fixing kept more pairs than a search proves in the time: certified
                # root cuts make a bound over every pair that fixes nearly all of them
                # the whole time left (less the margin): the root cuts may arrive late,
                # and the last MIP on a few thousand pairs needs only a second or two
                cut = _cut_proof(inst, cands, model_cands, pool, cliques, best, best_obj,
                                 lag, time.perf_counter() + left, say, harvest,
                                 min_final=_min_final(opts), tuning=tp, server=server,
                                 seeds=_race_seeds(opts))
                harvest = None
            if cut is not None:
                model_cands, best, best_obj = cut.model, cut.hint, cut.best_obj
                chosen, exact_optimal, cp_bound = cut.chosen, cut.optimal, cut.mip_bound
                fix_lag, min_excluded, proof_complete = cut.lag, cut.min_excluded, cut.complete
                extra_stats.update(cut_proof_cuts=float(cut.cuts),
                                   cut_proof_during_dive=float(early is not None),
                                   cut_proof_complete=float(cut.complete),
                                   cut_proof_rounds=float(cut.rounds),
                                   cut_proof_bound=float(cut.lag),
                                   cut_proof_pairs=float(len(cut.model)))
            else:
                # HiGHS checks its clock between LP solves: keep a little back (and the
                # time a cut proof that came to nothing took is gone)
                left = opts.time_limit - elapsed() - _margin(opts)
                chosen, exact_optimal, cp_bound = race_milp(
                    inst, model_cands, tp.search_share * left, _race_seeds(opts), forced,
                    max_moves, cliques=cliques, hint=best if opts.hint else None)
        timings["solve"] = time.perf_counter() - t
    elif opts.backend in ("cbc", "highs"):  # issue 4 (optimiser/mip.py): CBC through PuLP,
        # or HiGHS with the split_siblings spread variables the route above lacks
        from .mip import solve_cbc_placement, solve_highs_placement

        left = opts.time_limit - elapsed() - _margin(opts)
        if opts.backend == "cbc":
            chosen, exact_optimal, cp_bound, timings["build"] = solve_cbc_placement(
                inst, model_cands, left, forced=forced, max_moves=max_moves,
                hint=best if opts.hint else None, workers=opts.workers, seed=opts.seed)
        else:
            chosen, exact_optimal, cp_bound, timings["build"] = solve_highs_placement(
                inst, model_cands, tp.search_share * left, forced=forced, max_moves=max_moves)
        timings["solve"] = time.perf_counter() - t - timings["build"]
    else:
        model = build_model(inst, model_cands, best if opts.hint else None,
                            forced=model_forced, moves_rhs=moves_rhs)
        timings["build"] = time.perf_counter() - t
        t = time.perf_counter()
        solver, cp_status = _run_cpsat(model, opts, opts.time_limit - elapsed(), offset,
                                       progress)
        timings["solve"] = time.perf_counter() - t
        if cp_status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            vals = np.asarray(solver.response_proto.solution,
                              dtype=np.int64)[: len(model_cands)]
            chosen = np.full(units.n, -1, dtype=np.int64)
            sel = np.flatnonzero(vals)
            chosen[model_cands.unit[sel]] = sel
            cp_bound = solver.best_objective_bound / MONEY_SCALE + offset
        exact_optimal = cp_status == cp_model.OPTIMAL
    if harvest is not None:
        harvest[2].cancel()  # the route did not run (not the HiGHS search)
    if chosen is not None:
        obj = objective_of(inst, model_cands, chosen)
        if obj < best_obj - 1e-9:
            best, best_obj = chosen, obj
    if not model_cands.pruned:
        bound = max(cp_bound, lag)  # nothing left out: both bounds hold
    elif proof_complete:
        bound = max(fix_lag, min(cp_bound, fix_lag + min_excluded))
    else:
        bound = max(lag, fix_lag)  # the cut proof's bound holds over all pairs alone
    bound = max(bound, lag0, lag)
    proven = exact_optimal and (not model_cands.pruned or (
        proof_complete
        and fix_lag + min_excluded >= best_obj - 1e-6 * max(1.0, abs(best_obj))))
    left = opts.time_limit - elapsed() - _margin(opts)
    whole_pool = pool is not None and len(pool) <= tp.proof_pairs
    if proof_cands is not None and len(proof_cands) > tp.proof_pairs:
        proof_cands = None
    if (use_highs and not proven and left > tp.proof_min_share * opts.time_limit
            and (whole_pool or proof_cands is not None)):
        # 5. time left, and the model held only part of what can matter: branch and cut
        #    over every pair reduced-cost fixing keeps (the least reduced cost left out
        #    makes its bound global), else over every feasible pair when they are few
        #    enough (nothing left out: its bound is global as it stands)
        t = time.perf_counter()
        if proof_cands is not None:
            full, min_excl2 = proof_cands, proof_min
        else:
            assert pool is not None
            full = Candidates(pool.unit.astype(np.int64), pool.placement.astype(np.int64),
                              pool.objective, pool.use.astype(np.int64), cands.n_feasible,
                              None, dict(cands.stats))
            min_excl2 = np.inf
        say(f"proof over every pair that can still matter: {len(full):,} pairs")
        extra_stats["proof_pairs"] = float(len(full))
        place = unit_placement(model_cands, best)
        key = full.unit * inst.n_placements + full.placement
        units_placed = np.flatnonzero(place >= 0)
        best = np.full(units.n, -1, dtype=np.int64)
        best[units_placed] = np.searchsorted(key, units_placed * inst.n_placements
                                             + place[units_placed])
        model_cands = full
        # HiGHS checks its clock between LP solves: a large root LP overruns a little
        chosen2, optimal2, bound2 = solve_milp(inst, full, tp.proof_share * left, forced,
                                               max_moves,
                                               cliques=cliques,
                                               hint=best if opts.hint else None)
        if chosen2 is not None:
            obj2 = objective_of(inst, full, chosen2)
            if obj2 < best_obj - 1e-9:
                best, best_obj = chosen2, obj2
        bound = max(bound, lag, min(bound2, lag + min_excl2))
        proven = optimal2 and lag + min_excl2 >= best_obj - 1e-6 * max(1.0, abs(best_obj))
        timings["solve"] += time.perf_counter() - t
    runtime = elapsed()
    timings["total"] = runtime
    if proven:
        status, bound = STATUS_OPTIMAL, best_obj
    else:
        status = (STATUS_TIME_LIMIT if runtime >= opts.time_limit * tp.time_limit_share
                  else STATUS_FEASIBLE)
    bound = min(bound, best_obj) if np.isfinite(bound) else -np.inf
    assignment = unit_placement(model_cands, best)[units.unit_of]
    stats: dict[str, Any] = dict(model_cands.stats)
    stats.update(extra_stats)
    if inst.reallocation.previous is not None:
        # report the spec's objective; the proof is on objective + stability, so the
        # bound is shifted by the plan's own stability term (formulation.md)
        penalty = stability_of(inst, assignment)
        stats.update(penalised_objective=best_obj, penalised_bound=float(bound),
                     stability_penalty=penalty)
        greedy_obj -= greedy_stability
        best_obj -= penalty
        bound -= penalty
    gap = 0.0 if proven else (
        (best_obj - bound) / max(abs(best_obj), 1.0) if np.isfinite(bound) else float("inf"))
    stats["lp_rounds"] = float(rounds)
    stats["lp_method"] = "transport" if transport else "simplex"
    stats["lagrangian_bound"] = float(lag)
    stats["units"] = float(units.n)
    # issue 4: what solved the restricted model (with split_siblings, "highs" is the
    # array model of optimiser/mip.py, not the HiGHS route with dives and proof stage)
    stats["backend"] = opts.backend
    if opts.backend == "highs" and not use_highs:
        stats["highs_route"] = "split_siblings: mip.solve_highs_placement"
    if max_moves is not None:
        stats["moves"] = float(moves_of(inst, model_cands, best))
    return Result(
        status=status, objective=best_obj, bound=float(bound), gap=float(gap),
        runtime=runtime, seed=opts.seed, assignment=assignment,
        greedy_objective=greedy_obj, timings=timings, stats=stats, instance=inst,
        candidates=model_cands,
    )


def stderr_progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
