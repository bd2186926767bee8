"""The cost of a coalition of authorities, solved once and cached.

Definition. The cost c(S) of a coalition S is the spec's weekly objective (pounds a
week: cost, distance, faith mismatch, moves and out-of-area terms of its placed
children, plus `unplaced * priority` for each of its children left unplaced, plus the
sibling-split term), minimised over plans that place only S's children, only in S's own
placements (`optimiser.pooling.split`), under the instance's one policy. c({}) = 0.

Superadditivity of savings. For disjoint S and T the union of their plans is a plan of
S u T whose objective is c(S) + c(T), so c(S u T) <= c(S) + c(T): pooling never costs
more. This holds because every coalition is priced with the *same* weights, above all
the same unplaced penalty; if each authority priced leaving a child unplaced its own way,
a pooled plan that places the other's children could be dearer on the common scale.

A solve that stops at its time limit gives an upper bound (its plan) and a lower bound.
So that a time-limited run never reports pooling as dearer than staying apart,
`CoalitionCosts.cost` is the best plan known for S: the solve's, or the union of the
best plans of two disjoint coalitions covering S (all costs are upper bounds of the
true c(S), and equal to it when every solve is proven optimal).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..solver import SolveOptions, solve
from . import lp, quick
from .split import Split, coalition_instance

Mapper = Callable[[Callable[..., Any], Sequence[tuple[Any, ...]]], list[Any]]


@dataclass(frozen=True)
class Solved:
    """One coalition's solve: objective (an upper bound), bound, status, and its plan."""

    mask: int
    objective: float
    bound: float
    status: str
    seconds: float
    assignment: np.ndarray  # per child of the instance in S (index order): placement or -1
    # the bracket's pairs held at the end (`optimiser.pooling.lp`), to warm-start a
    # coalition that contains this one (None: not priced by the bracket)
    held: np.ndarray | None = None


def solve_coalition(split: Split, mask: int, options: SolveOptions) -> Solved:
    """Solve coalition `mask` (a task: runs in a Dask worker or in this process)."""
    sub, kids, places = coalition_instance(split, mask)
    res = solve(sub, options)
    a = np.where(res.assignment >= 0, places[np.maximum(res.assignment, 0)], -1)
    del kids
    return Solved(mask, float(res.objective), float(res.bound), str(res.status),
                  float(res.runtime), a.astype(np.int64))


SOLVE_CHILDREN = 1000  # a coalition this small, left with a gap, is also solved outright


def bracket_coalition(split: Split, mask: int, options: SolveOptions,
                      warm: np.ndarray | None = None) -> Solved:
    """Price coalition `mask` by the fast bracket: the transportation relaxation over the
    region's pairs, its Lagrangian bound and its rounding (`optimiser.pooling.lp`;
    `warm`: pairs a sub-coalition held). Where the bracket leaves a gap above the
    options' `relative_gap` on a coalition of at most `SOLVE_CHILDREN` children, the
    engine's solve (which proves such a one optimal in a second or two) is run as well,
    and the better plan and bound kept; by the engine's solve alone where the bracket
    does not apply (re-allocation facts). A task, as `solve_coalition`."""
    sub, kids, places = coalition_instance(split, mask)
    if not quick.applies(sub):
        return solve_coalition(split, mask, options)
    lp.store(split)  # the region's pairs, once per process: not this coalition's time
    t0 = time.perf_counter()
    priced = lp.price_coalition(split, mask, warm)
    out = Solved(mask, priced.upper, priced.lower, _status(priced.upper, priced.lower), 0.0,
                 priced.plan, priced.held)
    if out.objective - out.bound > options.relative_gap * max(abs(out.objective), 1.0) \
            and sub.n_children <= SOLVE_CHILDREN:
        start = np.where(priced.plan >= 0, np.searchsorted(places, priced.plan), -1)
        s = solve_coalition(split, mask, replace(options, start=start))  # from its plan
        best = s if s.objective < out.objective else out
        bound = max(s.bound, out.bound)
        status = "optimal" if s.status == "optimal" else _status(best.objective, bound)
        out = Solved(mask, best.objective, min(bound, best.objective), status, 0.0,
                     best.assignment, priced.held)
    return replace(out, seconds=time.perf_counter() - t0)


def bracket_chain(split: Split, masks: Sequence[int], options: SolveOptions,
                  warm: np.ndarray | None = None) -> list[Solved]:
    """Price `masks` in turn, each containing the last, by the bracket, each warm-started
    from the pairs the last one held (the first from `warm`): the prefixes of an order of
    joining cost little more than its largest. A task, as `bracket_coalition`."""
    out: list[Solved] = []
    for m in masks:
        s = bracket_coalition(split, m, options, warm)
        warm = s.held
        out.append(s)
    return out


def _status(upper: float, lower: float) -> str:
    return "optimal" if upper - lower <= quick.PROVEN_GAP * max(abs(upper), 1.0) \
        else "feasible"


METHODS = {"solve": solve_coalition, "bracket": bracket_coalition}


def in_process(fn: Callable[..., Any], args_list: Sequence[tuple[Any, ...]]) -> list[Any]:
    """The simplest mapper: one task after another, here."""
    return [fn(*a) for a in args_list]


