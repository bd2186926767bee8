"""Pages for people: server-rendered, working without JavaScript, every form CSRF-protected.

A page session is a cookie holding a random token (HttpOnly, SameSite=Strict); the
database keeps its hash and a CSRF secret that every form must send back. The sign-in form,
before any session, uses a double-submit cookie instead. Templates autoescape everything.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import desc, func, select, true
from starlette.datastructures import UploadFile

from optimiser import InstanceError

from . import audit, security
from .commissioning import MAX_SCENARIOS, PlanOptions, get_plan, list_plans, start_plan
from .db import approvals, children, decisions, placements, realloc_runs, referrals
from .decisions import decide, open_referral, referral_answer, resolve_approval
from .errors import Conflict, ImportRefused, NotFound
from .reallocation import RunOptions, get_run, sign_off, start_run
from .register import (
    MAX_UPLOAD,
    REQUIRED_UPLOADS,
    child_row,
    edit_placement,
    import_register,
    placement_row,
    problem_dicts,
)
from .state import service

HERE = Path(__file__).parent
SESSION_COOKIE = "placement_session"
PRE_CSRF_COOKIE = "placement_csrf"
NOTICES = {  # fixed texts: a query parameter never reaches the page as it was sent
    "placed": "The decision is recorded: the child is placed.",
    "awaiting_approval": "The decision is recorded: the placement waits for a manager's "
                         "approval.",
    "declined": "The decline is recorded.",
    "approved": "Approved: the child is placed.",
    "refused": "Refused: the referral is open again.",
    "saved": "The placement is changed.",
    "imported": "The register is imported.",
    "signed_off": "Signed off: the approved chains are in the register.",
    "discarded": "The run is discarded: the register is unchanged.",
}

router = APIRouter(include_in_schema=False)
templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                        autoescape=select_autoescape(default=True, default_for_string=True))


class SignInNeeded(Exception):
    pass


def install(app: FastAPI) -> None:
    """Static files and the sign-in redirect."""
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(SignInNeeded)
    async def to_sign_in(request: Request, exc: SignInNeeded) -> Response:
        return RedirectResponse("/sign-in", status_code=303)


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def current(request: Request) -> security.Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return security.lookup(service(request).engine, token, "web")


def need(roles: frozenset[str]) -> Callable[..., security.Session]:
    def dep(request: Request) -> security.Session:
        sess = current(request)
        if sess is None:
            raise SignInNeeded()
        if sess.user.role not in roles:
            raise HTTPException(403, "Your role may not see this page.")
        return sess
    return dep


def no_nul(*texts: str) -> None:
    if any("\x00" in t for t in texts):
        raise HTTPException(422, "Text may not contain a NUL character.")


def check_csrf(sess: security.Session, token: str) -> None:
    if not sess.csrf or not secrets.compare_digest(sess.csrf.encode(), token.encode()):
        raise HTTPException(403, "The form's security token is missing or out of date. "
                                 "Go back, reload the page and try again.")


def render(request: Request, name: str, title: str, sess: security.Session | None = None,
           status: int = 200, **ctx: Any) -> HTMLResponse:
    done = request.query_params.get("done", "")
    ctx.setdefault("notice", NOTICES.get(done))
    ctx.setdefault("notice_success", done in NOTICES)
    ctx.setdefault("errors", {})
    errors = ctx["errors"]
    ctx.setdefault("error_summary", [(k, v) for k, v in errors.items()])
    ctx.setdefault("csrf", sess.csrf if sess else "")
    html = templates.get_template(name).render(
        title=title, user=sess.user if sess else None, **ctx)
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, status: int, message: str) -> Response:
    titles = {401: "Sign in needed", 403: "You cannot do this", 404: "Page not found",
              409: "This cannot be done now", 422: "There is a problem with the form",
              429: "Too many attempts"}
    return render(request, "error.html", titles.get(status, "Something went wrong"),
                  current(request), status=status, message=message)


# --------------------------------------------------------------------------- sign in


@router.get("/")
def home(request: Request) -> Response:
    sess = current(request)
    if sess is None:
        return RedirectResponse("/sign-in", status_code=303)
    start = {"admin": "/import", "commissioner": "/register"}.get(sess.user.role, "/referrals")
    return RedirectResponse(start, status_code=303)


def sign_in_page(request: Request, status: int = 200, username: str = "",
                 errors: dict[str, str] | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    resp = render(request, "sign_in.html", "Sign in", None, status=status, username=username,
                  errors=errors or {}, csrf=token)
    resp.set_cookie(PRE_CSRF_COOKIE, token, httponly=True, samesite="strict",
                    secure=secure(request), path="/sign-in")
    return resp


@router.get("/sign-in")
def sign_in_form(request: Request) -> Response:
    return sign_in_page(request)


@router.post("/sign-in")
def sign_in(request: Request, username: Annotated[str, Form(max_length=150)] = "",
            password: Annotated[str, Form(max_length=1024)] = "",
            csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    cookie = request.cookies.get(PRE_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie.encode(), csrf_token.encode()):
        raise HTTPException(403, "The form's security token is missing or out of date. "
                                 "Reload the sign-in page and try again.")
    no_nul(username, password)
    svc = service(request)
    who = request.client.host if request.client else "?"
    if not username or not password:
        errors = {k: f"Enter your {k}" for k, v in (("username", username),
                                                     ("password", password)) if not v}
        return sign_in_page(request, 422, username, errors)
    if svc.throttle.wait(username, who) > 0:
        return sign_in_page(request, 429, username, {
            "password": "Too many failed attempts. Wait a few minutes and try again"})
    user = security.authenticate(svc.engine, username, password)
    if user is None:
        svc.throttle.failed(username, who)
        return sign_in_page(request, 401, username,
                            {"password": "The username or password is not right"})
    svc.throttle.succeeded(username, who)
    token, _ = security.issue(svc.engine, user, "web", svc.session_ttl)
    resp = RedirectResponse("/", status_code=303)
    resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict",
                    secure=secure(request), path="/", max_age=int(svc.session_ttl))
    resp.delete_cookie(PRE_CSRF_COOKIE, path="/sign-in")
    return resp


@router.post("/sign-out")
def sign_out(request: Request, csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    sess = current(request)
    if sess is not None:
        check_csrf(sess, csrf_token)
        security.revoke(service(request).engine, sess.token_hash)
    resp = RedirectResponse("/sign-in", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


# --------------------------------------------------------------------------- the register


PAGE_ROWS = 50
PAGE_RANKED = 20  # the best placements shown at first; `?all=1` shows every one
PAGE_RULED_OUT = 25  # per rule


def pager(total: int, page: int) -> dict[str, int]:
    pages = max(1, -(-total // PAGE_ROWS))
    page = min(max(1, page), pages)
    return {"page": page, "pages": pages, "total": total,
            "first": (page - 1) * PAGE_ROWS + 1 if total else 0,
            "last": min(page * PAGE_ROWS, total)}


def register_rows(request: Request, kind: str, q: str, page: int
                  ) -> tuple[list[dict[str, Any]], dict[str, int]]:
    table, key, to_dict = ((placements, placements.c.placement_id, placement_row)
                           if kind == "placements" else
                           (children, children.c.child_id, child_row))
    where = key.startswith(q.strip(), autoescape=True) if q.strip() else true()
    with service(request).engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(table).where(where))
                    .scalar_one())
        pg = pager(total, page)
        rows = conn.execute(select(table).where(where).order_by(table.c.row_no)
                            .offset((pg["page"] - 1) * PAGE_ROWS).limit(PAGE_ROWS))
        return [to_dict(r) for r in rows], pg


@router.get("/register")
def register_page(request: Request,
                  sess: Annotated[security.Session, Depends(need(security.READ_REGISTER))],
                  q: Annotated[str, Query(max_length=200)] = "",
                  page: Annotated[int, Query(ge=1, le=1_000_000)] = 1) -> Response:
    no_nul(q)
    rows, pg = register_rows(request, "placements", q, page)
    return render(request, "register.html", "The register: placements", sess, kind="placements",
                  rows=rows, pg=pg, q=q, active="register",
                  can_edit=sess.user.role in security.EDIT_PLACEMENT)


@router.get("/register/children")
def register_children(request: Request,
                      sess: Annotated[security.Session, Depends(need(security.READ_REGISTER))],
                      q: Annotated[str, Query(max_length=200)] = "",
                      page: Annotated[int, Query(ge=1, le=1_000_000)] = 1) -> Response:
    no_nul(q)
    rows, pg = register_rows(request, "children", q, page)
    return render(request, "register.html", "The register: children", sess, kind="children",
                  rows=rows, pg=pg, q=q, active="register", can_edit=False)


def placement_or_404(request: Request, placement_id: str) -> dict[str, Any]:
    with service(request).engine.connect() as conn:
        row = conn.execute(select(placements).where(
            placements.c.placement_id == placement_id)).first()
    if row is None:
        raise HTTPException(404, "There is no such placement.")
    return placement_row(row)


@router.get("/placements/{placement_id}")
def placement_page(request: Request, placement_id: str,
                   sess: Annotated[security.Session, Depends(need(security.EDIT_PLACEMENT))]
                   ) -> Response:
    return render(request, "placement.html", f"Change placement {placement_id}", sess,
                  p=placement_or_404(request, placement_id), active="register")


@router.post("/placements/{placement_id}")
def placement_save(request: Request, placement_id: str,
                   sess: Annotated[security.Session, Depends(need(security.EDIT_PLACEMENT))],
                   csrf_token: Annotated[str, Form(max_length=100)] = "",
                   vacancies: Annotated[str, Form(max_length=20)] = "",
                   on_hold_reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    check_csrf(sess, csrf_token)
    no_nul(on_hold_reason)
    p = placement_or_404(request, placement_id)
    text = vacancies.strip()
    if not text.isdigit() or int(text) > 100_000:
        p.update(vacancies=vacancies, on_hold_reason=on_hold_reason)
        return render(request, "placement.html", f"Change placement {placement_id}", sess,
                      status=422, p=p, errors={"vacancies": "Enter a whole number of beds, "
                                                            "0 or more"})
    try:
        edit_placement(service(request).engine, sess.user.username, placement_id, int(text),
                       on_hold_reason)
    except ImportRefused as e:
        return render(request, "placement.html", f"Change placement {placement_id}", sess,
                      status=422, p=p, errors={"on_hold_reason": e.problems[0].message})
    return RedirectResponse("/register?done=saved", status_code=303)


# --------------------------------------------------------------------------- referrals


def referrals_page(request: Request, sess: security.Session, status: int = 200,
                   who: str = "", errors: dict[str, str] | None = None) -> HTMLResponse:
    with service(request).engine.connect() as conn:
        rows = conn.execute(select(referrals).order_by(desc(referrals.c.created_at))
                            .limit(100)).mappings().all()
    return render(request, "referrals.html", "Referrals", sess, status=status,
                  referrals=rows, who=who, errors=errors or {}, active="referrals",
                  can_refer=sess.user.role in security.REFER)


@router.get("/referrals")
def referrals_list(request: Request,
                   sess: Annotated[security.Session, Depends(need(security.READ_DECISIONS))]
                   ) -> Response:
    return referrals_page(request, sess)


@router.post("/referrals")
def referral_open(request: Request,
                  sess: Annotated[security.Session, Depends(need(security.REFER))],
                  csrf_token: Annotated[str, Form(max_length=100)] = "",
                  who: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(sess, csrf_token)
    no_nul(who)
    ident = who.strip()
    if not ident:
        return referrals_page(request, sess, 422, who, {"who": "Enter a child id or a "
                                                                "sibling group"})
    engine = service(request).engine
    with engine.connect() as conn:
        is_child = conn.execute(select(children.c.child_id).where(
            children.c.child_id == ident)).first() is not None
    try:
        rid = open_referral(engine, sess.user.username, ident if is_child else None,
                            None if is_child else ident)
    except NotFound:
        return referrals_page(request, sess, 404, who, {
            "who": "There is no child or sibling group with that id in the register"})
    return RedirectResponse(f"/referrals/{rid}", status_code=303)


def referral_view(request: Request, sess: security.Session, rid: str, status: int = 200,
                  errors: dict[str, str] | None = None) -> HTMLResponse:
    svc = service(request)
    try:
        data = referral_answer(svc.engine, svc.matchers, rid)
    except NotFound as e:
        raise HTTPException(404, str(e)) from e
    with svc.engine.connect() as conn:
        ref = conn.execute(select(referrals).where(referrals.c.id == rid)).mappings().one()
        decs = conn.execute(select(decisions).where(decisions.c.referral_id == rid)
                            .order_by(decisions.c.id)).mappings().all()
    choices = [(r["placement_id"], f"{r['placement_id']}: rank {i}, score "
                f"£{r['score']:,.2f} a week") for i, r in enumerate(data["ranked"], 1)]
    choices += [(n["placement_id"], f"{n['placement_id']}: needs a manager's approval "
                 f"({n['rule'].replace('_', ' ')})") for n in data["near_misses"]]
    who = data["referral"]
    ids = who["child_ids"]
    label = (f"child {ids[0]}" if len(ids) == 1 else
             f"sibling group {who['sibling_group']} ({len(ids)} children: {', '.join(ids)})")
    show_all = request.query_params.get("all") == "1"
    m = {"referral": {"label": label, "note": who["note"], "child_ids": ids},
         "ranked_total": data["ranked_total"],
         "ranked": data["ranked"] if show_all else data["ranked"][:PAGE_RANKED],
         "near_misses": data["near_misses"], "ruled_out": data["ruled_out"]}
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for r in data["ruled_out"]:
        by_rule.setdefault(r["rule"], []).append(r)
    return render(request, "referral.html", f"Referral {rid}", sess, status=status, ref=ref,
                  m=m, ruled_out=list(by_rule.items()), choices=choices, decisions=decs,
                  errors=errors or {}, active="referrals", show_all=show_all,
                  per_rule=None if show_all else PAGE_RULED_OUT)


@router.get("/referrals/{rid}")
def referral_page(request: Request, rid: str,
                  sess: Annotated[security.Session, Depends(need(security.REFER))]
                  ) -> Response:
    return referral_view(request, sess, rid)


@router.post("/referrals/{rid}/decision")
def referral_decide(request: Request, rid: str,
                    sess: Annotated[security.Session, Depends(need(security.REFER))],
                    csrf_token: Annotated[str, Form(max_length=100)] = "",
                    placement_id: Annotated[str, Form(max_length=200)] = "",
                    decision: Annotated[str, Form(max_length=10)] = "",
                    reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    check_csrf(sess, csrf_token)
    no_nul(placement_id, reason)
    if decision not in ("accept", "decline") or not placement_id:
        return referral_view(request, sess, rid, 422, {
            "placement_id": "Choose a placement and accept or decline"})
    svc = service(request)
    try:
        out = decide(svc.engine, svc.matchers, rid, sess.user.username, placement_id,
                     decision, reason)
    except NotFound as e:
        raise HTTPException(404, str(e)) from e
    except Conflict as e:
        return referral_view(request, sess, rid, 409, {"placement_id": str(e)})
    return RedirectResponse(f"/referrals/{rid}?done={out.status}", status_code=303)


# --------------------------------------------------------------------------- approvals


def approvals_view(request: Request, sess: security.Session, status: int = 200,
                   errors: dict[str, str] | None = None) -> HTMLResponse:
    with service(request).engine.connect() as conn:
        rows = conn.execute(select(approvals).where(approvals.c.status == "pending")
                            .order_by(approvals.c.requested_at)).mappings().all()
    return render(request, "approvals.html", "Approvals", sess, status=status, pending=rows,
                  errors=errors or {}, active="approvals")


@router.get("/approvals")
def approvals_page(request: Request,
                   sess: Annotated[security.Session, Depends(need(security.APPROVE))]
                   ) -> Response:
    return approvals_view(request, sess)


@router.post("/approvals/{aid}")
def approval_decide(request: Request, aid: str,
                    sess: Annotated[security.Session, Depends(need(security.APPROVE))],
                    csrf_token: Annotated[str, Form(max_length=100)] = "",
                    approve: Annotated[str, Form(max_length=5)] = "",
                    reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    check_csrf(sess, csrf_token)
    no_nul(reason)
    if approve not in ("yes", "no"):
        return approvals_view(request, sess, 422, {"": "Choose approve or refuse"})
    svc = service(request)
    try:
        out = resolve_approval(svc.engine, svc.matchers, aid, sess.user.username,
                               approve == "yes", reason)
    except NotFound as e:
        raise HTTPException(404, str(e)) from e
    except Conflict as e:
        return approvals_view(request, sess, 409, {"": str(e)})
    done = "approved" if out.status == "placed" else "refused"
    return RedirectResponse(f"/approvals?done={done}", status_code=303)


# --------------------------------------------------------------------------- audit, import


@router.get("/audit")
def audit_page(request: Request,
               sess: Annotated[security.Session, Depends(need(security.READ_AUDIT))]
               ) -> Response:
    engine = service(request).engine
    verdict = audit.verify(engine)
    with engine.connect() as conn:
        events = audit.events(conn)
    for e in events:
        e["detail_text"] = json.dumps(e["detail"], ensure_ascii=False, sort_keys=True)
    return render(request, "audit.html", "Audit trail", sess, verdict=verdict,
                  events=list(reversed(events[-500:])), active="audit")


@router.get("/import")
def import_page(request: Request,
                sess: Annotated[security.Session, Depends(need(security.IMPORT))]
                ) -> Response:
    return render(request, "import.html", "Import the register", sess,
                  files=REQUIRED_UPLOADS, active="import")


@router.post("/import")
async def import_post(request: Request,
                      sess: Annotated[security.Session, Depends(need(security.IMPORT))]
                      ) -> Response:
    form = await request.form(max_files=20, max_fields=20, max_part_size=MAX_UPLOAD)
    check_csrf(sess, str(form.get("csrf_token", "")))
    files: dict[str, bytes] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile) and value.filename:
            files[name] = await value.read()
    try:
        if not files:
            raise ImportRefused([])
        await run_in_threadpool(import_register, service(request).engine,
                                sess.user.username, files)
    except ImportRefused as e:
        problems = problem_dicts(e.problems) or [
            {"file": "the form", "row": None, "column": None, "message": "choose the files"}]
        return render(request, "import.html", "Import the register", sess, status=422,
                      files=REQUIRED_UPLOADS, problems=problems, active="import")
    return RedirectResponse("/import?done=imported", status_code=303)


# --------------------------------------------------------------------------- re-allocation


@router.get("/reallocations")
def reallocations_page(request: Request,
                       sess: Annotated[security.Session, Depends(need(security.SIGN_OFF))]
                       ) -> Response:
    return reallocations_view(request, sess)


def reallocations_view(request: Request, sess: security.Session, status: int = 200,
                       errors: dict[str, str] | None = None) -> HTMLResponse:
    with service(request).engine.connect() as conn:
        runs = conn.execute(select(realloc_runs.c.id, realloc_runs.c.created_at,
                                   realloc_runs.c.created_by, realloc_runs.c.status)
                            .order_by(desc(realloc_runs.c.created_at)).limit(50)).all()
    return render(request, "reallocations.html", "Overnight re-allocation", sess,
                  status=status, runs=runs, errors=errors or {}, active="reallocations")


@router.post("/reallocations")
def reallocation_start(request: Request,
                       sess: Annotated[security.Session, Depends(need(security.SIGN_OFF))],
                       csrf_token: Annotated[str, Form(max_length=100)] = "",
                       max_moves: Annotated[str, Form(max_length=20)] = "") -> Response:
    check_csrf(sess, csrf_token)
    text = max_moves.strip()
    if text and not text.isdigit():
        return reallocations_view(request, sess, 422, {
            "max_moves": "Enter a whole number, or leave it empty for no limit"})
    try:
        rid = start_run(service(request).engine, sess.user.username,
                        RunOptions(max_moves=int(text) if text else None))
    except InstanceError:
        return reallocations_view(request, sess, 409, {
            "max_moves": "The register cannot be planned: import one first"})
    return RedirectResponse(f"/reallocations/{rid}", status_code=303)


@router.get("/reallocations/{run_id}")
def reallocation_page(request: Request, run_id: str,
                      sess: Annotated[security.Session, Depends(need(security.SIGN_OFF))]
                      ) -> Response:
    with service(request).engine.connect() as conn:
        try:
            run = get_run(conn, run_id)
        except NotFound as e:
            raise HTTPException(404, str(e)) from e
    by_chain: dict[int, list[dict[str, Any]]] = {}
    for c in run["chains"]:
        by_chain.setdefault(int(c["chain_id"]), []).append(c)
    empty = [v for v in run["voids"] if v.get("status") != "filled"]
    return render(request, "reallocation.html", f"Re-allocation run {run_id}", sess, run=run,
                  chains=sorted(by_chain.items()), empty_voids=empty, active="reallocations")


@router.post("/reallocations/{run_id}/signoff")
async def reallocation_signoff(request: Request, run_id: str,
                               sess: Annotated[security.Session,
                                               Depends(need(security.SIGN_OFF))]) -> Response:
    form = await request.form(max_fields=100_000)
    check_csrf(sess, str(form.get("csrf_token", "")))
    reason = str(form.get("reason", ""))[:2000]
    no_nul(reason)
    chains = [int(str(v)) for v in form.getlist("chain") if str(v).isdigit()]
    approve = form.get("action") == "approve"
    try:
        await run_in_threadpool(sign_off, service(request).engine, run_id, sess.user.username,
                                approve, chains, reason)
    except NotFound as e:
        raise HTTPException(404, str(e)) from e
    except Conflict as e:
        raise HTTPException(409, str(e)) from e
    return RedirectResponse(f"/reallocations/{run_id}?done="
                            f"{'signed_off' if approve else 'discarded'}", status_code=303)


# --------------------------------------------------------------------------- commissioning


@router.get("/commissioning")
def commission_plans_page(request: Request,
                          sess: Annotated[security.Session, Depends(need(security.ANALYSE))]
                          ) -> Response:
    return commission_plans_view(request, sess)


def commission_plans_view(request: Request, sess: security.Session, status: int = 200,
                          errors: dict[str, str] | None = None, scenarios: str = "20"
                          ) -> HTMLResponse:
    with service(request).engine.connect() as conn:
        plans = list_plans(conn, limit=50)
    return render(request, "commission_plans.html", "Capacity plans", sess, status=status,
                  plans=plans, errors=errors or {}, scenarios=scenarios,
                  max_scenarios=MAX_SCENARIOS, active="commissioning")


@router.post("/commissioning")
def commission_plan_start(request: Request,
                          sess: Annotated[security.Session, Depends(need(security.ANALYSE))],
                          csrf_token: Annotated[str, Form(max_length=100)] = "",
                          scenarios: Annotated[str, Form(max_length=20)] = "") -> Response:
    check_csrf(sess, csrf_token)
    text = scenarios.strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_SCENARIOS:
        return commission_plans_view(request, sess, 422, {
            "scenarios": f"Enter a whole number from 1 to {MAX_SCENARIOS}"}, text)
    try:
        pid = start_plan(service(request).engine, sess.user.username,
                         PlanOptions(scenarios=int(text)))
    except (Conflict, InstanceError) as e:
        why = str(e) if isinstance(e, Conflict) else "The register cannot be planned"
        return commission_plans_view(request, sess, 409, {"scenarios": why}, text)
    return RedirectResponse(f"/commissioning/{pid}", status_code=303)


@router.get("/commissioning/{plan_id}")
def commission_plan_page(request: Request, plan_id: str,
                         sess: Annotated[security.Session, Depends(need(security.ANALYSE))]
                         ) -> Response:
    with service(request).engine.connect() as conn:
        try:
            plan = get_plan(conn, plan_id)
        except NotFound as e:
            raise HTTPException(404, str(e)) from e
    return render(request, "commission_plan.html", f"Capacity plan {plan_id}", sess,
                  plan=plan, active="commissioning")
