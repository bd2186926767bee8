"""What a bed costs the rest of the waiting list: the cohort model behind
`placement match --cohort` (`Matcher.rank(cohort=True)`).

The rest of the list is a transportation model solved by min-cost flow (sibling groups
and solo children held where the flow puts them, single children re-allocated exactly);
the referral taking a placement is priced by the shortest chain of moves it forces.
`build_in_child` builds the model in a forked process, so that a time limit can stop it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .candidates import build_candidates
from .forked import TooLate, call_by
from .instance import Instance


@dataclass(frozen=True)
class CohortImpact:
    """What the rest of the waiting list pays if the referral takes this placement."""

    others: float | None  # change of the rest's optimum, £/week; None: not priced
    exact: bool  # False: a lower bound ("at least"), or not priced at all
    moves: tuple[tuple[str, str, str], ...]  # (child_id, from placement, to placement or "")
    leaves_unplaced: tuple[str, ...]  # children of the rest left with no placement
    note: str = ""

    @property
    def sort_key(self) -> float:
        return np.inf if self.others is None else self.others





_INF = np.iinfo(np.int64).max // 4
COHORT_METHOD = ("transportation model solved by min-cost flow: sibling groups and solo "
                 "children held, single children re-allocated exactly; a bed priced by "
                 "the shortest chain of moves it forces (see optimiser.cohort.CohortModel)")


class CohortStopped(Exception):
    """The time limit came before a step of the cohort model could finish."""


def _check(deadline: float | None, need: float = 0.0) -> None:
    """Stop unless `need` seconds are left before `deadline` (None: no limit).

    A min-cost flow cannot be interrupted once started, so a flow is begun only when the
    time left is at least an estimate of what it takes (the pace of the steps before it).
    """
    if deadline is not None and time.perf_counter() + need > deadline:
        raise CohortStopped


def build_in_child(inst: Instance, budget: float, deadline: float) -> CohortModel:
    """Build the cohort model in a forked process and take it back if done by `deadline`.

    A min-cost flow holds the interpreter for its whole solve and cannot be interrupted,
    so a thread or a check between steps cannot keep a time limit; a child process can be
    stopped at the deadline. The child shares the instance (fork), and sends back only the
    model's arrays.
    """
    try:
        state = call_by(deadline, model_state, inst, budget)
    except TooLate:
        raise CohortStopped from None
    model = CohortModel.__new__(CohortModel)
    model.__dict__.update(state)
    model.inst = inst
    return model


def model_state(inst: Instance, budget: float) -> dict[str, Any]:
    """The cohort model's state (the instance apart): what a worker process sends back."""
    model = CohortModel(inst, budget=budget)
    return {k: v for k, v in vars(model).items() if k != "inst"}


def unpriced(cols: np.ndarray, t0: float, step: str = "the whole-list model was built"
              ) -> tuple[dict[int, CohortImpact], dict[str, Any]]:
    """The cohort answer when nothing could be priced in time."""
    why = f"not priced: the time limit came before {step}"
    impacts = {p: CohortImpact(None, False, (), (), why) for p in cols.tolist()}
    return impacts, {"method": COHORT_METHOD, "complete": False, "stopped": why,
                     "priced_by_successive_paths": 0,
                     "seconds": round(time.perf_counter() - t0, 4)}


def _min_cost_flow(tails: np.ndarray, heads: np.ndarray, caps: np.ndarray, costs: np.ndarray,
                   supply: np.ndarray) -> tuple[int, np.ndarray]:
    """Solve a min-cost flow (OR-Tools); returns the cost and the flow on every arc."""
    from ortools.graph.python import min_cost_flow

    f = min_cost_flow.SimpleMinCostFlow()
    arcs = f.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), caps.astype(np.int64),
        costs.astype(np.int64))
    f.set_nodes_supplies(np.arange(len(supply), dtype=np.int32), supply.astype(np.int64))
    status = f.solve()
    if status != f.OPTIMAL:
        raise RuntimeError(f"cohort flow did not solve: {status}")
    return int(f.optimal_cost()), np.asarray(f.flows(arcs))


