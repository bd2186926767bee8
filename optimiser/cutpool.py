"""HiGHS's root cuts, certified, then priced over every pair: the authority proof.

Why: on a large authority the LP over every pair is a few hundred pounds below the
optimum, and reduced-cost fixing by that bound keeps most pairs (single children have
hundreds of alternatives within the gap), too many for branch and cut in the time.
HiGHS's root cuts on the column-generation pairs alone close that gap, but they are
cuts of *that* model. Three facts make them cuts of the whole problem:

1. The model is a packing problem (every row a x <= b with a >= 0, x binary): a plan
   over all pairs stays a plan when the pairs outside a set are set to zero. So a cut
   over some pairs, valid for the model restricted to its support J, holds for every
   plan, with coefficient zero on every other pair.
2. Its right-hand side is *certified* here, not trusted: max a.x over the rows
   restricted to J, solved as a small MIP (or its LP, rounded down when a is
   integral). HiGHS derives cuts with its incumbent's cutoff; the certificate does not
   depend on it, nor on any tolerance of HiGHS's separators.
3. With the certified cuts as rows, column generation over every feasible pair gives
   a Lagrangian bound valid over all pairs (a pair outside the cuts' supports pays
   nothing for them), and its reduced costs fix all but a handful of pairs.

On a large authority this bound comes within a few pounds of the plan, where the LP is
hundreds below it (models/formulation.md, "The cut proof"). Not for pinned units, kept
placements or a moves limit: their rows (x = 1, -x <= -1, negative coefficients) are
not packing rows.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from .candidates import Candidates
from .highs import Pending, milp_start, quiet_stdout
from .instance import Instance
from .pipeline.rows import model_rows
from .scaling import to_int

log = logging.getLogger(__name__)

CERTIFY_SECONDS = 2.0  # per cut, for its MIP; past it the MIP's bound is used
NO_HEURISTICS = {"mip_heuristic_effort": 0.0, "mip_heuristic_run_feasibility_jump": False,
                 "mip_heuristic_run_rins": False, "mip_heuristic_run_rens": False,
                 "mip_heuristic_run_root_reduced_cost": False}


@dataclass(frozen=True)
class Cuts:
    """Rows sum_k value_k x[key_k] <= rhs, over pair keys (unit * n_placements +
    placement), CSR-like: row r holds entries start[r]:start[r+1]."""

    start: np.ndarray
    key: np.ndarray
    value: np.ndarray
    rhs: np.ndarray

    def __len__(self) -> int:
        return len(self.rhs)

    def first(self, n: int) -> Cuts:
        """The first `n` rows (those certified before a deadline)."""
        end = int(self.start[n])
        return Cuts(self.start[: n + 1], self.key[:end], self.value[:end], self.rhs[:n])

    def over(self, inst: Instance, cands: Candidates) -> sparse.csr_matrix:
        """The rows over `cands`' columns; a pair not in `cands` is at zero there."""
        ck = cands.unit * inst.n_placements + cands.placement  # sorted
        pos = np.minimum(np.searchsorted(ck, self.key), max(len(ck) - 1, 0))
        hit = ck[pos] == self.key if len(ck) else np.zeros(len(self.key), dtype=bool)
        row = np.repeat(np.arange(len(self.rhs)), np.diff(self.start))
        return sparse.csr_matrix((self.value[hit], (row[hit], pos[hit])),
                                 shape=(len(self.rhs), len(cands)))


@dataclass(frozen=True)
class CarriedCuts:
    """Certified cuts of one solve, named by child and placement id (a pair's unit by a
    child of it), for a later solve of a like instance (`SolveOptions.start_cuts`), such
    as the same authority with a placement appended. There every cut is certified again
    on that instance's own rows (`certify`): a cut of another instance is never trusted,
    only its support and coefficients are reused."""

    start: np.ndarray
    child: np.ndarray  # per entry, a child id of the pair's unit (str)
    placement: np.ndarray  # per entry, the placement id (str)
    value: np.ndarray
    rhs: np.ndarray  # as certified there (the claim a certificate checks first)

    def __len__(self) -> int:
        return len(self.rhs)


