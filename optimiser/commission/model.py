"""Two-stage stochastic capacity plan: block beds now, the engine's allocation per scenario.

First stage: beds y_c per candidate contract, from its levels (0, min, min+step, ..., max),
paid `weekly_price` each whether used or not. Second stage, per scenario s: the engine's
own allocation problem (every matching rule, the spec's objective) on an instance made of
the scenario's children, today's placements with their vacancies, each contract as a
placement of `y_c` beds at weekly_cost 0 (`block_contract` = its id), and each spot option
as a placement of unlimited capacity at its price, its typical distance given through the
spec's distances.csv mechanism. Minimise sum_c price_c y_c + mean_s Q_s(y) (sample average).

Method (models/commissioning.md):

1. Per scenario, the engine's candidate pairs are built once and pruned *exactly*: a pair
   at least as dear as the unit's best unlimited option (a spot row, or leaving it
   unplaced) can always be swapped for that option, so it is in no optimum of the LP or
   the integer problem, whatever y is. The pruned set is cached per worker process.
2. L-shaped method, multi-cut, on the LP relaxation: the LP's capacity marginals of the
   contract rows are subgradients of Q_s^LP(y), so theta_s >= Q_s(y') + g_s.(y - y') for
   every point evaluated; a small master MILP (SciPy HiGHS, one binary per bed level)
   picks the next y until its bound meets the best point (relative tolerance).
3. Integer evaluation (HiGHS branch and cut on the pruned pairs: the engine's `solve_milp`)
   of the LP optimum, then a local search over +-1 level neighbours; a neighbour is
   solved only when the cuts (a lower bound on its LP, hence on its integer cost) leave
   room for it to be better.
4. Statistics on the integer costs: 95% t-interval, the expected-value problem's beds and
   their cost on the scenarios (EEV, VSS = EEV - RP), today's beds on the same scenarios.

Every batch of per-scenario solves goes through `mapper(evaluate_scenario, args)`, so a
Dask client (optimiser/commission/dist.py) runs the same code path as the in-process map.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
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
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.stats import t as student_t

from ..candidates import Candidates, build_candidates, pair_distances
from ..highs import quiet_stdout
from ..instance import Instance
from ..pipeline.highs_model import solve_milp
from ..pipeline.plans import greedy, objective_of, subset, unit_placement
from ..pipeline.rows import model_rows
from ..reader import load_instance
from ..solver import Result, SolveOptions, solve
from ..status import Status
from .data import CommissionData
from .demand import Scenario, expected_scenario

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
        frame.to_csv(out / f"{name}.csv", index=False)
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


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Plan:
    """The recommendation and its evidence (money in pounds per week unless named)."""

    beds: Beds
    block_weekly_cost: float
    expected_weekly_cost: float  # block + mean integer second stage over the scenarios
    interval: tuple[float, float]  # 95% t-interval of the expected weekly cost
    expected_annual_cost: float
    scenario_costs: tuple[float, ...]  # block + second stage, per scenario
    utilisation: dict[str, float]  # mean share of booked beds used (0 when none booked)
    share_out_of_area: float
    share_over_20_miles: float
    unplaced_mean: float
    baseline: dict[str, Any]  # the same measures for today's current_beds
    ev_beds: Beds
    eev: float
    vss: float
    curve: dict[str, list[tuple[int, float]]]
    outcomes: tuple[ScenarioOutcome, ...]
    n_scenarios: int
    seed: int
    runtime: float
    method: str
    stats: dict[str, Any]


def _key(beds: Beds, ids: Sequence[str]) -> tuple[int, ...]:
    return tuple(int(beds.get(c, 0)) for c in ids)


def _interval(costs: np.ndarray) -> tuple[float, float]:
    n = len(costs)
    m = float(costs.mean())
    if n < 2:
        return (m, m)
    half = float(student_t.ppf(0.975, n - 1) * costs.std(ddof=1) / math.sqrt(n))
    return (m - half, m + half)


class _Cuts:
    """Benders cuts per scenario: theta_s >= v + g.(y - y0)."""

    def __init__(self, n: int, ids: tuple[str, ...]):
        self.ids = ids
        self.rows: list[list[tuple[float, np.ndarray, np.ndarray]]] = [[] for _ in range(n)]

    def add(self, s: int, out: ScenarioOutcome) -> None:
        y0 = np.array(_key(out.beds, self.ids), dtype=float)
        g = np.array([out.duals.get(c, 0.0) for c in self.ids], dtype=float)
        self.rows[s].append((out.objective, g, y0))

    def value(self, s: int, y: np.ndarray) -> float:
        return max((v + float(g @ (y - y0)) for v, g, y0 in self.rows[s]), default=-np.inf)

    def mean(self, y: np.ndarray) -> float:
        return float(np.mean([self.value(s, y) for s in range(len(self.rows))]))


def _master(data: CommissionData, levels: list[tuple[int, ...]], cuts: _Cuts
            ) -> tuple[np.ndarray, float]:
    """min price.y + mean theta_s, theta_s above every cut, y on its levels (SciPy HiGHS)."""
    n_s = len(cuts.rows)
    nb = [len(lv) for lv in levels]
    nbin = sum(nb)
    nv = nbin + n_s
    price = np.array([c.weekly_price for c in data.contracts])
    cost = np.zeros(nv)
    lev = np.concatenate([np.array(lv, dtype=float) for lv in levels]) if nbin else np.zeros(0)
    owner = np.repeat(np.arange(len(levels)), nb)
    cost[:nbin] = price[owner] * lev
    cost[nbin:] = 1.0 / n_s
    a_rows: list[np.ndarray] = []
    lo: list[float] = []
    hi: list[float] = []
    for ci in range(len(levels)):  # one level per contract
        r = np.zeros(nv)
        r[:nbin][owner == ci] = 1.0
        a_rows.append(r)
        lo.append(1.0)
        hi.append(1.0)
    for s in range(n_s):
        for v, g, y0 in cuts.rows[s]:
            # theta_s - sum_c g_c y_c >= v - g.y0
            r = np.zeros(nv)
            r[nbin + s] = 1.0
            r[:nbin] = -g[owner] * lev
            a_rows.append(r)
            lo.append(v - float(g @ y0))
            hi.append(np.inf)
    integrality = np.r_[np.ones(nbin), np.zeros(n_s)]
    # theta_s >= 0: a second stage is a sum of non-negative terms (costs, km, penalties).
    # A bound like -1e12 instead made HiGHS end with "Solve error" (status 4) on a
    # 20-scenario authority run: a range of 1e12 against pounds is numerically hostile.
    lb = np.r_[np.zeros(nbin), np.zeros(n_s)]
    ub = np.r_[np.ones(nbin), np.full(n_s, np.inf)]
    res = None
    for presolve in (True, False):  # HiGHS's presolve is the usual suspect of a failure
        with quiet_stdout():  # HiGHS's MIP can print debugging lines on the C stdout
            res = milp(cost, constraints=LinearConstraint(np.array(a_rows), lo, hi),
                       integrality=integrality, bounds=Bounds(lb, ub),
                       options={"mip_rel_gap": 1e-9, "disp": False, "presolve": presolve})
        if res.x is not None:
            break
    assert res is not None
    if res.x is None:
        raise RuntimeError(f"master problem failed: {res.message}")
    x = np.asarray(res.x)
    y = np.zeros(len(levels))
    for ci in range(len(levels)):
        sel = np.flatnonzero((owner == ci) & (x[:nbin] > 0.5))
        y[ci] = lev[sel[0]] if len(sel) else levels[ci][0]
    return y, float(res.fun)


@dataclass
class _Search:
    """State of one optimisation: cuts, LP and integer evaluations, counters."""

    data: CommissionData
    scenarios: list[Scenario]
    mapper: Mapper
    time_limit: float
    seed: int
    progress: Callable[[str], None]
    ids: tuple[str, ...] = ()
    lp: dict[tuple[int, ...], list[ScenarioOutcome]] = field(default_factory=dict)
    ip: dict[tuple[int, ...], list[ScenarioOutcome]] = field(default_factory=dict)
    lpv: dict[tuple[int, ...], list[ScenarioOutcome]] = field(default_factory=dict)
    cuts: _Cuts | None = None
    counts: dict[str, Any] = field(default_factory=lambda: {
        "lp_solves": 0, "ip_solves": 0, "batches": 0, "benders_iterations": 0,
        "neighbours_pruned": 0, "neighbours_solved": 0, "seconds_lp": 0.0,
        "seconds_ip": 0.0})

    def __post_init__(self) -> None:
        self.ids = self.data.contract_ids
        self.cuts = _Cuts(len(self.scenarios), self.ids)

    def beds(self, y: Sequence[float]) -> Beds:
        return {c: int(round(v)) for c, v in zip(self.ids, y, strict=True)}

    def block(self, y: Sequence[float]) -> float:
        return self.data.block_cost(self.beds(y))

    def run(self, mode: str, points: list[Beds]) -> None:
        """Evaluate every scenario at every new point, one mapper call per scenario."""
        store = self._store(mode)
        new: list[Beds] = []
        seen: set[tuple[int, ...]] = set()
        for b in points:
            k = _key(b, self.ids)
            if k not in store and k not in seen:
                new.append(b)
                seen.add(k)
        if not new:
            return
        t0 = time.perf_counter()
        args = [(self.data, sc, new[0], mode, self.time_limit, tuple(new[1:]), self.seed)
                for sc in self.scenarios]
        outs: list[ScenarioOutcome] = self.mapper(evaluate_scenario, args)
        self.counts["batches"] += 1
        self.counts[f"{mode}_solves"] = self.counts.get(f"{mode}_solves", 0) + len(args) * len(new)
        key = "seconds_ip" if mode == "ip" else "seconds_lp"
        self.counts[key] += time.perf_counter() - t0
        self.counts["stage_builds"] = self.counts.get("stage_builds", 0) + int(
            sum(o.stats.get("stage_built", 0.0) for o in outs))
        self.counts["seconds_in_tasks"] = self.counts.get("seconds_in_tasks", 0.0) + float(
            sum(o.runtime + sum(x.runtime for x in o.extra) + o.stats.get("stage_seconds", 0.0)
                for o in outs))
        for j, b in enumerate(new):
            per = [o if j == 0 else o.extra[j - 1] for o in outs]
            store[_key(b, self.ids)] = [replace(o, extra=()) for o in per]
            if mode == "lp":
                assert self.cuts is not None
                for s, o in enumerate(per):
                    self.cuts.add(s, o)

    def _store(self, mode: str) -> dict[tuple[int, ...], list[ScenarioOutcome]]:
        return {"lp": self.lp, "lp_value": self.lpv, "ip": self.ip}[mode]

    def mean_total(self, mode: str, k: tuple[int, ...]) -> float:
        return float(np.mean([o.total for o in self._store(mode)[k]]))


def _benders(st: _Search, levels: list[tuple[int, ...]], start: list[Beds], tol: float,
             max_iterations: int) -> tuple[tuple[int, ...], float, float]:
    """L-shaped method on the LP second stage; returns (best point, its LP cost, bound)."""
    assert st.cuts is not None
    st.run("lp", start)
    best_k = min(st.lp, key=lambda k: st.mean_total("lp", k))
    ub = st.mean_total("lp", best_k)
    lb = -np.inf
    for it in range(max_iterations):
        st.counts["benders_iterations"] = it + 1
        y, lb = _master(st.data, levels, st.cuts)
        k = tuple(int(round(v)) for v in y)
        st.progress(f"Benders {it + 1}: bound £{lb:,.2f}/week, best £{ub:,.2f}/week, "
                    f"next {dict(zip(st.ids, k, strict=True))}")
        if ub - lb <= tol * max(abs(ub), 1.0) or k in st.lp:
            break
        st.run("lp", [st.beds(k)])
        val = st.mean_total("lp", k)
        if val < ub:
            ub, best_k = val, k
    return best_k, ub, lb


def _neighbours(k: tuple[int, ...], levels: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    out = []
    for ci, lv in enumerate(levels):
        i = lv.index(k[ci]) if k[ci] in lv else int(np.argmin([abs(v - k[ci]) for v in lv]))
        for j in (i - 1, i + 1):
            if 0 <= j < len(lv) and lv[j] != k[ci]:
                out.append(k[:ci] + (lv[j],) + k[ci + 1:])
    return out


def _local_search(st: _Search, levels: list[tuple[int, ...]], start: tuple[int, ...],
                  screen: bool | None = None, max_rounds: int = 50) -> tuple[int, ...]:
    """Integer costs at the relaxation's optimum, then +-1 level moves while one improves.

    A neighbour is solved only if its lower bound (block + mean of the cut model, below
    the relaxation, below the integer cost) is under the incumbent: a rigorous pruning.
    With `screen` (default: when the integer stage itself is heuristic, i.e. some
    scenario was not solved to optimality), a neighbour is solved only if that bound
    *plus the gap between the integer cost and the cut model at the incumbent* is under
    the incumbent: a prediction that it improves, which saves most integer solves at
    authority scale, where the gap is larger than a bed's effect.
    """
    assert st.cuts is not None
    st.run("ip", [st.beds(start)])
    inc, inc_val = start, st.mean_total("ip", start)
    if screen is None:
        screen = any(o.status != Status.OPTIMAL for o in st.ip[start])
    st.counts["screened"] = bool(screen)
    for _ in range(max_rounds):
        todo = []
        gap = inc_val - st.block(inc) - st.cuts.mean(np.array(inc, dtype=float))
        for nb in _neighbours(inc, levels):
            if nb in st.ip:
                continue
            y = np.array(nb, dtype=float)
            lower = st.block(nb) + st.cuts.mean(y)
            if screen:
                lower += max(gap, 0.0)
            if lower >= inc_val - 1e-9 * max(abs(inc_val), 1.0):
                st.counts["neighbours_pruned"] += 1
                continue
            todo.append(nb)
        st.counts["neighbours_solved"] += len(todo)
        st.run("ip", [st.beds(nb) for nb in todo])
        best = min(_neighbours(inc, levels), key=lambda nb: st.mean_total("ip", nb)
                   if nb in st.ip else np.inf, default=None)
        if best is None or best not in st.ip:
            break
        val = st.mean_total("ip", best)
        if val < inc_val - 1e-9 * max(abs(inc_val), 1.0):
            st.progress(f"local search: {dict(zip(st.ids, best, strict=True))} "
                        f"£{val:,.2f}/week (was £{inc_val:,.2f})")
            inc, inc_val = best, val
        else:
            break
    return inc


def _levels(data: CommissionData) -> list[tuple[int, ...]]:
    return [c.levels for c in data.contracts]


def _nearest(levels: tuple[int, ...], value: int) -> int:
    return min(levels, key=lambda v: abs(v - value))


def _optimise(st: _Search, method: str, tol: float, max_iterations: int
              ) -> tuple[tuple[int, ...], dict[str, Any]]:
    """The recommendation's bed key for the search's scenarios."""
    levels = _levels(st.data)
    if not levels:
        st.run("ip", [{}])
        return (), {"lp_bound": None}
    n_comb = int(np.prod([len(lv) for lv in levels]))
    if method == "enumerate":
        combos = [tuple(int(v) for v in k) for k in itertools.product(*levels)]
        st.run("ip", [st.beds(k) for k in combos])
        best = min(combos, key=lambda k: st.mean_total("ip", k))
        return best, {"combinations": n_comb}
    lo = st.beds([lv[0] for lv in levels])
    hi = st.beds([lv[-1] for lv in levels])
    cur = st.beds([_nearest(lv, c.current_beds)
                   for lv, c in zip(levels, st.data.contracts, strict=True)])
    k_lp, ub, lb = _benders(st, levels, [hi, lo, cur], tol, max_iterations)
    best = _local_search(st, levels, k_lp)
    return best, {"lp_point": list(k_lp), "lp_upper": ub, "lp_bound": lb,
                  "combinations": n_comb}


def _summary(data: CommissionData, outs: list[ScenarioOutcome], beds: Beds) -> dict[str, Any]:
    costs = np.array([o.total for o in outs])
    n_child = np.array([o.n_children for o in outs], dtype=float)
    placed = np.array([o.placed for o in outs])
    util = {}
    for c in data.contracts:
        b = beds.get(c.contract_id, 0)
        util[c.contract_id] = (float(np.mean([o.in_contract.get(c.contract_id, 0.0) / b
                                              for o in outs])) if b > 0 else 0.0)
    tot_placed = max(float(placed.sum()), 1.0)
    return {
        "beds": dict(beds),
        "block_weekly_cost": data.block_cost(beds),
        "expected_weekly_cost": float(costs.mean()) if len(costs) else 0.0,
        "interval": _interval(costs) if len(costs) else (0.0, 0.0),
        "expected_annual_cost": float(costs.mean() * WEEKS_PER_YEAR) if len(costs) else 0.0,
        "scenario_costs": tuple(float(v) for v in costs),
        "utilisation": util,
        "share_out_of_area": float(sum(o.out_of_area for o in outs) / tot_placed),
        "share_over_20_miles": float(sum(o.over_20_miles for o in outs) / tot_placed),
        "unplaced_mean": float(np.mean([o.unplaced for o in outs])) if outs else 0.0,
        "children_mean": float(n_child.mean()) if len(n_child) else 0.0,
    }


def _curve(st: _Search, best: tuple[int, ...], budget: int) -> tuple[dict[str, list[tuple[
        int, float]]], str]:
    """Expected weekly cost as each contract's beds vary, the others at the recommendation.

    Integer evaluations where they exist; else the flow relaxation evaluated at the point
    when scenarios x points fit in `budget`, else the Benders cut model (a lower bound of
    the relaxation); shifted by the gap between the integer cost and that estimate at the
    recommendation, so the curve passes through the reported expected cost.
    """
    assert st.cuts is not None
    levels = _levels(st.data)
    if not levels:
        return {}, "no candidate contracts"
    points = sorted({best[:ci] + (v,) + best[ci + 1:]
                     for ci, lv in enumerate(levels) for v in lv})
    method = "relaxation"
    if len(points) * len(st.scenarios) <= budget:
        st.run("lp_value", [st.beds(k) for k in points if k not in st.lp])
    else:
        method = "cuts"

    def estimate(k: tuple[int, ...]) -> float:
        if k in st.lp:
            return st.mean_total("lp", k)
        if k in st.lpv:
            return st.mean_total("lp_value", k)
        return st.block(k) + st.cuts.mean(np.array(k, dtype=float))  # type: ignore[union-attr]

    shift = st.mean_total("ip", best) - estimate(best)
    curve: dict[str, list[tuple[int, float]]] = {}
    for ci, (cid, lv) in enumerate(zip(st.ids, levels, strict=True)):
        pts = []
        for v in lv:
            k = best[:ci] + (v,) + best[ci + 1:]
            val = st.mean_total("ip", k) if k in st.ip else estimate(k) + shift
            pts.append((int(v), float(val)))
        curve[cid] = pts
    label = ("integer where solved, else the flow relaxation" if method == "relaxation"
             else "integer where solved, else the Benders cut model (a lower bound)")
    return curve, f"{label}, + the integer-relaxation gap at the recommendation " \
        f"(£{shift:,.2f}/week)"


def plan_capacity(data: CommissionData, scenarios: list[Scenario], mapper: Mapper | None = None,
                  seed: int = 0, time_limit_per_scenario: float = 10.0, *,
                  method: str = "benders", tolerance: float = 5e-4, max_iterations: int = 30,
                  eval_scenarios: list[Scenario] | None = None, curve_budget: int = 2000,
                  progress: Callable[[str], None] | None = None) -> Plan:
    """Recommend beds per contract: two-stage stochastic programme by sample average.

    `method`: "benders" (the L-shaped LP phase then the integer local search; the path at
    scale) or "enumerate" (integer solves of every bed combination; tiny cases only).
    `eval_scenarios`: an independent sample for the interval (default: the same sample).
    """
    if not scenarios:
        raise ValueError("no scenarios to plan for")
    if method not in ("benders", "enumerate"):
        raise ValueError(f"method {method!r}: benders or enumerate")
    t0 = time.perf_counter()
    say = progress or (lambda s: None)
    mp: Mapper = mapper or local_map
    st = _Search(data, list(scenarios), mp, time_limit_per_scenario, seed, say)
    best, info = _optimise(st, method, tolerance, max_iterations)
    beds = st.beds(best)
    say(f"recommendation {beds}: £{st.mean_total('ip', best):,.2f}/week on the sample")

    # today's arrangement on the same scenarios
    current = data.current_beds
    st.run("ip", [current])
    base_outs = st.ip[_key(current, st.ids)]

    # expected-value problem: plan for the average-demand scenario, evaluate on the sample
    ev_sc = expected_scenario(data, list(scenarios), seed)
    ev_st = _Search(data, [ev_sc], local_map, time_limit_per_scenario, seed, lambda s: None)
    ev_best, _ = _optimise(ev_st, method, tolerance, max_iterations)
    ev_beds = st.beds(ev_best)
    st.run("ip", [ev_beds])
    eev = st.mean_total("ip", ev_best)

    curve, curve_label = _curve(st, best, curve_budget)

    outs = st.ip[best]
    if eval_scenarios is not None:
        ev_search = _Search(data, list(eval_scenarios), mp, time_limit_per_scenario, seed, say)
        ev_search.run("ip", [beds])
        outs_eval = ev_search.ip[_key(beds, st.ids)]
        main = _summary(data, outs_eval, beds)
    else:
        outs_eval = outs
        main = _summary(data, outs, beds)
    rp = st.mean_total("ip", best)
    base = _summary(data, base_outs, current)
    stats: dict[str, Any] = {
        **st.counts, **info, "curve_method": curve_label,
        "sample_expected_weekly_cost": rp,
        "interval_sample": "independent" if eval_scenarios is not None else "in-sample",
        "ev_scenario_children": ev_sc.n_children,
        "ev_search": dict(ev_st.counts),
        "statuses": {s: sum(o.status == s for o in outs) for s in {o.status for o in outs}},
        "children_mean": main["children_mean"],
    }
    return Plan(
        beds=beds, block_weekly_cost=main["block_weekly_cost"],
        expected_weekly_cost=main["expected_weekly_cost"], interval=main["interval"],
        expected_annual_cost=main["expected_annual_cost"],
        scenario_costs=main["scenario_costs"], utilisation=main["utilisation"],
        share_out_of_area=main["share_out_of_area"],
        share_over_20_miles=main["share_over_20_miles"], unplaced_mean=main["unplaced_mean"],
        baseline=base, ev_beds=ev_beds, eev=eev, vss=eev - rp, curve=curve,
        outcomes=tuple(outs_eval), n_scenarios=len(scenarios), seed=seed,
        runtime=time.perf_counter() - t0, method=method, stats=stats)


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """plan.json: the required keys first, then the evidence (no assignments)."""

    def num(v: float) -> float | None:
        return None if v is None or not math.isfinite(v) else round(float(v), 2)

    base = dict(plan.baseline)
    base["interval"] = [num(v) for v in base["interval"]]
    base.pop("scenario_costs", None)
    return {
        "beds": dict(plan.beds),
        "expected_weekly_cost": num(plan.expected_weekly_cost),
        "interval": [num(plan.interval[0]), num(plan.interval[1])],
        "expected_annual_cost": num(plan.expected_annual_cost),
        "block_weekly_cost": num(plan.block_weekly_cost),
        "utilisation": {k: round(v, 4) for k, v in plan.utilisation.items()},
        "share_out_of_area": round(plan.share_out_of_area, 4),
        "share_over_20_miles": round(plan.share_over_20_miles, 4),
        "unplaced_mean": round(plan.unplaced_mean, 3),
        "baseline": base,
        "ev_beds": dict(plan.ev_beds), "eev": num(plan.eev), "vss": num(plan.vss),
        "curve": {k: [[b, num(v)] for b, v in pts] for k, pts in plan.curve.items()},
        "scenario_costs": [num(v) for v in plan.scenario_costs],
        "n_scenarios": plan.n_scenarios, "seed": plan.seed, "runtime": round(plan.runtime, 2),
        "method": plan.method,
        "stats": {k: v for k, v in plan.stats.items() if not isinstance(v, np.ndarray)},
    }


def write_outcome(data: CommissionData, scenario: Scenario, outcome: ScenarioOutcome,
                  instance_dir: str | Path, solution_dir: str | Path) -> tuple[Path, Path]:
    """Write the scenario's instance (at the outcome's beds) and its solution folder in the
    spec's format, so `optimiser.check` can recompute the objective independently."""
    from ..writer import make_report, write_output

    inst_dir = write_scenario_instance(data, scenario, outcome.beds, instance_dir)
    inst = load_instance(inst_dir)
    pindex = inst.placement_index
    cindex = inst.child_index
    a = np.full(inst.n_children, -1, dtype=np.int64)
    for c, p in outcome.assignment:
        a[cindex[c]] = pindex[p] if p else -1
    empty = Candidates(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0),
                       np.zeros(0, np.int64), np.zeros(inst.units.n, np.int64), None)
    gap = (outcome.objective - outcome.bound) / max(abs(outcome.objective), 1.0)
    res = Result(status=outcome.status, objective=outcome.objective, bound=outcome.bound,
                 gap=max(gap, 0.0) if outcome.status != Status.OPTIMAL else 0.0,
                 runtime=outcome.runtime, seed=0, assignment=a,
                 greedy_objective=outcome.objective, timings={}, stats={}, instance=inst,
                 candidates=empty)
    if outcome.status == Status.OPTIMAL:
        res = replace(res, bound=outcome.objective)
    sol = write_output(make_report(res), solution_dir)
    return inst_dir, sol
