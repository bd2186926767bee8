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

import itertools
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.stats import t as student_t

from ..candidates import Candidates
from ..highs import quiet_stdout
from ..reader import load_instance
from ..solver import Result
from ..status import Status
from .data import CommissionData
from .demand import Scenario, expected_scenario
from .second_stage import (
    WEEKS_PER_YEAR,
    Beds,
    Mapper,
    ScenarioOutcome,
    evaluate_scenario,
    local_map,
    write_scenario_instance,
)

log = logging.getLogger(__name__)


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
    # a total time limit, as time.perf_counter() values: the first batch keeps the
    # scenarios finished by `first_by`; no batch that may be skipped starts when it is
    # expected to end past `soft_by` (None: no limit)
    first_by: float | None = None
    soft_by: float | None = None
    seconds_per_task: dict[str, float] = field(default_factory=dict)  # by mode, measured
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

    def run(self, mode: str, points: list[Beds], optional: bool = False) -> bool:
        """Evaluate every scenario at every new point, one mapper call per scenario.
        An `optional` batch is skipped (False returned) when the time limit leaves no
        room for it."""
        store = self._store(mode)
        new: list[Beds] = []
        seen: set[tuple[int, ...]] = set()
        for b in points:
            k = _key(b, self.ids)
            if k not in store and k not in seen:
                new.append(b)
                seen.add(k)
        if not new:
            return True
        if optional and not self._room(mode, len(new)):
            self.counts["batches_skipped_for_time"] = (
                self.counts.get("batches_skipped_for_time", 0) + 1)
            return False
        t0 = time.perf_counter()
        args = [(self.data, sc, new[0], mode, self.time_limit, tuple(new[1:]), self.seed)
                for sc in self.scenarios]
        first = self.first_by is not None and not (self.lp or self.ip or self.lpv)
        outs: list[ScenarioOutcome] = (self._first_batch(args) if first
                                       else self.mapper(evaluate_scenario, args))
        args = args[: len(outs)]
        self.counts["batches"] += 1
        self.counts[f"{mode}_solves"] = self.counts.get(f"{mode}_solves", 0) + len(args) * len(new)
        key = "seconds_ip" if mode == "ip" else "seconds_lp"
        self.counts[key] += time.perf_counter() - t0
        self.seconds_per_task[mode] = (time.perf_counter() - t0) / (len(args) * len(new))
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
        return True

    def _room(self, mode: str, points: int) -> bool:
        """Whether a batch of `points` is expected to end by `soft_by` (an IP solve is
        taken as three LP solves until one is measured)."""
        if self.soft_by is None:
            return True
        per = self.seconds_per_task.get(mode)
        if per is None:
            per = 3 * self.seconds_per_task.get("lp", 0.0)
        return time.perf_counter() + per * len(self.scenarios) * points <= self.soft_by

    def _first_batch(self, args: list[tuple[Any, ...]]) -> list[ScenarioOutcome]:
        """The first batch, by chunks of scenarios until `first_by`: the scenarios not
        reached are dropped from this search (at least one chunk is always solved)."""
        assert self.first_by is not None
        chunk = max(1, len(args) // 50)
        outs: list[ScenarioOutcome] = []
        t0 = time.perf_counter()
        while len(outs) < len(args):
            # one scenario first (its time is what the budget is read against), then chunks
            size = chunk if outs else 1
            per = (time.perf_counter() - t0) / max(len(outs), 1)
            if outs and time.perf_counter() + per * size > self.first_by:
                break
            outs += self.mapper(evaluate_scenario, args[len(outs):len(outs) + size])
        if len(outs) < len(args):
            self.progress(f"time limit: {len(outs)} of {len(args)} scenarios solved in the "
                          "first batch; the plan is made on those")
            self.scenarios = self.scenarios[: len(outs)]
            self.cuts = _Cuts(len(outs), self.ids)
        return outs

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
        if not st.run("lp", [st.beds(k)], optional=True):
            st.progress("Benders stopped: no time for another round")
            break
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
        if not st.run("ip", [st.beds(nb) for nb in todo], optional=True):
            st.progress("local search stopped: no time for the neighbours")
            break
        st.counts["neighbours_solved"] += len(todo)
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
    if not (len(points) * len(st.scenarios) <= budget
            and st.run("lp_value", [st.beds(k) for k in points if k not in st.lp],
                       optional=True)):
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


# with a total time limit: the first batch's share of the time (its scenarios are the
# plan's), and the share by which the search's rounds that may be skipped must end (the
# recommendation, today's beds and the expected-value beds take about the rest)
FIRST_BATCH_SHARE = 0.12
SEARCH_SHARE = 0.5


def plan_capacity(data: CommissionData, scenarios: list[Scenario], mapper: Mapper | None = None,
                  seed: int = 0, time_limit_per_scenario: float = 10.0, *,
                  method: str = "benders", tolerance: float = 5e-4, max_iterations: int = 30,
                  eval_scenarios: list[Scenario] | None = None, curve_budget: int = 2000,
                  progress: Callable[[str], None] | None = None,
                  deadline: float | None = None) -> Plan:
    """Recommend beds per contract: two-stage stochastic programme by sample average.

    `method`: "benders" (the L-shaped LP phase then the integer local search; the path at
    scale) or "enumerate" (integer solves of every bed combination; tiny cases only).
    `eval_scenarios`: an independent sample for the interval (default: the same sample).
    `deadline` (a time.perf_counter() value): the plan is made on the scenarios the first
    batch finishes in its share of the time, and the search's further rounds, the
    curve's relaxations and the expected-value problem's search stop when no room is
    left; the recommendation, today's beds and the expected-value beds are always
    evaluated on the scenarios kept.
    """
    if not scenarios:
        raise ValueError("no scenarios to plan for")
    if method not in ("benders", "enumerate"):
        raise ValueError(f"method {method!r}: benders or enumerate")
    t0 = time.perf_counter()
    say = progress or (lambda s: None)
    mp: Mapper = mapper or local_map
    st = _Search(data, list(scenarios), mp, time_limit_per_scenario, seed, say)
    if deadline is not None:
        budget = max(deadline - t0, 0.0)
        st.first_by, st.soft_by = (t0 + FIRST_BATCH_SHARE * budget,
                                   t0 + SEARCH_SHARE * budget)
    best, info = _optimise(st, method, tolerance, max_iterations)
    beds = st.beds(best)
    say(f"recommendation {beds}: £{st.mean_total('ip', best):,.2f}/week on the sample")

    # today's arrangement on the same scenarios
    current = data.current_beds
    st.run("ip", [current])
    base_outs = st.ip[_key(current, st.ids)]

    # expected-value problem: plan for the average-demand scenario, evaluate on the sample
    ev_sc = expected_scenario(data, list(scenarios), seed)
    ev_st = _Search(data, [ev_sc], local_map, time_limit_per_scenario, seed, lambda s: None,
                    soft_by=st.soft_by)
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
        "scenarios_asked": len(scenarios), "scenarios_solved": len(st.scenarios),
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
        outcomes=tuple(outs_eval), n_scenarios=len(st.scenarios), seed=seed,
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
