"""The second stage of the capacity plan: one scenario's allocation under a bed plan.

A scenario's instance (its children, today's placements, each contract as a placement of
its booked beds, each spot option as unlimited capacity), its candidate pairs built once
and pruned exactly (the stage cache), and its evaluation: the LP with the contracts'
capacity marginals (the first stage's cuts), the min-cost flow, or the integer allocation
(models/commissioning.md). `optimiser.commission.model` searches the first stage with these.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from ..candidates import Candidates, build_candidates, pair_distances
from ..instance import Instance
from ..pipeline.highs_model import solve_milp
from ..pipeline.plans import greedy, objective_of, subset, unit_placement
from ..pipeline.rows import model_rows
from ..reader import load_instance
from ..safe_text import safe_text_frame
from ..solver import SolveOptions, solve
from ..status import Status
from .data import CommissionData
from .demand import Scenario

log = logging.getLogger(__name__)

Beds = dict[str, int]
Mapper = Callable[[Callable[..., Any], list[tuple]], list[Any]]
TWENTY_MILES_KM = 20 * 1.609344
WEEKS_PER_YEAR = 52.0
PLACEMENT_COLUMNS = ("placement_id", "provider", "type", "vacancies", "age_min", "age_max",
                     "genders", "faith", "needs_supported", "ofsted_rating", "lat", "lon",
                     "weekly_cost", "block_contract")
CACHE_SIZE = int(os.environ.get("PLACEMENT_COMMISSION_CACHE", "256"))
# thousands of small integer evaluations a run: SciPy's HiGHS in-process, not a highspy
# process per call (about 0.12 s each; optimiser/highs.py)
MILP_ROUTE = "scipy"

# --------------------------------------------------------------------------- scenario instance


def spot_capacity(scenario: Scenario) -> int:
    """'Unlimited' spot beds: more than the scenario can ever use."""
    return max(scenario.n_children, 1)


def scenario_frames(data: CommissionData, scenario: Scenario, beds: Beds
                    ) -> dict[str, pd.DataFrame]:
    """The scenario's instance as spec tables (text): children, placements, distances.

    Contracts become placements `contract_id` with `beds` vacancies at weekly_cost 0; spot
    rows become placements `spot_id` with unlimited (or max_beds) vacancies, plus one copy
    `spot_id~child_id` of one bed per solo child (a solo child takes a whole placement, so
    an unlimited row cannot be shared with it). Distances from every child to every spot
    placement are the row's typical distance (distances.csv overrides).
    """
    base = data.placements_frame.copy()
    inst = data.instance
    centre_lat = float(np.mean(inst.lat)) if inst.n_placements else 52.6
    centre_lon = float(np.mean(inst.lon)) if inst.n_placements else -1.1
    rows: list[dict[str, str]] = []
    for c in data.contracts:
        rows.append({
            "placement_id": c.contract_id, "provider": c.provider, "type": c.type,
            "vacancies": str(int(beds.get(c.contract_id, 0))), "age_min": str(c.age_min),
            "age_max": str(c.age_max), "genders": c.genders, "faith": c.faith,
            "needs_supported": c.needs_supported, "ofsted_rating": c.ofsted_rating,
            "lat": f"{c.lat:.6f}", "lon": f"{c.lon:.6f}", "weekly_cost": "0",
            "block_contract": c.contract_id})
    ch = scenario.children
    solo_ids = ch.loc[ch["solo"].astype(str).str.lower().isin(["true", "1", "yes"]),
                      "child_id"].astype(str).tolist()
    spot_ids: list[str] = []
    for s in data.spot:
        cap = spot_capacity(scenario) if s.max_beds is None else s.max_beds
        copies = [(f"{s.spot_id}~{c}", 1) for c in solo_ids] if s.max_beds is None else []
        for pid, vac in [(s.spot_id, cap), *copies]:
            spot_ids.append(pid)
            rows.append({
                "placement_id": pid, "provider": s.provider, "type": s.type,
                "vacancies": str(vac), "age_min": str(s.age_min), "age_max": str(s.age_max),
                "genders": s.genders, "faith": "", "needs_supported": s.needs_supported,
                "ofsted_rating": s.ofsted_rating, "lat": f"{centre_lat:.6f}",
                "lon": f"{centre_lon:.6f}", "weekly_cost": f"{s.weekly_cost:.2f}",
                "block_contract": ""})
    extra = pd.DataFrame(rows, columns=list(PLACEMENT_COLUMNS), dtype=object)
    placements = pd.concat([base, extra], ignore_index=True).fillna("")
    km = {s.spot_id: s.typical_distance_km for s in data.spot}
    cids = ch["child_id"].astype(str).to_numpy()
    sp = np.asarray(spot_ids, dtype=object)
    dist = pd.DataFrame({
        "child_id": np.repeat(cids, len(sp)),
        "placement_id": np.tile(sp, len(cids)),
        "km": np.tile([f"{km[p.split('~')[0]]:.3f}" for p in sp], len(cids)),
    }) if len(sp) and len(cids) else pd.DataFrame(columns=["child_id", "placement_id", "km"])
    return {"children": ch.copy(), "placements": placements, "distances": dist}


def write_scenario_instance(data: CommissionData, scenario: Scenario, beds: Beds,
                            out: str | Path) -> Path:
    """Write the scenario's instance folder (spec format): what the checker reads."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in scenario_frames(data, scenario, beds).items():
        safe_text_frame(frame).to_csv(out / f"{name}.csv", index=False)
    if data.policy_text:
        (out / "policy.toml").write_text(data.policy_text)
    return out


