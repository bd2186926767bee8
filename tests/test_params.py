"""The solver's tuning object and the one status type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optimiser import load_instance, solve
from optimiser.params import SolverParams
from optimiser.status import Status

SHIPPED = Path(__file__).resolve().parent.parent / "instances"


def test_the_defaults_are_valid_and_frozen() -> None:
    p = SolverParams()
    assert 0 < p.lp_share <= 1 and p.fixing_pairs > 0
    with pytest.raises(AttributeError):
        p.lp_share = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(("name", "value"), [
    ("lp_share", 1.5), ("lp_share", -0.1), ("dive_min_share", "0.2"),
    ("fixing_pairs", -1), ("fixing_pairs", 2.5), ("fixing_pairs", True),
    ("cut_proof", 1), ("race_max", 0), ("min_candidates", 0), ("harvest_vs_lp", -1.0),
])
def test_a_bad_value_is_refused_by_name(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=name):
        SolverParams(**{name: value})  # type: ignore[arg-type]


def test_a_parameter_reaches_its_stage() -> None:
    """`auto_highs_units` picks the backend of "auto": below the register's size, CP-SAT
    solves it; the plan is the same optimum either way."""
    inst = load_instance(SHIPPED / "tiny")
    highs = solve(inst, time_limit=20, workers=1)
    cpsat = solve(inst, time_limit=20, workers=1, tuning=SolverParams(auto_highs_units=0))
    assert highs.stats["backend"] == "highs" and cpsat.stats["backend"] == "cpsat"
    assert highs.status == cpsat.status == Status.OPTIMAL
    assert cpsat.objective == pytest.approx(highs.objective, abs=0.01)


def test_status_reads_as_its_value() -> None:
    """Summaries and JSON keep the strings they always had."""
    assert json.dumps({"status": Status.TIME_LIMIT}) == '{"status": "time_limit"}'
    assert f"{Status.OPTIMAL}" == str(Status.OPTIMAL) == "optimal"
    assert Status.FEASIBLE == "feasible" and {"infeasible": 1}[Status.INFEASIBLE] == 1
    assert [s.value for s in Status] == ["optimal", "feasible", "time_limit", "infeasible"]
