"""A fair split of what pooling saves: the Shapley value, and the stand-alone check.

The game is given by its cost function c(S) over bit masks of n players (c(0) = 0). The
saving of S is v(S) = sum of c({i}) over i in S - c(S); the gain of pooling is v(N).
The Shapley value gives player i its average marginal saving over every order in which
the players could join; as a cost allocation, i bears x_i = c({i}) - share_i, and the
x_i add up to c(N) (efficiency).

Exact: all 2^n coalitions (n <= `EXACT_MAX`), every cost fetched in one batch first.
Sampled: `samples` random orders (seeded); the coalitions they need (each order's
prefixes) are fetched in one batch, so a coalition met in several orders is solved once;
or batch by batch until every share's standard error is small enough or the time is up.

Costs known only within bounds (a solve stopped at its limit) make a share uncertain
beyond sampling: `share_range` gives the range the bounds allow.

Stand-alone check: no authority bears more than alone (x_i <= c({i})), and more
strictly no group of authorities bears more than it would on its own (sum over S of x_i
<= c(S), the core), over every coalition whose cost is known.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

EXACT_MAX = 10
MIN_ORDERS = 10  # before a standard error is trusted to stop sampling (five pairs)
CostFn = Callable[[int], float]
Prefetch = Callable[[Iterable[int]], None]
Chains = Callable[[list[list[int]]], None]


@dataclass(frozen=True)
class Shares:
    """The fair split: per player, the share of the gain and the cost it bears."""

    alone: np.ndarray  # c({i})
    share: np.ndarray  # of the gain v(N) (Shapley value of the savings game)
    allocated: np.ndarray  # x_i = alone - share: what i bears of c(N)
    stderr: np.ndarray  # standard error of each share (0 when exact)
    exact: bool
    samples: int  # orders drawn (0 when exact)
    pooled: float  # c(N)
    orders: np.ndarray | None = None  # the orders drawn (None when exact)
    # per player, the share's cost x_i as a linear form of coalition costs, when the
    # estimator is not the plain mean over `orders` (stratified: `shapley_stratified`)
    forms: list[dict[int, float]] | None = None

    @property
    def gain(self) -> float:
        return float(self.alone.sum() - self.pooled)


def _bits(mask: int) -> int:
    return bin(mask).count("1")


def shapley_exact(n: int, cost: CostFn, prefetch: Prefetch | None = None) -> Shares:
    """The exact Shapley value over all 2^n coalitions."""
    if n > EXACT_MAX:
        raise ValueError(f"exact Shapley is for at most {EXACT_MAX} players; sample above")
    full = (1 << n) - 1
    if prefetch is not None:
        prefetch(range(1, full + 1))
    c = np.array([0.0] + [cost(m) for m in range(1, full + 1)])
    weight = [math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
              for k in range(n)]
    x = np.zeros(n)
    for i in range(n):
        bit = 1 << i
        for s in range(full + 1):
            if not s & bit:
                x[i] += weight[_bits(s)] * (c[s | bit] - c[s])
    alone = np.array([c[1 << i] for i in range(n)])
    return Shares(alone, alone - x, x, np.zeros(n), True, 0, float(c[full]))


def orders(n: int, samples: int, seed: int) -> np.ndarray:
    """`samples` orders of the players, seeded; antithetic pairs (an order and its
    reverse) halve the variance of the estimate for the same number of solves. The
    first k orders are the same whatever `samples` (a longer run extends a shorter)."""
    rng = np.random.default_rng(seed)
    half = [rng.permutation(n) for _ in range((samples + 1) // 2)]
    out = [p for q in half for p in (q, q[::-1])]
    return np.array(out[:samples], dtype=np.int64).reshape(samples, n)


def prefixes(perms: np.ndarray) -> set[int]:
    """The coalitions an estimate over `perms` needs (every prefix of every order)."""
    need: set[int] = set()
    for p in perms:
        mask = 0
        for i in p:
            mask |= 1 << int(i)
            need.add(mask)
    return need


def marginals(perms: np.ndarray, cost: CostFn) -> np.ndarray:
    """Per order and player, the player's marginal cost when it joins in that order."""
    marg = np.zeros(perms.shape)
    for r, p in enumerate(perms):
        mask, before = 0, 0.0
        for i in p:
            mask |= 1 << int(i)
            now = cost(mask)
            marg[r, int(i)] = now - before
            before = now
    return marg


