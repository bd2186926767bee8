"""The whole check of one output folder: every rule in report order, then the objective
and the summary, gathered into one :class:`~optimiser.checking.report.CheckReport`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from optimiser.checking.bed_rules import capacity, siblings_together, solo
from optimiser.checking.loading import load_instance
from optimiser.checking.objective import recompute
from optimiser.checking.pair_rules import pair_rules
from optimiser.checking.placed import placed_frame
from optimiser.checking.reallocation_rules import (
    closed_to_newcomers,
    move_not_in_child_interest,
    pinned,
)
from optimiser.checking.report import CheckReport, Violation
from optimiser.checking.solution import (
    as_of,
    column_checks,
    effective_assignment,
    read_assignments,
)
from optimiser.checking.summary import check_summary


def check(instance: str | Path, solution: str | Path, *, tol: float = 1e-6,
          policy_file: str | Path | None = None,
          date: str | dt.date | None = None,
          ofsted: str | Path | None = None) -> CheckReport:
    """Recompute every hard rule and the objective of `solution` from the spec alone.

    `instance`: a folder of CSV files (+ policy.toml) or an .xlsx workbook.
    `solution`: a folder with assignments.csv and optionally summary.json.
    `tol`: relative tolerance on the solution's weekly_cost/distance_km columns.
    `date`: as-of date for `available_from` (default: the solve's, else today).
    """
    inst = load_instance(instance, policy_file, ofsted)
    solution = Path(solution)
    violations: list[Violation] = []
    review: list[str] = []

    asg = read_assignments(solution, violations)
    eff = effective_assignment(inst, asg, violations)
    m = placed_frame(inst, eff)
    column_checks(m, set() if asg is None else set(asg.columns), tol, violations)
    pair_rules(inst, m, violations, review)
    day = as_of(solution, date)
    capacity(inst, m, violations, day)
    solo(m, violations)
    closed_to_newcomers(inst, m, violations, day)
    pinned(inst, eff, violations)
    move_not_in_child_interest(inst, eff, m, violations)
    siblings_together(inst, eff, violations)

    mine = recompute(inst, eff, m)
    mismatches = check_summary(solution, mine)
    return CheckReport(
        ok=not violations and not mismatches,
        violations=tuple(violations),
        objective=mine.objective,
        terms=mine.terms,
        placed=mine.placed,
        unplaced=mine.unplaced,
        total_weekly_cost=mine.total_weekly_cost,
        mean_distance_km=mine.mean_distance_km,
        summary_mismatches=tuple(mismatches),
        review=tuple(review),
    )