def scenario_instance(data: CommissionData, scenario: Scenario, beds: Beds) -> Instance:
    """The scenario's Instance, read back through the core reader (every rule as usual).

    The distance overrides (every child x every spot placement: tens of thousands of rows
    at authority scale) are set as arrays rather than parsed back from distances.csv:
    they are valid by construction, and the CSV round trip was most of a build. The
    values are the ones `write_scenario_instance` writes, so the checker sees the same.
    """
    frames = scenario_frames(data, scenario, beds)
    with tempfile.TemporaryDirectory(prefix="commission-") as tmp:
        for name in ("children", "placements"):
            frames[name].to_csv(Path(tmp) / f"{name}.csv", index=False)
        inst = load_instance(tmp, policy=data.instance.policy)
    dist = frames["distances"]
    cidx = inst.child_index
    pidx = inst.placement_index
    d_c = np.array([cidx[c] for c in dist["child_id"].tolist()], dtype=np.int32)
    d_p = np.array([pidx[p] for p in dist["placement_id"].tolist()], dtype=np.int32)
    d_km = dist["km"].astype(float).to_numpy()
    return replace(inst, source=f"{data.source}#{scenario.name}", dist_child=d_c,
                   dist_placement=d_p, dist_km=d_km)


# --------------------------------------------------------------------------- stage cache


@dataclass(frozen=True, eq=False)
class Stage:
    """One scenario's second stage, built once: template instance (contracts at their
    largest bed level) and the exactly pruned candidate pairs."""

    inst: Instance
    cands: Candidates
    contract_p: np.ndarray  # placement index of each contract (data.contracts order)
    contract_ids: tuple[str, ...]
    spot: np.ndarray  # bool per placement: a spot row or copy
    off_framework: np.ndarray  # bool per placement
    vmax: tuple[int, ...]
    pairs_feasible: int
    seconds: float
    active: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=bool))
    # pool pairs in the restricted LP (grows with each LP on this scenario; mutable)

    def capacity(self, beds: Beds) -> np.ndarray:
        cap = self.inst.capacity.astype(np.int64).copy()
        for cid, p in zip(self.contract_ids, self.contract_p.tolist(), strict=True):
            cap[p] = int(beds.get(cid, 0))
        return cap


_CACHE: OrderedDict[str, Stage] = OrderedDict()
_BUILDS = [0]  # stages built by this process (cache misses)


def _vmax(data: CommissionData, beds_list: Sequence[Beds]) -> tuple[int, ...]:
    out = []
    for c in data.contracts:
        v = max([c.max_beds, c.current_beds, c.fixed_beds or 0]
                + [int(b.get(c.contract_id, 0)) for b in beds_list])
        out.append(v)
    return tuple(out)


def prune_dominated(inst: Instance, cands: Candidates, unlimited: np.ndarray,
                    solo_own: np.ndarray | None = None) -> np.ndarray:
    """Mask of pairs that can be in an optimum for some capacities of the limited placements.

    A pair whose objective is at least the unit's best *unlimited* option (a spot row it
    can always take, or being unplaced) is dominated: moving the unit there frees beds and
    costs no more, in the LP and in the integer problem alike. The best unlimited pair is
    kept. `solo_own[k]`: pair k is a solo child's own spot copy (unlimited for that child).
    """
    units = inst.units
    n = units.n
    unl = unlimited[cands.placement] & ~units.solo[cands.unit]
    if solo_own is not None:
        unl |= solo_own
    best = inst.unit_unplaced.astype(float).copy()
    best_k = np.full(n, -1, dtype=np.int64)
    idx = np.flatnonzero(unl)
    if len(idx):
        order = idx[np.lexsort((cands.objective[idx], cands.unit[idx]))]
        u = cands.unit[order]
        first = np.r_[True, u[1:] != u[:-1]]
        fu, fk = u[first], order[first]
        better = cands.objective[fk] < best[fu]
        best[fu[better]] = cands.objective[fk[better]]
        best_k[fu[better]] = fk[better]
    keep = cands.objective < best[cands.unit] - 1e-9
    keep[best_k[best_k >= 0]] = True
    return keep