def sampling_error(marg: np.ndarray) -> np.ndarray:
    """Standard error of each player's mean marginal over the orders `marg` (antithetic
    pairs in turn). An antithetic pair is one draw: the error is that of the pair means;
    with a single pair, that of the orders themselves (conservative: it ignores their
    correlation); infinite with one order."""
    samples, n = marg.shape
    draws = marg[: samples - samples % 2].reshape(-1, 2, n).mean(axis=1)
    if len(draws) < 2:
        draws = marg
    return draws.std(axis=0, ddof=1) / math.sqrt(len(draws)) if len(draws) > 1 \
        else np.full(n, np.inf)


def shapley_sampled(n: int, cost: CostFn, samples: int, seed: int = 0,
                    prefetch: Prefetch | None = None, *, tolerance: float | None = None,
                    deadline: float | None = None, batch: int = 4,
                    chains: Chains | None = None) -> Shares:
    """The Shapley value estimated over up to `samples` random orders (module doc).

    Without `tolerance` and `deadline` every order's coalitions are fetched in one batch.
    With them, orders are drawn `batch` at a time (antithetic pairs), and drawing stops
    once every player's standard error is at most `tolerance` (pounds a week; after
    `MIN_ORDERS` at least), or when another batch, as long as the last, would end past
    `deadline` (a `time.perf_counter()` value). `chains`: fetches each order's prefixes
    as one chain (else `prefetch` fetches them as one set)."""
    if samples < 1:
        raise ValueError("need at least one sampled order")
    full = (1 << n) - 1
    perms = orders(n, samples, seed)
    ends = {1 << i for i in range(n)} | {full}
    if tolerance is None and deadline is None:
        used = samples
        if prefetch is not None:
            prefetch(prefixes(perms) | ends)
    else:
        step = max(2, batch + batch % 2)
        used, last = 0, 0.0
        while used < samples:
            if deadline is not None and used and time.perf_counter() + last > deadline:
                break
            t0 = time.perf_counter()
            take = min(samples, used + step)
            if chains is not None:
                chains([chain(p) for p in perms[used:take]])
            elif prefetch is not None:
                prefetch(prefixes(perms[used:take]) | ends)
            used, last = take, time.perf_counter() - t0
            err = sampling_error(marginals(perms[:used], cost))
            if tolerance is not None and used >= MIN_ORDERS and float(err.max()) <= tolerance:
                break
    perms = perms[:used]
    marg = marginals(perms, cost)
    x = marg.mean(axis=0)
    alone = np.array([cost(1 << i) for i in range(n)])
    pooled = cost(full)
    return Shares(alone, alone - x, x, sampling_error(marg), False, used, pooled, perms)


def chain(order: np.ndarray) -> list[int]:
    """The prefixes of an order of joining, smallest first."""
    out, mask = [], 0
    for i in order:
        mask |= 1 << int(i)
        out.append(mask)
    return out


def lattice_chains(masks: Iterable[int], longest: int = 10) -> list[list[int]]:
    """`masks` cut into chains, each coalition containing the one before it (one member
    more when `masks` is every coalition), at most `longest` long: tasks of several
    coalitions that warm-start each other. The symmetric chain decomposition (de
    Bruijn et al.): as few chains as the widest level of the lattice has coalitions."""
    groups: dict[int, list[int]] = {}
    ms = sorted({int(m) for m in masks if m}, key=lambda m: (_bits(m), m))
    n = max(ms, default=0).bit_length()
    for m in ms:
        groups.setdefault(_chain_start(m, n), []).append(m)
    return [g[k:k + longest] for g in groups.values() for k in range(0, len(g), longest)]


def _chain_start(mask: int, n: int) -> int:
    """The least coalition of `mask`'s symmetric chain: a member is a ")" and a
    non-member a "(" in player order; the members left unmatched are dropped."""
    open_, unmatched = 0, 0
    for i in range(n):
        if mask >> i & 1:
            if open_:
                open_ -= 1
            else:
                unmatched |= 1 << i
        else:
            open_ += 1
    return mask & ~unmatched


