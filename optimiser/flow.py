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
from typing import TYPE_CHECKING, Any

import numpy as np
from ortools.graph.python import min_cost_flow

from .candidates import Candidates, PairPool
from .instance import Instance
from .scaling import MONEY_SCALE, to_int

if TYPE_CHECKING:
    from .solver import Result

BACKEND_NAME = "min_cost_flow"


def flow_blocker(inst: Instance) -> str | None:
    """Why the fast path does not apply to `inst`, or None when it does."""
    units = inst.units
    if units.n and int(units.size.max()) > 1:
        return "sibling group"
    if units.solo.any():
        return "solo child"
    if inst.policy.rules.split_siblings and (units.group_of_child >= 0).any():
        return "split_siblings"
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
    # newcomer): cost * (n + 1) - [pair is the unit's home], lexicographic in one flow
    stay = ((inst.pair_moves(u, p) == 0) & (inst.unit_placed[u] > 0)).astype(np.int64)
    costs = np.concatenate([cost[useful] * (n_units + 1) - stay,
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
               timings: dict[str, float], t_start: float) -> Result:
    """The whole solve on the fast path: returns a solver.Result (status optimal)."""
    from .solver import STATUS_OPTIMAL, Result, greedy, objective_of, unit_placement

    t = time.perf_counter()
    full = pool_candidates(inst, pool, cands.n_feasible, cands.stats)
    timings["build"] = time.perf_counter() - t
    t = time.perf_counter()
    chosen, pence = flow_choice(inst, full)
    timings["solve"] = time.perf_counter() - t
    t = time.perf_counter()
    start = greedy(inst, cands)
    greedy_obj = objective_of(inst, cands, start)
    timings["greedy"] = time.perf_counter() - t
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
    return Result(status=STATUS_OPTIMAL, objective=obj, bound=obj, gap=0.0, runtime=runtime,
                  seed=seed, assignment=assignment, greedy_objective=greedy_obj,
                  timings=timings, stats=stats, instance=inst, candidates=full)


def plan_pence(inst: Instance, cands: Candidates, assignment: np.ndarray) -> int:
    """The integer (pence) model objective of a per-child plan, as every backend scores
    it: each chosen pair's coefficient c_k - unplaced rounded to the penny, plus the
    rounded unplaced total and the split penalty. Two backends agree "to the penny" when
    this agrees. `cands` must hold the plan's pairs (a Result's candidates do)."""
    from .solver import split_penalty

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


__all__ = ["BACKEND_NAME", "MONEY_SCALE", "flow_blocker", "flow_choice", "plan_pence",
           "pool_candidates", "solve_flow"]