def stage_key(data: CommissionData, scenario: Scenario) -> str:
    """What a scenario's stage depends on: the files, the contracts' and spot rows'
    matching terms (not prices, first-stage levels or today's beds) and the children.

    A what-if on a contract's price or beds thus reuses the cached pairs; a what-if on
    demand draws other children and builds anew. Stable across processes (Dask workers).
    """
    h = hashlib.sha1((data.files_fingerprint or data.fingerprint).encode())
    for c in data.contracts:
        h.update(repr((c.contract_id, c.provider, c.type, c.lat, c.lon, c.age_min, c.age_max,
                       c.genders, c.needs_supported, c.faith, c.ofsted_rating)).encode())
    for sp in data.spot:
        h.update(repr(replace(sp, row=0)).encode())
    h.update(scenario.name.encode())
    h.update(pd.util.hash_pandas_object(scenario.children, index=False).to_numpy().tobytes())
    return h.hexdigest()


def get_stage(data: CommissionData, scenario: Scenario, beds_list: Sequence[Beds]) -> Stage:
    """The scenario's stage, from this process's cache when it was built before."""
    vmax = _vmax(data, beds_list)
    key = stage_key(data, scenario)
    hit = _CACHE.get(key)
    if hit is not None and all(a >= b for a, b in zip(hit.vmax, vmax, strict=True)):
        _CACHE.move_to_end(key)
        return hit
    t0 = time.perf_counter()
    _BUILDS[0] += 1
    template = dict(zip(data.contract_ids, vmax, strict=True))
    inst = scenario_instance(data, scenario, template)
    cands, _ = build_candidates(inst, limit=None)
    pindex = inst.placement_index
    contract_p = np.array([pindex[c] for c in data.contract_ids], dtype=np.int64)
    spot = np.zeros(inst.n_placements, dtype=bool)
    offfw = np.zeros(inst.n_placements, dtype=bool)
    unlimited = np.zeros(inst.n_placements, dtype=bool)
    tiers = {s.spot_id: s for s in data.spot}
    owner = np.full(inst.n_placements, -1, dtype=np.int64)
    cindex = inst.child_index
    for p, pid in enumerate(inst.placement_ids.tolist()):
        sid, _, child = str(pid).partition("~")
        if sid in tiers and (not child or child in cindex):
            s = tiers[sid]
            spot[p] = True
            offfw[p] = s.tier == "off_framework"
            if not child and s.max_beds is None:
                unlimited[p] = True
            if child:
                owner[p] = cindex[child]
    split = inst.policy.rules.split_siblings
    if split:
        keep = np.ones(len(cands), dtype=bool)  # the sibling term breaks the swap argument
    else:
        units = inst.units
        first_child = units.order[np.searchsorted(units.unit_of[units.order],
                                                  np.arange(units.n))] if units.n else None
        solo_own = None
        if first_child is not None:
            own = owner[cands.placement]
            solo_own = (own >= 0) & (own == first_child[cands.unit]) & units.solo[cands.unit]
        keep = prune_dominated(inst, cands, unlimited, solo_own)
    pruned = subset(cands, keep)
    stage = Stage(inst=inst, cands=pruned, contract_p=contract_p, contract_ids=data.contract_ids,
                  spot=spot, off_framework=offfw, vmax=vmax,
                  pairs_feasible=int(len(cands)), seconds=time.perf_counter() - t0,
                  active=_start_set(inst, pruned, contract_p, spot))
    _CACHE[key] = stage
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return stage


START_PAIRS = 16  # per unit: cheapest pairs in the first restricted LP (and half as many near)
ENTER_PER_UNIT = 8  # per unit and pricing round: most negative reduced costs added


def _top_k(unit: np.ndarray, score: np.ndarray, placement: np.ndarray, k: int) -> np.ndarray:
    """Mask of each unit's k lowest-scoring pairs (ties broken by placement)."""
    order = np.lexsort((placement, score, unit))
    u = unit[order]
    rank = np.arange(len(u)) - np.searchsorted(u, u, side="left")
    mask = np.zeros(len(unit), dtype=bool)
    mask[order[rank < k]] = True
    return mask


