"""Knapsack-Lagrangian machinery for the GAP, compiled with numba.

Why: on tight GAPs (OR-Library type D: cost falls as resource use rises, capacity at
80% of the greedy load) the LP is weak and CP-SAT's own search stalls, while relaxing
"each job once" instead of the capacities leaves one 0-1 knapsack per agent, whose
bound is close to the optimum there and whose solutions are almost a partition of
the jobs. So:

* `knapsack_bound` -- subgradient ascent on that bound, with exact per-pair prices
  (how much the bound rises when a pair is forced in or out) for fixing pairs;
* `knapsack_values` -- each agent's knapsack optimum, giving linear cuts that lift
  CP-SAT's LP relaxation to the same bound;
* `lagrangian_dive` -- a primal heuristic: fix one agent at a time to its knapsack set,
  re-optimise the multipliers for what is left, leave the last agents to an exact solve;
* `lagrangian_start` -- an assignment built from the knapsack solutions;
* `regret_greedy`, `local_search` -- construction and shift/swap improvement.

Knapsacks are solved by dynamic programming over capacity (integer resource use), in
plain loops compiled with ``numba.njit`` (``nogil``, so they run beside CP-SAT's threads;
``cache``, so the compile is paid once per machine).
"""

from __future__ import annotations

import time

import numpy as np

from . import INSTALL_HINT

try:
    from numba import njit
except ModuleNotFoundError as e:  # the research extra is not installed
    raise ModuleNotFoundError(f"the GAP solver needs numba: {INSTALL_HINT}",
                              name=e.name) from e

# --------------------------------------------------------------------------- knapsack bound
# Relaxing "each job once" with multipliers u_j leaves one 0-1 knapsack per agent:
#   L(u) = sum_j u_j - sum_i max { sum_j (u_j - c_ij) z_j : sum_j a_ij z_j <= b_i }.
# Its best value equals the column-generation (set-partitioning LP) bound, much tighter
# than the LP on type D, and the knapsacks also price single pairs exactly: forcing
# z_ij = 1 (or 0) lowers agent i's knapsack by delta_in (delta_out), so every solution
# with x_ij = 1 (x_ij = 0) costs at least L + delta_in_ij (L + delta_out_ij).


@njit(cache=True, nogil=True)
def _knap_items(profit: np.ndarray, weight: np.ndarray, cap: int) -> tuple[np.ndarray, int]:
    """The items worth a place in the DP (positive profit, fitting): indices and count."""
    n = profit.shape[0]
    items = np.empty(n, dtype=np.int64)
    k = 0
    for j in range(n):
        if profit[j] > 0 and weight[j] <= cap:
            items[k] = j
            k += 1
    return items, k


@njit(cache=True, nogil=True)
def _knap_forward(profit: np.ndarray, weight: np.ndarray, cap: int, items: np.ndarray,
                  k: int) -> np.ndarray:
    """f[t, c]: the best profit of the first t items within capacity c."""
    f = np.zeros((k + 1, cap + 1))
    for t in range(k):
        j = items[t]
        wj = weight[j]
        pj = profit[j]
        for c in range(cap + 1):
            v = f[t, c]
            if c >= wj and f[t, c - wj] + pj > v:
                v = f[t, c - wj] + pj
            f[t + 1, c] = v
    return f


@njit(cache=True, nogil=True)
def knapsack(profit: np.ndarray, weight: np.ndarray, cap: int, z: np.ndarray) -> float:
    """0-1 knapsack by DP over capacity; z[j] set to the chosen items. Returns the value."""
    z[:] = False
    items, k = _knap_items(profit, weight, cap)
    f = _knap_forward(profit, weight, cap, items, k)
    c = cap
    for t in range(k - 1, -1, -1):
        if f[t + 1, c] != f[t, c]:
            j = items[t]
            z[j] = True
            c -= weight[j]
    return f[k, cap]