def carry(inst: Instance, cuts: Cuts) -> CarriedCuts:
    """`cuts` (over pair keys of `inst`) named by child and placement id."""
    m = inst.n_placements
    first = inst.units.order[inst.units.start[:-1]]  # a child of each unit
    return CarriedCuts(cuts.start.copy(), inst.child_ids[first[cuts.key // m]],
                       inst.placement_ids[cuts.key % m], cuts.value.copy(), cuts.rhs.copy())


def carried(inst: Instance, cuts: CarriedCuts, keys: np.ndarray) -> Cuts:
    """The carried cuts over the pairs of `inst` with sorted keys `keys`: entries whose
    child, placement or pair `inst` lacks are dropped (a packing row with fewer terms is
    still one), then rows left empty. Not certified: `certify` gives each its right-hand
    side on `inst`."""
    m = inst.n_placements
    child = pd.Index(inst.child_ids).get_indexer(cuts.child)
    place = pd.Index(inst.placement_ids).get_indexer(cuts.placement)
    key = np.where((child >= 0) & (place >= 0),
                   inst.units.unit_of[np.maximum(child, 0)] * m + place, -1)
    pos = np.minimum(np.searchsorted(keys, key), max(len(keys) - 1, 0))
    ok = (key >= 0) & (keys[pos] == key) if len(keys) else np.zeros(len(key), dtype=bool)
    row_all = np.repeat(np.arange(len(cuts)), np.diff(cuts.start))
    # a row naming one pair twice (units regrouped) is dropped: its certificate would
    # count the pair as two
    seen, times = np.unique(np.column_stack([row_all[ok], key[ok]]), axis=0,
                            return_counts=True)
    ok &= ~np.isin(row_all, seen[times > 1, 0])
    row = row_all[ok]
    count = np.bincount(row, minlength=len(cuts))
    rows = np.flatnonzero(count)
    start = np.concatenate([[0], np.cumsum(count[rows])]).astype(np.int64)
    order = np.argsort(row, kind="stable")  # entries stay grouped by row
    return Cuts(start, key[ok][order], cuts.value[ok][order].astype(float),
                cuts.rhs[rows].astype(float))


def applies(inst: Instance, forced: np.ndarray | None, max_moves: int | None) -> bool:
    """Packing rows only (see the module docstring)."""
    return (max_moves is None and not inst.keep_placed.any()
            and (forced is None or not forced.any())
            and not inst.policy.rules.split_siblings)


def harvest_start(inst: Instance, cands: Candidates, time_limit: float,
                  cliques: np.ndarray) -> Pending:
    """Start HiGHS on `cands`, to stop at the end of its root node (`harvest_cuts` reads
    the cuts in its LP then). It runs beside the engine's own work, on another core."""
    k = len(cands)
    c = to_int(cands.objective - inst.unit_unplaced[cands.unit]).astype(float)
    rw = model_rows(inst, cands, None, None, cliques=cliques)
    return milp_start(c, rw.a, -np.inf, rw.b, np.zeros(k), np.ones(k), np.ones(k),
                      harvest_options(time_limit))


def harvest_options(time_limit: float) -> dict[str, object]:
    """The worker's options for a harvest: stop when the root node ends, presolve off
    (cuts over the model's own columns), no start and no primal heuristics.

    Why no heuristics, twice over. HiGHS calls its cut-pool callback only when the
    root node ends with a gap: a root whose separation closes the gap returns before
    it, and no cut comes back. An incumbent found before the root LP (feasibility jump
    finds the optimum of many small models) lets the separation close it. And cuts
    derived under a good incumbent's cutoff hold only for plans better than it, so the
    certificate would give them back their slack."""
    return {"time_limit": max(time_limit, 0.1), "mip_rel_gap": 0.0, "disp": False,
            "presolve": False, "cut_pool": True, "stop_after_cuts": True,
            "highs": NO_HEURISTICS}


def harvest_cuts(inst: Instance, cands: Candidates, pending: Pending) -> Cuts | None:
    """The `<=` cuts HiGHS returned over `cands` (the pairs `harvest_start` was given),
    uncertified; None when it returned none (time limit before the root ended)."""
    res = pending.result()
    if res is None or res.cuts is None:
        if res is not None and res.status == 0:
            log.info("HiGHS solved the harvest's model at its root: no cut pool to read")
        return None
    start, index, value, lower, upper = res.cuts
    keys = cands.unit * inst.n_placements + cands.placement
    rows = [r for r in range(len(upper))
            if np.isfinite(upper[r]) and not np.isfinite(lower[r]) and start[r + 1] > start[r]]
    if not rows:
        return None
    sel_idx = [np.arange(start[r], start[r + 1]) for r in rows]
    lens = np.array([len(s) for s in sel_idx])
    flat = np.concatenate(sel_idx)
    return Cuts(np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
                keys[index[flat]], value[flat].astype(float), upper[rows].astype(float))


def certify(inst: Instance, cands: Candidates, cuts: Cuts, cliques: np.ndarray,
            deadline: float | None = None) -> Cuts:
    """Each cut with the right-hand side max a.x over the rows of `cands` restricted to
    its support (any plan over all pairs restricted to it is feasible there), so valid
    for every plan. Past `deadline` (a `time.perf_counter()` value) the cuts not yet
    certified are dropped: an LP and perhaps a MIP each, and the proof's last MIP needs
    the time."""
    rw = model_rows(inst, cands, None, None, cliques=cliques)
    ck = cands.unit * inst.n_placements + cands.placement
    cols = [np.searchsorted(ck, cuts.key[cuts.start[r]: cuts.start[r + 1]])
            for r in range(len(cuts))]
    coefs = [cuts.value[cuts.start[r]: cuts.start[r + 1]] for r in range(len(cuts))]
    rhs = certified_rhs(rw.a, rw.b, cols, coefs, cuts.rhs, deadline)
    log.info("certified %d of %d cuts; %d kept HiGHS's right-hand side", len(rhs),
             len(cuts), int((rhs <= cuts.rhs[: len(rhs)] + 1e-9).sum()))
    kept = cuts.first(len(rhs))
    return Cuts(kept.start, kept.key, kept.value, rhs)


def certified_rhs(a: sparse.spmatrix, b: np.ndarray, cols: list[np.ndarray],
                  coefs: list[np.ndarray], claimed: np.ndarray,
                  deadline: float | None = None) -> np.ndarray:
    """Per cut (columns, coefficients), an upper bound on max coef.x over
    {x binary: a x <= b, x = 0 off its columns}: the LP maximum, rounded down when the
    coefficients are integral; where that is above the `claimed` right-hand side, the
    MIP maximum (or its dual bound after CERTIFY_SECONDS, or at `deadline`). Past
    `deadline` no more cuts are certified: the result is shorter than `cols`."""
    a_csc = sparse.csc_matrix(a)
    out = np.empty(len(cols))
    for r, (col, coef) in enumerate(zip(cols, coefs, strict=True)):
        if deadline is not None and time.perf_counter() > deadline:
            return out[:r]
        sub = a_csc[:, col].tocsr()
        used = np.flatnonzero(np.diff(sub.indptr))
        sub, rhs = sub[used], b[used]
        integral = bool(np.allclose(coef, np.round(coef), atol=1e-9))
        lp = linprog(-coef, A_ub=sub, b_ub=rhs, bounds=(0, 1), method="highs")
        best = -float(lp.fun) if lp.status == 0 else float(np.maximum(coef, 0).sum())
        if not integral:
            out[r] = best + 1e-7 * max(1.0, abs(best))
            continue
        # rounding down only past a margin well above the LP's tolerances: a maximum
        # computed a hair below an integer must not lose that integer
        best = float(np.floor(best + 1e-5 * max(1.0, abs(best))))
        if best <= claimed[r] + 1e-9:
            out[r] = best  # rounding the LP shows the claim (or better)
            continue
        with quiet_stdout():  # SciPy's HiGHS prints debugging lines
            m = milp(-coef, constraints=LinearConstraint(sub, -np.inf, rhs),
                     integrality=np.ones(len(coef)), bounds=Bounds(0, 1),
                     options={"time_limit": CERTIFY_SECONDS if deadline is None else
                              max(min(CERTIFY_SECONDS, deadline - time.perf_counter()),
                                  0.01),
                              "mip_rel_gap": 0.0})
        bound = getattr(m, "mip_dual_bound", None)
        if m.status == 0 and m.fun is not None:
            best = min(best, float(np.floor(-float(m.fun) + 1e-6)))
        elif bound is not None and np.isfinite(bound):
            best = min(best, float(np.floor(-float(bound) + 1e-6)))
        out[r] = best
    return out
