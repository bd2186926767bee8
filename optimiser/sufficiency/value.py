"""The value of capacity: the model's LP relaxation and its duals.

The relaxation of the allocation model (models/formulation.md) over every feasible pair:

    min  sum_up c_up x_up + sum_u U_u z_u
    s.t. sum_p x_up + z_u = 1                 (unit u placed once, or left unplaced)
         sum_u a_up x_up <= cap_p             (beds of placement p)
         x, z >= 0

solved by column generation from each unit's cheapest pairs (every other pair priced by
its reduced cost until none is negative, so the optimum is over all pairs). Its duals
are the prices a commissioner reads: `bed_price[p]` is what one more bed at p would save
a week, `unit_dual[u]` what unit u costs the authority at the margin. A unit that must
stay placed (re-allocation rules) has no unplaced column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog

from ..candidates import Candidates
from ..instance import Instance
from ..lpserver import LpServer

START_PAIRS = 20  # cheapest pairs per unit in the first restricted LP
MAX_ROUNDS = 200
ADD_PER_UNIT = 5  # pairs priced in per unit and round
LP_SECONDS = 600.0
TOL = 1e-6


@dataclass(frozen=True)
class Relaxation:
    """The LP optimum and its duals (pounds a week)."""

    value: float
    unit_dual: np.ndarray  # y_u
    bed_price: np.ndarray  # pi_p >= 0: the saving of one more bed at p
    integral: bool  # the LP optimum found is a 0/1 allocation
    rounds: int
    pairs: np.ndarray | None = None  # the pool's pairs in the last restricted LP (mask)
    values: np.ndarray | None = None  # per pool pair, its value in the LP optimum


def cheapest(pool: Candidates, n_units: int, k: int,
             score: np.ndarray | None = None, among: np.ndarray | None = None) -> np.ndarray:
    """Indices of each unit's `k` best pairs by `score` (default: cost) among `among`."""
    idx = np.arange(len(pool)) if among is None else np.flatnonzero(among)
    s = pool.objective if score is None else score
    order = idx[np.lexsort((s[idx], pool.unit[idx]))]
    first = np.searchsorted(pool.unit[order], np.arange(n_units))
    rank = np.arange(len(order)) - first[pool.unit[order]]
    return order[rank < k]


def model(inst: Instance, pool: Candidates, sel: np.ndarray, capacity: np.ndarray
          ) -> tuple[np.ndarray, sparse.csr_matrix, np.ndarray, np.ndarray, np.ndarray]:
    """The restricted LP over pairs `sel` as min c.x, a x <= b, x >= 0, with keys for the
    warm server: cover rows (-sum x - z <= -1) then capacity rows; pairs then unplaced."""
    n_u, m = inst.units.n, len(capacity)
    u, p = pool.unit[sel], pool.placement[sel]
    k = len(u)
    free = np.flatnonzero(~inst.keep_placed)  # units that may be left unplaced
    cols = k + len(free)
    c = np.concatenate([pool.objective[sel], inst.unit_unplaced[free]])
    rows = np.concatenate([u, free, n_u + p])
    cidx = np.concatenate([np.arange(cols), np.arange(k)])
    vals = np.concatenate([-np.ones(cols), pool.use[sel].astype(float)])
    a = sparse.csr_matrix((vals, (rows, cidx)), shape=(n_u + m, cols))
    b = np.concatenate([-np.ones(n_u), capacity.astype(float)])
    row_keys = np.arange(n_u + m, dtype=np.int64)
    col_keys = np.concatenate([u.astype(np.int64) * (m + 1) + p, -1 - free.astype(np.int64)])
    return c, a, b, row_keys, col_keys


