"""The JSON API under /api/v1 (service-api.md): every route names the roles that may call it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from starlette.datastructures import UploadFile

from optimiser import InstanceError

from . import audit, security
from .commissioning import MAX_SCENARIOS, PlanOptions, get_plan, list_plans, start_plan
from .commissioning import MAX_SECONDS as MAX_PLAN_SECONDS
from .db import (
    approvals,
    children,
    decisions,
    placements,
    realloc_runs,
    referrals,
    users,
    write,
)
from .decisions import (
    decide,
    open_referral,
    referral_answer_text,
    resolve_approval,
)
from .errors import Conflict, ImportRefused, NotFound
from .reallocation import MAX_SECONDS, RunOptions, get_run, run_dict, sign_off, start_run
from .register import (
    MAX_UPLOAD,
    child_row,
    edit_placement,
    import_register,
    placement_row,
    problem_dicts,
)
from .state import service

router = APIRouter(prefix="/api/v1")
Text = Annotated[str, Field(max_length=2000)]
Id = Annotated[str, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    """A request body: no unknown field, no NUL character (PostgreSQL text cannot hold one)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def no_nul(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(isinstance(v, str) and "\x00" in v
                                           for v in data.values()):
            raise ValueError("text may not contain a NUL character")
        return data


class TokenRequest(Strict):
    username: Annotated[str, Field(max_length=150)]
    password: Annotated[str, Field(max_length=1024)]


class PlacementPatch(Strict):
    vacancies: Annotated[int, Field(ge=0, le=100_000)] | None = None
    on_hold_reason: Annotated[str, Field(max_length=500)] | None = None

    @model_validator(mode="after")
    def something(self) -> PlacementPatch:
        if self.vacancies is None and self.on_hold_reason is None:
            raise ValueError("give vacancies and/or on_hold_reason")
        return self


class ReferralRequest(Strict):
    child_id: Id | None = None
    sibling_group: Id | None = None

    @model_validator(mode="after")
    def one(self) -> ReferralRequest:
        if (self.child_id is None) == (self.sibling_group is None):
            raise ValueError("give exactly one of child_id or sibling_group")
        return self


class DecisionRequest(Strict):
    placement_id: Id
    decision: Literal["accept", "decline"]
    reason: Text = ""


class ApprovalRequest(Strict):
    approve: bool
    reason: Text = ""


async def bearer(request: Request) -> security.Session:
    """The caller's session, from the tokens found lately or else the database (async:
    a call already known costs no trip to a worker thread)."""
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "not signed in: send Authorization: Bearer TOKEN",
                            headers={"WWW-Authenticate": "Bearer"})
    svc = service(request)
    sess = svc.tokens.get(token)
    if sess is None:
        found = await run_in_threadpool(security.lookup_until, svc.engine, token, "api")
        if found is None:
            raise HTTPException(401, "the token is unknown or has expired",
                                headers={"WWW-Authenticate": "Bearer"})
        sess = found[0]
        svc.tokens.put(*found)
    return sess


def allow(roles: frozenset[str]) -> Callable[..., Any]:
    async def dep(sess: Annotated[security.Session, Depends(bearer)]) -> security.User:
        if sess.user.role not in roles:
            raise HTTPException(403, f"the role {sess.user.role} may not do this")
        return sess.user
    return dep


def client_of(request: Request) -> str:
    return request.client.host if request.client else "?"


def problem_response(problems: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"detail": "the input has problems", "problems": problems},
                        status_code=422)


@router.post("/token")
def token(body: TokenRequest, request: Request) -> dict[str, Any]:
    svc = service(request)
    who = client_of(request)
    wait = svc.throttle.wait(body.username, who)
    if wait > 0:
        raise HTTPException(429, "too many failed sign-ins: try again later",
                            headers={"Retry-After": str(int(wait) + 1)})
    user = security.authenticate(svc.engine, body.username, body.password)
    if user is None:
        svc.throttle.failed(body.username, who)
        raise HTTPException(401, "wrong username or password")
    svc.throttle.succeeded(body.username, who)
    tok, _ = security.issue(svc.engine, user, "api", svc.token_ttl)
    return {"access_token": tok, "token_type": "bearer", "expires_in": int(svc.token_ttl)}


