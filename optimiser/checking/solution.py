"""The output folder read on its own: assignments.csv as one row per instance child, the
as-of date the solve used, and the format faults found on the way (rule `format`).

A missing child or an unknown placement counts as unplaced, so that the objective stays
comparable whatever the fault.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from optimiser.checking.cells import read_csv
from optimiser.checking.loading import SpecInstance
from optimiser.checking.report import FORMAT, Violation, number_text


def read_assignments(solution: Path, violations: list[Violation]) -> pd.DataFrame | None:
    """The solver's assignments.csv, or None (and one format violation) if unusable."""
    f = solution / "assignments.csv"
    if not f.exists():
        violations.append(Violation(FORMAT, None, None, f"no assignments.csv in {solution}"))
        return None
    asg = read_csv(f)
    missing = [c for c in ("child_id", "placement_id") if c not in asg.columns]
    if missing:
        violations.append(
            Violation(FORMAT, None, None, f"assignments.csv lacks column(s) {missing}")
        )
        return None
    for col in ("weekly_cost", "distance_km"):
        if col not in asg.columns:
            violations.append(Violation(FORMAT, None, None, f"assignments.csv lacks column {col}"))
    return asg


def _first_rows(ids: pd.Index, asg: pd.DataFrame, violations: list[Violation]) -> pd.DataFrame:
    """assignments.csv's first row per child, reindexed on the instance's children; a
    duplicated, unknown or missing child is a format violation."""
    dup = asg["child_id"].duplicated(keep="first")
    for cid in pd.unique(asg.loc[dup, "child_id"]):
        violations.append(Violation(FORMAT, cid, None, f"child {cid} appears more than once"))
    first = asg.loc[~dup].set_index("child_id")
    unknown = ~first.index.isin(ids)
    for cid in first.index[unknown]:
        violations.append(Violation(FORMAT, cid, None, f"child {cid} is not in the instance"))
    for cid in ids[~ids.isin(first.index)]:
        violations.append(
            Violation(FORMAT, cid, None, f"child {cid} is missing from assignments.csv")
        )
    return first


def effective_assignment(
    inst: SpecInstance, asg: pd.DataFrame | None, violations: list[Violation]
) -> pd.DataFrame:
    """One row per instance child: where the solution puts it ('' = unplaced).

    Missing, unknown or duplicated ids are format violations. A duplicated child counts
    by its first row; a missing child or an unknown placement counts as unplaced, so the
    objective stays comparable.
    """
    ids = inst.children.index
    eff = pd.DataFrame(index=ids)
    if asg is None:
        eff["placement_id"] = ""
        eff["given_cost"] = ""
        eff["given_km"] = ""
        eff["present"] = False
        return eff
    first = _first_rows(ids, asg, violations)
    present = ids.isin(first.index)
    first = first.reindex(ids)
    pid = first["placement_id"].fillna("").astype(str)
    bad_pid = (pid != "") & ~pid.isin(inst.placements.index)
    for cid, p in pid[bad_pid].items():
        violations.append(
            Violation(FORMAT, str(cid), p, f"child {cid} is assigned to unknown placement {p}")
        )
    eff["placement_id"] = pid.where(~bad_pid, "")
    for src, dst in (("weekly_cost", "given_cost"), ("distance_km", "given_km")):
        col = first[src] if src in first.columns else pd.Series("", index=ids, dtype=str)
        eff[dst] = col.fillna("").astype(str)
    eff["present"] = present
    return eff


def column_checks(
    m: pd.DataFrame, columns: set[str], tol: float, violations: list[Violation]
) -> None:
    """The solver's own weekly_cost/distance_km columns must repeat the instance's numbers.

    A column absent from the file was already reported once; it is not reported per row.
    """
    rows = m[m["present"]]
    for given_col, true_col, abs_tol, what in (
        ("given_cost", "p_weekly_cost", 0.0, "weekly_cost"),
        ("given_km", "km", 1e-3, "distance_km"),
    ):
        if what not in columns:
            continue
        given = pd.to_numeric(rows[given_col].where(rows[given_col] != "", np.nan), "coerce")
        true = rows[true_col].astype(float)
        allowed = np.maximum(tol * np.maximum(1.0, true.abs()), abs_tol)
        bad = given.isna() | ((given - true).abs() > allowed)
        for cid, pid, said, truth in zip(
            rows.index[bad], rows.loc[bad, "placement_id"], rows.loc[bad, given_col], true[bad],
            strict=True,
        ):  # fmt: skip
            violations.append(
                Violation(
                    FORMAT,
                    str(cid),
                    str(pid),
                    f"child {cid} at {pid}: {what} says {said or 'nothing'}, "
                    f"the instance gives {number_text(float(truth))}",
                )
            )


def as_of(solution: Path, date: str | dt.date | None) -> dt.date:
    """The as-of date for `available_from`: given, else the solve's (summary.json
    `reallocation.date` or `as_of`), else today."""
    if isinstance(date, dt.date):
        return date
    if date:
        return dt.date.fromisoformat(date)
    f = solution / "summary.json"
    try:
        s = json.loads(f.read_text(encoding="utf-8")) if f.exists() else {}
    except (OSError, json.JSONDecodeError):
        s = {}
    if isinstance(s, dict):
        r = s.get("reallocation")
        for v in ((r or {}).get("date") if isinstance(r, dict) else None, s.get("as_of")):
            if isinstance(v, str):
                try:
                    return dt.date.fromisoformat(v)
                except ValueError:
                    pass
    return dt.date.today()