@dataclass
class _State:
    """Where the movable children of the rest are, and the beds left, during pricing."""

    place_of: np.ndarray  # per unit: placement, -1 unplaced (movable units only)
    free: np.ndarray  # per placement: beds left for movable children


class CohortModel:
    """What a bed costs the rest of the waiting list: the change in their optimum.

    Method, and why. A good allocation of a whole authority's list takes the core solve
    far longer than an officer waits for a referral, so neither "re-solve per candidate
    placement" nor even one short solve fits a budget of a fraction of a second. An LP
    dual prices a bed in one number but cannot say *which* child loses out, which is the
    point of this view. So the model is a transportation problem, solved
    exactly by min-cost flow (OR-Tools), on the engine's own feasible pairs and objective:

    1. base, once per instance: the flow over every child with sibling groups split into
       their members (a relaxation: its cost is a valid lower bound on the whole list's
       optimum); sibling groups and solo children are then held where that flow sends most
       of them (largest groups first, where they fit), and the single children re-allocated
       exactly around them;
    2. per referral: its beds are given back and filled by the best improving chain of
       moves (the flow stays optimal: one shortest path per freed bed);
    3. one bed at a full placement costs the rest the shortest augmenting path out of it
       (children moving one after another into a free bed, or one left unplaced). One
       Bellman-Ford pass over the residual graph prices every placement at once, exactly,
       and names the children who move;
    4. several beds (a sibling group, a solo child) are priced by successive shortest paths,
       in order of a convexity lower bound (beds short x one-bed price) until no later
       placement can reach the top of the list or `budget` seconds are spent; the rest
       keep the bound, marked "at least".

    Exact for the single children given where the groups are held; moving a group is not
    considered, so otherwise the figure is an upper bound that is a real, feasible plan.
    """

    def __init__(self, inst: Instance, *, budget: float = 0.6, deadline: float | None = None):
        t0 = time.perf_counter()
        _check(deadline)
        self.inst = inst
        self.budget = budget
        units = inst.units
        m, n_u = inst.n_placements, units.n
        self.m = m
        w = inst.policy.weights
        first = units.order[units.start[:-1]]
        g = units.group_of_child[first]
        gsize = np.bincount(units.group_of_child[units.group_of_child >= 0],
                            minlength=len(units.group_names) + 1)
        grouped = (g >= 0) & (gsize[np.maximum(g, 0)] > 1)
        self.movable = (units.size == 1) & ~units.solo & ~grouped
        self.unpl = np.rint(w.unplaced * units.unplaced_cost * 100).astype(np.int64)
        pool, _ = build_candidates(inst, limit=None)  # every feasible pair, sorted by unit
        _check(deadline, need=time.perf_counter() - t0)
        t_flow = time.perf_counter()
        size = units.size.astype(np.int64)
        unit_starts = np.searchsorted(pool.unit, np.arange(n_u + 1))

        # 1a. relaxed flow: every child a unit of flow, groups free to split
        per_member = np.rint(pool.objective / size[pool.unit] * 100).astype(np.int64)
        uu = np.arange(n_u)
        unpl_node, sink = n_u + m, n_u + m + 1
        total = int(size.sum())
        relaxed_cost, flows = _min_cost_flow(
            np.concatenate([pool.unit, uu, n_u + np.arange(m), [unpl_node]]),
            np.concatenate([n_u + pool.placement, np.full(n_u, unpl_node),
                            np.full(m, sink), [sink]]),
            np.concatenate([size[pool.unit], size, inst.capacity, [total]]),
            np.concatenate([per_member, self.unpl // size, np.zeros(m + 1, np.int64)]),
            np.concatenate([size, np.zeros(m, np.int64), [0, -total]]))
        self.lower_bound = relaxed_cost / 100.0
        share = flows[: len(pool.unit)]
        t_flow = time.perf_counter() - t_flow
        _check(deadline)

        # 1b. hold groups and solo children where the relaxed flow sent most of them
        place = np.full(n_u, -1, dtype=np.int64)
        left = inst.capacity.astype(np.int64).copy()
        fixed = np.flatnonzero(~self.movable)
        fixed = fixed[np.argsort(-size[fixed], kind="stable")]
        pl, obj = pool.placement, pool.objective
        for u in fixed.tolist():
            a, b = int(unit_starts[u]), int(unit_starts[u + 1])
            for j in (a + np.lexsort((obj[a:b], -share[a:b]))).tolist():
                p = int(pl[j])
                if units.solo[u]:
                    if left[p] == inst.capacity[p] and left[p] > 0:
                        place[u], left[p] = p, 0
                        break
                elif left[p] >= size[u]:
                    place[u] = p
                    left[p] -= size[u]
                    break
        self.fixed_place = place.copy()

        # 1c. single children re-allocated exactly around them
        mv = self.movable[pool.unit]
        self.arc_unit, self.arc_place = pool.unit[mv], pool.placement[mv]
        self.arc_cost = np.rint(pool.objective[mv] * 100).astype(np.int64)
        by_place = np.lexsort((self.arc_unit, self.arc_place))  # edges come out sorted by head
        self.arc_unit = self.arc_unit[by_place]
        self.arc_place = self.arc_place[by_place]
        self.arc_cost = self.arc_cost[by_place]
        key = self.arc_unit * m + self.arc_place
        self._key_order = np.argsort(key, kind="stable")
        self._key_sorted = key[self._key_order]
        movers = np.flatnonzero(self.movable)
        _check(deadline, need=t_flow)
        cost, flows = _min_cost_flow(
            np.concatenate([self.arc_unit, movers, n_u + np.arange(m), [unpl_node]]),
            np.concatenate([n_u + self.arc_place, np.full(len(movers), unpl_node),
                            np.full(m, sink), [sink]]),
            np.concatenate([np.ones(len(self.arc_unit) + len(movers), np.int64), left,
                            [len(movers)]]),
            np.concatenate([self.arc_cost, self.unpl[movers], np.zeros(m + 1, np.int64)]),
            np.concatenate([self.movable.astype(np.int64), np.zeros(m, np.int64),
                            [0, -len(movers)]]))
        used = flows[: len(self.arc_unit)] > 0
        place[self.arc_unit[used]] = self.arc_place[used]
        self.base_place = place  # per unit
        self.base_free = left - np.bincount(self.arc_place[used], minlength=m)
        held = (~self.movable) & (place >= 0)
        held_cost = 0.0
        if held.any():
            key = np.flatnonzero(held) * m + place[held]
            pkey = pool.unit * m + pool.placement
            held_cost = float(pool.objective[np.searchsorted(pkey, key)].sum())
        # the held units' own options, to price moving one out of a contested placement
        hold = ~self.movable[pool.unit]
        self.hold_place = pool.placement[hold]
        self.hold_cost = np.rint(pool.objective[hold] * 100).astype(np.int64)
        self.hold_start = np.searchsorted(pool.unit[hold], np.arange(n_u + 1))
        self.base_objective = (cost / 100.0 + held_cost
                               + float(w.unplaced * units.unplaced_cost[
                                   (~self.movable) & (place < 0)].sum()))
        self.seconds = time.perf_counter() - t0

    # ---------------------------------------------------------------- residual graph
    def _cost_at(self, u: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Pence of movable unit u at placement p (the pair must be one of its arcs)."""
        return self.arc_cost[self._key_order[np.searchsorted(self._key_sorted, u * self.m + p)]]

    def _arcs(self, skip: np.ndarray) -> dict[str, np.ndarray]:
        """The arcs of the rest (the referral's own removed), still sorted by placement."""
        ok = ~np.isin(self.arc_unit, skip)
        return {"unit": self.arc_unit[ok], "place": self.arc_place[ok],
                "cost": self.arc_cost[ok], "movers": np.flatnonzero(
                    self.movable & ~np.isin(np.arange(len(self.movable)), skip))}

    def _edges(self, st: _State, arcs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Moves of the movable children: (from node, to node, pence, unit); node m = unplaced.

        Placed child u at q: q -> r (moves to r), q -> m (left unplaced); unplaced u: m -> r.
        Sorted by the node moved to (the arcs are sorted by placement, m comes last).
        """
        m = self.m
        au, ap = arcs["unit"], arcs["place"]
        movers = arcs["movers"]
        where = st.place_of[movers]
        placed = movers[where >= 0]
        now_u = np.zeros(len(st.place_of), dtype=np.int64)
        now_u[movers] = self.unpl[movers]
        now_u[placed] = self._cost_at(placed, st.place_of[placed])
        here = st.place_of[au]
        mv = ap != here
        return {
            "src": np.concatenate([np.where(here >= 0, here, m)[mv], st.place_of[placed]]),
            "dst": np.concatenate([ap[mv], np.full(len(placed), m)]),
            "wgt": np.concatenate([(arcs["cost"] - now_u[au])[mv],
                                   self.unpl[placed] - now_u[placed]]),
            "who": np.concatenate([au[mv], placed]),
        }

    def _push(self, e: dict[str, np.ndarray], st: _State, deadline: float | None,
              not_sink: int | None = None) -> dict[str, Any]:
        """Cheapest way to push one child out of every placement into a free bed (or out)."""
        m = self.m
        keep = e["src"] < m  # a chain never needs to pass through "unplaced"
        g: dict[str, Any] = {k: v[keep] for k, v in e.items()}
        sink0 = np.concatenate([st.free > 0, [True]])
        if not_sink is not None:
            sink0[not_sink] = False
        g["dist"], g["parent"] = _bellman_ford(g["src"], g["dst"], g["wgt"],
                                               np.where(sink0, 0, _INF).astype(np.int64),
                                               deadline)
        dist = g["dist"]
        g["sink0"] = sink0
        out = np.full(m + 1, _INF, dtype=np.int64)  # cheapest way out, a sink or not
        if len(g["src"]):
            d = dist[g["dst"]]
            np.minimum.at(out, g["src"], np.where(d >= _INF, _INF, g["wgt"] + d))
        g["out"] = out
        return g

    def _path(self, g: dict[str, Any], p: int) -> list[tuple[int, int, int]]:
        """(unit, from, to) moves of the shortest chain out of p; to == m: left unplaced."""
        moves: list[tuple[int, int, int]] = []
        node = p
        for _ in range(self.m + 1):
            e = int(g["parent"][node])
            if e < 0:
                break
            nxt = int(g["dst"][e])
            moves.append((int(g["who"][e]), node, nxt))
            node = nxt
        return moves

    def _fill(self, st: _State, q: int, arcs: dict[str, np.ndarray],
              deadline: float | None) -> None:
        """Fill a freed bed at q by the best improving chain of moves into it, if any.

        Single-source from q: dist[x] = cost of the chain that starts by moving a child out
        of x (or placing an unplaced child, x = m) and ends with a child moving into q.
        """
        m = self.m
        e = self._edges(st, arcs)
        into = e["dst"] < m  # leaving a child unplaced never helps to fill a bed
        g: dict[str, Any] = {k: v[into] for k, v in e.items()}
        e = g
        dist0 = np.full(m + 1, _INF, dtype=np.int64)
        dist0[q] = 0
        dist, g["parent"] = _bellman_ford(e["src"], e["dst"], e["wgt"], dist0, deadline)
        dist[q] = _INF  # "no chain" is not a chain
        start = int(np.argmin(dist))
        if dist[start] >= 0:
            return
        for u, frm, to in self._path(g, start):
            self._move(st, u, frm, to)

    def _move(self, st: _State, u: int, frm: int, to: int) -> None:
        m = self.m
        if frm < m:
            st.free[frm] += 1
        if to < m:
            st.free[to] -= 1
        st.place_of[u] = to if to < m else -1

    # ---------------------------------------------------------------- pricing
    def _rest(self, ref_units: np.ndarray, deadline: float | None
              ) -> tuple[_State, dict[str, np.ndarray], dict[str, Any]]:
        """The rest's optimum without the referral, its arcs, and the shared pricing pass."""
        inst, units = self.inst, self.inst.units
        st = _State(self.base_place.copy(), self.base_free.copy())
        # give the referral's beds back to the rest, and let the rest use them
        freed: list[int] = []
        for u in ref_units.tolist():
            q = int(st.place_of[u])
            if q >= 0:
                beds = int(inst.capacity[q]) if units.solo[u] else int(units.size[u])
                st.free[q] += beds
                st.place_of[u] = -1
                freed += [q] * beds
        arcs = self._arcs(ref_units)
        for q in freed:
            if st.free[q] > 0:
                self._fill(st, q, arcs, deadline)
        return st, arcs, self._push(self._edges(st, arcs), st, deadline)

    def price(self, members: np.ndarray, cols: np.ndarray, own: np.ndarray, use: np.ndarray,
              top: int | None, deadline: float | None = None
              ) -> tuple[dict[int, CohortImpact], dict[str, Any]]:
        """Impact on the rest for each placement in `cols` (the referral taking `use` beds).

        By `deadline` (a `time.perf_counter()` value, None: none) the pricing stops: before
        the shared pass, nothing is priced; after it, the rest keep their lower bounds.
        """
        t0 = time.perf_counter()
        units = self.inst.units
        m = self.m
        ref_units = np.unique(units.unit_of[members])
        try:
            st, arcs, g = self._rest(ref_units, deadline)
        except CohortStopped:
            return unpriced(cols, t0, "the rest's optimum without the referral was found")
        rest_place = st.place_of.copy()
        stop = t0 + self.budget
        by_limit = deadline is not None and deadline <= stop  # the limit, not the budget, stops
        stop = deadline if by_limit and deadline is not None else stop
        stopped = False  # by the time limit: the answer is then not complete
        singles_load = np.bincount(st.place_of[self.movable & (st.place_of >= 0)],
                                   minlength=m)
        own_of = dict(zip(cols.tolist(), own.tolist(), strict=True))
        use_of = dict(zip(cols.tolist(), use.tolist(), strict=True))
        value: dict[int, float] = {}  # pence, exact one-bed prices
        impacts: dict[int, CohortImpact] = {}
        pending: list[tuple[float, int]] = []  # (lower bound of the total, placement)
        for p in cols.tolist():
            short = int(use_of[p] - st.free[p])
            if short <= 0:
                impacts[p] = CohortImpact(0.0, True, (), (), "a bed is free in the optimum")
            elif short == 1 and st.free[p] == 0 and g["dist"][p] < _INF:
                value[p] = float(g["dist"][p])
            elif short > singles_load[p]:
                pending.append((own_of[p], p))  # a held group must move: priced below
            else:
                out = int(g["out"][p])
                lb = short * max(out, 0) / 100.0 if out < _INF else np.inf
                pending.append((own_of[p] + lb, p))
        pending.sort()
        k_best = top if top is not None else len(cols)
        totals = sorted([own_of[q] + c.others for q, c in impacts.items()
                         if c.others is not None]
                        + [own_of[q] + v / 100.0 for q, v in value.items()])
        priced = 0
        for lb_total, p in pending:
            bar = totals[k_best - 1] if len(totals) >= k_best else np.inf
            spent = stopped or time.perf_counter() > stop
            stopped = stopped or (spent and by_limit)
            if spent or lb_total >= bar:
                lb = lb_total - own_of[p]
                why = (("time limit reached" if stopped else "time budget spent") if spent
                       else "cannot reach the top of the list")
                impacts[p] = CohortImpact(lb if np.isfinite(lb) else None, False, (), (),
                                          f"lower bound only ({why})")
                continue
            try:
                imp = self._several(st, rest_place, p, int(use_of[p]), arcs,
                                    g if st.free[p] == 0 else None, deadline)
            except CohortStopped:
                stopped = True
                lb = lb_total - own_of[p]
                impacts[p] = CohortImpact(lb if np.isfinite(lb) else None, False, (), (),
                                          "lower bound only (time limit reached)")
                continue
            priced += 1
            impacts[p] = imp
            if imp.others is not None:
                total = own_of[p] + imp.others
                totals.insert(int(np.searchsorted(totals, total)), total)
        # chains of moves are spelled out only for the entries that will be shown
        order = sorted(value, key=lambda q: (own_of[q] + value[q] / 100.0, own_of[q], q))
        shown = set(sorted(
            cols.tolist(), key=lambda q: (own_of[q] + (value[q] / 100.0 if q in value
                                                       else impacts[q].sort_key), own_of[q], q)
        )[:k_best])
        for q in order:
            moves = self._path(g, q) if q in shown else []
            impacts[q] = self._impact(moves, rest_place, value[q], exact=True)
        choice = int(self.base_place[ref_units[0]])
        rest = ~np.isin(np.arange(units.n), ref_units)
        info = {
            "method": COHORT_METHOD,
            "complete": not stopped,
            "base_objective": round(self.base_objective, 2),
            "lower_bound": round(self.lower_bound, 2),
            "base_seconds": round(self.seconds, 3),
            "optimum_choice": str(self.inst.placement_ids[choice]) if choice >= 0 else None,
            "rest_unplaced": int(units.size[rest & (rest_place < 0)].sum()),
            "priced_by_successive_paths": priced,
            "seconds": round(time.perf_counter() - t0, 4),
        }
        if stopped:
            info["stopped"] = "time limit reached: placements not priced keep a lower bound"
        return impacts, info

    def _several(self, st0: _State, rest_place: np.ndarray, p: int, use: int,
                 arcs: dict[str, np.ndarray], g0: dict[str, Any] | None,
                 deadline: float | None) -> CohortImpact:
        """Successive shortest paths: push children out of p until the referral fits.

        If the single children at p cannot make room, the held groups (or solo children)
        there move to their cheapest placement with room, or are left unplaced: a real plan,
        so an upper bound, marked not exact.
        """
        inst, units = self.inst, self.inst.units
        st = _State(st0.place_of.copy(), st0.free.copy())
        st.free[p] -= use
        moves: list[tuple[int, int, int]] = []
        cost = 0
        exact = True
        singles = int(((st.place_of == p) & self.movable).sum())
        held = np.flatnonzero((st.place_of == p) & ~self.movable)
        if -st.free[p] > singles:
            exact = False
            # cheapest relocation first, until the singles can cover the rest
            options = sorted((self._relocate(st, int(u), p) + (int(u),) for u in held),
                             key=lambda x: x[0])
            for extra, to, u in options:
                if -st.free[p] <= singles:
                    break
                beds = int(inst.capacity[p]) if units.solo[u] else int(units.size[u])
                st.free[p] += beds
                if to >= 0:
                    st.free[to] -= (int(inst.capacity[to]) if units.solo[u]
                                    else int(units.size[u]))
                st.place_of[u] = to
                cost += extra
                moves.append((u, p, to if to >= 0 else self.m))
        while st.free[p] < 0:
            if g0 is not None and not moves:  # p was already full: the shared pass holds
                g = g0
            else:
                g = self._push(self._edges(st, arcs), st, deadline, not_sink=p)
            if g["dist"][p] >= _INF:
                return CohortImpact(None, False, (), (), "no way to free enough beds here")
            cost += int(g["dist"][p])
            path = self._path(g, p)
            for u, frm, to in path:
                self._move(st, u, frm, to)
            moves += path
        return self._impact(moves, rest_place, float(cost), exact=exact)

    def _relocate(self, st: _State, u: int, p: int) -> tuple[int, int]:
        """(extra pence, placement or -1) for moving held unit u out of p, cheapest first."""
        units = self.inst.units
        a, b = int(self.hold_start[u]), int(self.hold_start[u + 1])
        here = a + int(np.searchsorted(self.hold_place[a:b], p))
        now = int(self.hold_cost[here])
        places = self.hold_place[a:b]
        if units.solo[u]:
            room = (st.free[places] == self.inst.capacity[places]) & (st.free[places] > 0)
        else:
            room = st.free[places] >= units.size[u]
        room &= places != p
        best_unpl = int(self.unpl[u]) - now
        if room.any():
            j = int(np.argmin(np.where(room, self.hold_cost[a:b], _INF)))
            if int(self.hold_cost[a + j]) - now <= best_unpl:
                return int(self.hold_cost[a + j]) - now, int(places[j])
        return best_unpl, -1

    def _impact(self, moves: list[tuple[int, int, int]], rest_place: np.ndarray, pence: float,
                exact: bool) -> CohortImpact:
        inst, units = self.inst, self.inst.units
        m = self.m
        out: list[tuple[str, str, str]] = []
        unplaced: list[str] = []
        for u, frm, to in moves:
            kids = [str(inst.child_ids[c]) for c in units.members(u).tolist()]
            for c in kids:
                out.append((c, str(inst.placement_ids[frm]) if frm < m else "",
                            str(inst.placement_ids[to]) if to < m else ""))
            if to == m and rest_place[u] >= 0:
                unplaced += kids
        note = f"leaves {', '.join(unplaced)} with no placement" if unplaced else ""
        if not exact:
            note = "upper bound: a sibling group or solo child held in place moves" + (
                f"; {note}" if note else "")
        return CohortImpact(pence / 100.0, exact, tuple(out), tuple(unplaced), note)


def _bellman_ford(tail: np.ndarray, head: np.ndarray, wgt: np.ndarray, dist0: np.ndarray,
                  deadline: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """dist[tail] = min(dist[tail], wgt + dist[head]) to a fixed point (integer pence).

    Edges must be sorted by head. Only edges into nodes that changed in the last round are
    relaxed (a frontier), so a round costs what changed, not the whole graph. Returns the
    distances and, per node, the edge of its shortest path (-1 at a start): pointers set
    only on a strict decrease form a tree, so a path never loops on a zero-cost swap. The
    flow is optimal, so the residual graph has no negative cycle and this settles; integer
    pence keep it exact (no float "cycles" of -1e-12). Past `deadline` it stops (CohortStopped).
    """
    n = len(dist0)
    starts = np.searchsorted(head, np.arange(n + 1))
    dist = dist0.copy()
    parent = np.full(n, -1, dtype=np.int64)
    frontier = np.flatnonzero(dist < _INF)
    for _ in range(n + 1):
        _check(deadline)
        lo, hi = starts[frontier], starts[frontier + 1]
        lens = hi - lo
        total = int(lens.sum())
        if total == 0:
            return dist, parent
        idx = np.repeat(lo - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) + np.arange(total)
        t = tail[idx]
        cand = wgt[idx] + dist[head[idx]]
        new = dist.copy()
        np.minimum.at(new, t, cand)
        better = new < dist
        hit = better[t] & (cand == new[t])
        parent[t[hit]] = idx[hit]
        frontier = np.flatnonzero(better)
        dist = new
    raise RuntimeError("negative cycle in the cohort's residual graph")


