"""Min-cost-flow fast path: when the placement model is a transportation problem.

With no sibling group (every unit one child), no solo child (a solo child takes a whole
placement, not one bed), no `split_siblings` penalty to pay and no re-allocation
constraint (pins, `max_moves`, `min_saving`, `--previous`), the model is

    min sum_k c_k x_k   s.t.  sum_{k of child} x_k <= 1,  sum_{k at p} x_k <= cap_p,

a transportation problem: its constraint matrix is totally unimodular, so a min-cost
flow solves it exactly in polynomial time. Network: child -> placement (capacity 1, cost
c_k - unplaced_child in pence, the same integers CP-SAT gets), child -> sink (cost 0:
left unplaced), placement -> sink (capacity cap_p). Every child sends one unit.

The flow is taken over *every* feasible pair (the candidate pass's full pool), never the
pruned top-K, so its optimum is the optimum of the whole problem: no pricing needed.
When the pool is too large to hold (regional scale), the fast path is not used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from ortools.graph.python import min_cost_flow

from .candidates import Candidates, PairPool
from .forked import call_by
from .instance import Instance
from .pipeline.plans import beds_left, greedy, objective_of, split_penalty, unit_placement
from .pipeline.pricing import best_per_unit
from .pipeline.types import Result
from .scaling import MONEY_SCALE, to_int
from .status import Status

BACKEND_NAME = "min_cost_flow"


FLOW_COST_RANGE = 2.0 ** 60  # |cost| x (nodes + 1) kept below this (OR-Tools' int64)
# seconds per arc x log2(arcs) of OR-Tools' cost-scaling flow with the tie-breaking costs
# on two cores, between a quiet and a busy machine: the flow cannot be interrupted once
# started (it holds the interpreter), and too cautious a figure would send an instance
# the flow proves in time to the general route
FLOW_SECONDS_PER_ARC_LOG = 6e-8


def flow_seconds(arcs: int) -> float:
    """What the fast path's flow over `arcs` pairs is expected to take, at most."""
    return FLOW_SECONDS_PER_ARC_LOG * arcs * np.log2(max(arcs, 2))


def flow_blocker(inst: Instance) -> str | None:
    """Why the fast path does not apply to `inst`, or None when it does."""
    units = inst.units
    if units.n and int(units.size.max()) > 1:
        return "sibling group"
    if units.solo.any():
        return "solo child"
    if inst.policy.rules.split_siblings and (units.group_of_child >= 0).any():
        return "split_siblings"
    if inst.reallocation.keeps_placed:
        return "placed children stay placed (move_only_in_child_interest)"
    if inst.reallocation.active:
        return "re-allocation settings"
    assert inst.pinned is not None
    if (inst.pinned & (inst.current >= 0)).any():
        return "pinned child"
    return None


def pool_candidates(inst: Instance, pool: PairPool, n_feasible: np.ndarray,
                    stats: dict[str, float]) -> Candidates:
    """The whole pool as (unpruned) Candidates, sorted by unit then placement."""
    out = dict(stats)
    out["pairs_kept"] = out["pairs_in_model"] = float(len(pool))
    return Candidates(pool.unit.astype(np.int64), pool.placement.astype(np.int64),
                      np.asarray(pool.objective, dtype=float), pool.use.astype(np.int64),
                      n_feasible, None, out)