def _start_set(inst: Instance, cands: Candidates, contract_p: np.ndarray,
               spot: np.ndarray) -> np.ndarray:
    """First restricted LP: each unit's cheapest and nearest pairs, every contract and spot
    pair (the options the first stage changes, and the fallbacks)."""
    m = np.zeros(inst.n_placements, dtype=bool)
    m[contract_p] = True
    m |= spot
    keep = m[cands.placement].copy()
    if len(cands):
        keep |= _top_k(cands.unit, cands.objective, cands.placement, START_PAIRS)
        near = cands.objective - inst.units.size[cands.unit] * inst.policy.weights.cost \
            * inst.weekly_cost[cands.placement]
        keep |= _top_k(cands.unit, near, cands.placement, START_PAIRS // 2)
    return keep


def clear_cache() -> None:
    _CACHE.clear()


# --------------------------------------------------------------------------- evaluations


@dataclass(frozen=True)
class ScenarioOutcome:
    """One scenario at one bed vector: its second-stage cost and what happened.

    `mode` "lp": the LP relaxation (value, capacity prices of the contracts; no
    assignment); "ip": the integer allocation (HiGHS on the exactly pruned pairs);
    "engine": `optimiser.solve` on the scenario's instance. `assignment` holds
    (child_id, placement_id or "") per child for ip/engine. `extra`: outcomes at the
    further bed vectors asked for in the same call (one candidate build serves all).
    """

    scenario: str
    beds: Beds
    mode: str
    objective: float  # second-stage objective (spec), pounds per week
    block_weekly_cost: float
    status: str
    bound: float
    n_children: int
    placed: float
    unplaced: float
    in_contract: dict[str, float]  # children in each contract's booked beds
    in_spot: float
    out_of_area: float  # placed in off-framework spot (out of area)
    over_20_miles: float
    duals: dict[str, float] = field(default_factory=dict)  # d objective / d bed (<= 0)
    assignment: tuple[tuple[str, str], ...] = ()
    runtime: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)
    extra: tuple[ScenarioOutcome, ...] = ()

    @property
    def total(self) -> float:
        """Block cost plus the second stage: the scenario's weekly cost."""
        return self.block_weekly_cost + self.objective


def _effective(stage: Stage, cap: np.ndarray) -> tuple[Candidates, np.ndarray]:
    """Pairs usable at capacities `cap`: a solo child in a contract takes all its beds
    (none booked: it cannot go there)."""
    cands = stage.cands
    inst = stage.inst
    is_contract = np.zeros(inst.n_placements, dtype=bool)
    is_contract[stage.contract_p] = True
    solo_c = is_contract[cands.placement] & inst.units.solo[cands.unit]
    if not solo_c.any():
        return cands, np.ones(len(cands), dtype=bool)
    use = cands.use.copy()
    use[solo_c] = cap[cands.placement[solo_c]]
    ok = ~(solo_c & (use <= 0))
    return replace(cands, use=use), ok


@dataclass(frozen=True)
class _LP:
    """An LP relaxation solved by column generation over the stage's pool, and its duals."""

    value: float
    duals: dict[str, float]  # d value / d beds per contract (<= 0)
    x: np.ndarray  # on `cands`
    cands: Candidates  # the pairs of the last restricted LP (solo uses at these beds)
    rc: np.ndarray  # reduced cost of every pool pair (>= -tolerance at the optimum)
    pool: Candidates  # the whole pool at these beds (solo uses adjusted)
    ok: np.ndarray  # pool pairs usable at these beds
    rounds: int


def _solve_lp(c: np.ndarray, a: Any, b: np.ndarray) -> Any:
    res = None
    # HiGHS's default choice occasionally ends "unknown" on these degenerate LPs (many
    # equal costs): the dual simplex, then the interior point, settle it
    # The dual simplex without presolve is the fastest on these transportation-like LPs
    # (presolve removes little from them and costs about as much as the solve)
    for how, opts in (("highs-ds", {"presolve": False}), ("highs", {}), ("highs-ipm", {})):
        res = linprog(c, A_ub=a, b_ub=b, bounds=(0, 1), method=how, options=opts)
        if res.status == 0:
            return res
    assert res is not None
    raise RuntimeError(f"LP of scenario failed: {res.message}")


