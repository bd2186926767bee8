"""Prices by class of placement: a Lagrangian bound that sees which beds can be used.

When supply is short, a common price on every bed (`pricing.lifted`) also prices the
beds no waiting child can take (a secure or parent-and-child home for children whose
care plan names neither, supported accommodation beyond the 16- and 17-year-olds), and
the bound pays for them: `L` subtracts `pi_p cap(p)` for every bed. Here the prices are
one per class of placement (its type), chosen by the transportation problem over the
classes: unit u sends its |u| beds to class k at its cheapest option there, `m[u, k]`
(every pair of the class, or a floor where the spatial search has not looked), or leaves
them unplaced; class k takes at most its beds. The classes' capacity prices of that
flow (shortest distances to the sink) are the prices, and `L` of them is evaluated
exactly over every pair as always: any prices >= 0 give a valid bound, the flow only
chooses them. With a single class this is the best common price.
"""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow

from ..candidates import Candidates, PairPool
from ..flow import sink_distances
from ..instance import Instance
from ..scaling import MONEY_SCALE, to_int
from .lp import Duals
from .pricing import price

# a price per bed that keeps a unit out of a class (far above any unit's unplaced cost)
OFF = 1e9


def placement_classes(inst: Instance) -> np.ndarray:
    """Each placement's class: its type (codes made consecutive). Types split by beds
    (sibling groups use only the larger homes) raised England's bound by 2% for three
    times the passes."""
    return np.unique(inst.ptype, return_inverse=True)[1].ravel()


def class_minima(inst: Instance, cands: Candidates, pool: PairPool | None,
                 classes: np.ndarray) -> np.ndarray:
    """(units, classes): each unit's cheapest option in each class, capped at leaving it
    unplaced, by one bound pass per class with every other class priced out (on the
    spatial route, floors where the search has not looked: nothing is evaluated)."""
    k = int(classes.max()) + 1 if len(classes) else 0
    out = np.empty((inst.units.n, k))
    zero = np.zeros(inst.n_placements)
    for c in range(k):
        pi = np.where(classes == c, 0.0, OFF)
        pr = price(inst, cands, pool, Duals(pi, zero), None, per_unit=0, grow=False)
        out[:, c] = pr.best_option
    return out


def class_flow_prices(inst: Instance, minima: np.ndarray, classes: np.ndarray
                      ) -> np.ndarray:
    """Per class, the capacity price (per bed) of the transportation problem from the
    units to the classes (see the module's docstring)."""
    units = inst.units
    n_u, k = minima.shape
    size = np.maximum(units.size.astype(np.int64), 1)
    pen = inst.unit_unplaced.astype(float)
    u, c = np.nonzero(minima < pen[:, None])
    beds = np.bincount(classes, weights=inst.capacity, minlength=k).astype(np.int64)
    sink = n_u + k
    total = int(size.sum())
    tails = np.concatenate([u, np.arange(n_u), n_u + np.arange(k)])
    heads = np.concatenate([n_u + c, np.full(n_u, sink), np.full(k, sink)])
    caps = np.concatenate([np.full(len(u) + n_u, total), np.maximum(beds, 0)])
    costs = np.concatenate([to_int(minima[u, c] / size[u]), to_int(pen / size),
                            np.zeros(k, dtype=np.int64)])
    mcf = min_cost_flow.SimpleMinCostFlow()
    arcs = mcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    mcf.set_nodes_supplies(np.arange(sink + 1), np.concatenate(
        [size, np.zeros(k, dtype=np.int64), [-total]]))
    if mcf.solve() != mcf.OPTIMAL:  # cannot happen: leaving everyone unplaced is feasible
        raise RuntimeError("class flow not optimal")
    flows = np.asarray(mcf.flows(arcs))
    dist = sink_distances(tails, heads, costs, caps, flows, sink + 1, sink)
    return np.maximum(dist[n_u:n_u + k], 0) / MONEY_SCALE


def class_bound(inst: Instance, cands: Candidates, pool: PairPool | None
                ) -> tuple[float, Duals]:
    """The bound `L` at prices by class of placement, and those prices. Bound passes
    only (on the spatial route nothing is evaluated)."""
    classes = placement_classes(inst)
    zero = np.zeros(inst.n_placements)
    lam = class_flow_prices(inst, class_minima(inst, cands, pool, classes), classes)
    duals = Duals(lam[classes], zero)
    pr = price(inst, cands, pool, duals, None, per_unit=0, grow=False)
    return pr.lagrangian_bound, duals