@njit(cache=True, nogil=True)
def knapsack_deltas(profit: np.ndarray, weight: np.ndarray, cap: int, d_in: np.ndarray,
                 d_out: np.ndarray) -> float:
    """Knapsack value and, per item, its loss when the item is forced in / out."""
    n = profit.shape[0]
    items, k = _knap_items(profit, weight, cap)
    fw = _knap_forward(profit, weight, cap, items, k)
    bw = np.zeros((k + 1, cap + 1))
    for t in range(k - 1, -1, -1):
        j = items[t]
        wj = weight[j]
        pj = profit[j]
        for c in range(cap + 1):
            v = bw[t + 1, c]
            if c >= wj and bw[t + 1, c - wj] + pj > v:
                v = bw[t + 1, c - wj] + pj
            bw[t, c] = v
    best = fw[k, cap]
    # items outside the DP: forcing out costs nothing; forcing in uses the full table
    for j in range(n):
        d_out[j] = 0.0
        if weight[j] > cap:
            d_in[j] = np.inf
        else:
            d_in[j] = best - (profit[j] + fw[k, cap - weight[j]])
    for t in range(k):
        j = items[t]
        wj = weight[j]
        without = -np.inf
        for c in range(cap + 1):
            v = fw[t, c] + bw[t + 1, cap - c]
            if v > without:
                without = v
        with_ = -np.inf
        for c in range(cap - wj + 1):
            v = fw[t, c] + bw[t + 1, cap - wj - c]
            if v > with_:
                with_ = v
        d_out[j] = best - without
        d_in[j] = best - (profit[j] + with_)
    return best


@njit(cache=True, nogil=True)
def _lag_value(cost: np.ndarray, a: np.ndarray, b: np.ndarray, u: np.ndarray,
               z: np.ndarray) -> float:
    """L(u), z[i] set to agent i's knapsack solution."""
    m, n = cost.shape
    total = 0.0
    for j in range(n):
        total += u[j]
    profit = np.empty(n)
    for i in range(m):
        for j in range(n):
            profit[j] = u[j] - cost[i, j]
        total -= knapsack(profit, a[i], b[i], z[i])
    return total


@njit(cache=True, nogil=True)
def _lag_deltas(cost: np.ndarray, a: np.ndarray, b: np.ndarray, u: np.ndarray,
                d_in: np.ndarray, d_out: np.ndarray) -> float:
    """L(u) and the per-pair losses d_in, d_out [m, n]."""
    m, n = cost.shape
    total = 0.0
    for j in range(n):
        total += u[j]
    profit = np.empty(n)
    for i in range(m):
        for j in range(n):
            profit[j] = u[j] - cost[i, j]
        total -= knapsack_deltas(profit, a[i], b[i], d_in[i], d_out[i])
    return total


def knapsack_bound(cost: np.ndarray, a: np.ndarray, b: np.ndarray, u0: np.ndarray,
                   upper: float, deadline: float, max_iter: int = 300,
                   ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, dict[str, float]]:
    """Subgradient ascent on L(u) from u0 (e.g. the LP's job duals).

    Returns the best L, its u, and the per-pair losses d_in, d_out [m, n] at that u
    (for fixing pairs against an upper bound `upper`). Stops early once L > upper - 1
    (then nothing better than `upper` exists) or at the deadline.
    """
    cost = np.ascontiguousarray(cost, dtype=np.int64)
    a = np.ascontiguousarray(a, dtype=np.int64)
    b = np.ascontiguousarray(b, dtype=np.int64)
    m, n = cost.shape
    u = np.asarray(u0, dtype=np.float64).copy()
    z = np.zeros((m, n), dtype=np.bool_)
    best_l, best_u = -np.inf, u.copy()
    theta, since = 1.0, 0
    its = 0
    for its in range(1, max_iter + 1):  # noqa: B007 (its is reported)
        lv = _lag_value(cost, a, b, u, z)
        if lv > best_l + 1e-9:
            best_l, best_u, since = lv, u.copy(), 0
        else:
            since += 1
            if since >= 10:
                theta, since = theta / 2, 0
        g = 1.0 - z.sum(axis=0)
        norm = float(g @ g)
        if norm == 0 or theta < 1e-4 or best_l > upper - 1 + 1e-6 \
                or time.perf_counter() > deadline:
            break
        u += theta * max(upper - lv, 1e-3) / norm * g
    d_in = np.zeros((m, n))
    d_out = np.zeros((m, n))
    lv = _lag_deltas(cost, a, b, best_u, d_in, d_out)
    return lv, best_u, d_in, d_out, {"kn_iterations": float(its), "kn_bound": lv}