def solve_restricted(inst: Instance, pool: Candidates, sel: np.ndarray,
                     capacity: np.ndarray, server: LpServer | None = None
                     ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """The LP over the pairs `sel`: value, unit duals, bed prices, pair values.

    On the warm HiGHS server when one is given and answers, else SciPy's HiGHS."""
    n_u = inst.units.n
    c, a, b, row_keys, col_keys = model(inst, pool, sel, capacity)
    got = None if server is None else server.solve(
        c, np.zeros(len(c)), np.full(len(c), np.inf), a, b, row_keys, col_keys, LP_SECONDS)
    if got is not None:
        x, dual, value = got
    else:
        res = linprog(c, A_ub=a, b_ub=b, bounds=(0, None), method="highs")
        if res.status != 0:
            raise RuntimeError(f"the LP relaxation failed: {res.message}")
        x, dual, value = np.asarray(res.x), np.asarray(res.ineqlin.marginals), float(res.fun)
    return (float(value), np.maximum(-dual[:n_u], 0.0), np.maximum(-dual[n_u:], 0.0),
            x[:len(np.flatnonzero(sel))])


def relax(inst: Instance, pool: Candidates, capacity: np.ndarray | None = None,
          start: np.ndarray | None = None, allowed: np.ndarray | None = None,
          server: LpServer | None = None) -> Relaxation:
    """The relaxation over every pair of `pool` (or those `allowed`), by column
    generation: each round adds each unit's `ADD_PER_UNIT` most negative reduced-cost pairs.

    `start`: pairs (a mask or indices into pool) to begin with besides each unit's
    cheapest, such as those of a known allocation or of the last relaxation. `server`: a
    warm LP kept by the caller, so that a relaxation that only adds pairs to the last one
    starts from its basis (a change of capacity starts it cold)."""
    cap = inst.capacity if capacity is None else capacity
    ok = np.ones(len(pool), dtype=bool) if allowed is None else allowed
    sel = np.zeros(len(pool), dtype=bool)
    sel[cheapest(pool, inst.units.n, START_PAIRS, among=ok)] = True
    if start is not None:
        sel[start] = True
    sel &= ok
    own = server is None
    lp = LpServer() if server is None else server
    try:
        for rounds in range(1, MAX_ROUNDS + 1):
            value, y, pi, x = solve_restricted(inst, pool, sel, cap, lp)
            reduced = pool.objective - y[pool.unit] + pool.use * pi[pool.placement]
            neg = ok & ~sel & (reduced < -TOL * np.maximum(1.0, np.abs(pool.objective)))
            if not neg.any():
                integral = bool(np.all((x < TOL) | (x > 1 - TOL)))
                values = np.zeros(len(pool))
                values[np.flatnonzero(sel)] = x
                return Relaxation(value, y, pi, integral, rounds, sel, values)
            sel[cheapest(pool, inst.units.n, ADD_PER_UNIT, reduced, neg)] = True
    finally:
        if own:
            lp.close()
    raise RuntimeError("column generation did not converge")


def bed_prices(inst: Instance, solved: np.ndarray | None, lp: Relaxation) -> np.ndarray:
    """Per placement of `inst`, the value of one more bed (pounds a week): the solve's
    own capacity prices (`Result.capacity_prices`) when it ran an LP, else those of the
    relaxation `lp` (whose placements start with the instance's)."""
    if solved is not None and len(solved) == inst.n_placements:
        return np.asarray(solved, dtype=float)
    return np.asarray(lp.bed_price[: inst.n_placements], dtype=float)


def bed_values(inst: Instance, prices: np.ndarray, areas: np.ndarray,
               used: np.ndarray) -> pd.DataFrame:
    """The shadow price of a bed by placement type and area (pounds a week).

    `prices`: per placement (`bed_prices`). `used`: beds taken in the allocation, per
    placement. `max_bed_price` is what one more bed at the best-placed such placement
    saves; `mean_full_price` the mean over placements whose beds are all needed (price
    above zero)."""
    df = pd.DataFrame({
        "type": [inst.type_name(p) for p in range(inst.n_placements)],
        "area": areas, "beds": inst.capacity, "used": used, "price": prices})
    g = df.groupby(["type", "area"], sort=True)
    out = pd.DataFrame({
        "placements": g.size(), "beds": g["beds"].sum(), "beds_used": g["used"].sum(),
        "placements_with_price": g["price"].apply(lambda s: int((s > TOL).sum())),
        "max_bed_price": g["price"].max().round(2),
        "mean_full_price": g["price"].apply(
            lambda s: float(s[s > TOL].mean()) if (s > TOL).any() else 0.0).round(2),
    }).reset_index()
    return out.sort_values(["max_bed_price", "beds"], ascending=False, kind="stable",
                           ignore_index=True)
