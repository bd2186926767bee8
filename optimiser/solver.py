"""Solve an instance: the candidate pairs, then the stages of optimiser/pipeline in order.

The model (models/formulation.md): one Boolean per kept (unit, placement) pair, at most
one placement per unit (leaving it unplaced is a priced option, so a solve is never
infeasible), a knapsack row per placement that can overflow, and with `split_siblings`
a spread count per sibling group.

Pruning to the cheapest pairs per unit is made exact by Lagrangian pricing: with the
LP duals pi of the capacity rows, L(pi) = sum_u min(U_u, min_p c_up + a_up pi_p) -
sum_p pi_p cap_p is a lower bound over *all* pairs; any solution using a dropped pair
costs at least L(pi) + its reduced cost. Pairs that could beat the incumbent are added
back, so "optimal" is a proof on the whole problem.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from .instance import Instance
from .pipeline import colgen, cutproof, finish, fixing, hints, proof, search, setup
from .pipeline.context import SolveContext
from .pipeline.types import BACKENDS, Result, SolveOptions
from .status import Status

__all__ = ["BACKENDS", "Result", "SolveOptions", "Status", "solve", "stderr_progress"]


def solve(inst: Instance, options: SolveOptions | None = None, *,
          progress: Callable[[str], None] | None = None, **kw: object) -> Result:
    """Allocate children to placements (`options`, or SolveOptions(**kw)).

    Route: the min-cost-flow fast path when the model is a transportation problem;
    otherwise column generation, HiGHS's root cuts (running beside the next stages),
    hints, reduced-cost fixing, the search on what is left, the proof over every pair
    that can still matter, and the report."""
    opts = options or SolveOptions(**kw)  # type: ignore[arg-type]
    with SolveContext(inst, opts, progress) as ctx:
        cands = setup.candidates(ctx)
        fast = setup.fast_path(ctx, cands)
        if fast is not None:
            return fast
        setup.choose_backend(ctx, cands)
        setup.reallocation(ctx, cands)
        relax = colgen.column_generation(ctx, cands)
        cutproof.start_root_cuts(ctx, relax)
        inc = hints.hints(ctx, relax)
        fixed = fixing.reduced_cost_fixing(ctx, relax, inc)
        out = search.search(ctx, relax, inc, fixed)
        out = proof.proof(ctx, relax, fixed, out)
        return finish.finish(ctx, relax, inc, out)


def stderr_progress(msg: str) -> None:
    """Progress lines to stderr, as the command line shows them."""
    print(msg, file=sys.stderr, flush=True)
