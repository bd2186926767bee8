"""A move in the child's interest, and reserved placements (format 1.1), over pair blocks.

With `move_only_in_child_interest`, a child already placed moves to a placement p only
where the move is better for that child (each child of a group on its own), for at least
one of the spec's reasons:

1. ``closer``: p is nearer home by at least `min_move_km`;
2. ``faith``: the child has a faith it prefers or requires, p's faith is the child's and
   the current placement's is not;
3. ``step_down``: from residential or secure care to a foster family;
4. ``current_breaks``: the current placement now breaks one of the child's hard rules.

A reserved placement (`reserved_for`) takes only the children it names (by id or by
sibling group). The registry's checks read the masks made here.
"""

from __future__ import annotations

import numpy as np

from .categories import STEP_DOWN_FROM, STEP_DOWN_TO, FaithMatch, Rating
from .instance import Instance
from .objective import pair_distances
from .registry import FIT_RULES, Fit

MOVE_REASONS: tuple[str, ...] = ("closer", "faith", "step_down", "current_breaks")
MOVE_REASON_WORDS: dict[str, str] = {  # what moves.csv says of each reason
    "closer": "nearer home",
    "faith": "a carer of the child's faith",
    "step_down": "a step down to a family",
    "current_breaks": "its placement now breaks one of its rules",
}
KM_TOL = 1e-9  # a move exactly `min_move_km` nearer counts as nearer


def reservation_allowed(inst: Instance, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(rows, cols): the child is one a reserved placement may take (False elsewhere)."""
    allowed = np.zeros((len(rows), len(cols)), dtype=bool)
    rc, rp = inst.reserve_child, inst.reserve_placement
    if rc is None or rp is None or not len(rc):
        return allowed
    pos_r = np.full(inst.n_children, -1, dtype=np.int64)
    pos_r[rows] = np.arange(len(rows))
    pos_c = np.full(inst.n_placements, -1, dtype=np.int64)
    pos_c[cols] = np.arange(len(cols))
    r, c = pos_r[rc], pos_c[rp]
    hit = (r >= 0) & (c >= 0)
    allowed[r[hit], c[hit]] = True
    return allowed


def _fit_pairs(inst: Instance, kids: np.ndarray, places: np.ndarray) -> Fit:
    """The fit rules' inputs for a list of (child, placement) pairs of one length."""
    age = inst.age[kids]
    return Fit(
        age_lo=age, age_hi=age, genders=np.left_shift(1, inst.gender[kids].astype(np.int64)),
        types=inst.types_allowed[kids], faith=inst.faith[kids],
        faith_match=inst.faith_match[kids],
        needs=tuple(inst.needs[kids, w] for w in range(inst.needs.shape[1])),
        ptype=inst.ptype[places], age_min=inst.age_min[places], age_max=inst.age_max[places],
        accepts=inst.genders_allowed[places], pfaith=inst.pfaith[places],
        supports=tuple(inst.needs_supported[places, w]
                       for w in range(inst.needs_supported.shape[1])),
        rating=inst.rating[places], floor=int(Rating.parse(inst.policy.rules.min_ofsted_rating)))


def current_breaks(inst: Instance, kids: np.ndarray) -> np.ndarray:
    """Per placed child in `kids`: its current placement now breaks one of its hard rules
    (a fit rule, a recorded exclusion, its distance limit, or a reservation for others)."""
    p = inst.current[kids].astype(np.int64)
    x = _fit_pairs(inst, kids, p)
    out = np.zeros(len(kids), dtype=bool)
    for d in FIT_RULES:
        assert d.fit is not None
        out |= np.broadcast_to(d.fit(x), out.shape)
    out |= pair_distances(inst, kids, p) > inst.max_distance_km[kids]
    if len(inst.excl_child):
        n = inst.n_placements
        out |= np.isin(kids.astype(np.int64) * n + p,
                       inst.excl_child.astype(np.int64) * n + inst.excl_placement)
    if inst.reserved.any():
        mine = np.zeros(len(kids), dtype=bool)
        if inst.reserve_child is not None and inst.reserve_placement is not None:
            n = inst.n_placements
            mine = np.isin(kids.astype(np.int64) * n + p,
                           inst.reserve_child.astype(np.int64) * n + inst.reserve_placement)
        out |= inst.reserved[p] & ~mine
    return out


def move_reasons(inst: Instance, rows: np.ndarray, cols: np.ndarray,
                 km: np.ndarray) -> dict[str, np.ndarray]:
    """Per reason, (rows, cols): moving child `rows` to `cols` is in its interest for it.

    `km`: the pairs' distances. Rows of waiting children are all False.
    """
    shape = (len(rows), len(cols))
    out = {r: np.zeros(shape, dtype=bool) for r in MOVE_REASONS}
    cur = inst.current[rows]
    placed = np.flatnonzero(cur >= 0)
    if not len(placed):
        return out
    kids, home = rows[placed], cur[placed].astype(np.int64)
    stay_km = pair_distances(inst, kids, home)
    out["closer"][placed] = (stay_km[:, None] - km[placed]
                             >= inst.policy.rules.min_move_km - KM_TOL)
    faith = inst.faith[kids]
    wants = (np.isin(inst.faith_match[kids], [FaithMatch.PREFERRED, FaithMatch.REQUIRED])
             & (faith >= 0) & (inst.pfaith[home] != faith))
    out["faith"][placed] = wants[:, None] & (inst.pfaith[cols][None, :] == faith[:, None])
    down_from = np.isin(inst.ptype[home], list(STEP_DOWN_FROM))
    down_to = np.isin(inst.ptype[cols], list(STEP_DOWN_TO))
    out["step_down"][placed] = down_from[:, None] & down_to[None, :]
    out["current_breaks"][placed] = np.broadcast_to(
        current_breaks(inst, kids)[:, None], (len(kids), len(cols)))
    return out


def in_child_interest(inst: Instance, rows: np.ndarray, cols: np.ndarray,
                      km: np.ndarray) -> np.ndarray | None:
    """(rows, cols): the pair is no move, or a move in the child's interest; None when the
    rule does not hold for this instance (nothing to check)."""
    if not inst.move_rule or not (inst.current[rows] >= 0).any():
        return None
    ok = np.zeros((len(rows), len(cols)), dtype=bool)
    for mask in move_reasons(inst, rows, cols, km).values():
        ok |= mask
    ok |= (inst.current[rows] < 0)[:, None]
    return ok
