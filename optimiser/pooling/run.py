"""Pool a region: each authority alone, the regional optimum, and the fair shares.

`pool(inst, ...)` is the Python entry (what `placement pool` and `placement solve --pool`
call); `run_pool(path, out, ...)` loads an instance folder and writes the report folder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..instance import Instance
from ..solver import SolveOptions
from .coalition import CoalitionCosts, Mapper
from .shapley import (
    EXACT_MAX,
    Check,
    Shares,
    lattice_chains,
    shapley_exact,
    shapley_sampled,
    shapley_stratified,
    share_range,
    stand_alone_check,
)
from .split import Split, split_instance

DEFAULT_SAMPLES = 200  # orders drawn above EXACT_MAX authorities when not told
# a coalition of all but one, warm-started from the region's pairs: about this fraction
# of the region's own pricing time (an estimate, to decide within a budget)
LAST_STRATUM_COST = 0.3


@dataclass
class Pooling:
    """Everything a pooling run found (the report is built from this)."""

    split: Split
    costs: CoalitionCosts
    shares: Shares
    check: Check
    alone_plan: np.ndarray  # per child: placement when its authority works alone, or -1
    pooled_plan: np.ndarray  # per child: placement in the regional plan, or -1
    seconds: float
    options: SolveOptions
    mapper: str = "in-process"
    timings: dict[str, float] = field(default_factory=dict)
    # per player, the least and greatest share the coalitions' bounds allow (the same
    # orders): equal to the share when every coalition behind it is proven optimal
    share_lo: np.ndarray | None = None
    share_hi: np.ndarray | None = None


def pool(inst: Instance, options: SolveOptions | None = None, *, samples: int | None = None,
         seed: int = 0, mapper: Mapper | None = None, mapper_name: str = "in-process",
         max_time_scale: float = 1.0, method: str = "solve", precision: float | None = None,
         budget: float | None = None) -> Pooling:
    """Each authority alone and pooled, and the Shapley split of the gain.

    `samples`: None = exact up to `EXACT_MAX` authorities, else `DEFAULT_SAMPLES` orders;
    a number forces sampling with up to that many orders. `options`: each coalition's
    solve (its time limit is per coalition, grown with the coalition's children up to
    `max_time_scale` times). `method`: how a coalition is priced ("solve": the engine;
    "bracket": the fast bracket, `optimiser.pooling.quick`). Sampling stops early once
    every share's standard error is at most `precision` times the gain, or when another
    batch of orders would end past `budget` seconds from the start. `mapper`: where
    coalitions are solved (e.g. a `DaskMapper`); in this process by default."""
    t0 = time.perf_counter()
    options = options or SolveOptions()
    split = split_instance(inst)
    costs = CoalitionCosts(split, options, mapper, max_time_scale, method)
    n = split.n_players
    singles = [1 << i for i in range(n)]
    costs.ensure([*singles, split.grand])  # alone and pooled first: the headline
    t_main = time.perf_counter() - t0
    if samples is None and n <= EXACT_MAX:
        shares = shapley_exact(n, costs.cost, lambda masks: costs.ensure_chains(
            lattice_chains(masks)))
    else:
        gain = sum(costs.cost(m) for m in singles) - costs.cost(split.grand)
        deadline = None if budget is None else t0 + budget
        tolerance = None if precision is None else precision * max(abs(gain), 1e-6)
        # the stratified estimator first prices the n coalitions of all but one, each
        # nearly as large as the region: when the budget cannot cover them, plain orders
        workers = getattr(mapper, "n_workers", lambda: 1)() or 1
        last = LAST_STRATUM_COST * n * costs.solved[split.grand].seconds / min(workers, n)
        if n >= 3 and (deadline is None or time.perf_counter() + last <= deadline):
            shares = shapley_stratified(n, costs.cost, samples or DEFAULT_SAMPLES, seed,
                                        costs.ensure, costs.ensure_chains,
                                        tolerance=tolerance, deadline=deadline, batch=2)
        else:
            shares = shapley_sampled(n, costs.cost, samples or DEFAULT_SAMPLES, seed,
                                     costs.ensure, tolerance=tolerance, deadline=deadline,
                                     batch=2, chains=costs.ensure_chains)
    known = list(costs.solved)
    tol = 1e-6
    if not shares.exact:  # an estimate: allow four standard errors per member
        err = shares.stderr[np.isfinite(shares.stderr)]
        tol = 4 * float(err.sum()) / max(abs(shares.pooled), 1.0)
    check = stand_alone_check(shares.allocated, costs.cost, known, tol=tol)
    alone = np.full(inst.n_children, -1, dtype=np.int64)
    for m in singles:
        plan = costs.plan(m)
        kids = split.child_owner == split.members(m)[0]
        alone[kids] = plan[kids]
    lo, hi = share_range(shares, costs.lower, costs.cost)
    return Pooling(split, costs, shares, check, alone, costs.plan(split.grand),
                   time.perf_counter() - t0, options, mapper_name,
                   {"alone_and_pooled": round(t_main, 3),
                    "shares": round(time.perf_counter() - t0 - t_main, 3)}, lo, hi)


def run_pool(instance: str | Path, out: str | Path, *, time_limit: float = 60.0,
             gap: float = 0.0, samples: int | None = None, seed: int = 0,
             scheduler: str | None = None, workers: int | None = None,
             max_time_scale: float = 1.0, policy_file: str | Path | None = None,
             ofsted: str | Path | None = None, progress: bool = False,
             method: str = "solve", precision: float | None = None,
             budget: float | None = None) -> Pooling:
    """Load `instance`, pool it, write the report folder `out` (all or nothing).

    `time_limit` and `gap` (relative, 0: prove optimal) hold for each coalition's solve
    (the limit grown with its children up to `max_time_scale` times). `policy_file` and
    `ofsted` are read as `placement solve` reads them; `method`, `precision` and `budget`
    as for `pool` (the budget counted from here, the reading included).
    `workers`: Dask worker processes of a local cluster (None: one per core; 0: in this
    process, no Dask); `scheduler`: an existing Dask scheduler's address instead."""
    from ..commission.dist import make_mapper
    from ..reader import load_instance
    from .report import write_report

    t0 = time.perf_counter()
    inst = load_instance(instance, policy_file=policy_file, ofsted=ofsted)
    threads = 1 if (workers != 0 or scheduler) else 0  # Dask: one core per solve
    options = SolveOptions(time_limit=time_limit, seed=seed, workers=threads,
                           relative_gap=gap)
    with make_mapper(scheduler, workers, progress) as m:
        left = None if budget is None else budget - (time.perf_counter() - t0)
        result = pool(inst, options, samples=samples, seed=seed, mapper=m,
                      mapper_name=m.describe(), max_time_scale=max_time_scale,
                      method=method, precision=precision, budget=left)
    write_report(result, out, instance=str(instance))
    return result
