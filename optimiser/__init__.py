"""Placement-allocation engine for children in care (England).

    from optimiser import load_instance, solve, check
    inst = load_instance("instances/demo")
    result = solve(inst, time_limit=30, seed=1)
    report = check("instances/demo", "out/")   # after write_solution(result, "out/")
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .checker import CheckReport, check
    from .instance import Instance, InstanceError, Policy, Problem, Rules, Weights
    from .reader import load_instance
    from .rules import Rule
    from .solver import Result, SolveOptions, solve

# The public names, loaded on first use: a command pays only for the modules it runs
# (the checker and the solver are heavy), which its time limit counts.
_WHERE = {
    "CheckReport": "checker", "check": "checker",
    "Instance": "instance", "InstanceError": "instance", "Policy": "instance",
    "Problem": "instance", "Rules": "instance", "Weights": "instance",
    "load_instance": "reader", "Rule": "rules",
    "Result": "solver", "SolveOptions": "solver", "solve": "solver",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'optimiser' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


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
    from .writer import make_report, write_output

    return write_output(make_report(result), out)