def _lp(stage: Stage, beds: Beds, max_rounds: int = 30) -> _LP:
    """The LP relaxation, exact over the whole pool: restricted LP, price every pool pair
    with its duals, add those with negative reduced cost, repeat (column generation).

    The restricted set starts from the pairs the stage's earlier LPs used (it only grows),
    so later calls on the same scenario start close to the answer.
    """
    inst = stage.inst
    units = inst.units
    cap = stage.capacity(beds)
    pool, ok = _effective(stage, cap)
    unplaced = inst.unit_unplaced
    offset = float(unplaced.sum())
    cost = pool.objective - unplaced[pool.unit]
    active = stage.active & ok
    rounds = 0
    while True:
        rounds += 1
        idx = np.flatnonzero(active)
        sub = subset(pool, active)
        if len(sub) == 0:
            rc = np.where(ok, cost, np.inf)
            x = np.zeros(0)
            marg_u = np.zeros(units.n)
            marg_p = np.zeros(inst.n_placements)
            value = offset
        else:
            rw = model_rows(inst, sub, capacity=cap)
            res = _solve_lp(cost[idx], rw.a, rw.b)
            marg = np.asarray(res.ineqlin.marginals)
            marg_u = marg[:units.n]
            marg_p = np.zeros(inst.n_placements)
            marg_p[rw.places] = marg[units.n: units.n + len(rw.places)]
            x = np.asarray(res.x)
            value = float(res.fun) + offset
            rc = cost - marg_u[pool.unit] - marg_p[pool.placement] * pool.use
            rc = np.where(ok, rc, np.inf)
        enter = ~active & (rc < -1e-7 * np.maximum(1.0, np.abs(cost)))
        if not enter.any() or rounds >= max_rounds:
            break
        if enter.sum() > ENTER_PER_UNIT * units.n:
            # partial pricing: each unit's most negative few, so the LP stays small
            e = np.flatnonzero(enter)
            top = _top_k(pool.unit[e], rc[e], pool.placement[e], ENTER_PER_UNIT)
            enter = np.zeros_like(enter)
            enter[e[top]] = True
        active |= enter
    np.logical_or(stage.active, active, out=stage.active)  # kept for the next call
    duals = {cid: float(marg_p[p]) for cid, p in zip(stage.contract_ids,
                                                     stage.contract_p.tolist(), strict=True)}
    return _LP(value, duals, x, sub, rc, pool, ok, rounds)


FLOW_SCALE = 6_000  # integer costs for the flow solver: lcm(1..5) = 60 (group sizes) x 100


@dataclass(frozen=True)
class _Flow:
    """The transportation relaxation of one scenario at given beds (min-cost flow)."""

    value: float  # pounds per week: a lower bound on the LP and the integer cost
    flow: np.ndarray  # children sent along each pool pair
    duals: dict[str, float]  # forward differences: value(beds + 1 at c) - value(beds)


def _flow_solve(stage: Stage, cap: np.ndarray) -> tuple[float, np.ndarray]:
    """min-cost flow: unit u supplies its size; a pair carries up to its size at
    objective/size a child; a placement passes up to its capacity; leaving a child
    unplaced costs the unit's unplaced weight / size. This is the LP relaxation with a
    solo child counted as one bed (a relaxation, so a lower bound); the network matrix
    makes the flow integral and its value a convex piecewise-linear function of the beds
    with breakpoints at whole beds, so a forward difference is a subgradient.
    """
    from ortools.graph.python import min_cost_flow

    inst = stage.inst
    pool = stage.cands
    units = inst.units
    n, m = units.n, inst.n_placements
    size = units.size.astype(np.int64)
    sink = n + m
    k = len(pool)
    f = min_cost_flow.SimpleMinCostFlow()
    tails = np.concatenate([pool.unit, np.arange(n), n + np.arange(m)]).astype(np.int32)
    heads = np.concatenate([n + pool.placement, np.full(n, sink), np.full(m, sink)]
                           ).astype(np.int32)
    caps = np.concatenate([size[pool.unit], size, np.maximum(cap, 0)]).astype(np.int64)
    per = np.concatenate([pool.objective / size[pool.unit], inst.unit_unplaced / size,
                          np.zeros(m)])
    f.add_arcs_with_capacity_and_unit_cost(tails, heads, caps,
                                           np.round(per * FLOW_SCALE).astype(np.int64))
    sup = np.zeros(n + m + 1, dtype=np.int64)
    sup[:n] = size
    sup[sink] = -int(size.sum())
    f.set_nodes_supplies(np.arange(n + m + 1, dtype=np.int32), sup)
    status = f.solve()
    if status != f.OPTIMAL:
        raise RuntimeError(f"min-cost flow of the scenario failed ({status})")
    flows = np.asarray(f.flows(np.arange(k + n, dtype=np.int32)), dtype=np.int64)
    value = float((flows * per[: k + n]).sum())  # exact pounds, not the rounded costs
    return value, flows[:k]


