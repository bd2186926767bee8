"""Tiny instance builders for tests: rows as dicts, written as a spec instance folder.

Defaults give a child and a placement that match (age 10, gender F, 1 km apart), so each
test states only the columns its rule is about. Ids only, never names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from optimiser import load_instance, solve, write_solution
from optimiser.checker import check

CHILD_DEFAULTS: dict[str, Any] = {
    "age": 10, "gender": "F", "home_lat": 52.0, "home_lon": -1.0,
}
PLACEMENT_DEFAULTS: dict[str, Any] = {
    "provider": "prov", "type": "inhouse_foster", "vacancies": 1, "age_min": 0,
    "age_max": 17, "lat": 52.009, "lon": -1.0, "weekly_cost": 500,
}


def write_instance(folder: Path, children: list[dict], placements: list[dict],
                   exclusions: list[dict] | None = None, distances: list[dict] | None = None,
                   policy: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ch = [{**CHILD_DEFAULTS, **c} for c in children]
    pl = [{**PLACEMENT_DEFAULTS, **p} for p in placements]
    pd.DataFrame(ch).to_csv(folder / "children.csv", index=False)
    pd.DataFrame(pl).to_csv(folder / "placements.csv", index=False)
    if exclusions:
        pd.DataFrame(exclusions).to_csv(folder / "exclusions.csv", index=False)
    if distances:
        pd.DataFrame(distances).to_csv(folder / "distances.csv", index=False)
    if policy:
        (folder / "policy.toml").write_text(policy)
    return folder


def solve_and_check(folder: Path, **kw: Any) -> tuple[Any, pd.DataFrame, Any]:
    """Solve, write, and run the independent checker; fail the test if it objects."""
    inst = load_instance(folder)
    kw.setdefault("time_limit", 20)
    kw.setdefault("workers", 2)
    result = solve(inst, **kw)
    out = folder.parent / (folder.name + "-out")
    write_solution(result, out)
    report = check(folder, out)
    assert report.ok, [str(v) for v in report.violations] + list(report.summary_mismatches)
    assert abs(report.objective - result.objective) <= 1e-6 * max(1.0, abs(result.objective))
    assignments = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    return result, assignments.set_index("child_id"), report


def placement_of(assignments: pd.DataFrame, child: str) -> str:
    return str(assignments.loc[child, "placement_id"])
