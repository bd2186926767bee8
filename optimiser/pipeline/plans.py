"""Plans over candidate pairs: what one costs, whether it is admissible, a greedy one.

A plan here is a choice per unit: an index into a `Candidates`, -1 for unplaced.
"""

from __future__ import annotations

import numpy as np

from ..candidates import Candidates
from ..instance import Instance, InstanceError, Problem


def objective_of(inst: Instance, cands: Candidates, chosen: np.ndarray) -> float:
    """Exact objective of a unit-level choice (indices into cands, -1 = unplaced).

    With `--previous` this includes the stability term (the objective the model
    minimises); `solve` reports the spec's objective apart from it.
    """
    placed = chosen >= 0
    total = float(cands.objective[chosen[placed]].sum())
    total += float(inst.unit_unplaced[~placed].sum())
    total += split_penalty(inst, unit_placement(cands, chosen))
    return total


def unit_placement(cands: Candidates, chosen: np.ndarray) -> np.ndarray:
    out = np.full(len(chosen), -1, dtype=np.int64)
    placed = chosen >= 0
    out[placed] = cands.placement[chosen[placed]]
    return out


def split_penalty(inst: Instance, unit_place: np.ndarray) -> float:
    """sibling_split x (placements a group is spread over - 1), split_siblings only."""
    if not inst.policy.rules.split_siblings:
        return 0.0
    units = inst.units
    g = units.group_of_child
    p = unit_place[units.unit_of]
    ok = (g >= 0) & (p >= 0)
    if not ok.any():
        return 0.0
    pairs = np.unique(np.stack([g[ok], p[ok]]), axis=1)
    spread = np.bincount(pairs[0])
    return float(inst.policy.weights.sibling_split * np.maximum(spread - 1, 0).sum())


def forced_units(inst: Instance, cands: Candidates) -> np.ndarray:
    """Per unit: it holds a pinned child and must take its one pair (the pinned placement).

    Pinned pairs are the only candidates of their unit (rule `pinned` in the evaluator).
    They fit together in any consistent snapshot. A pin that cannot hold (its sibling
    group may not all live there under the rules, or the pinned children there need more
    beds than it has) is an error in the input, as two siblings pinned in two placements
    is for the reader: any plan would break a hard rule, so none is reported.
    """
    pu = inst.pinned_unit
    out = np.zeros(inst.units.n, dtype=bool)
    if not (pu >= 0).any():
        return out
    k = np.flatnonzero(pu[cands.unit] == cands.placement)
    load = np.zeros(inst.n_placements, dtype=np.int64)
    cap = inst.capacity
    for kk in k.tolist():
        p, a = int(cands.placement[kk]), int(cands.use[kk])
        if load[p] + a <= cap[p]:
            load[p] += a
            out[int(cands.unit[kk])] = True
    lost = np.flatnonzero((pu >= 0) & ~out)
    if len(lost):
        has_pair = np.zeros(inst.units.n, dtype=bool)
        has_pair[cands.unit[k]] = True
        problems = []
        for u in lost.tolist():
            members = inst.units.members(u)
            pinned = [int(c) for c in members if inst.pinned is not None and inst.pinned[c]]
            c = pinned[0] if pinned else int(members[0])
            pid = str(inst.placement_ids[int(pu[u])])
            if not has_pair[u]:
                why = (f"its sibling group of {len(members)} cannot all live there under "
                       f"the rules (a sibling is excluded from it or does not match it)")
            else:
                why = (f"{pid} has {int(inst.capacity[pu[u]])} bed(s) and the children "
                       f"pinned there need more")
            problems.append(Problem("children.csv", None, "pinned",
                                    f"{inst.child_ids[c]} is pinned to {pid}, but {why}: "
                                    f"unpin the child or resolve the conflict"))
        raise InstanceError(problems)
    return out


def forced_pairs(inst: Instance, cands: Candidates, forced: np.ndarray | None) -> np.ndarray:
    """Indices into `cands` of the pairs the forced units must take."""
    if forced is None or not forced.any() or len(cands) == 0:
        return np.zeros(0, dtype=np.int64)
    pu = inst.pinned_unit
    return np.flatnonzero(forced[cands.unit] & (pu[cands.unit] == cands.placement))


def moves_of(inst: Instance, cands: Candidates, chosen: np.ndarray) -> int:
    """Children already placed whom a choice moves or leaves unplaced (`--max-moves`)."""
    placed = chosen >= 0
    total = int(inst.unit_placed[~placed].sum())
    if placed.any():
        k = chosen[placed]
        total += int(inst.pair_moves(cands.unit[k], cands.placement[k]).sum())
    return total


