"""Placement-allocation engine for children in care (England).

    from optimiser import load_instance, solve, check
    inst = load_instance("instances/demo")
    result = solve(inst, time_limit=30, seed=1)
    report = check("instances/demo", "out/")   # after write_solution(result, "out/")
"""

from __future__ import annotations

from pathlib import Path

from .checker import CheckReport, check
from .instance import Instance, InstanceError, Policy, Problem, Rules, Weights
from .reader import load_instance
from .rules import Rule
from .solver import Result, SolveOptions, solve
from .writer import make_report, write_output

__all__ = [
    "CheckReport",
    "Instance",
    "InstanceError",
    "Policy",
    "Problem",
    "Result",
    "Rule",
    "Rules",
    "SolveOptions",
    "Weights",
    "check",
    "load_instance",
    "solve",
    "write_solution",
]
__version__ = "0.1.0"


def write_solution(result: Result, out: str | Path) -> Path:
    """Write the spec's output folder for a result (atomically)."""
    return write_output(make_report(result), out)
