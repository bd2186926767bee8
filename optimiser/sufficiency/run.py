"""The sufficiency analysis of one instance, end to end, and its output folder.

Steps: solve the instance (the engine); break down unmet demand and far placements;
draw candidate profiles from that demand; price every pair of the instance with every
profile added (one augmented instance, each profile a placement with its beds switched
on or off); the relaxation's duals give the value of a bed by type and area and each
profile's predicted saving; the best are verified by solving again, and a greedy plan is
built step by step, each step verified. Optional: the same over demand scenarios.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..candidates import Candidates, build_candidates
from ..instance import Instance
from ..lpserver import LpServer
from ..safe_text import safe_frame
from ..solver import Result, SolveOptions, solve
from ..status import Status
from ..writer import make_report
from .analysis import Totals, breakdowns, child_frame, totals
from .areas import Districts, child_areas, placement_areas
from .extend import Extender, Profile
from .profiles import candidate_profiles
from .recruit import (
    EngineVerifier,
    Outcome,
    Recommendation,
    Screen,
    Step,
    Verifier,
    greedy_plan,
    outcome,
    recommend,
    saving_words,
)
from .resolve import Resolver, applies
from .value import Relaxation, bed_prices, bed_values

RECRUIT_COLUMNS = ("type", "authority", "lat", "lon", "age_min", "age_max", "genders",
                   "needs_supported", "faith", "beds", "weekly_cost",
                   "predicted_weekly_saving", "verified_weekly_saving", "verified_is")


@dataclass(frozen=True)
class Settings:
    """What the analysis is asked."""

    recommendations: int = 10  # K profiles verified one by one
    budget: int = 10  # recruits in the greedy plan
    tries: int = 3  # profiles verified per greedy step
    max_profiles: int = 300  # candidate profiles screened
    time_limit: float = 60.0  # the first solve's
    # each search of a re-solve with profiles added (each whole engine solve with
    # `full_resolves`), from the allocation before: a saving not proven is a lower bound
    resolve_time_limit: float = 30.0
    # the relative gap those solves may stop at (0: proven optimal, the savings exact)
    relative_gap: float = 0.0
    seed: int = 0
    workers: int = 0  # the engine's, per solve
    # every re-solve by the whole engine, even where the incremental search applies
    full_resolves: bool = False

    def options(self) -> SolveOptions:
        return SolveOptions(time_limit=self.time_limit, seed=self.seed, workers=self.workers)

    def resolve_options(self) -> SolveOptions:
        """The options of each solve with profiles added."""
        return SolveOptions(time_limit=self.resolve_time_limit, seed=self.seed,
                            workers=self.workers, relative_gap=self.relative_gap)


@dataclass
class Analysis:
    """Everything the statement reports."""

    folder: str
    result: Result
    base: Outcome
    frame: pd.DataFrame  # per child
    totals: Totals
    breakdown: pd.DataFrame
    lp: Relaxation
    beds: pd.DataFrame  # shadow price by type and area
    placement_area: np.ndarray
    recommendations: list[Recommendation]
    plan: list[Step]
    n_profiles: int
    scenarios: pd.DataFrame | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    resolves: str = "engine"  # how re-solves were made: "incremental" or "engine"
    settings: Settings = field(default_factory=Settings)


def verifier(folder: str, screen: Screen, settings: Settings) -> Verifier:
    """The incremental re-solves where they apply (resolve.py), else the engine's."""
    if settings.full_resolves or not applies(screen.inst):
        return EngineVerifier(folder, screen.profiles, settings.resolve_options())
    return Resolver(screen, settings.resolve_time_limit, settings.relative_gap)


