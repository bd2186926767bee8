"""Commissioners' analyses on the register: a capacity plan (`placement plan-capacity`).

The register exported as an interchange folder, with the commissioning files imported
alongside it (contracts.csv, spot.csv, demand.toml), is a commissioning instance; the plan
is made on it by the engine's own `run_plan_capacity` within a time limit, and kept with
its summary and the register version it was made on. Nothing in the register changes.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from . import audit
from .db import commission_plans, register_files, register_version, write
from .decisions import new_id
from .errors import Conflict, NotFound
from .register import COMMISSION_FILES, export

MAX_SCENARIOS = 500
MAX_SECONDS = 600.0


@dataclass(frozen=True)
class PlanOptions:
    scenarios: int = 20
    seed: int = 0
    time_limit_per_scenario: float = 10.0
    time_limit: float = 120.0  # the whole plan, after loading


def has_commissioning(conn: Connection) -> bool:
    return conn.execute(select(register_files.c.name).where(
        register_files.c.name == "contracts.csv")).first() is not None


def make_plan(engine: Engine, opts: PlanOptions) -> tuple[int, dict[str, Any], str]:
    """plan-capacity on the register as it is now: (version, plan.json, summary text)."""
    from optimiser.commission.report import build_plan_json, format_summary, run_plan_capacity

    with tempfile.TemporaryDirectory(prefix="placement-commission-") as tmp:
        with engine.connect() as conn:
            if not has_commissioning(conn):
                raise Conflict("the register has no commissioning data: import "
                               f"{', '.join(COMMISSION_FILES)} with the register")
            version = register_version(conn)
            export(conn, Path(tmp))
        run = run_plan_capacity(tmp, opts.scenarios, seed=opts.seed,
                                time_limit_per_scenario=opts.time_limit_per_scenario,
                                workers=0, progress=False, log=io.StringIO(),
                                deadline=time.perf_counter() + opts.time_limit)
        run.instance = "the register"  # not the temporary folder it was written to
        plan = json.loads(json.dumps(build_plan_json(run), default=str))
        return version, plan, format_summary(run)


def start_plan(engine: Engine, user: str, opts: PlanOptions) -> str:
    version, plan, summary = make_plan(engine, opts)
    pid = new_id()
    with write(engine) as conn:
        conn.execute(commission_plans.insert().values(
            id=pid, register_version=version, options=json.dumps(asdict(opts)),
            plan=json.dumps(plan), summary=summary, created_by=user,
            created_at=audit.now_iso()))
        audit.append(conn, user, "commissioning.plan", f"plan:{pid}", {
            "register_version": version, "options": asdict(opts),
            "beds": plan.get("beds", {})})
    return pid


def plan_dict(row: Any, *, whole: bool = True) -> dict[str, Any]:
    d: dict[str, Any] = {"plan_id": row.id, "register_version": row.register_version,
                         "options": json.loads(row.options), "created_by": row.created_by,
                         "created_at": row.created_at}
    if whole:
        d["plan"] = json.loads(row.plan)
        d["summary"] = row.summary
    return d


def get_plan(conn: Connection, pid: str) -> dict[str, Any]:
    row = conn.execute(select(commission_plans).where(commission_plans.c.id == pid)).first()
    if row is None:
        raise NotFound("no such capacity plan")
    return plan_dict(row)


def list_plans(conn: Connection, limit: int = 100) -> list[dict[str, Any]]:
    rows = conn.execute(select(commission_plans).order_by(
        commission_plans.c.created_at.desc()).limit(limit))
    return [plan_dict(r, whole=False) for r in rows]
