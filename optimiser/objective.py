"""The objective's per-pair terms, written once: cost, distance, faith mismatch, move.

Every caller that prices a child at a placement (the candidate pass, the stay baseline of
`min_saving`, the re-allocation tables) uses :func:`pair_terms`, so the model, the
explanations and the reports can never disagree on what a pair costs. The unplaced and
sibling-split terms are per child or per group, not per pair, and live with the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .categories import EARTH_RADIUS_KM, FaithMatch

if TYPE_CHECKING:  # the instance computes its stay terms with this module
    from .instance import Instance

PAIR_TERMS: tuple[str, ...] = ("cost", "distance", "faith_mismatch", "move", "out_of_area")


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray,
                 lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance (spec: haversine, R = 6371.0 km); broadcasts."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dl = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def pair_distances(inst: Instance, children: np.ndarray, placements: np.ndarray) -> np.ndarray:
    """Distance per (child, placement) pair, with distances.csv overrides applied."""
    d = haversine_km(inst.home_lat[children], inst.home_lon[children], inst.lat[placements],
                     inst.lon[placements])
    if len(inst.dist_child) and len(children):
        n = inst.n_placements
        over = pd.Series(inst.dist_km, index=inst.dist_child.astype(np.int64) * n
                         + inst.dist_placement)
        key = pd.Index(children.astype(np.int64) * n + placements)
        hit = key.isin(over.index)
        if hit.any():
            d[hit] = over.reindex(key[hit]).to_numpy()
    return d


def faith_mismatched(inst: Instance, children: np.ndarray, placements: np.ndarray
                     ) -> np.ndarray:
    """The child prefers a faith and the placement's differs (the soft faith term)."""
    return ((inst.faith_match[children] == FaithMatch.PREFERRED)
            & (inst.faith[children] != inst.pfaith[placements]))


@dataclass(frozen=True, eq=False)
class PairTerms:
    """The weighted terms, pounds/week, one array each, of the pairs' common shape."""

    cost: np.ndarray
    distance: np.ndarray
    faith_mismatch: np.ndarray
    move: np.ndarray
    out_of_area: np.ndarray  # 1.1: the placement lies outside the child's authority

    @cached_property
    def own(self) -> np.ndarray:
        """What the pair costs the child itself: every term but the move penalty (the
        baseline and the gain of the `min_saving` rule)."""
        return self.cost + self.distance + self.faith_mismatch + self.out_of_area

    @cached_property
    def total(self) -> np.ndarray:
        """The pair's whole contribution to the objective."""
        return self.own + self.move

    def as_dict(self) -> dict[str, np.ndarray]:
        return dict(zip(PAIR_TERMS, (self.cost, self.distance, self.faith_mismatch, self.move,
                                     self.out_of_area), strict=True))


def pair_terms(inst: Instance, children: np.ndarray, placements: np.ndarray, km: np.ndarray,
               *, is_current: np.ndarray | None = None) -> PairTerms:
    """The objective's terms of children at placements (spec: the objective).

    `children` and `placements` are index arrays that broadcast together: a block is
    rows (n, 1) against columns (1, m), a list of pairs is two arrays of one length.
    `km` has their common shape. `is_current` (same shape), when the caller has it, marks
    the pairs that are the child's current placement (no move penalty there).
    """
    w = inst.policy.weights
    shape = np.broadcast_shapes(np.shape(children), np.shape(placements))
    if is_current is None:
        is_current = inst.current[children] == placements
    return PairTerms(
        cost=np.broadcast_to(w.cost * inst.weekly_cost[placements], shape),
        distance=w.per_km * km,
        faith_mismatch=w.faith_mismatch * faith_mismatched(inst, children, placements),
        move=w.move * ((inst.current[children] >= 0) & ~is_current),
        out_of_area=w.out_of_area * out_of_area(inst, children, placements),
    )


def out_of_area(inst: Instance, children: np.ndarray, placements: np.ndarray) -> np.ndarray:
    """The placement's authority differs from the child's (both given); broadcasts."""
    assert inst.authority is not None and inst.pauthority is not None
    a, b = inst.authority[children], inst.pauthority[placements]
    return (a >= 0) & (b >= 0) & (a != b)


def current_terms(inst: Instance) -> np.ndarray:
    """Per child, its own terms at its current placement (nan when waiting), with
    distances.csv overrides: the same numbers the candidate pass gives that pair."""
    out = np.full(inst.n_children, np.nan)
    kids = np.flatnonzero(inst.current >= 0)
    if len(kids) == 0:
        return out
    p = inst.current[kids].astype(np.int64)
    out[kids] = pair_terms(inst, kids, p, pair_distances(inst, kids, p)).own
    return out
