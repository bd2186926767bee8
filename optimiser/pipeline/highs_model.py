"""The restricted model in HiGHS's branch and cut: one run, a race of runs, or one started
and not waited for. Costs are the same pence as CP-SAT's, so "optimal" means the same."""

from __future__ import annotations

import logging
import time

import numpy as np
from scipy import sparse

from ..candidates import Candidates
from ..highs import MilpResult, Pending, milp, milp_start, quiet_stdout
from ..instance import Instance
from ..scaling import MONEY_SCALE, to_int
from .plans import forced_pairs, moves_limit_rhs, objective_of
from .rows import NO_CLIQUES, model_rows, stacked

log = logging.getLogger(__name__)


def solve_milp(inst: Instance, cands: Candidates, time_limit: float,
               forced: np.ndarray | None = None, max_moves: int | None = None,
               capacity: np.ndarray | None = None, moves_rhs: int | None = None,
               cliques: np.ndarray = NO_CLIQUES, hint: np.ndarray | None = None,
               route: str = "highspy",
               extra: tuple[sparse.csr_matrix, np.ndarray] | None = None,
               gap: float = 0.0,
               ) -> tuple[np.ndarray | None, bool, float]:
    """The restricted model with HiGHS branch and cut (`highs.milp`: highspy).

    Coefficients are the same pence as CP-SAT's, so "optimal" means the same thing; the
    relative gap HiGHS may stop at is `gap` (`SolveOptions.relative_gap`; 0 by default),
    and a run it stops is proven only where its bound meets its plan. `hint`: a starting
    plan (pair per unit, -1 unplaced) that keeps every row. `route`: see `highs.milp`.
    `extra`: more rows a x <= b over `cands` (certified cuts). Returns (choice per unit
    or None, proven optimal, bound in pounds including the unplaced offset, -inf when
    none).
    """

    k = len(cands)
    if k == 0:
        return np.full(inst.units.n, -1, dtype=np.int64), True, float(inst.unit_unplaced.sum())
    c, a_ub, b_ub, lb, x0 = milp_arrays(inst, cands, forced, max_moves, capacity, moves_rhs,
                                         cliques, hint, extra)
    with quiet_stdout():
        res = milp(c, a_ub, -np.inf, b_ub, lb, np.ones(k), np.ones(k),
                   milp_options(time_limit, gap=gap), hint=x0, route=route)
    return milp_answer(inst, cands, res, gap)


def milp_options(time_limit: float, presolve: bool = False,
                  seed: int | None = None, gap: float = 0.0) -> dict[str, object]:
    """HiGHS's options for `solve_milp`'s model: the relative gap `gap`, by default zero,
    so "optimal" means what it means for CP-SAT. Presolve off by default: it costs more
    than it saves on these models (and it does not stop at the time limit); the race
    runs it as an alternative."""
    opts: dict[str, object] = {"time_limit": max(time_limit, 0.1), "mip_rel_gap": float(gap),
                               "disp": False, "presolve": presolve}
    if seed is not None:
        opts["random_seed"] = seed
    return opts


def milp_arrays(inst: Instance, cands: Candidates, forced: np.ndarray | None,
                 max_moves: int | None, capacity: np.ndarray | None, moves_rhs: int | None,
                 cliques: np.ndarray, hint: np.ndarray | None,
                 extra: tuple[sparse.csr_matrix, np.ndarray] | None,
                 ) -> tuple[np.ndarray, sparse.csr_matrix, np.ndarray, np.ndarray,
                            np.ndarray | None]:
    """`solve_milp`'s model: costs in pence, rows a x <= b, lower bounds, the start."""
    k = len(cands)
    c = to_int(cands.objective - inst.unit_unplaced[cands.unit]).astype(float)
    rhs = moves_rhs if moves_rhs is not None else moves_limit_rhs(inst, max_moves)
    rw = model_rows(inst, cands, capacity, rhs, cliques=cliques)
    lb = np.zeros(k)
    lb[forced_pairs(inst, cands, forced)] = 1.0
    x0 = None
    if hint is not None:
        x0 = np.zeros(k)
        x0[hint[hint >= 0]] = 1.0
    a_ub, b_ub = stacked(rw, extra)
    return c, a_ub, b_ub, lb, x0


