"""Reg. 11: who must approve a placement, from the child's and the placement's authority.

The Care Planning, Placement and Case Review (England) Regulations 2010, reg. 11, treat
three kinds of placement differently: **in area** (the placement lies in the child's
responsible authority), **out of area** (a nominated officer approves it) and **at a
distance** (out of area and not in an adjoining authority: the Director of Children's
Services approves it). Without `adjoining.csv`, an out-of-area placement is reported as
needing at least a nominated officer's approval. Where either authority is not given,
nothing is said.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .categories import Approval
from .instance import Instance

UNKNOWN = -1  # an authority is not given: the area cannot be told
APPROVER: dict[int, str | None] = {
    UNKNOWN: None, Approval.IN_AREA: None,
    Approval.NOMINATED_OFFICER: Approval.NOMINATED_OFFICER.word,
    Approval.DIRECTOR: Approval.DIRECTOR.word,
}
AREA: dict[int, str] = {UNKNOWN: "", **{int(a): a.area for a in Approval}}


def has_authorities(inst: Instance) -> bool:
    """Authorities are given on both sides somewhere, so that reg. 11 can be told."""
    assert inst.authority is not None and inst.pauthority is not None
    return bool((inst.authority >= 0).any() and (inst.pauthority >= 0).any())


def approval(inst: Instance, children: np.ndarray, placements: np.ndarray) -> np.ndarray:
    """Per pair (broadcasting), an `Approval` code, or UNKNOWN where an authority is not given."""
    assert inst.authority is not None and inst.pauthority is not None
    a, b = inst.authority[children], inst.pauthority[placements]
    known = (a >= 0) & (b >= 0)
    out = np.where(known, int(Approval.IN_AREA), UNKNOWN).astype(np.int8)
    away = known & (a != b)
    if inst.adjoining is None:
        return np.where(away, int(Approval.NOMINATED_OFFICER), out).astype(np.int8)
    near = inst.adjoining[np.maximum(a, 0), np.maximum(b, 0)]
    return np.where(away, np.where(near, int(Approval.NOMINATED_OFFICER),
                                   int(Approval.DIRECTOR)), out).astype(np.int8)


def approval_counts(codes: np.ndarray) -> dict[str, Any]:
    """How many placements are in area, out of area and at a distance (a summary's words)."""
    codes = np.asarray(codes)
    return {
        "in_area": int((codes == Approval.IN_AREA).sum()),
        "out_of_area_nominated_officer": int((codes == Approval.NOMINATED_OFFICER).sum()),
        "at_a_distance_director": int((codes == Approval.DIRECTOR).sum()),
        "authority_not_given": int((codes == UNKNOWN).sum()),
    }
