"""The objective recomputed from the spec's formula alone: seven weighted terms, summed.

Not the engine's :mod:`optimiser.objective` (pair terms in integer pence); this is the
spec's plain formula in pounds per week, so that the two can disagree when one is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from optimiser.checking.loading import SpecInstance

TERMS: tuple[str, ...] = ("cost", "distance", "faith_mismatch", "move", "unplaced", "sibling_split",
                          "out_of_area")


@dataclass(frozen=True)
class Recomputed:
    """The figures of a solution as the checker computes them."""

    terms: dict[str, float]
    objective: float
    placed: int
    unplaced: int
    total_weekly_cost: float
    mean_distance_km: float


def out_of_area(m: pd.DataFrame) -> int:
    """Placed children whose placement's authority differs from theirs (both given)."""
    given = (m["authority"] != "") & (m["p_authority"] != "")
    return int((given & (m["authority"] != m["p_authority"])).sum())


def sibling_split(inst: SpecInstance, eff: pd.DataFrame) -> int:
    """With split_siblings: the placements a sibling group uses beyond its first."""
    g = pd.DataFrame({"group": inst.children["sibling_group"],
                      "placement_id": eff["placement_id"]})
    g = g[g["group"] != ""]
    if g.empty:
        return 0
    placed = g[g["placement_id"] != ""]
    spread = placed.groupby("group")["placement_id"].nunique()
    return int((spread - 1).clip(lower=0).sum())


def recompute(inst: SpecInstance, eff: pd.DataFrame, m: pd.DataFrame) -> Recomputed:
    """Every term of the objective, the objective, and the summary's figures."""
    w = inst.policy.weights
    unplaced_mask = eff["placement_id"] == ""
    preferred_miss = (m["faith_match"] == "preferred") & (
        (m["p_faith"] == "") | (m["p_faith"] != m["faith"])
    )
    moved = (m["current_placement"] != "") & (m["current_placement"] != m["placement_id"])
    split = inst.policy.split_siblings
    total_cost = float(m["p_weekly_cost"].sum())
    total_km = float(m["km"].sum())
    terms = {
        "cost": w["cost"] * total_cost,
        "distance": w["per_km"] * total_km,
        "faith_mismatch": w["faith_mismatch"] * float(preferred_miss.sum()),
        "move": w["move"] * float(moved.sum()),
        "unplaced": w["unplaced"] * float(inst.children.loc[unplaced_mask, "priority"].sum()),
        "sibling_split": w["sibling_split"] * sibling_split(inst, eff) if split else 0.0,
        "out_of_area": w["out_of_area"] * out_of_area(m),
    }
    placed = len(m)
    return Recomputed(
        terms={t: float(terms[t]) for t in TERMS},
        objective=float(sum(terms[t] for t in TERMS)),
        placed=placed,
        unplaced=int(unplaced_mask.sum()),
        total_weekly_cost=total_cost,
        mean_distance_km=total_km / placed if placed else 0.0,
    )
