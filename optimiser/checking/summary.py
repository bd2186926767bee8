"""summary.json held to the recomputed figures and to its own gap formula.

Each disagreement is one line of text (a summary mismatch), not a violation: the
assignment may be right while the summary misreports it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from optimiser.checking.objective import Recomputed
from optimiser.checking.report import number_text

STATUSES: tuple[str, ...] = ("optimal", "feasible", "infeasible", "time_limit")
SUMMARY_KEYS: tuple[str, ...] = (
    "status",
    "objective",
    "best_bound",
    "gap",
    "solve_seconds",
    "placed",
    "unplaced",
    "total_weekly_cost",
    "mean_distance_km",
)


def close(a: float, b: float, rel: float, abs_: float) -> bool:
    """Both finite and equal within the larger of `abs_` and `rel` times |b|."""
    return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= max(abs_, rel * abs(b))


def num(x: Any) -> float:
    """A summary.json number, NaN when absent, null or not numeric (bools are not numbers)."""
    if isinstance(x, bool) or x is None:
        return math.nan
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _figures(s: dict[str, Any], mine: Recomputed) -> list[str]:
    """Keys missing, an unknown status, and figures that differ from the recomputed ones
    (the objective of an infeasible solve is not compared)."""
    out = [f"{k}: missing from summary.json" for k in SUMMARY_KEYS if k not in s]
    status = s.get("status")
    if "status" in s and status not in STATUSES:
        out.append(f"status: {status!r} is not one of {', '.join(STATUSES)}")
    for key, count in (("placed", mine.placed), ("unplaced", mine.unplaced)):
        if key in s and num(s[key]) != count:
            out.append(f"{key}: summary says {s[key]}, checker computes {count}")
    floats: list[tuple[str, float]] = [("total_weekly_cost", mine.total_weekly_cost),
                                       ("mean_distance_km", mine.mean_distance_km)]
    if status != "infeasible":
        floats.insert(0, ("objective", mine.objective))
    for key, mine_f in floats:
        if key in s and not close(num(s[key]), mine_f, 1e-6, 0.01):
            out.append(f"{key}: summary says {s[key]}, checker computes {number_text(mine_f)}")
    return out


def _gap(s: dict[str, Any]) -> list[str]:
    """The gap as the spec defines it: (objective - best_bound) / max(|objective|, 1),
    never negative, and 0 when the status is optimal."""
    obj, bound, gap = num(s["objective"]), num(s["best_bound"]), num(s["gap"])
    if not math.isfinite(gap):
        return [f"gap: summary says {s['gap']}, not a number"]
    out = []
    if math.isfinite(obj) and math.isfinite(bound):
        expected = (obj - bound) / max(abs(obj), 1.0)
        if abs(gap - expected) > 1e-6:
            out.append(
                f"gap: summary says {s['gap']}, (objective - best_bound) / max(|objective|, 1) "
                f"= {expected:.9g}"
            )
    if gap < -1e-9:
        out.append(f"gap: summary says {s['gap']}, a gap may not be negative")
    if s.get("status") == "optimal" and abs(gap) > 1e-6:
        out.append(f"gap: summary says {s['gap']} but status is optimal (gap must be 0)")
    return out


def check_summary(solution: Path, mine: Recomputed) -> list[str]:
    """summary.json must agree with the recomputed figures and with its own gap formula."""
    f = solution / "summary.json"
    if not f.exists():
        return []
    try:
        s = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return [f"summary.json is not valid JSON: {exc}"]
    if not isinstance(s, dict):
        return ["summary.json is not a JSON object"]
    out = _figures(s, mine)
    if s.get("status") == "infeasible" or not all(k in s for k in ("objective", "best_bound",
                                                                     "gap")):
        return out
    return out + _gap(s)