def milp_answer(inst: Instance, cands: Candidates, res: MilpResult, gap: float = 0.0
                 ) -> tuple[np.ndarray | None, bool, float]:
    """(choice per unit or None, proven optimal, bound in pounds with the unplaced
    offset) from HiGHS's answer on `solve_milp`'s model, run with the relative gap
    `gap`: above 0, HiGHS's "optimal" may stop short, so the plan is proven only where
    the bound leaves no better plan (the costs are whole pence)."""
    log.info("HiGHS: %s (status %s, %d pairs)", res.message, res.status, len(cands))
    offset = float(inst.unit_unplaced.sum())
    bound = res.mip_dual_bound
    bound_p = (float(bound) / MONEY_SCALE + offset
               if bound is not None and np.isfinite(bound) else -np.inf)
    if res.x is None:
        return None, False, bound_p
    sel = np.flatnonzero(np.asarray(res.x) > 0.5)
    chosen = np.full(inst.units.n, -1, dtype=np.int64)
    chosen[cands.unit[sel]] = sel
    return chosen, res.status == 0 and (gap <= 0 or gap_closed(res)), bound_p


def gap_closed(res: MilpResult) -> bool:
    """Whether HiGHS's bound leaves no plan a penny cheaper than its own (costs in whole
    pence)."""
    if res.fun is None or res.mip_dual_bound is None or not np.isfinite(res.mip_dual_bound):
        return False
    return float(res.mip_dual_bound) > float(res.fun) - 1.0 + 1e-6


def race_milp(inst: Instance, cands: Candidates, time_limit: float, seeds: int,
              forced: np.ndarray | None = None, max_moves: int | None = None,
              cliques: np.ndarray = NO_CLIQUES, hint: np.ndarray | None = None,
              extra: tuple[sparse.csr_matrix, np.ndarray] | None = None, gap: float = 0.0,
              ) -> tuple[np.ndarray | None, bool, float]:
    """`solve_milp` (with its relative `gap`) run by `seeds` HiGHS processes at once,
    with presolve off and on in turn, then other random seeds; the first proof ends them
    all, else the best plan and the highest bound (each is valid). Why: HiGHS's branch
    and cut is serial, and its time to a proof varies widely from setting to setting,
    presolve on or off first among them; where the other core would idle, the faster of
    the two wins."""

    k = len(cands)
    if seeds <= 1 or k == 0:
        return solve_milp(inst, cands, time_limit, forced, max_moves, cliques=cliques,
                          hint=hint, extra=extra, gap=gap)
    t0 = time.perf_counter()
    c, a_ub, b_ub, lb, x0 = milp_arrays(inst, cands, forced, max_moves, None, None,
                                         cliques, hint, extra)
    running = [milp_start(c, a_ub, -np.inf, b_ub, lb, np.ones(k), np.ones(k),
                          milp_options(time_limit, presolve=i % 2 == 1, seed=i // 2,
                                       gap=gap),
                          hint=x0) for i in range(seeds)]
    answers: list[tuple[np.ndarray | None, bool, float]] = []
    # HiGHS's presolve does not look at the clock: past the limit (and a grace second)
    # a run still in it is dropped
    late = t0 + max(time_limit, 0.1) + 1.0
    try:
        while (running and not any(a[1] for a in answers)
               and time.perf_counter() < late):
            for run in [r for r in running if r.wait(0.0)]:
                running.remove(run)
                res = run.result()
                if res is None:  # no highspy: SciPy's HiGHS, once, for the time left
                    return solve_milp(inst, cands, time_limit - (time.perf_counter() - t0),
                                      forced, max_moves, cliques=cliques, hint=hint,
                                      extra=extra, gap=gap)
                answers.append(milp_answer(inst, cands, res, gap))
            if running:
                time.sleep(0.05)
    finally:
        for run in running:
            run.cancel()
    proven = [a for a in answers if a[1]]
    if proven:
        return proven[0]
    plans = [a[0] for a in answers if a[0] is not None]
    best = (min(plans, key=lambda x: objective_of(inst, cands, x)) if plans else None)
    return best, False, max((a[2] for a in answers), default=-np.inf)


def start_milp(inst: Instance, cands: Candidates, time_limit: float,
               forced: np.ndarray | None, max_moves: int | None, cliques: np.ndarray,
               hint: np.ndarray | None = None, gap: float = 0.0, nice: int = 0
               ) -> Pending | None:
    """`solve_milp` started in HiGHS's process and not waited for (None: no model to
    solve); read it with `milp_answer(inst, cands, pending.result())`, which is None
    when highspy could not run it. Why: this process can work on the cut proof's bound
    while the dive searches, and stop the dive when that bound is ready. `hint`: as
    `solve_milp`'s; read it with `milp_answer(..., gap)`. `nice`: the process's
    niceness (it yields its core to the engine's other processes)."""

    k = len(cands)
    if k == 0:
        return None
    c, a_ub, b_ub, lb, x0 = milp_arrays(inst, cands, forced, max_moves, None, None, cliques,
                                         hint, None)
    opts = milp_options(time_limit, gap=gap)
    if nice:
        opts["nice"] = nice
    return milp_start(c, a_ub, -np.inf, b_ub, lb, np.ones(k), np.ones(k), opts, hint=x0)
