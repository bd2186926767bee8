"""Commissioning: how many beds to block-book, with whom, under uncertain demand.

    from optimiser.commission import load_commission, sample_scenarios, plan_capacity
    data = load_commission("instances/demo-commission")
    scenarios = sample_scenarios(data, n=200, seed=0)
    plan = plan_capacity(data, scenarios, mapper=None, seed=0)

See models/commissioning.md for the inputs, the two-stage model and the calibration.
"""

from __future__ import annotations

from .data import (
    CommissionData,
    Contract,
    Demand,
    OverrideError,
    Spot,
    apply_overrides,
    load_commission,
)
from .demand import DEFAULTS, Scenario, expected_scenario, sample_scenarios
from .model import Plan, plan_capacity, plan_to_json, write_outcome
from .second_stage import (
    ScenarioOutcome,
    clear_cache,
    evaluate_scenario,
    local_map,
    scenario_frames,
    scenario_instance,
    write_scenario_instance,
)

__all__ = [
    "DEFAULTS",
    "CommissionData",
    "Contract",
    "Demand",
    "OverrideError",
    "Plan",
    "Scenario",
    "ScenarioOutcome",
    "Spot",
    "apply_overrides",
    "clear_cache",
    "evaluate_scenario",
    "expected_scenario",
    "load_commission",
    "local_map",
    "plan_capacity",
    "plan_to_json",
    "sample_scenarios",
    "scenario_frames",
    "scenario_instance",
    "write_outcome",
    "write_scenario_instance",
]
