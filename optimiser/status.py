"""The status of a solve, one vocabulary for every solver of the package."""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    """What a solve proved. A `str`, so it compares with, prints and serialises as its
    value ("optimal", ...) wherever a plain string was expected."""

    OPTIMAL = "optimal"  # the plan's objective equals a proven lower bound
    FEASIBLE = "feasible"  # a plan, not proven optimal, the time limit not reached
    TIME_LIMIT = "time_limit"  # a plan (or none), stopped by the time limit
    INFEASIBLE = "infeasible"  # no plan exists (never for the placement model)

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    def __hash__(self) -> int:  # as its value's, so dict and set lookups by string work
        return hash(self.value)
