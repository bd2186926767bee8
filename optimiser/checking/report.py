"""What the checker found: the report's types, and its plain-English text.

Ids only, never names, so that a report can be shared; the same rule codes
(:mod:`optimiser.rules`) as the engine's reports, tests and logs.
"""

from __future__ import annotations

from dataclasses import dataclass

FORMAT = "format"
"""Rule code of a malformed solution (missing/duplicate/unknown ids, wrong cost column...)."""


@dataclass(frozen=True)
class Violation:
    """One broken hard rule; ids only, never names, so a report can be shared."""

    rule: str
    child_id: str | None
    placement_id: str | None
    detail: str


@dataclass(frozen=True)
class CheckReport:
    """Everything the checker recomputed, and where the solution disagrees with the spec."""

    ok: bool
    violations: tuple[Violation, ...]
    objective: float
    terms: dict[str, float]
    placed: int
    unplaced: int
    total_weekly_cost: float
    mean_distance_km: float
    summary_mismatches: tuple[str, ...] = ()
    review: tuple[str, ...] = ()


def number_text(x: float) -> str:
    """A number as a message shows it: short, except where %g would hide a huge one."""
    return f"{x:g}" if abs(x) < 1e15 else repr(x)


def format_report(report: CheckReport) -> str:
    """A short plain-English text for the command line; ids only, never names."""
    lines = [
        "OK: the solution respects every hard rule"
        if report.ok
        else f"FAILED: {len(report.violations)} violation(s), "
        f"{len(report.summary_mismatches)} summary mismatch(es)",
        f"Objective: £{report.objective:,.2f} per week",
    ]
    lines += [f"  {t:<15} £{v:,.2f}" for t, v in report.terms.items()]
    lines.append(
        f"Placed {report.placed}, unplaced {report.unplaced}; total weekly cost "
        f"£{report.total_weekly_cost:,.2f}; mean distance {report.mean_distance_km:.2f} km"
    )
    if report.violations:
        lines.append("Violations:")
        lines += [f"  [{v.rule}] {v.detail}" for v in report.violations]
    if report.summary_mismatches:
        lines.append("Summary mismatches:")
        lines += [f"  {s}" for s in report.summary_mismatches]
    if report.review:
        lines.append("For review (kept in a current placement that now breaks a rule):")
        lines += [f"  {r}" for r in report.review]
    return "\n".join(lines)