def analyse(folder: str | Path, settings: Settings = Settings(),
            say: Callable[[str], None] = lambda s: None,
            districts: Districts | None = None) -> Analysis:
    """Run the analysis on the instance folder `folder`."""
    folder = str(folder)
    clock: dict[str, float] = {}
    t = time.perf_counter()
    extender = Extender(folder)
    inst = extender.instance(())
    result = solve(inst, settings.options())
    clock["solve"] = time.perf_counter() - t
    say(f"allocation: {result.status}, £{result.objective:,.2f}/week, "
        f"{result.placed} placed, {result.unplaced} unplaced")
    districts = districts or Districts()
    frame = child_frame(inst, result.assignment, child_areas(inst, districts))
    with LpServer() as server:  # one warm LP from the screen to the plan's last step
        r = recruitment(folder, extender, result, frame, settings, server, say, clock)
    if r.base.objective < result.objective:
        result = improved(result, r.base)
        frame = child_frame(inst, result.assignment, child_areas(inst, districts))
    p_area = placement_areas(inst, districts)
    used = np.bincount(result.assignment[result.assignment >= 0],
                       minlength=inst.n_placements)
    beds = bed_values(inst, bed_prices(inst, result.capacity_prices, r.lp), p_area, used)
    return Analysis(folder, result, r.base, frame, totals(frame), breakdowns(frame),
                    r.lp, beds, p_area, r.recommendations, r.plan, r.n_profiles,
                    seconds=clock, settings=settings, resolves=r.resolves)


@dataclass(frozen=True)
class Recruitment:
    """The recruitment part of the analysis."""

    lp: Relaxation  # with no profile recruited
    base: Outcome  # the allocation every saving is measured from
    recommendations: list[Recommendation]
    plan: list[Step]
    n_profiles: int
    resolves: str  # "incremental" or "engine"


def recruitment(folder: str, extender: Extender, result: Result, frame: pd.DataFrame,
                settings: Settings, server: LpServer, say: Callable[[str], None],
                clock: dict[str, float]) -> Recruitment:
    """Profiles drawn from the demand met badly, screened by the relaxation, the best
    verified one by one, and the greedy plan (the bed values left to the caller)."""
    inst, base = result.instance, outcome(result)
    t = time.perf_counter()
    units = inst.units
    unit_far = np.zeros(units.n, dtype=bool)
    np.logical_or.at(unit_far, units.unit_of, frame["far"].to_numpy()
                     | ~frame["placed"].to_numpy())
    profiles = candidate_profiles(inst, np.flatnonzero(unit_far), frame["area"].to_numpy(),
                                  settings.max_profiles)
    aug = extender.instance(tuple(profiles))
    pool, _ = build_candidates(aug, limit=None)
    screen = Screen(aug, pool, inst.n_placements, tuple(profiles),
                    allocation_pairs(aug, pool, result.assignment))
    lp = screen.relax([], server)
    clock["screen"] = time.perf_counter() - t
    say(f"relaxation: £{lp.value:,.2f}/week over {len(pool):,} pairs "
        f"({len(profiles)} candidate profiles)")
    check = verifier(folder, screen, settings)
    # the allocation searched again at the screen's prices first, so that no saving
    # verified from it is in part the allocation's own improvement
    t = time.perf_counter()
    base = check.settle((), base, lp)
    clock["settle"] = time.perf_counter() - t
    if base.objective < result.objective:
        say(f"allocation improved at the screen's prices: £{base.objective:,.2f}/week")
    t = time.perf_counter()
    recs, known = recommend(screen, lp, base, settings.recommendations, check)
    clock["recommend"] = time.perf_counter() - t
    say(f"recommendations: {len(recs)} verified")
    t = time.perf_counter()
    plan = greedy_plan(screen, base, settings.budget, check, settings.tries, known, lp,
                       server)
    clock["plan"] = time.perf_counter() - t
    say(f"greedy plan: {len(plan)} recruits, verified saving "
        f"£{sum(s.verified for s in plan):,.2f}/week")
    return Recruitment(lp, base, recs, plan, len(profiles),
                       "incremental" if isinstance(check, Resolver) else "engine")


def improved(result: Result, better: Outcome) -> Result:
    """The solve's result with the better allocation `better` of its instance (whose
    bound may be higher too); proven where `better` is."""
    assert better.assignment is not None
    bound = max(result.bound, better.bound)
    gap = (better.objective - bound) / max(abs(better.objective), 1.0)
    status = Status.OPTIMAL if better.proven else result.status
    stats = {**result.stats, "improved_by_sufficiency": result.objective - better.objective}
    return replace(result, assignment=np.asarray(better.assignment, dtype=np.int64),
                   objective=better.objective, bound=bound, gap=float(gap), status=status,
                   stats=stats)