def flow_choice(inst: Instance, cands: Candidates) -> tuple[np.ndarray, int]:
    """Optimal choice per unit (index into `cands`, -1 unplaced) and its value in pence
    (sum of c_k - unplaced over the chosen pairs; add the unplaced total for the model's).

    `cands` must hold every pair the optimum may use (the full pool).
    """
    n_units = inst.units.n
    k = len(cands)
    chosen = np.full(n_units, -1, dtype=np.int64)
    if k == 0 or n_units == 0:
        return chosen, 0
    cost = to_int(cands.objective - inst.unit_unplaced[cands.unit])
    useful = np.flatnonzero(cost < 0)  # a pair dearer than leaving unplaced never helps
    if len(useful) == 0:
        return chosen, 0
    u = cands.unit[useful]
    p = cands.placement[useful]
    places, prow = np.unique(p, return_inverse=True)
    n_p = len(places)
    sink = n_units + n_p
    cap = inst.capacity[places].astype(np.int64)
    tails = np.concatenate([u, np.arange(n_units), n_units + np.arange(n_p)])
    heads = np.concatenate([n_units + prow.ravel(), np.full(n_units, sink),
                            np.full(n_p, sink)])
    caps = np.concatenate([np.ones(len(useful) + n_units, dtype=np.int64), cap])
    # ties in pence go to the status quo (never evict a resident for an equally good
    # newcomer): cost * (n + 1) - [pair is the unit's home], lexicographic in one flow.
    # OR-Tools refuses costs whose magnitude times the node count could overflow
    # (BAD_COST_RANGE, with large registers and unplaced weights): there the plain
    # pence, ties broken as the flow finds them
    stay = ((inst.pair_moves(u, p) == 0) & (inst.unit_placed[u] > 0)).astype(np.int64)
    scale = n_units + 1
    if float(np.abs(cost[useful]).max()) * scale * (sink + 2) >= FLOW_COST_RANGE:
        scale, stay = 1, np.zeros_like(stay)
    costs = np.concatenate([cost[useful] * scale - stay,
                            np.zeros(n_units + n_p, dtype=np.int64)])
    mcf = min_cost_flow.SimpleMinCostFlow()
    arcs = mcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supplies = np.concatenate([np.ones(n_units, dtype=np.int64),
                               np.zeros(n_p, dtype=np.int64), [-n_units]])
    mcf.set_nodes_supplies(np.arange(sink + 1), supplies)
    status = mcf.solve()
    if status != mcf.OPTIMAL:  # cannot happen: the all-unplaced flow is feasible
        raise RuntimeError(f"min-cost flow ended with status {status}")
    flows = mcf.flows(arcs[: len(useful)])
    used = useful[flows > 0]
    chosen[cands.unit[used]] = used
    return chosen, int(cost[used].sum())


def solve_flow(inst: Instance, cands: Candidates, pool: PairPool, seed: int,
               timings: dict[str, float], t_start: float,
               deadline: float | None = None, start: np.ndarray | None = None) -> Result:
    """The whole solve on the fast path: returns a Result (status optimal). With
    `deadline` (a `time.perf_counter()` value) the flow runs in a worker process, and
    `forked.TooLate` is raised when it has not answered by then. `start`: the greedy
    plan on `cands`, when the caller has it (its objective is reported)."""
    t = time.perf_counter()
    full = pool_candidates(inst, pool, cands.n_feasible, cands.stats)
    timings["build"] = time.perf_counter() - t
    t = time.perf_counter()
    chosen, pence = (flow_choice(inst, full) if deadline is None
                     else call_by(deadline, flow_choice, inst, full))
    timings["solve"] = time.perf_counter() - t
    if start is None:
        t = time.perf_counter()
        start = greedy(inst, cands)
        timings["greedy"] = time.perf_counter() - t
    greedy_obj = objective_of(inst, cands, start)
    obj = objective_of(inst, full, chosen)
    runtime = time.perf_counter() - t_start
    timings["total"] = runtime
    stats: dict[str, Any] = dict(full.stats)
    stats.update(backend=BACKEND_NAME, units=float(inst.units.n), lp_rounds=0.0,
                 flow_objective_pence=float(pence + int(to_int(inst.unit_unplaced).sum())),
                 flow_arcs=float(len(full)))
    assignment = unit_placement(full, chosen)[inst.units.unit_of]
    # the exact (float) objective of the chosen plan; optimal up to the rounding of each
    # pair's coefficient to the penny, as for every backend (scaling.py)
    return Result(status=Status.OPTIMAL, objective=obj, bound=obj, gap=0.0, runtime=runtime,
                  seed=seed, assignment=assignment, greedy_objective=greedy_obj,
                  timings=timings, stats=stats, instance=inst, candidates=full)


def plan_pence(inst: Instance, cands: Candidates, assignment: np.ndarray) -> int:
    """The integer (pence) model objective of a per-child plan, as every backend scores
    it: each chosen pair's coefficient c_k - unplaced rounded to the penny, plus the
    rounded unplaced total and the split penalty. Two backends agree "to the penny" when
    this agrees. `cands` must hold the plan's pairs (a Result's candidates do)."""
    units = inst.units
    first = units.order[units.start[:-1]]
    place = np.asarray(assignment, dtype=np.int64)[first]
    placed = np.flatnonzero(place >= 0)
    m = max(inst.n_placements, 1)
    keys = cands.unit * m + cands.placement
    want = placed * m + place[placed]
    k = np.searchsorted(keys, want)
    if len(k) and (k.max() >= len(keys) or not np.array_equal(keys[k], want)):
        raise ValueError("plan_pence: the plan uses a pair the candidates do not hold")
    coef = to_int(cands.objective[k] - inst.unit_unplaced[placed])
    return (int(coef.sum()) + int(to_int(inst.unit_unplaced).sum())
            + int(to_int(split_penalty(inst, place))))


# ------------------------------------------------------ transportation relaxation (duals)


