"""The recommendations tested on next year's demand: how often each one pays.

Scenarios of next year's arrivals come from plan-capacity's demand model
(`optimiser.commission.demand`: the instance's `demand.toml` where a commissioning folder
has one, else the calibrated defaults). In each scenario the arrivals compete for
today's vacancies; the engine solves it without and with each recommended profile, and a
profile pays in a scenario where it lowers the objective. One task per scenario, on a
Dask cluster (`optimiser.commission.dist`) or in this process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..commission.data import CommissionData, Demand, load_commission
from ..commission.demand import Scenario, sample_scenarios
from ..commission.dist import make_mapper
from ..solver import SolveOptions, solve
from .extend import Extender, Profile
from .run import Analysis, Settings, analyse

PAYS_EPS = 0.005  # half a penny


def demand_data(folder: str) -> CommissionData:
    """The demand model of `folder`: a commissioning folder's own, else the defaults."""
    path = Path(folder)
    if (path / "contracts.csv").exists() and (path / "spot.csv").exists():
        return load_commission(path)
    ext = Extender(folder)
    return CommissionData(source=folder, instance=ext.instance(()),
                          placements_frame=ext.placements, policy_text="", contracts=(),
                          spot=(), demand=Demand())


def scenario_savings(folder: str, scenario: Scenario, profiles: tuple[Profile, ...],
                     options: SolveOptions) -> dict[str, Any]:
    """One scenario: the objective without and each profile's saving (a worker's task)."""
    ext = Extender(folder)
    base = solve(ext.instance((), scenario.children), options)
    # each profile's placement is appended: the base's plan and its certified cuts (each
    # certified again on the new instance) start the re-solve
    warm = replace(options, start=base.assignment, start_cuts=base.cuts)
    savings = [base.objective - solve(ext.instance((p,), scenario.children), warm).objective
               for p in profiles]
    return {"scenario": scenario.name, "children": scenario.n_children,
            "objective": base.objective, "savings": savings}


def pays_table(profiles: list[Profile], runs: list[dict[str, Any]]) -> pd.DataFrame:
    """Per profile: how often it pays, and its saving's mean and range over scenarios."""
    s = np.array([r["savings"] for r in runs], dtype=float).reshape(len(runs), len(profiles))
    return pd.DataFrame({
        "rank": np.arange(1, len(profiles) + 1),
        "profile": [p.describe() for p in profiles],
        "scenarios": len(runs),
        "pays_share": (s > PAYS_EPS).mean(axis=0).round(4) if len(runs) else 0.0,
        "mean_weekly_saving": s.mean(axis=0).round(2) if len(runs) else 0.0,
        "min_weekly_saving": s.min(axis=0).round(2) if len(runs) else 0.0,
        "max_weekly_saving": s.max(axis=0).round(2) if len(runs) else 0.0,
    })


def analyse_with_scenarios(folder: str | Path, settings: Settings, n: int,
                           workers: int | None = None, scheduler: str | None = None,
                           say: Callable[[str], None] = lambda s: None) -> Analysis:
    """`run.analyse`, then its recommendations over `n` scenarios of next year's demand."""
    folder = str(folder)
    a = analyse(folder, settings, say=say)
    profiles = [r.profile for r in a.recommendations]
    scenarios = sample_scenarios(demand_data(folder), n, settings.seed)
    with make_mapper(scheduler, workers, progress=False) as mapper:
        say(f"scenarios: {n} on {mapper.describe()}")
        runs = mapper(scenario_savings, [(folder, s, tuple(profiles),
                                          settings.resolve_options())
                                         for s in scenarios])
    a.scenarios = pays_table(profiles, runs)
    return a