def stratified_forms(n: int, perms: np.ndarray) -> tuple[list[dict[int, float]],
                                                         np.ndarray]:
    """The stratified estimator's linear forms (`shapley_stratified`) over `perms`, and per
    player the orders in which it joined neither first nor last (its middle draws)."""
    full = (1 << n) - 1
    forms: list[dict[int, float]] = [{} for _ in range(n)]
    middle = np.zeros((len(perms), n), dtype=bool)
    for r, p in enumerate(perms):
        middle[r, p[1:-1]] = True
    counts = middle.sum(axis=0)
    for i in range(n):
        bit = 1 << i
        _add(forms[i], bit, 1.0 / n)  # first: alone
        _add(forms[i], full, 1.0 / n)  # last: c(N) - c(N - i)
        _add(forms[i], full & ~bit, -1.0 / n)
        if not counts[i]:
            continue
        a = (n - 2) / n / float(counts[i])
        for row in np.flatnonzero(middle[:, i]):
            order = [int(j) for j in perms[row]]
            before = sum(1 << j for j in order[:order.index(i)])
            _add(forms[i], before | bit, a)
            _add(forms[i], before, -a)
    return forms, middle


def efficient(forms: list[dict[int, float]], full: int, weight: np.ndarray
              ) -> list[dict[int, float]]:
    """The forms corrected so that the costs borne add up to c(N) exactly: the residual
    c(N) - sum x_i shared in proportion to `weight` (the shares' variances: the least
    squares correction, which moves the least certain shares most; a share with no
    middle draw, of unknown variance, takes it all with the others unknown)."""
    inf = ~np.isfinite(weight)
    if inf.any():  # the limit as their variances grow: all of it on those unknown
        w = inf / inf.sum()
    else:
        w = weight / weight.sum() if weight.sum() > 0 else np.full(len(forms),
                                                                   1.0 / len(forms))
    residual: dict[int, float] = {full: 1.0}
    for f in forms:
        for m, a in f.items():
            _add(residual, m, -a)
    out = []
    for f, wi in zip(forms, w, strict=True):
        g = dict(f)
        for m, a in residual.items():
            _add(g, m, wi * a)
        out.append(g)
    return out


def shapley_stratified(n: int, cost: CostFn, samples: int, seed: int,
                       prefetch: Prefetch, chains: Chains, *,
                       tolerance: float | None = None, deadline: float | None = None,
                       batch: int = 2) -> Shares:
    """The Shapley value stratified by the position of joining: the first position
    (alone) and the last (c(N) - c(N - i), the n coalitions of all but one, fetched
    first) exactly, the n - 2 middle ones from sampled orders (antithetic pairs), each
    order's prefixes fetched as one chain (`chains`). A player's middle draws are the
    orders in which it joined neither first nor last; their mean is an unbiased estimate
    of its mean marginal over the middle positions, without the spread between the
    extremes (usually the largest). The estimates are then corrected to add up to the
    gain exactly (`efficient`). Stops as `shapley_sampled` does."""
    if n < 3:
        return shapley_exact(n, cost, prefetch)
    full = (1 << n) - 1
    prefetch([*(1 << i for i in range(n)), full])
    chains([[full & ~(1 << i)] for i in range(n)])  # each warm-started from the region
    perms = orders(n, samples, seed)
    step = max(2, batch + batch % 2)
    used, last = 0, 0.0
    err = np.full(n, np.inf)
    while used < samples:
        if deadline is not None and used and time.perf_counter() + last > deadline:
            break
        t0 = time.perf_counter()
        take = min(samples, used + step)
        chains([chain(p) for p in perms[used:take]])
        used, last = take, time.perf_counter() - t0
        err = stratified_error(n, perms[:used], cost)
        if tolerance is not None and used >= MIN_ORDERS and float(err.max()) <= tolerance:
            break
    perms = perms[:used]
    err = stratified_error(n, perms, cost)
    forms = efficient(stratified_forms(n, perms)[0], full, err ** 2)
    x = np.array([sum(a * cost(m) for m, a in f.items()) for f in forms])
    alone = np.array([cost(1 << i) for i in range(n)])
    return Shares(alone, alone - x, x, err, False, used, cost(full), perms, forms)


def stratified_error(n: int, perms: np.ndarray, cost: CostFn) -> np.ndarray:
    """Standard error of each stratified share (`shapley_stratified`): (n - 2) / n times
    that of the mean of its middle draws, an antithetic pair counted as one draw (an
    order and its reverse put a player in the middle both or neither; with one pair, its
    two orders); infinite with fewer than two middle orders."""
    if not len(perms):
        return np.full(n, np.inf)
    marg = marginals(perms, cost)
    _, middle = stratified_forms(n, perms)
    out = np.full(n, np.inf)
    for i in range(n):
        rows = np.flatnonzero(middle[:, i])
        pair = rows // 2
        draws = np.array([marg[rows[pair == k], i].mean() for k in np.unique(pair)])
        if len(draws) < 2:  # one pair: its orders themselves (conservative), as
            draws = marg[rows, i]  # `sampling_error` does
        if len(draws) > 1:
            out[i] = (n - 2) / n * draws.std(ddof=1) / math.sqrt(len(draws))
    return out