def _flow(stage: Stage, beds: Beds, subgradients: bool = True) -> _Flow:
    cap = stage.capacity(beds)
    value, flow = _flow_solve(stage, cap)
    duals: dict[str, float] = {}
    pool = stage.cands
    for cid, p in zip(stage.contract_ids, stage.contract_p.tolist(), strict=True):
        if not subgradients:
            continue
        if flow[pool.placement == p].sum() < cap[p]:
            duals[cid] = 0.0  # a bed to spare: one more changes nothing
            continue
        up = cap.copy()
        up[p] += 1
        duals[cid] = min(_flow_solve(stage, up)[0] - value, 0.0)
    return _Flow(value, flow, duals)


def _ip_flow(stage: Stage, beds: Beds, time_limit: float
             ) -> tuple[float, float, str, np.ndarray, dict[str, float]]:
    """Integer second stage at authority scale: from the flow relaxation's integral flow,
    units sent whole to one placement stay (a solo child only where it is alone); the
    rest, and every unit in a placement one of them could use among its FIX_PAIRS
    cheapest pairs, are re-placed by HiGHS in the beds left. Bound: the flow value.
    """
    inst = stage.inst
    units = inst.units
    pool = stage.cands
    cap = stage.capacity(beds)
    eff, ok = _effective(stage, cap)
    value, flow = _flow_solve(stage, cap)
    size = units.size
    whole = (flow == size[pool.unit]) & ok
    load = np.bincount(pool.placement[flow > 0], weights=flow[flow > 0],
                       minlength=inst.n_placements)
    solo_bad = whole & units.solo[pool.unit] & (load[pool.placement] > 1) & \
        (cap[pool.placement] > 1)
    whole &= ~solo_bad
    placed = np.zeros(units.n, dtype=bool)
    placed[pool.unit[whole]] = True
    free = ~placed
    # units the flow leaves wholly unplaced stay so when the MILP agrees; they are freed too
    near = ok & _top_k(pool.unit, pool.objective, pool.placement, FIX_PAIRS)
    touched = np.zeros(inst.n_placements, dtype=bool)
    touched[pool.placement[near & free[pool.unit]]] = True
    touched[pool.placement[solo_bad]] = True
    free[pool.unit[whole & touched[pool.placement]]] = True
    keep = whole & ~free[pool.unit]
    out = np.full(units.n, -1, dtype=np.int64)
    out[pool.unit[keep]] = pool.placement[keep]
    used = np.bincount(pool.placement[keep], weights=eff.use[keep],
                       minlength=inst.n_placements).astype(np.int64)
    rest = np.maximum(cap - used, 0)
    sel = ok & free[pool.unit] & (eff.use <= rest[pool.placement]) & (
        near | stage.spot[pool.placement] | np.isin(pool.placement, stage.contract_p))
    stats = {"flow": value, "freed_units": float(free.sum()), "pairs_mip": float(sel.sum()),
             "pairs_pool": float(len(pool))}
    if sel.any():
        sub = subset(eff, sel)
        part, _, _ = solve_milp(inst, sub, max(time_limit, 0.5), capacity=rest,
                            route=MILP_ROUTE)
        if part is None:
            raise RuntimeError("no integer solution in the time limit")
        got = part >= 0
        out[got] = sub.placement[part[got]]
    obj = _placement_objective(inst, pool, out)
    status = Status.OPTIMAL if obj - value <= 1e-6 * max(1.0, abs(obj)) else Status.FEASIBLE
    return obj, min(value, obj), status, out[units.unit_of], stats


def _measures(stage: Stage, assignment: np.ndarray) -> dict[str, Any]:
    """Per-child measures of an integer allocation (assignment: placement per child)."""
    inst = stage.inst
    placed = np.flatnonzero(assignment >= 0)
    p = assignment[placed]
    dist = pair_distances(inst, placed, p) if len(placed) else np.zeros(0)
    in_contract = {cid: float((p == cp).sum())
                   for cid, cp in zip(stage.contract_ids, stage.contract_p.tolist(), strict=True)}
    return {"placed": float(len(placed)), "unplaced": float(inst.n_children - len(placed)),
            "in_contract": in_contract, "in_spot": float(stage.spot[p].sum()),
            "out_of_area": float(stage.off_framework[p].sum()),
            "over_20_miles": float((dist > TWENTY_MILES_KM).sum())}