@dataclass(frozen=True)
class Transport:
    """The transportation relaxation over some pairs: capacity prices and a primal."""

    pi: np.ndarray  # per placement, £ per bed: optimal duals of the capacity rows
    value: float  # the relaxation's optimum in £ (per-bed costs rounded to the penny)
    x: np.ndarray  # per pair of `cands`: the share of its unit's beds sent there


def transport_relaxation(inst: Instance, cands: Candidates,
                         capacity: np.ndarray | None = None,
                         active: np.ndarray | None = None,
                         pairs: np.ndarray | None = None) -> Transport:
    """Solve the LP relaxation of the placement model over `cands` as a min-cost flow.

    With x_up in [0, 1] and beds y_up = w_u x_up, the LP relaxation (unit rows, capacity
    rows) is a transportation problem: unit u supplies w_u beds at c_up / w_u each, or
    leaves them unplaced at unplaced_u / w_u; placement p takes at most cap_p. Network
    simplex-class solvers do this in a second or two where a general LP code needs a
    minute at regional scale. Their duals are what column generation needs: the capacity
    prices are the shortest-path distances to the sink in the optimal flow's residual
    network (complementary slackness), found by Bellman-Ford over the few arcs that
    change. A solo child's pairs are charged its own beds here, not the whole placement:
    the duals stay approximate for those, which costs nothing in validity, as every
    bound is then evaluated exactly by the Lagrangian over every pair (formulation.md).
    `capacity`, `active` (units still to place) and `pairs` (a mask of `cands`) serve
    the rounding below.
    """
    units = inst.units
    n_u, n_p = units.n, inst.n_placements
    size = np.maximum(units.size.astype(np.int64), 1)
    pen = inst.unit_unplaced.astype(float)
    cap = inst.capacity if capacity is None else capacity
    x = np.zeros(len(cands))
    if n_u == 0:
        return Transport(np.zeros(n_p), 0.0, x)
    ok = cands.objective < pen[cands.unit]
    if active is not None:
        ok &= active[cands.unit]
        size = np.where(active, size, 0)
    if pairs is not None:
        ok &= pairs
    useful = np.flatnonzero(ok)
    u, p = cands.unit[useful], cands.placement[useful]
    cost = to_int(cands.objective[useful] / np.maximum(size[u], 1))  # pence per bed
    pen_c = to_int(pen / np.maximum(size, 1))
    sink = n_u + n_p
    total = int(size.sum())
    tails = np.concatenate([u, np.arange(n_u), n_u + np.arange(n_p)])
    heads = np.concatenate([n_u + p, np.full(n_u, sink), np.full(n_p, sink)])
    caps = np.concatenate([np.full(len(u) + n_u, total),
                           np.maximum(cap.astype(np.int64), 0)])
    costs = np.concatenate([cost, pen_c, np.zeros(n_p, dtype=np.int64)])
    mcf = min_cost_flow.SimpleMinCostFlow()
    arcs = mcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    mcf.set_nodes_supplies(np.arange(sink + 1), np.concatenate(
        [size, np.zeros(n_p, dtype=np.int64), [-total]]))
    status = mcf.solve()
    if status != mcf.OPTIMAL:  # cannot happen: leaving everyone unplaced is feasible
        raise RuntimeError(f"min-cost flow ended with status {status}")
    flows = np.asarray(mcf.flows(arcs))
    dist = sink_distances(tails, heads, costs, caps, flows, sink + 1, sink)
    pi = np.maximum(dist[n_u: n_u + n_p], 0) / MONEY_SCALE
    x[useful] = flows[: len(u)] / np.maximum(size[u], 1)
    return Transport(pi, mcf.optimal_cost() / MONEY_SCALE, x)