def coefficients(shares: Shares) -> list[dict[int, float]]:
    """Per player, the cost borne x_i as a linear form of the coalition costs: {coalition:
    coefficient} (the empty coalition, whose cost is 0, left out)."""
    n = len(shares.alone)
    if shares.forms is not None:
        return [dict(f) for f in shares.forms]
    out: list[dict[int, float]] = [{} for _ in range(n)]
    if shares.exact:
        weight = [math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
                  for k in range(n)]
        for i in range(n):
            bit = 1 << i
            for s in range(1 << n):
                if not s & bit:
                    _add(out[i], s | bit, weight[_bits(s)])
                    _add(out[i], s, -weight[_bits(s)])
        return out
    assert shares.orders is not None
    m = len(shares.orders)
    for p in shares.orders:
        mask = 0
        for i in p:
            _add(out[int(i)], mask | 1 << int(i), 1.0 / m)
            _add(out[int(i)], mask, -1.0 / m)
            mask |= 1 << int(i)
    return out


def _add(form: dict[int, float], mask: int, a: float) -> None:
    if mask:
        form[mask] = form.get(mask, 0.0) + a


def share_range(shares: Shares, lower: CostFn, upper: CostFn
                ) -> tuple[np.ndarray, np.ndarray]:
    """The least and greatest share of the gain each player could get from the same
    estimator (the same orders), were each coalition's true cost anywhere between its
    proven lower bound and its best known plan. Equal to the share when every coalition
    behind it is proven optimal; wide when the bounds are weak."""
    n = len(shares.alone)
    lo, hi = np.zeros(n), np.zeros(n)
    for i, form in enumerate(coefficients(shares)):
        form = {k: -v for k, v in form.items()}  # share_i = c({i}) - x_i
        _add(form, 1 << i, 1.0)
        for mask, a in form.items():
            if abs(a) < 1e-15:
                continue
            lo[i] += a * (lower(mask) if a > 0 else upper(mask))
            hi[i] += a * (upper(mask) if a > 0 else lower(mask))
    return lo, hi


@dataclass(frozen=True)
class Check:
    """The stand-alone check of an allocation, over the coalitions it could test."""

    individual_ok: bool  # no authority bears more than alone
    core_ok: bool  # no coalition bears more than on its own
    tested: int  # coalitions tested
    worst_mask: int  # the coalition most over its own cost (0 when none is)
    worst_excess: float  # pounds a week it would bear above its own cost (<= tol: none)

    @property
    def ok(self) -> bool:
        return self.individual_ok and self.core_ok


def stand_alone_check(allocated: np.ndarray, cost: CostFn, masks: Iterable[int],
                      tol: float = 1e-6) -> Check:
    """Does any authority, or group in `masks`, bear more than on its own?

    `tol` is relative to the largest |c(S)| tested (and at least 1e-6 pounds); a sampled
    allocation should be given a tolerance of a few standard errors."""
    n = len(allocated)
    tested = sorted({int(m) for m in masks if m} | {1 << i for i in range(n)})
    costs = {m: cost(m) for m in tested}
    slack = max(tol * max((abs(v) for v in costs.values()), default=1.0), 1e-6)
    worst, worst_mask, individual = -np.inf, 0, True
    for m in tested:
        bears = sum(float(allocated[i]) for i in range(n) if m >> i & 1)
        excess = bears - costs[m]
        if excess > worst:
            worst, worst_mask = excess, m
        if _bits(m) == 1 and excess > slack:
            individual = False
    return Check(individual, worst <= slack, len(tested), worst_mask if worst > slack else 0,
                 float(worst))


def settlement(shares: Shares, pooled_cost: np.ndarray) -> np.ndarray:
    """What each authority should pay (+) into the pool or receive (-) from it, pounds a
    week: the fair cost it should bear minus what its own children cost in the pooled
    plan. Sums to zero (up to rounding) when `pooled_cost` adds up to c(N)."""
    return shares.allocated - pooled_cost
