"""What a service operation refuses, and why; the API and the pages map these to statuses."""

from __future__ import annotations

from optimiser import Problem


class NotFound(LookupError):
    """No such child, placement, referral, approval or run (404)."""


class Conflict(ValueError):
    """The operation cannot be carried out as things are (409), with the rule if any."""

    def __init__(self, detail: str, rule: str | None = None):
        self.rule = rule
        super().__init__(detail)


class ImportRefused(ValueError):
    """Invalid input (422): every problem, as the engine's reader words them."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s)")
