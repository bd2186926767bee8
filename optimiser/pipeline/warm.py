"""A warm start (`SolveOptions.start`, per child) read against the model's pairs.

The start is an allocation of the instance, such as the optimum of the same instance
before a placement was appended. Each unit is placed where its first member is; a start
that places a unit's members apart is not one.
"""

from __future__ import annotations

import numpy as np

from ..candidates import Candidates, PairPool
from ..instance import Instance


def start_units(inst: Instance, start: np.ndarray | None) -> np.ndarray | None:
    """Per unit, the start's placement (-1 unplaced); None when not given or not a
    placement index (or -1) per child with each unit's members together."""
    if start is None:
        return None
    a = np.asarray(start)
    m, units = inst.n_placements, inst.units
    if (a.shape != (inst.n_children,) or not np.issubdtype(a.dtype, np.integer)
            or (a < -1).any() or (a >= m).any()):
        return None
    first = a[units.order[units.start[:-1]]].astype(np.int64)
    if not np.array_equal(first[units.unit_of], a):
        return None
    return first


def pair_index(unit: np.ndarray, placement: np.ndarray, m: int, want_unit: np.ndarray,
               want_place: np.ndarray) -> np.ndarray:
    """Per wanted (unit, placement), its index among the pairs (unit, placement), -1
    where absent; `m` placements."""
    key = unit.astype(np.int64) * m + placement
    order = np.argsort(key, kind="stable")
    want = want_unit.astype(np.int64) * m + want_place
    if len(key) == 0:
        return np.full(len(want), -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(key[order], want), len(key) - 1)
    return np.where(key[order][pos] == want, order[pos], -1)


def with_start_pairs(inst: Instance, cands: Candidates, pool: PairPool,
                     start: np.ndarray | None) -> Candidates:
    """`cands` with the feasible pairs the start uses that it lacks (from `pool`, every
    feasible pair), so that the start is a plan over the kept pairs: the candidate pass
    keeps each unit's cheapest pairs, and an optimum before a placement was added may
    use others. Unchanged when the start is not one (`start_units`)."""
    place = start_units(inst, start)
    if place is None:
        return cands
    m = inst.n_placements
    placed = np.flatnonzero(place >= 0)
    missing = placed[pair_index(cands.unit, cands.placement, m, placed, place[placed]) < 0]
    at = pair_index(pool.unit, pool.placement, m, missing, place[missing])
    at = at[at >= 0]
    if len(at) == 0:
        return cands
    u = np.concatenate([cands.unit, pool.unit[at].astype(np.int64)])
    p = np.concatenate([cands.placement, pool.placement[at].astype(np.int64)])
    o = np.concatenate([cands.objective, pool.objective[at]])
    w = np.concatenate([cands.use, pool.use[at].astype(np.int64)])
    order = np.lexsort((p, u))
    stats = dict(cands.stats)
    stats["pairs_kept"] = float(len(u))
    stats["start_pairs_added"] = float(len(at))
    return Candidates(u[order], p[order], o[order], w[order], cands.n_feasible, cands.limit,
                      stats, cands.space)
