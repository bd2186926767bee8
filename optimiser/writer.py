"""Write the spec's output folder: assignments.csv, summary.json (and review.csv).

Files land all or nothing (`optimiser.atomic`): a crash or a full disk never leaves half
an output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .approval import APPROVER, AREA, approval, approval_counts, has_authorities
from .atomic import atomic_folder
from .categories import FAMILY_TYPES, KM_PER_MILE, PLACEMENT_TYPES
from .explain import review_list, unplaced_reasons
from .instance import Instance
from .objective import pair_distances
from .pipeline.types import Result
from .safe_text import safe_frame

SPEC_VERSION = 1
TWENTY_MILES_KM = 20 * KM_PER_MILE


@dataclass(frozen=True)
class Report:
    """The tables a solve reports, ready to write or print."""

    assignments: pd.DataFrame
    summary: dict[str, Any]
    review: pd.DataFrame


def write_seconds(inst: Instance) -> float:
    """Seconds to keep back for the report and its files (the reasons apart), by size:
    the tables, and the review of every child who stays; generous, as the machine may be
    busy."""
    return 0.3 + 30e-6 * inst.n_children + 0.1e-3 * int((inst.current >= 0).sum())


def make_report(result: Result, deadline: float | None = None) -> Report:
    """The report of `result`. Past `deadline` (a `time.perf_counter()` value) the
    unplaced children not yet explained are reported as such (`explain.NOT_EXPLAINED`)."""
    inst = result.instance
    a = result.assignment
    placed = np.flatnonzero(a >= 0)
    cost = np.full(inst.n_children, np.nan)
    dist = np.full(inst.n_children, np.nan)
    cost[placed] = inst.weekly_cost[a[placed]]
    dist[placed] = pair_distances(inst, placed, a[placed])
    reasons = unplaced_reasons(inst, a, proven=result.status == "optimal", deadline=deadline)
    pid = np.where(a >= 0, inst.placement_ids[np.maximum(a, 0)], "")
    df = pd.DataFrame({
        "child_id": inst.child_ids,
        "placement_id": pid,
        "weekly_cost": np.round(cost, 2),
        "distance_km": np.round(dist, 3),
        "reason": [reasons[c].text if c in reasons else "" for c in range(inst.n_children)],
        "reason_code": [reasons[c].code if c in reasons else "" for c in range(inst.n_children)],
    })
    if has_authorities(inst):  # reg. 11: who must approve each placement
        code = approval(inst, placed, a[placed])
        area = np.full(inst.n_children, "", dtype=object)
        who = np.full(inst.n_children, "", dtype=object)
        area[placed] = [AREA[int(x)] for x in code]
        who[placed] = [APPROVER[int(x)] or "" for x in code]
        df["area"], df["approval"] = area, who
    rev = review_list(inst, a)
    review = pd.DataFrame({
        "child_id": [str(inst.child_ids[c]) for c, _, _ in rev],
        "placement_id": [str(inst.placement_ids[p]) for _, p, _ in rev],
        "rules": [";".join(r) for _, _, r in rev],
    })
    n_placed = len(placed)
    family = np.isin(np.asarray(PLACEMENT_TYPES, dtype=object)[inst.ptype[a[placed]]],
                     list(FAMILY_TYPES)) if n_placed else np.zeros(0, bool)
    unplaced_codes: dict[str, int] = {}
    for r in reasons.values():
        unplaced_codes[r.code] = unplaced_codes.get(r.code, 0) + 1
    summary: dict[str, Any] = {
        "spec_version": SPEC_VERSION,
        "status": result.status,
        "objective": round(result.objective, 6),
        "best_bound": round(result.bound, 6) if np.isfinite(result.bound) else None,
        "gap": result.gap if np.isfinite(result.gap) else None,
        "solve_seconds": round(result.runtime, 3),
        "placed": n_placed,
        "unplaced": int(inst.n_children - n_placed),
        "total_weekly_cost": round(float(cost[placed].sum()), 2),
        "mean_distance_km": round(float(dist[placed].mean()), 6) if n_placed else 0.0,
        "share_over_20_miles": float((dist[placed] > TWENTY_MILES_KM).mean()) if n_placed
        else 0.0,
        "family_based_share": float(family.mean()) if n_placed else 0.0,
        "unplaced_by_reason": unplaced_codes,
        "review": len(rev),
        "greedy_objective": round(result.greedy_objective, 6),
        "seed": result.seed,
        "children": inst.n_children,
        "placements": inst.n_placements,
        "timings_seconds": {k: round(v, 3) for k, v in result.timings.items()},
        "pairs": {k: v for k, v in result.stats.items()},
    }
    if has_authorities(inst):
        summary["approvals"] = approval_counts(approval(inst, placed, a[placed]))
    if inst.available_from is not None and any(d is not None for d in inst.available_from):
        summary["as_of"] = inst.as_of.isoformat()  # the date available_from was read against
    return Report(df, summary, review)


STALE = ("assignments.csv", "summary.json", "review.csv", "moves.csv", "voids.csv",
         "chains.csv")


def write_output(report: Report, out: str | Path,
                 extra: dict[str, pd.DataFrame] | None = None) -> Path:
    """Write atomically: everything lands, or nothing does.

    `extra`: more tables by file name (the re-allocation's moves, voids and chains).
    Every text cell is neutralised (`optimiser.safe_text`): no cell runs as a formula.
    """
    with atomic_folder(out, STALE) as tmp:
        safe_frame(report.assignments).to_csv(tmp / "assignments.csv", index=False)
        (tmp / "summary.json").write_text(json.dumps(report.summary, indent=2) + "\n")
        if len(report.review):
            safe_frame(report.review).to_csv(tmp / "review.csv", index=False)
        for name, table in (extra or {}).items():
            safe_frame(table).to_csv(tmp / name, index=False)
    return Path(out)