def transport_rounding(inst: Instance, cands: Candidates, x: np.ndarray, pi: np.ndarray,
                       rounds: int = 8, per_unit: int = 15,
                       deadline: float | None = None) -> np.ndarray:
    """An integer plan from the transportation relaxation's solution `x` on `cands`.

    Single children come out of the flow whole; sibling groups (and solo children, whose
    whole-placement use the flow does not see) can be split over several placements,
    which no plan can do. So each round places the split units first, each where its
    whole group fits at the least reduced cost under the capacity prices `pi` (its
    largest share first), and solves the flow again for everyone else on the beds left
    over. When nothing is split, the flow's plan is taken whole; the greedy completes it.
    Past `deadline` (a `time.perf_counter()` value) the current round is the last.
    Returns the chosen pair per unit (-1: unplaced).
    """
    units = inst.units
    chosen = np.full(units.n, -1, dtype=np.int64)
    rem = inst.capacity.astype(np.int64).copy()
    open_u = np.ones(units.n, dtype=bool)
    cu, cp, cw = cands.unit, cands.placement, cands.use
    red = cands.objective + cw * pi[cp]
    # the re-solves see each unit's `per_unit` best pairs by reduced cost (and the
    # support): a few times fewer arcs, the same plan in all but a few units
    near = np.zeros(len(cands), dtype=bool)
    near[best_per_unit(cu, red, per_unit)] = True
    near |= x > 1e-9
    for r in range(rounds):
        sup = (x > 1e-9) & open_u[cu]
        split = np.zeros(units.n, dtype=bool)
        split[cu[sup & (x < 1 - 1e-9)]] = True
        last = (r == rounds - 1 or not split.any()
                or (deadline is not None and time.perf_counter() > deadline))
        # split units: their largest share, then the cheapest pair where they fit;
        # in the last round (or when none is split) every unit of the support
        pick = np.flatnonzero((sup if last else split[cu]) & (cw <= rem[cp]))
        pick = pick[np.lexsort((red[pick], -np.round(x[pick], 6), cu[pick]))]
        if not last:  # plus each split unit's other fitting pairs, as fall-backs
            more = np.flatnonzero(split[cu] & ~sup & (cw <= rem[cp]))
            more = more[np.lexsort((red[more], cu[more]))]
            pick = np.concatenate([pick, more])
            pick = pick[np.argsort(cu[pick], kind="stable")]
        for k in pick.tolist():
            u, p, w = cu[k], cp[k], cw[k]
            if open_u[u] and rem[p] >= w:
                rem[p] -= w
                chosen[u] = k
                open_u[u] = False
        if last:
            break
        x = transport_relaxation(inst, cands, capacity=rem, active=open_u,
                                 pairs=near & (cw <= rem[cp])).x
    plan = greedy(inst, cands, capacity=inst.capacity, first=chosen[chosen >= 0])
    return reflow_singles(inst, cands, plan)


def reflow_singles(inst: Instance, cands: Candidates, plan: np.ndarray) -> np.ndarray:
    """With every group (and solo child) where `plan` put it, the single children's best
    plan is a transportation problem with integral supplies: one exact flow re-places
    them all. Never worse than `plan`, whose singles' places are one feasible flow."""
    units = inst.units
    single = (units.size == 1) & ~units.solo
    if not single.any():
        return plan
    rem = beds_left(inst, cands, plan[(plan >= 0) & ~single])
    x = transport_relaxation(inst, cands, capacity=rem, active=single,
                             pairs=cands.use <= rem[cands.placement]).x
    out = np.where(single, -1, plan)
    sel = np.flatnonzero(x > 0.5)
    out[cands.unit[sel]] = sel
    return out if objective_of(inst, cands, out) <= objective_of(inst, cands, plan) else plan


def sink_distances(tails: np.ndarray, heads: np.ndarray, costs: np.ndarray,
                    caps: np.ndarray, flows: np.ndarray, n_nodes: int, sink: int
                    ) -> np.ndarray:
    """Shortest distance from every node to `sink` in the residual network of an optimal
    flow (no negative cycle there), by Bellman-Ford relaxing only the arcs into nodes
    whose distance changed in the previous sweep."""
    pos, room = flows > 0, flows < caps
    rt = np.concatenate([tails[room], heads[pos]])  # residual arc rt -> rh, cost rc
    rh = np.concatenate([heads[room], tails[pos]])
    rc = np.concatenate([costs[room], -costs[pos]])
    order = np.argsort(rh, kind="stable")  # arcs grouped by head
    rt, rh, rc = rt[order], rh[order], rc[order]
    first = np.searchsorted(rh, np.arange(n_nodes + 1))
    big = np.iinfo(np.int64).max // 4
    dist = np.full(n_nodes, big, dtype=np.int64)
    dist[sink] = 0
    changed = np.array([sink])
    for _ in range(n_nodes + 1):
        lo, hi = first[changed], first[changed + 1]
        count = hi - lo
        if not count.sum():
            break
        idx = np.repeat(lo - np.cumsum(count) + count, count) + np.arange(count.sum())
        t, c = rt[idx], rc[idx] + dist[rh[idx]]
        better = c < dist[t]
        if not better.any():
            break
        t, c = t[better], c[better]
        o = np.lexsort((c, t))
        t, c = t[o], c[o]
        keep = np.flatnonzero(np.diff(t, prepend=-1))
        dist[t[keep]] = c[keep]
        changed = t[keep]
    else:
        raise RuntimeError("negative cycle in the residual network: the flow is not optimal")
    return dist


__all__ = ["BACKEND_NAME", "MONEY_SCALE", "flow_blocker", "flow_choice", "flow_seconds",
           "plan_pence",
           "pool_candidates", "solve_flow", "Transport",
           "transport_relaxation", "transport_rounding"]