def lagrangian_start(cost: np.ndarray, a: np.ndarray, b: np.ndarray, u: np.ndarray,
                     d_in: np.ndarray) -> np.ndarray | None:
    """An assignment from the knapsacks at u: jobs some knapsack took keep the agent with
    the smallest pair price d_in (while it has room), the rest go by regret on d_in."""
    cost = np.ascontiguousarray(cost, dtype=np.int64)
    a = np.ascontiguousarray(a, dtype=np.int64)
    b = np.ascontiguousarray(b, dtype=np.int64)
    m, n = cost.shape
    z = np.zeros((m, n), dtype=np.bool_)
    _lag_value(cost, a, b, np.asarray(u, dtype=np.float64), z)
    price = np.where(z, d_in, np.inf)
    start = np.full(n, -1, dtype=np.int64)
    rem = b.copy()
    for j in np.argsort(z.sum(axis=0), kind="stable"):  # jobs taken once first
        i = int(np.argmin(price[:, j]))
        if np.isfinite(price[i, j]) and a[i, j] <= rem[i]:
            start[j] = i
            rem[i] -= a[i, j]
    desir = np.where(np.isfinite(d_in), d_in, 1e12)
    return regret_greedy(cost, a, b, desir, start)


def knapsack_values(cost: np.ndarray, a: np.ndarray, b: np.ndarray,
                    u: np.ndarray) -> np.ndarray:
    """Each agent's knapsack optimum K_i(u): sum_j (c_ij - u_j) x_ij >= -K_i(u) holds for
    every feasible assignment (a cut the LP relaxation lacks; summed it gives L(u))."""
    cost = np.ascontiguousarray(cost, dtype=np.int64)
    a = np.ascontiguousarray(a, dtype=np.int64)
    b = np.ascontiguousarray(b, dtype=np.int64)
    m, n = cost.shape
    z = np.zeros(n, dtype=np.bool_)
    uu = np.asarray(u, dtype=np.float64)
    return np.array([knapsack(uu - cost[i], a[i], int(b[i]), z) for i in range(m)])


def _subgradient(cost: np.ndarray, a: np.ndarray, b: np.ndarray, u: np.ndarray,
                 upper: float, iters: int, theta: float = 1.0,
                 ) -> tuple[float, np.ndarray, np.ndarray]:
    """A few subgradient steps on L(u); the best (L, u, knapsack solutions z)."""
    m, n = cost.shape
    z = np.zeros((m, n), dtype=np.bool_)
    best_l, best_u, best_z = -np.inf, u.copy(), z.copy()
    since = 0
    for _ in range(iters):
        lv = _lag_value(cost, a, b, u, z)
        if lv > best_l + 1e-9:
            best_l, best_u, best_z, since = lv, u.copy(), z.copy(), 0
        else:
            since += 1
            if since >= 5:
                theta, since = theta / 2, 0
        g = 1.0 - z.sum(axis=0)
        norm = float(g @ g)
        if norm == 0:
            break
        u = u + theta * max(upper - lv, 1e-3) / norm * g
    return best_l, best_u, best_z