def _ip(stage: Stage, beds: Beds, time_limit: float
        ) -> tuple[float, float, str, np.ndarray, dict[str, float]]:
    """Integer second stage: the exact LP, an LP-rounded incumbent, reduced-cost fixing
    (a pair whose reduced cost exceeds incumbent - LP is in no better solution), then
    HiGHS branch and cut on the pairs left (the engine's `solve_milp`).
    """
    t0 = time.perf_counter()
    inst = stage.inst
    cap = stage.capacity(beds)
    lp = _lp(stage, beds)
    start = greedy(inst, lp.cands, lp.x, capacity=cap) if len(lp.cands) else \
        np.full(inst.units.n, -1, dtype=np.int64)
    inc = unit_placement(lp.cands, start)
    inc_obj = objective_of(inst, lp.cands, start)
    stats = {"lp": lp.value, "greedy": inc_obj, "lp_rounds": float(lp.rounds),
             "pairs_pool": float(len(lp.pool)), "pairs_lp": float(len(lp.cands))}
    if inc_obj - lp.value > 1e-6 * max(1.0, abs(inc_obj)) and len(lp.cands):
        fixed = _lp_fix(inst, lp, cap, 0.3 * time_limit)
        if fixed is not None:
            f_obj = _placement_objective(inst, lp.pool, fixed)
            stats["lp_fix"] = f_obj
            if f_obj < inc_obj:
                inc, inc_obj = fixed, f_obj
    gap = inc_obj - lp.value
    status = Status.OPTIMAL
    bound = lp.value
    if gap > 1e-6 * max(1.0, abs(inc_obj)):
        keep = lp.ok & (lp.rc <= gap + 1e-6 * max(1.0, abs(inc_obj)))
        # the incumbent's own pairs stay, so the model always holds it
        pk = lp.pool.unit * inst.n_placements + lp.pool.placement
        placed_u = np.flatnonzero(inc >= 0)
        keep |= np.isin(pk, placed_u * inst.n_placements + inc[placed_u]) & lp.ok
        sub = subset(lp.pool, keep)
        stats["pairs_mip"] = float(len(sub))
        left = max(time_limit - (time.perf_counter() - t0), 0.5)
        if len(sub) > EXACT_PAIRS:
            # too many pairs could still matter to prove it in the time: the incumbent,
            # with the LP bound and the gap reported
            return inc_obj, lp.value, Status.FEASIBLE, inc[inst.units.unit_of], stats
        chosen, optimal, mbound = solve_milp(inst, sub, left, capacity=cap,
                                             route=MILP_ROUTE)
        if chosen is not None:
            obj = objective_of(inst, sub, chosen)
            if obj < inc_obj:
                inc, inc_obj = unit_placement(sub, chosen), obj
        bound = max(lp.value, mbound) if np.isfinite(mbound) else lp.value
        if optimal and chosen is not None:
            bound = inc_obj
        else:
            status = Status.TIME_LIMIT
    else:
        bound = inc_obj
    return inc_obj, min(bound, inc_obj), status, inc[inst.units.unit_of], stats


def _placement_objective(inst: Instance, pool: Candidates, unit_place: np.ndarray) -> float:
    """Objective of a placement per unit (-1 unplaced), its pairs looked up in the pool."""
    n = inst.n_placements
    placed = np.flatnonzero(unit_place >= 0)
    key = pool.unit * n + pool.placement  # sorted: the pool is sorted by unit, placement
    pos = np.searchsorted(key, placed * n + unit_place[placed])
    total = float(pool.objective[pos].sum())
    return total + float(inst.unit_unplaced[unit_place < 0].sum())


FIX_RC = 300.0  # pounds/week: a freed unit keeps its pool pairs this close to its LP price
EXACT_PAIRS = 25_000  # the exact (reduced-cost fixed) MILP only when it is this small
FIX_PAIRS = 40  # flow fixing: a freed unit's cheapest pairs (plus contracts and spot)


def _lp_fix(inst: Instance, lp: _LP, cap: np.ndarray, time_limit: float) -> np.ndarray | None:
    """An incumbent, placement per unit (-1 unplaced), by LP fixing with a neighbourhood.

    The LP places most units whole. Freed: the units it splits, and every unit the LP
    puts in a placement a split unit could use at small reduced cost (its competitors).
    HiGHS re-places the freed units over their pairs of reduced cost <= FIX_RC, in the
    beds the others leave. Assignment LPs are nearly integral, so this MILP is small.
    """
    units = inst.units
    cands, x = lp.cands, lp.x
    pool = lp.pool
    whole = x >= 1 - 1e-6
    placed_whole = np.zeros(units.n, dtype=bool)
    placed_whole[cands.unit[whole]] = True
    split_u = ~placed_whole
    near = lp.ok & (lp.rc <= FIX_RC)
    touched = np.zeros(inst.n_placements, dtype=bool)
    touched[pool.placement[near & split_u[pool.unit]]] = True
    free = split_u.copy()
    free[cands.unit[whole & touched[cands.placement]]] = True
    keep_pairs = whole & ~free[cands.unit]
    base = np.full(units.n, -1, dtype=np.int64)
    base[cands.unit[keep_pairs]] = cands.placement[keep_pairs]
    used = np.bincount(cands.placement[keep_pairs], weights=cands.use[keep_pairs],
                       minlength=inst.n_placements).astype(np.int64)
    rest = np.maximum(cap - used, 0)
    sel = near & free[pool.unit] & (pool.use <= rest[pool.placement])
    if not sel.any():
        return base
    sub = subset(pool, sel)
    part, _, _ = solve_milp(inst, sub, max(time_limit, 0.5), capacity=rest,
                            route=MILP_ROUTE)
    if part is None:
        return None
    got = part >= 0
    base[got] = sub.placement[part[got]]
    return base


