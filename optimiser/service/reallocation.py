"""The overnight re-allocation as a run a manager signs off.

Starting a run solves the engine's re-allocation (`optimiser.reallocate`) on the register
as it is and keeps the plan: its moves with their reasons, the void beds and the chains
(changes linked by a freed bed). Nothing changes in the register until a manager signs the
run off, wholly or chain by chain; a chain is the unit because its changes only work
together (a child takes a bed another child leaves). A plan made on an older register is
refused at sign-off: it was optimal for a register that no longer exists.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select

from . import audit
from .db import bump_version, children, placements, realloc_runs, register_version, write
from .decisions import new_id
from .errors import Conflict, NotFound
from .register import build_instance

MAX_SECONDS = 120.0


@dataclass(frozen=True)
class RunOptions:
    time_limit: float = 20.0
    max_moves: int | None = None
    min_saving: float | None = None


def records(df: Any) -> list[dict[str, Any]]:
    """A plan table as JSON-safe rows (NaN -> null, numpy scalars -> Python)."""
    out = []
    for row in df.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for k, v in row.items():
            if hasattr(v, "item"):
                v = v.item()
            if isinstance(v, float) and math.isnan(v):
                v = None
            clean[str(k)] = v
        out.append(clean)
    return out


def plan_register(engine: Engine, opts: RunOptions) -> tuple[int, dict[str, Any]]:
    """Solve the re-allocation of the register as it is now (no change to it)."""
    from optimiser.reallocate import ReallocOptions, make_plan, reallocate

    with engine.connect() as conn:
        version = register_version(conn)
        inst = build_instance(conn)
    result = reallocate(inst, ReallocOptions(time_limit=opts.time_limit,
                                             max_moves=opts.max_moves,
                                             min_saving=opts.min_saving, workers=1))
    report, tables = make_plan(result)
    summary = dict(report.summary.get("reallocation", {}))
    summary["status"] = report.summary.get("status")
    plan = {"summary": summary, "moves": records(tables["moves.csv"]),
            "voids": records(tables["voids.csv"]), "chains": records(tables["chains.csv"])}
    return version, json.loads(json.dumps(plan, default=str))


def start_run(engine: Engine, user: str, opts: RunOptions) -> str:
    version, plan = plan_register(engine, opts)
    rid = new_id()
    with write(engine) as conn:
        conn.execute(realloc_runs.insert().values(
            id=rid, status="proposed", register_version=version,
            options=json.dumps(opts.__dict__), plan=json.dumps(plan), created_by=user,
            created_at=audit.now_iso()))
        audit.append(conn, user, "reallocation.start", f"reallocation:{rid}", {
            "register_version": version, "options": opts.__dict__,
            "moves": len(plan["moves"]), "changes": len(plan["chains"]),
            "chains": len({c["chain_id"] for c in plan["chains"]})})
    return rid


def run_dict(row: Any) -> dict[str, Any]:
    return {"run_id": row.id, "status": row.status, "register_version": row.register_version,
            "options": json.loads(row.options), "created_by": row.created_by,
            "created_at": row.created_at, "decided_by": row.decided_by,
            "decided_at": row.decided_at,
            "approved_chains": json.loads(row.approved_chains) if row.approved_chains else None,
            **json.loads(row.plan)}


def get_run(conn: Connection, rid: str) -> dict[str, Any]:
    row = conn.execute(select(realloc_runs).where(realloc_runs.c.id == rid)).first()
    if row is None:
        raise NotFound("no such re-allocation run")
    return run_dict(row)


def sign_off(engine: Engine, rid: str, user: str, approve: bool, chains: list[int] | None,
             reason: str) -> dict[str, Any]:
    """Apply the approved chains (all when `chains` is None) in one transaction, or discard."""
    with write(engine) as conn:
        run = get_run(conn, rid)
        if run["status"] != "proposed":
            raise Conflict(f"this run is {run['status'].replace('_', ' ')} already")
        known = sorted({int(c["chain_id"]) for c in run["chains"]})
        picked = known if chains is None else sorted(set(chains))
        unknown = [c for c in picked if c not in known]
        if unknown:
            raise Conflict(f"no chain {unknown[0]} in this run")
        changes: list[dict[str, Any]] = []
        if approve and picked:
            if register_version(conn) != run["register_version"]:
                raise Conflict("the register changed since this run was planned: start a "
                               "new run")
            changes = [c for c in run["chains"] if int(c["chain_id"]) in set(picked)]
            apply_changes(conn, changes)
        conn.execute(realloc_runs.update().where(realloc_runs.c.id == rid).values(
            status="signed_off" if approve else "discarded", decided_by=user,
            decided_at=audit.now_iso(), approved_chains=json.dumps(picked if approve else [])))
        audit.append(conn, user, "reallocation.signoff" if approve else "reallocation.discard",
                     f"reallocation:{rid}", {
                         "chains": picked if approve else [], "reason": reason,
                         "changes": [{"child_id": c["child_id"], "from": c["from_placement"],
                                      "to": c["to_placement"]} for c in changes]})
    return {"status": "signed_off" if approve else "discarded",
            "chains": picked if approve else [], "changes": len(changes)}


def apply_changes(conn: Connection, changes: list[dict[str, Any]]) -> None:
    """Step by step: every child of a step leaves first, then every child arrives (so
    children who swap beds in one step both find room)."""
    for step in sorted({int(c["step"]) for c in changes}):
        now = [c for c in changes if int(c["step"]) == step]
        for c in now:
            moved = conn.execute(children.update().where(
                children.c.child_id == c["child_id"],
                children.c.current_placement == (c["from_placement"] or "")).values(
                current_placement=c["to_placement"] or ""))
            if moved.rowcount != 1:
                raise Conflict(f"child {c['child_id']} is not where the plan found it")
            if c["from_placement"]:
                conn.execute(placements.update().where(
                    placements.c.placement_id == c["from_placement"]).values(
                    vacancies=placements.c.vacancies + 1))
        for c in now:
            if not c["to_placement"]:
                continue
            taken = conn.execute(placements.update().where(
                placements.c.placement_id == c["to_placement"],
                placements.c.vacancies >= 1).values(vacancies=placements.c.vacancies - 1))
            if taken.rowcount != 1:
                raise Conflict(f"placement {c['to_placement']} has no room for "
                               f"{c['child_id']}")
    bump_version(conn, child_ids=[c["child_id"] for c in changes],
                 placement_ids=[p for c in changes
                                for p in (c["from_placement"], c["to_placement"]) if p])