@router.post("/register/import")
async def post_import(request: Request,
                      user: Annotated[security.User, Depends(allow(security.IMPORT))]
                      ) -> Any:
    form = await request.form(max_files=20, max_fields=20, max_part_size=MAX_UPLOAD)
    files: dict[str, bytes] = {}
    for name, value in form.multi_items():
        files[name] = (await value.read() if isinstance(value, UploadFile)
                       else str(value).encode("utf-8"))
    if not files:
        return problem_response([{"file": None, "row": None, "column": None,
                                  "message": "no files sent"}])
    try:
        return await run_in_threadpool(import_register, service(request).engine,
                                       user.username, files)
    except ImportRefused as e:
        return problem_response(problem_dicts(e.problems))


@router.get("/children/{child_id}")
def get_child(child_id: str, request: Request,
              _: Annotated[security.User, Depends(allow(security.READ_REGISTER))]
              ) -> dict[str, Any]:
    with service(request).engine.connect() as conn:
        row = conn.execute(select(children).where(children.c.child_id == child_id)).first()
    if row is None:
        raise HTTPException(404, "no such child")
    return child_row(row)


@router.get("/placements/{placement_id}")
def get_placement(placement_id: str, request: Request,
                  _: Annotated[security.User, Depends(allow(security.READ_REGISTER))]
                  ) -> dict[str, Any]:
    with service(request).engine.connect() as conn:
        row = conn.execute(select(placements).where(
            placements.c.placement_id == placement_id)).first()
    if row is None:
        raise HTTPException(404, "no such placement")
    return placement_row(row)


@router.patch("/placements/{placement_id}")
def patch_placement(placement_id: str, body: PlacementPatch, request: Request,
                    user: Annotated[security.User, Depends(allow(security.EDIT_PLACEMENT))]
                    ) -> Any:
    try:
        return edit_placement(service(request).engine, user.username, placement_id,
                              body.vacancies, body.on_hold_reason)
    except NotFound as e:
        raise HTTPException(404, str(e)) from e
    except ImportRefused as e:
        return problem_response(problem_dicts(e.problems))


@router.post("/referrals", status_code=201)
def post_referral(body: ReferralRequest, request: Request,
                  user: Annotated[security.User, Depends(allow(security.REFER))]
                  ) -> Response:
    try:
        rid = open_referral(service(request).engine, user.username, body.child_id,
                            body.sibling_group)
    except NotFound as e:
        raise HTTPException(404, str(e)) from e
    # a response as it is: no validation of the answer on another worker thread
    return JSONResponse({"referral_id": rid}, status_code=201)


@router.get("/referrals/{referral_id}")
def get_referral(referral_id: str, request: Request,
                 _: Annotated[security.User, Depends(allow(security.READ_DECISIONS))]
                 ) -> dict[str, Any]:
    with service(request).engine.connect() as conn:
        ref = conn.execute(select(referrals).where(referrals.c.id == referral_id)).first()
        if ref is None:
            raise HTTPException(404, "no such referral")
        decs = conn.execute(select(decisions).where(decisions.c.referral_id == referral_id)
                            .order_by(decisions.c.id)).mappings().all()
        apps = conn.execute(select(approvals).where(approvals.c.referral_id == referral_id)
                            ).mappings().all()
    return {"referral_id": ref.id, "child_id": ref.child_id,
            "sibling_group": ref.sibling_group, "status": ref.status,
            "created_by": ref.created_by, "created_at": ref.created_at,
            "decisions": [dict(d) for d in decs], "approvals": [dict(a) for a in apps]}


@router.get("/referrals/{referral_id}/matches")
def get_matches(referral_id: str, request: Request,
                _: Annotated[security.User, Depends(allow(security.REFER))],
                top: Annotated[int | None, Query(ge=1, le=100_000)] = None) -> Response:
    svc = service(request)
    try:
        text = referral_answer_text(svc.engine, svc.matchers, referral_id, top)
    except NotFound as e:
        raise HTTPException(404, str(e)) from e
    # the JSON text kept with the answer (tens of thousands of ruled-out rows on a
    # national register): sent as it is
    return Response(text, media_type="application/json")