def lagrangian_dive(cost: np.ndarray, a: np.ndarray, b: np.ndarray, u: np.ndarray,
                    upper: float, rng: np.random.Generator, iters: int = 30,
                    noise: float = 0.0, keep_agents: int = 0,
                    deadline: float = np.inf) -> np.ndarray | None:
    """Fix agents to their knapsack sets at near-optimal u of the residual problem (the
    agents whose sets are least contested first), re-optimising u after each step.

    A step fixes one agent per 20 left (one on small instances), their sets disjoint, so
    a dive takes about 20 + log steps however many agents there are. Stops when
    `keep_agents` agents are left (for an exact solve of the rest). Returns the partial
    assignment (-1: open), within capacity; None as soon as the fixed cost plus the
    residual's Lagrangian bound exceeds `upper`, or at the deadline.
    """
    cost = np.ascontiguousarray(cost, dtype=np.int64)
    a = np.ascontiguousarray(a, dtype=np.int64)
    b = np.ascontiguousarray(b, dtype=np.int64)
    m, n = cost.shape
    x = np.full(n, -1, dtype=np.int64)
    agents = np.arange(m)
    jobs = np.arange(n)
    uu = np.asarray(u, dtype=np.float64).copy()
    fixed = 0.0
    while len(agents) > keep_agents and len(jobs):
        if time.perf_counter() > deadline:
            return None
        c = np.ascontiguousarray(cost[np.ix_(agents, jobs)])
        aa = np.ascontiguousarray(a[np.ix_(agents, jobs)])
        bb = b[agents]
        lv, uj, z = _subgradient(c, aa, bb, uu[jobs], upper - fixed, iters, theta=0.5)
        if fixed + lv > upper:  # the rest cannot bring the total under `upper`
            return None
        uu[jobs] = uj
        claims = z.sum(axis=0)
        size = z.sum(axis=1)
        contested = (z & (claims[None, :] > 1)).sum(axis=1)
        score = contested / np.maximum(size, 1) + noise * rng.random(len(agents))
        score[size == 0] = np.inf
        if not np.isfinite(score).any():
            break
        per_step = max(1, min(len(agents) - keep_agents, len(agents) // 20))
        used = np.zeros(len(jobs), dtype=bool)
        picked: list[int] = []
        for k in np.argsort(score, kind="stable")[:per_step]:
            if not np.isfinite(score[k]) or (z[k] & used).any():
                continue
            take = np.flatnonzero(z[k])
            used[take] = True
            picked.append(int(k))
            x[jobs[take]] = agents[k]
            fixed += float(c[k, take].sum())
        agents = np.delete(agents, picked)
        jobs = jobs[~used]
    return x


# --------------------------------------------------------------------------- construction


def regret_greedy(cost: np.ndarray, a: np.ndarray, b: np.ndarray, desir: np.ndarray,
                  start: np.ndarray | None = None) -> np.ndarray | None:
    """Martello-Toth style: the job with the largest regret goes to its best agent first.

    `desir` ranks agents per job (lower is better; Lagrangian costs c + lambda a work
    well). `start`: a partial assignment (-1 open) to complete. None when stuck.
    """
    m, n = cost.shape
    x = np.full(n, -1, dtype=np.int64) if start is None else start.copy()
    rem = b.astype(np.int64) - np.bincount(x[x >= 0], weights=a[x[x >= 0], np.flatnonzero(
        x >= 0)], minlength=m).astype(np.int64)
    if np.any(rem < 0):
        return None
    open_jobs = np.flatnonzero(x < 0)
    big = np.float64(np.abs(desir).max() * 4 + 1e6)
    while len(open_jobs):
        d = np.where(a[:, open_jobs] <= rem[:, None], desir[:, open_jobs], np.inf)
        two = np.partition(d, 1, axis=0)[:2] if m > 1 else np.vstack([d, np.full_like(d,
                                                                                    np.inf)])
        if not np.all(np.isfinite(two[0])):
            return None
        regret = np.where(np.isfinite(two[1]), two[1] - two[0], big)
        q = int(np.argmax(regret))
        j = int(open_jobs[q])
        i = int(np.argmin(d[:, q]))
        x[j] = i
        rem[i] -= a[i, j]
        open_jobs = np.delete(open_jobs, q)
    return x


# --------------------------------------------------------------------------- local search


@njit(cache=True, nogil=True)
def _ls_pass(cost: np.ndarray, a: np.ndarray, b: np.ndarray, x: np.ndarray,
             load: np.ndarray) -> int:
    """One pass over the jobs: each takes its best improving shift, else its best
    improving swap (with a job on another agent), within capacity. Returns the moves."""
    m, n = cost.shape
    moves = 0
    for j in range(n):
        p = x[j]
        best = 0
        bq = -1
        for q in range(m):
            if q != p and load[q] + a[q, j] <= b[q]:
                d = cost[q, j] - cost[p, j]
                if d < best:
                    best = d
                    bq = q
        if bq >= 0:
            load[p] -= a[p, j]
            load[bq] += a[bq, j]
            x[j] = bq
            moves += 1
            continue
        bk = -1
        room_p = b[p] - load[p] + a[p, j]
        for k in range(n):
            q = x[k]
            if q == p or a[p, k] > room_p or load[q] - a[q, k] + a[q, j] > b[q]:
                continue
            d = cost[q, j] + cost[p, k] - cost[p, j] - cost[q, k]
            if d < best:
                best = d
                bk = k
        if bk >= 0:
            q = x[bk]
            load[p] += a[p, bk] - a[p, j]
            load[q] += a[q, j] - a[q, bk]
            x[j] = q
            x[bk] = p
            moves += 1
    return moves


def local_search(cost: np.ndarray, a: np.ndarray, b: np.ndarray, x: np.ndarray,
                 deadline: float) -> np.ndarray:
    """Shift and swap moves, each job's best improving one in turn, until a pass moves
    nothing (or the deadline). Never worsens x; x must be within capacity."""
    cost = np.ascontiguousarray(cost, dtype=np.int64)
    a = np.ascontiguousarray(a, dtype=np.int64)
    b = np.ascontiguousarray(b, dtype=np.int64)
    m, n = cost.shape
    y = np.asarray(x, dtype=np.int64).copy()
    load = np.bincount(y, weights=a[y, np.arange(n)], minlength=m).astype(np.int64)
    while time.perf_counter() < deadline and _ls_pass(cost, a, b, y, load) > 0:
        pass
    return y