def status_quo(inst: Instance, cands: Candidates, forced: np.ndarray | None) -> np.ndarray:
    """Pinned units, then everyone already placed stays; waiting units fill what is left.

    The fewest moves any plan needs: so a feasible start under any `--max-moves`.
    """
    stay = np.flatnonzero((inst.pair_moves(cands.unit, cands.placement) == 0)
                          & (inst.unit_placed[cands.unit] > 0))
    return greedy(inst, cands, first=np.concatenate([forced_pairs(inst, cands, forced), stay]))


def admissible(inst: Instance, cands: Candidates, chosen: np.ndarray,
               forced: np.ndarray | None, max_moves: int | None) -> bool:
    """Pinned units placed as pinned, and the moves limit kept (capacity is the caller's)."""
    k = forced_pairs(inst, cands, forced)
    if len(k) and not np.array_equal(chosen[cands.unit[k]], k):
        return False
    if (chosen[inst.keep_placed] < 0).any():
        return False
    return max_moves is None or moves_of(inst, cands, chosen) <= max_moves


def stability_of(inst: Instance, assignment: np.ndarray) -> float:
    """The `--previous` term of a per-child assignment: proposals unlike yesterday's."""
    prev = inst.reallocation.previous
    if prev is None:
        return 0.0
    changed = inst.previous_known & (assignment != np.asarray(prev))
    return float(inst.reallocation.previous_weight * changed.sum())


def greedy(inst: Instance, cands: Candidates, lp_x: np.ndarray | None = None,
           capacity: np.ndarray | None = None, first: np.ndarray | None = None) -> np.ndarray:
    """Largest saving over leaving unplaced first, capacity respected: a fast hint.

    With `lp_x` (the LP relaxation's values), pairs the LP chose come first: LP rounding.
    `first`: pairs taken before any other, whatever their saving (pinned, staying).
    """
    units = inst.units
    saving = cands.objective - inst.unit_unplaced[cands.unit]
    keys = (cands.placement, saving) if lp_x is None else (cands.placement, saving,
                                                           -np.round(lp_x, 6))
    order = np.lexsort(keys)
    chosen = np.full(units.n, -1, dtype=np.int64)
    cu, cp, cw, sv = (cands.unit.tolist(), cands.placement.tolist(), cands.use.tolist(),
                      saving.tolist())
    rem = (inst.capacity if capacity is None else capacity).astype(np.int64).tolist()
    ch = chosen.tolist()
    for k in (first.tolist() if first is not None else []):
        u, p = cu[k], cp[k]
        if ch[u] < 0 and rem[p] >= cw[k]:
            rem[p] -= cw[k]
            ch[u] = k
    for k in order.tolist():
        if sv[k] >= 0:
            continue
        u = cu[k]
        if ch[u] >= 0:
            continue
        p = cp[k]
        if rem[p] >= cw[k]:
            rem[p] -= cw[k]
            ch[u] = k
    return np.asarray(ch, dtype=np.int64)


def beds_left(inst: Instance, cands: Candidates, pairs: np.ndarray) -> np.ndarray:
    """Each placement's capacity less the beds the given pairs (indices into `cands`)
    take."""
    return inst.capacity.astype(np.int64) - np.bincount(
        cands.placement[pairs], weights=cands.use[pairs], minlength=inst.n_placements
    ).astype(np.int64)


def subset(cands: Candidates, keep: np.ndarray) -> Candidates:
    stats = dict(cands.stats)
    stats["pairs_in_model"] = float(keep.sum())
    return Candidates(cands.unit[keep], cands.placement[keep], cands.objective[keep],
                      cands.use[keep], cands.n_feasible, cands.limit, stats)


def with_musts(inst: Instance, cands: Candidates, keep: np.ndarray, incumbent: np.ndarray,
                forced: np.ndarray | None) -> np.ndarray:
    """`keep` (a mask of `cands`) with the pairs every model of reduced-cost fixing must
    hold: the incumbent's (indices), the pinned ones, and each kept-placed unit's stay."""
    keep = keep.copy()
    keep[incumbent] = True
    keep[forced_pairs(inst, cands, forced)] = True
    keep |= inst.keep_placed[cands.unit] & (inst.pair_moves(cands.unit, cands.placement) == 0)
    return keep


def moves_limit_rhs(inst: Instance, max_moves: int | None) -> int | None:
    """Right-hand side of the moves row: sum_k (moves_k - placed_k) x_k <= N - placed."""
    return None if max_moves is None else max_moves - int(inst.unit_placed.sum())