@router.post("/referrals/{referral_id}/decision")
def post_decision(referral_id: str, body: DecisionRequest, request: Request,
                  user: Annotated[security.User, Depends(allow(security.REFER))]) -> Any:
    svc = service(request)
    try:
        out = decide(svc.engine, svc.matchers, referral_id, user.username, body.placement_id,
                     body.decision, body.reason)
    except NotFound as e:
        raise HTTPException(404, str(e)) from e
    except Conflict as e:
        return JSONResponse({"detail": str(e), "rule": e.rule}, status_code=409)
    return JSONResponse(out.to_dict(), status_code=202 if out.approval_id else 200)


@router.get("/approvals")
def list_approvals(request: Request,
                   _: Annotated[security.User, Depends(allow(security.APPROVE))],
                   status: Annotated[str, Query(max_length=20)] = "pending"
                   ) -> dict[str, Any]:
    with service(request).engine.connect() as conn:
        rows = conn.execute(select(approvals).where(approvals.c.status == status)
                            .order_by(approvals.c.requested_at)).mappings().all()
    return {"approvals": [dict(r) for r in rows]}


@router.post("/approvals/{approval_id}")
def post_approval(approval_id: str, body: ApprovalRequest, request: Request,
                  user: Annotated[security.User, Depends(allow(security.APPROVE))]) -> Any:
    svc = service(request)
    try:
        out = resolve_approval(svc.engine, svc.matchers, approval_id, user.username,
                               body.approve, body.reason)
    except NotFound as e:
        raise HTTPException(404, str(e)) from e
    except Conflict as e:
        return JSONResponse({"detail": str(e), "rule": e.rule}, status_code=409)
    return out.to_dict()


@router.get("/audit")
def get_audit(request: Request,
              _: Annotated[security.User, Depends(allow(security.READ_AUDIT))],
              after: Annotated[int, Query(ge=0)] = 0,
              limit: Annotated[int | None, Query(ge=1, le=100_000)] = None
              ) -> dict[str, Any]:
    with service(request).engine.connect() as conn:
        return {"events": audit.events(conn, after=after, limit=limit)}


class UserRequest(Strict):
    username: Annotated[str, Field(min_length=1, max_length=150)]
    role: Literal["officer", "manager", "commissioner", "admin"]
    password: Annotated[str, Field(min_length=8, max_length=1024)]


@router.post("/users", status_code=201)
def post_user(body: UserRequest, request: Request,
              user: Annotated[security.User, Depends(allow(security.MANAGE_USERS))]
              ) -> dict[str, Any]:
    with write(service(request).engine) as conn:
        try:
            uid = security.add_user(conn, body.username, body.role, body.password)
        except security.UserExists as e:
            raise HTTPException(409, str(e)) from e
        except ValueError as e:
            raise HTTPException(422, str(e)) from e
        audit.append(conn, user.username, "user.add", f"user:{uid}", {"role": body.role})
    return {"id": uid, "username": body.username, "role": body.role}


class ReallocationRequest(Strict):
    time_limit: Annotated[float, Field(gt=0, le=MAX_SECONDS)] = 20.0
    max_moves: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    min_saving: Annotated[float, Field(ge=0, le=1e9)] | None = None


class SignOffRequest(Strict):
    approve: bool
    chains: Annotated[list[Annotated[int, Field(ge=0)]], Field(max_length=100_000)] | None = None
    reason: Text = ""


@router.post("/reallocations", status_code=201)
def post_reallocation(body: ReallocationRequest, request: Request,
                      user: Annotated[security.User, Depends(allow(security.SIGN_OFF))]
                      ) -> dict[str, Any]:
    engine = service(request).engine
    try:
        rid = start_run(engine, user.username, RunOptions(body.time_limit, body.max_moves,
                                                          body.min_saving))
    except InstanceError as e:
        raise HTTPException(409, "the register cannot be planned: import one first") from e
    with engine.connect() as conn:
        return get_run(conn, rid)