def _engine(data: CommissionData, scenario: Scenario, beds: Beds, time_limit: float,
            seed: int) -> tuple[float, float, str, np.ndarray, Instance]:
    """`optimiser.solve` on the scenario's own instance at these beds (the reference path)."""
    inst = scenario_instance(data, scenario, beds)
    res = solve(inst, SolveOptions(time_limit=time_limit, seed=seed, workers=1))
    return res.objective, res.bound, res.status, res.assignment, inst


def evaluate_scenario(data: CommissionData, scenario: Scenario, beds: Beds, mode: str = "ip",
                      time_limit: float = 10.0, extra: Sequence[Beds] = (),
                      seed: int = 0) -> ScenarioOutcome:
    """Second stage of one scenario at `beds` (and at each of `extra`, in `.extra`).

    Module-level and made of picklable arguments, so a Dask worker can run it; the
    scenario's candidate pairs are cached per process (`stage_key`).
    """
    if mode not in ("lp", "lp_value", "ip", "engine"):
        raise ValueError(f"mode {mode!r}: one of lp, lp_value, ip, engine")
    all_beds = [dict(beds), *[dict(b) for b in extra]]
    t_stage = time.perf_counter()
    builds_before = _BUILDS[0]
    stage = get_stage(data, scenario, all_beds)
    built = float(_BUILDS[0] > builds_before)  # 0: served from this process's cache
    t_stage = time.perf_counter() - t_stage
    outs = []
    use_engine = mode == "engine" or (mode == "ip" and stage.inst.policy.rules.split_siblings)
    for b in all_beds:
        t0 = time.perf_counter()
        block = data.block_cost(b)
        if mode in ("lp", "lp_value"):
            fl = _flow(stage, b, subgradients=mode == "lp")
            pool = stage.cands
            cap_use = {cid: float(fl.flow[pool.placement == p].sum())
                       for cid, p in zip(stage.contract_ids, stage.contract_p.tolist(),
                                         strict=True)}
            n = stage.inst.n_children
            outs.append(ScenarioOutcome(
                scenario=scenario.name, beds=b, mode="lp", objective=fl.value,
                block_weekly_cost=block, status=Status.OPTIMAL, bound=fl.value, n_children=n,
                placed=float("nan"), unplaced=float("nan"), in_contract=cap_use,
                in_spot=float("nan"), out_of_area=float("nan"), over_20_miles=float("nan"),
                duals=fl.duals, runtime=time.perf_counter() - t0,
                stats={"pairs_pool": float(len(pool)), "build_seconds": stage.seconds,
                       "stage_built": built, "stage_seconds": t_stage}))
            continue
        ip_stats: dict[str, float] = {}
        if use_engine:
            obj, bound, status, a, inst = _engine(data, scenario, b, time_limit, seed)
            # same child and placement order as the stage's template instance
            assert np.array_equal(inst.placement_ids, stage.inst.placement_ids)
        elif len(stage.cands) > EXACT_PAIRS:
            obj, bound, status, a, ip_stats = _ip_flow(stage, b, time_limit)
        else:
            obj, bound, status, a, ip_stats = _ip(stage, b, time_limit)
        meas = _measures(stage, a)
        pid = stage.inst.placement_ids
        assignment = tuple((str(c), str(pid[p]) if p >= 0 else "")
                           for c, p in zip(stage.inst.child_ids.tolist(), a.tolist(),
                                           strict=True))
        outs.append(ScenarioOutcome(
            scenario=scenario.name, beds=b, mode="engine" if use_engine else "ip",
            objective=float(obj), block_weekly_cost=block, status=status,
            bound=float(bound), n_children=stage.inst.n_children, duals={},
            assignment=assignment, runtime=time.perf_counter() - t0,
            stats={"pairs_pool": float(len(stage.cands)), "build_seconds": stage.seconds,
                   "stage_built": built, "stage_seconds": t_stage, **ip_stats}, **meas))
    return replace(outs[0], extra=tuple(outs[1:]))


def local_map(fn: Callable[..., Any], args: list[tuple]) -> list[Any]:
    """The in-process mapper: the same contract as the Dask one."""
    return [fn(*a) for a in args]