def allocation_pairs(inst: Instance, pool: Candidates, assignment: np.ndarray) -> np.ndarray:
    """Indices of the pool's pairs an allocation uses (a warm start for the relaxation)."""
    units = inst.units
    where = np.full(units.n, -2, dtype=np.int64)
    first = units.order[units.start[:-1]]
    where[:] = np.asarray(assignment)[first]
    return np.flatnonzero(pool.placement == where[pool.unit])


# --------------------------------------------------------------------------- tables


def profile_row(p: Profile) -> dict[str, Any]:
    return asdict(p)


def recruit_table(recs: list[Recommendation]) -> pd.DataFrame:
    rows = [{**profile_row(r.profile), "predicted_weekly_saving": round(r.predicted, 2),
             "verified_weekly_saving": round(r.verified, 2),
             "verified_is": saving_words(r.exact)} for r in recs]
    return pd.DataFrame(rows, columns=list(RECRUIT_COLUMNS))


def plan_table(plan: list[Step], base: Outcome) -> pd.DataFrame:
    rows = []
    total = 0.0
    for s in plan:
        total += s.verified
        rows.append({"step": s.step, **profile_row(s.profile),
                     "predicted_weekly_saving": round(s.predicted, 2),
                     "verified_weekly_saving": round(s.verified, 2),
                     "verified_is": saving_words(s.exact),
                     "cumulative_verified_saving": round(total, 2),
                     "objective_after": round(s.outcome.objective, 2),
                     "placed_after": s.outcome.placed,
                     "placed_gain": s.outcome.placed - base.placed,
                     "total_weekly_cost_after": round(s.outcome.total_weekly_cost, 2),
                     "status": s.outcome.status})
    cols = ["step", *RECRUIT_COLUMNS, "cumulative_verified_saving", "objective_after",
            "placed_after", "placed_gain", "total_weekly_cost_after", "status"]
    return pd.DataFrame(rows, columns=cols)


def summary(a: Analysis) -> dict[str, Any]:
    t = a.totals
    return {
        "instance": a.folder, "status": str(a.result.status),
        "objective": round(a.result.objective, 6), "children": t.children,
        "placed": t.placed, "unplaced": t.unplaced, "far_from_home": t.far,
        "total_weekly_cost": round(t.total_weekly_cost, 2),
        "mean_distance_km": round(t.mean_distance_km, 6),
        "relaxation": round(a.lp.value, 6), "relaxation_integral": a.lp.integral,
        "candidate_profiles": a.n_profiles,
        "recommendations": len(a.recommendations),
        # a verified saving is exact only where both solves proved their optimum (else it
        # is a lower bound: verified_is in recruit.csv and plan.csv)
        "recommendations_proven": sum(r.exact for r in a.recommendations),
        "plan_recruits": len(a.plan),
        "plan_verified_saving": round(sum(s.verified for s in a.plan), 2),
        "plan_proven": all(s.exact for s in a.plan),
        "resolve_time_limit": a.settings.resolve_time_limit,
        "resolves": a.resolves,
        "relative_gap": a.settings.relative_gap,
        "seconds": {k: round(v, 3) for k, v in a.seconds.items()},
    }


def tables(a: Analysis) -> dict[str, pd.DataFrame]:
    out = {"recruit.csv": recruit_table(a.recommendations),
           "plan.csv": plan_table(a.plan, a.base),
           "breakdown.csv": a.breakdown,
           "bed_values.csv": a.beds}
    if a.scenarios is not None:
        out["scenarios.csv"] = a.scenarios
    return out


def write(a: Analysis, out: str | Path,
          documents: Callable[[Analysis, Path], None] | None = None) -> Path:
    """Write the folder all or nothing: tables, the allocation, summary, documents."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)  # a folder to share, not mkdtemp's private one
    try:
        for name, table in tables(a).items():
            safe_frame(table).to_csv(tmp / name, index=False)
        report = make_report(a.result)
        (tmp / "solution").mkdir()
        safe_frame(report.assignments).to_csv(tmp / "solution" / "assignments.csv",
                                              index=False)
        (tmp / "solution" / "summary.json").write_text(
            json.dumps(report.summary, indent=2) + "\n")
        (tmp / "summary.json").write_text(json.dumps(summary(a), indent=2) + "\n")
        if documents is not None:
            documents(a, tmp)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / "x")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