@router.get("/reallocations")
def list_reallocations(request: Request,
                       _: Annotated[security.User, Depends(allow(security.SIGN_OFF))]
                       ) -> dict[str, Any]:
    with service(request).engine.connect() as conn:
        rows = conn.execute(select(realloc_runs).order_by(realloc_runs.c.created_at.desc())
                            .limit(100)).all()
    return {"runs": [{k: v for k, v in run_dict(r).items()
                      if k not in ("moves", "voids", "chains")} for r in rows]}


@router.get("/reallocations/{run_id}")
def get_reallocation(run_id: str, request: Request,
                     _: Annotated[security.User, Depends(allow(security.SIGN_OFF))]
                     ) -> dict[str, Any]:
    with service(request).engine.connect() as conn:
        try:
            return get_run(conn, run_id)
        except NotFound as e:
            raise HTTPException(404, str(e)) from e


@router.post("/reallocations/{run_id}/signoff")
def post_signoff(run_id: str, body: SignOffRequest, request: Request,
                 user: Annotated[security.User, Depends(allow(security.SIGN_OFF))]) -> Any:
    try:
        return sign_off(service(request).engine, run_id, user.username, body.approve,
                        body.chains, body.reason)
    except NotFound as e:
        raise HTTPException(404, str(e)) from e
    except Conflict as e:
        return JSONResponse({"detail": str(e)}, status_code=409)


@router.get("/decisions")
def list_decisions(request: Request,
                   _: Annotated[security.User, Depends(allow(security.READ_DECISIONS))],
                   after: Annotated[int, Query(ge=0)] = 0,
                   limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> dict[str, Any]:
    """Every decision in order (a commissioner reads these without seeing matches)."""
    with service(request).engine.connect() as conn:
        rows = conn.execute(select(decisions).where(decisions.c.id > after)
                            .order_by(decisions.c.id).limit(limit)).mappings().all()
    return {"decisions": [dict(r) for r in rows]}


@router.get("/users")
def list_users(request: Request,
               _: Annotated[security.User, Depends(allow(security.MANAGE_USERS))]
               ) -> dict[str, Any]:
    with service(request).engine.connect() as conn:
        rows = conn.execute(select(users.c.id, users.c.username, users.c.role,
                                   users.c.created_at).order_by(users.c.id)).mappings().all()
    return {"users": [dict(r) for r in rows]}


class CapacityPlanRequest(Strict):
    scenarios: Annotated[int, Field(ge=1, le=MAX_SCENARIOS)] = 20
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    time_limit_per_scenario: Annotated[float, Field(gt=0, le=MAX_PLAN_SECONDS)] = 10.0
    time_limit: Annotated[float, Field(gt=0, le=MAX_PLAN_SECONDS)] = 120.0


@router.post("/commissioning/plans", status_code=201)
def post_capacity_plan(body: CapacityPlanRequest, request: Request,
                       user: Annotated[security.User, Depends(allow(security.ANALYSE))]
                       ) -> Any:
    """plan-capacity on the register as it is (its commissioning files imported with it)."""
    engine = service(request).engine
    try:
        pid = start_plan(engine, user.username, PlanOptions(
            body.scenarios, body.seed, body.time_limit_per_scenario, body.time_limit))
    except Conflict as e:
        return JSONResponse({"detail": str(e)}, status_code=409)
    except InstanceError as e:
        raise HTTPException(409, "the register cannot be planned: import it again") from e
    with engine.connect() as conn:
        return get_plan(conn, pid)


@router.get("/commissioning/plans")
def get_capacity_plans(request: Request,
                       _: Annotated[security.User, Depends(allow(security.ANALYSE))]
                       ) -> dict[str, Any]:
    with service(request).engine.connect() as conn:
        return {"plans": list_plans(conn)}


@router.get("/commissioning/plans/{plan_id}")
def get_capacity_plan(plan_id: str, request: Request,
                      _: Annotated[security.User, Depends(allow(security.ANALYSE))]
                      ) -> dict[str, Any]:
    with service(request).engine.connect() as conn:
        try:
            return get_plan(conn, plan_id)
        except NotFound as e:
            raise HTTPException(404, str(e)) from e