class CoalitionCosts:
    """c(S) for any coalition (bit mask over `split.names`), each solved at most once.

    `ensure(masks)` solves the coalitions not yet known, as one batch on `mapper`
    (``mapper(fn, args_list) -> list``, e.g. `optimiser.commission.dist.DaskMapper`).
    `method`: "solve" (the engine's full solve, within `options`) or "bracket" (the fast
    bracket of `optimiser.pooling.quick`, for regional scale).
    """

    def __init__(self, split: Split, options: SolveOptions, mapper: Mapper | None = None,
                 max_time_scale: float = 1.0, method: str = "solve"):
        if method not in METHODS:
            raise ValueError(f"method {method!r}: one of {', '.join(METHODS)}")
        self.method = method
        self.split = split
        self.options = options
        self.max_time_scale = max_time_scale
        self.mapper = mapper or in_process
        self.solved: dict[int, Solved] = {}
        self._best: dict[int, tuple[float, tuple[int, ...]]] = {0: (0.0, ())}
        self._cover: dict[int, bool] = {0: True}

    def ensure(self, masks: Iterable[int]) -> None:
        # the largest first: with one core a task and no stealing between workers, a
        # large coalition started last would keep one worker busy while the other idles
        todo = sorted({int(m) for m in masks if m and m not in self.solved},
                      key=lambda m: (-bin(m).count("1"), m))
        if not todo:
            return
        out = self.mapper(METHODS[self.method], [(self.split, m, self.options_for(m))
                                                 for m in todo])
        for s in out:
            self.solved[s.mask] = s
        self._best = {0: (0.0, ())}  # new solves can improve any union
        self._cover = {0: True}

    def ensure_chains(self, chains: Iterable[Sequence[int]]) -> None:
        """Price the coalitions of `chains` not yet known, one task per chain (each
        coalition containing the one before it), each warm-started from the one before
        (the first from the largest known coalition inside it): bigger tasks than one
        coalition each, and fewer pricing passes. By `ensure` when not the bracket."""
        chains = [list(c) for c in chains]
        if self.method != "bracket":
            self.ensure(m for c in chains for m in c)
            return
        seen = set(self.solved)
        tasks = []
        for chain in chains:
            todo = [int(m) for m in chain if m and m not in seen]
            seen.update(todo)
            if todo:
                tasks.append((self.split, tuple(todo), self.options, self.warm(todo[0])))
        tasks.sort(key=lambda t: -sum(bin(m).count("1") for m in t[1]))  # longest first
        for out in self.mapper(bracket_chain, tasks):
            for s in out:
                self.solved[s.mask] = s
        self._best = {0: (0.0, ())}
        self._cover = {0: True}

    def warm(self, mask: int) -> np.ndarray | None:
        """The pairs held by the solved coalition nearest `mask` that contains it or lies
        inside it (fewest members apart), if any: the relaxation keeps those of them
        that are `mask`'s own."""
        near = [t for t, s in self.solved.items()
                if s.held is not None and (t & ~mask == 0 or mask & ~t == 0)]
        if not near:
            return None
        return self.solved[min(near, key=lambda t: bin(t ^ mask).count("1"))].held

    def options_for(self, mask: int) -> SolveOptions:
        """The solve options of coalition `mask`: the time limit grows with its children,
        relative to the largest authority's, up to `max_time_scale` times (1: the same
        limit for every coalition)."""
        if self.max_time_scale <= 1.0:
            return self.options
        sizes = np.bincount(self.split.child_owner, minlength=self.split.n_players)
        scale = float(sizes[self.split.members(mask)].sum()) / max(int(sizes.max()), 1)
        scale = min(max(scale, 1.0), self.max_time_scale)
        return replace(self.options, time_limit=self.options.time_limit * scale)

    def cost(self, mask: int) -> float:
        """The best known cost of coalition `mask` (module doc); solves it if needed."""
        if mask not in self.solved and not self._covered(mask):
            self.ensure([mask])
        return self._closure(mask)[0]

    def parts(self, mask: int) -> tuple[int, ...]:
        """The solved coalitions whose plans, joined, give `cost(mask)`."""
        self.cost(mask)
        return self._closure(mask)[1]

    def _closure(self, mask: int) -> tuple[float, tuple[int, ...]]:
        hit = self._best.get(mask)
        if hit is not None:
            return hit
        best: tuple[float, tuple[int, ...]] = (
            (self.solved[mask].objective, (mask,)) if mask in self.solved else (np.inf, ()))
        for t in self.solved:
            if t != mask and t & ~mask == 0 and self._covered(mask & ~t):
                rest = self._closure(mask & ~t)
                total = self.solved[t].objective + rest[0]
                if total < best[0] - 1e-9:
                    best = (total, (t, *rest[1]))
        self._best[mask] = best
        return best

    def _covered(self, mask: int) -> bool:
        """Every member of `mask` is in some solved coalition inside it (its singletons,
        at least): a union of solved plans then prices it."""
        hit = self._cover.get(mask)
        if hit is None:
            inside = 0
            for t in self.solved:
                if t & ~mask == 0:
                    inside |= t
            hit = self._cover[mask] = inside == mask
        return hit

    def plan(self, mask: int) -> np.ndarray:
        """The best known plan of `mask`: per child of the instance, placement or -1
        (-1 also for children outside the coalition)."""
        out = np.full(self.split.instance.n_children, -1, dtype=np.int64)
        members = self.split.child_owner
        for t in self.parts(mask):
            kids = np.flatnonzero(np.isin(members, self.split.members(t)))
            out[kids] = self.solved[t].assignment
        return out

    def proven(self, mask: int) -> bool:
        """Every solve behind `cost(mask)` is proven optimal."""
        return all(self.solved[t].status == "optimal" for t in self.parts(mask))

    def bound(self, mask: int) -> float:
        """A lower bound of the true c(mask) when it was solved itself (else -inf)."""
        s = self.solved.get(mask)
        return s.bound if s is not None else -np.inf

    def lower(self, mask: int) -> float:
        """The best lower bound known of c(mask), never above `cost(mask)` (0 for the
        empty coalition)."""
        return 0.0 if mask == 0 else min(self.bound(mask), self.cost(mask))
