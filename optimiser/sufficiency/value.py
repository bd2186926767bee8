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

START_PAIRS = 20  # cheapest pairs per unit in the first restricted LP
MAX_ROUNDS = 50
TOL = 1e-6


@dataclass(frozen=True)
class Relaxation:
    """The LP optimum and its duals (pounds a week)."""

    value: float
    unit_dual: np.ndarray  # y_u
    bed_price: np.ndarray  # pi_p >= 0: the saving of one more bed at p
    integral: bool  # the LP optimum found is a 0/1 allocation
    rounds: int


def cheapest(pool: Candidates, n_units: int, k: int) -> np.ndarray:
    """Mask of each unit's `k` cheapest pairs."""
    order = np.lexsort((pool.objective, pool.unit))
    first = np.searchsorted(pool.unit[order], np.arange(n_units))
    rank = np.arange(len(order)) - first[pool.unit[order]]
    keep = np.zeros(len(pool), dtype=bool)
    keep[order[rank < k]] = True
    return keep


def solve_restricted(inst: Instance, pool: Candidates, sel: np.ndarray,
                     capacity: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """The LP over the pairs `sel`: value, unit duals, bed prices, pair values."""
    n_u, m = inst.units.n, len(capacity)
    u, p = pool.unit[sel], pool.placement[sel]
    k = len(u)
    free = np.flatnonzero(~inst.keep_placed)  # units that may be left unplaced
    cost = np.concatenate([pool.objective[sel], inst.unit_unplaced[free]])
    cols = k + len(free)
    a_eq = sparse.csr_matrix((np.ones(cols), (np.concatenate([u, free]), np.arange(cols))),
                             shape=(n_u, cols))
    a_ub = sparse.csr_matrix((pool.use[sel].astype(float), (p, np.arange(k))),
                             shape=(m, cols))
    res = linprog(cost, A_ub=a_ub, b_ub=capacity.astype(float), A_eq=a_eq,
                  b_eq=np.ones(n_u), bounds=(0, None), method="highs")
    if res.status != 0:
        raise RuntimeError(f"the LP relaxation failed: {res.message}")
    return (float(res.fun), np.asarray(res.eqlin.marginals),
            np.maximum(-np.asarray(res.ineqlin.marginals), 0.0), np.asarray(res.x[:k]))


def relax(inst: Instance, pool: Candidates, capacity: np.ndarray | None = None) -> Relaxation:
    """The relaxation over every pair of `pool` (all feasible pairs), by column generation."""
    cap = inst.capacity if capacity is None else capacity
    sel = cheapest(pool, inst.units.n, START_PAIRS)
    for rounds in range(1, MAX_ROUNDS + 1):
        value, y, pi, x = solve_restricted(inst, pool, sel, cap)
        reduced = pool.objective - y[pool.unit] + pool.use * pi[pool.placement]
        add = ~sel & (reduced < -TOL * np.maximum(1.0, np.abs(pool.objective)))
        if not add.any():
            integral = bool(np.all((x < TOL) | (x > 1 - TOL)))
            return Relaxation(value, y, pi, integral, rounds)
        sel |= add
    raise RuntimeError("column generation did not converge")


def bed_values(inst: Instance, lp: Relaxation, areas: np.ndarray,
               used: np.ndarray) -> pd.DataFrame:
    """The shadow price of a bed by placement type and area (pounds a week).

    `used`: beds taken in the allocation, per placement. `max_bed_price` is what one more
    bed at the best-placed such placement saves; `mean_full_price` the mean over
    placements whose beds are all needed (price above zero)."""
    df = pd.DataFrame({
        "type": [inst.type_name(p) for p in range(inst.n_placements)],
        "area": areas, "beds": inst.capacity, "used": used, "price": lp.bed_price})
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
