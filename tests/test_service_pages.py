"""The pages: sign-in with CSRF, the role matrix of every page, escaping of every text field,
security headers, and the officer-to-manager flow without JavaScript."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

for _dep in ("fastapi", "uvicorn", "sqlalchemy", "alembic", "argon2", "multipart", "httpx",
             "jinja2"):
    pytest.importorskip(_dep)

from fastapi.testclient import TestClient  # noqa: E402
from markupsafe import escape  # noqa: E402
from service_helpers import (  # noqa: E402
    DATABASES,
    ROLES,
    Setup,
    browser,
    csrf_of,
    database_url,
    make_setup,
    open_referral,
    password,
)
from sqlalchemy import func, select  # noqa: E402

from optimiser.service.app import create_app  # noqa: E402
from optimiser.service.db import referrals  # noqa: E402

INJECTIONS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "Robert'); DROP TABLE children; --",
    "{{7*7}}{% raw %} =HYPERLINK(\"http://x\")",
    "‮ünïcødé ✓ \\ %s %n",
]


on_both = pytest.mark.parametrize("s", DATABASES, indirect=True)


@pytest.fixture
def s(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    """SQLite; PostgreSQL too where a test is marked `on_both`."""
    setup = make_setup(database_url(getattr(request, "param", "sqlite"), tmp_path),
                       seeded=True)
    yield setup
    setup.client.close()
    setup.engine.dispose()


def count_referrals(s: Setup) -> int:
    with s.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(referrals)).scalar_one())


def test_sign_in_without_its_csrf_token_is_refused(s: Setup) -> None:
    c = TestClient(s.client.app)
    c.get("/sign-in")
    r = c.post("/sign-in", data={"username": "officer", "password": password("officer"),
                                 "csrf_token": "forged"}, follow_redirects=False)
    assert r.status_code == 403 and "placement_session" not in r.headers.get("set-cookie", "")


def test_forms_without_the_session_csrf_token_are_refused(s: Setup) -> None:
    c, token = browser(s, "officer")
    before = count_referrals(s)
    wrong = ("y" if token[0] == "x" else "x") + token[1:]  # never the token itself
    for data in ({"who": "C00001"}, {"who": "C00001", "csrf_token": wrong}):
        assert c.post("/referrals", data=data, follow_redirects=False).status_code == 403
    assert count_referrals(s) == before
    ok = c.post("/referrals", data={"who": "C00001", "csrf_token": token},
                follow_redirects=False)
    assert ok.status_code == 303 and count_referrals(s) == before + 1
    other, _ = browser(s, "manager")  # another session's token is no good either
    assert other.post("/referrals", data={"who": "C00001", "csrf_token": token},
                      follow_redirects=False).status_code == 403


def test_sign_in_failure_and_throttle(s: Setup) -> None:
    c = TestClient(s.client.app)
    for _ in range(5):
        token = csrf_of(c.get("/sign-in").text)
        r = c.post("/sign-in", data={"username": "manager", "password": "nope",
                                     "csrf_token": token})
        assert r.status_code == 401 and "not right" in r.text and "nope" not in r.text
    token = csrf_of(c.get("/sign-in").text)
    r = c.post("/sign-in", data={"username": "manager", "password": password("manager"),
                                 "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 429


PAGES = [("/register", {"officer", "manager", "commissioner"}),
         ("/register/children?page=2", {"officer", "manager", "commissioner"}),
         ("/referrals", {"officer", "manager", "commissioner"}),
         ("/referrals/{rid}", {"officer", "manager"}),
         ("/placements/P00001", {"manager", "admin"}),
         ("/approvals", {"manager"}),
         ("/audit", {"manager", "admin"}),
         ("/import", {"admin"}),
         ("/reallocations", {"manager"}),
         ("/commissioning", {"commissioner"})]


def test_the_role_matrix_of_every_page(s: Setup) -> None:
    rid = open_referral(s, "C00001")
    anon = TestClient(s.client.app)
    clients = {role: browser(s, role)[0] for role in ROLES}
    for path, allowed in PAGES:
        path = path.format(rid=rid)
        r = anon.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/sign-in", path
        for role in ROLES:
            r = clients[role].get(path)
            assert r.status_code == (200 if role in allowed else 403), (path, role)
            assert r.headers["content-type"].startswith("text/html")


def test_security_headers_on_pages(s: Setup) -> None:
    r = TestClient(s.client.app).get("/sign-in")
    h = r.headers
    assert "frame-ancestors 'none'" in h["content-security-policy"]
    assert "script-src" not in h["content-security-policy"]  # default-src 'none' covers it
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY" and h["referrer-policy"] == "no-referrer"
    assert r.text.count('<label class="label" for=') == 2 and 'href="#main-content"' in r.text


def assert_escaped(html: str, text: str) -> None:
    raw_tags = ("<script>", "<img ")
    assert not any(t in html for t in raw_tags if t in text), "unescaped markup on the page"
    if "<" in text:
        assert str(escape(text)) in html


@pytest.mark.parametrize(("s", "text"), [*[("sqlite", t) for t in INJECTIONS],
                                         *[pytest.param("postgresql", t, marks=DATABASES[1].marks,
                                                        id=f"pg-{i}")
                                           for i, t in enumerate(INJECTIONS[:3])]],
                         indirect=["s"])
def test_injection_strings_in_every_text_field(s: Setup, text: str) -> None:
    officer, token = browser(s, "officer")
    manager, mtoken = browser(s, "manager")
    # the register: a hold reason, through the API and back through a page
    r = s.client.patch("/api/v1/placements/P00003", headers=s.headers["manager"],
                       json={"on_hold_reason": text})
    assert r.status_code == 200 and r.json()["on_hold_reason"] == text
    assert s.get("/api/v1/placements/P00003", "officer").json()["on_hold_reason"] == text
    assert_escaped(manager.get("/register?q=P00003").text, text)
    assert manager.get("/register", params={"q": text}).status_code == 200
    r = manager.post("/placements/P00004", data={"csrf_token": mtoken, "vacancies": "1",
                                                  "on_hold_reason": text},
                     follow_redirects=False)
    assert r.status_code == 303
    assert s.get("/api/v1/placements/P00004", "officer").json()["on_hold_reason"] == text
    # ids: unknown, never a 500
    assert s.post("/api/v1/referrals", "officer", json={"child_id": text}).status_code == 404
    assert s.post("/api/v1/referrals", "officer",
                  json={"sibling_group": text}).status_code == 404
    assert s.get(f"/api/v1/children/{text.replace('/', '%2F')}", "officer").status_code in (
        404, 400)
    r = officer.post("/referrals", data={"who": text, "csrf_token": token})
    assert r.status_code == 404
    assert_escaped(r.text, text)
    # a decision's reason: stored as given, escaped on the referral page
    rid = open_referral(s, "C00001")
    pid = s.get(f"/api/v1/referrals/{rid}/matches", "officer").json()["ranked"][1][
        "placement_id"]
    r = officer.post(f"/referrals/{rid}/decision", data={
        "csrf_token": token, "placement_id": pid, "decision": "decline", "reason": text},
        follow_redirects=False)
    assert r.status_code == 303
    got = s.get(f"/api/v1/referrals/{rid}", "officer").json()["decisions"][0]["reason"]
    assert got == text
    assert_escaped(officer.get(f"/referrals/{rid}").text, text)
    r = officer.post(f"/referrals/{rid}/decision", data={
        "csrf_token": token, "placement_id": text, "decision": "accept", "reason": text})
    assert r.status_code == 404
    # the audit trail shows it escaped
    assert_escaped(manager.get("/audit").text, text)
    # sign-in with it as a name: refused, not echoed unescaped
    c = TestClient(s.client.app)
    r = c.post("/sign-in", data={"username": text, "password": text,
                                 "csrf_token": csrf_of(c.get("/sign-in").text)})
    assert r.status_code == 401
    assert_escaped(r.text, text)
    r = s.client.post("/api/v1/token", json={"username": text, "password": text})
    assert r.status_code == 401


@on_both
def test_nul_characters_are_refused_not_500(s: Setup) -> None:
    r = s.client.patch("/api/v1/placements/P00003", headers=s.headers["manager"],
                       json={"on_hold_reason": "a\x00b"})
    assert r.status_code == 422
    r = s.post("/api/v1/referrals", "officer", json={"child_id": "C\x0000001"})
    assert r.status_code == 422
    assert s.get("/api/v1/children/C%0000001", "officer").status_code == 400


def form_choice(html: str, text_part: str) -> str:
    for value, text in re.findall(r'<option value="([^"]+)">([^<]+)</option>', html):
        if text_part in text:
            return value
    raise AssertionError(f"no option with {text_part!r}")


def test_officer_flow_with_a_manager_approval(s: Setup) -> None:
    officer, token = browser(s, "officer")
    for n in range(1, 60):  # a child with a near miss
        r = officer.post("/referrals", data={"who": f"C{n:05d}", "csrf_token": token})
        assert r.status_code == 200
        if "needs a manager&#39;s approval (" in r.text:
            break
    page = r.text
    assert "Ruled out, by rule" in page and "<details" in page and "Score" in page
    rid = str(r.url).rsplit("/", 1)[1]
    pid = form_choice(page, "needs a manager&#39;s approval")
    r = officer.post(f"/referrals/{rid}/decision", data={
        "csrf_token": token, "placement_id": pid, "decision": "accept",
        "reason": "closest to school"})
    assert r.status_code == 200 and "waits for a manager" in r.text
    manager, mtoken = browser(s, "manager")
    approvals = manager.get("/approvals").text
    aid = re.search(r'action="/approvals/([0-9a-f]+)"', approvals)
    assert aid, approvals
    r = manager.post(f"/approvals/{aid.group(1)}", data={
        "csrf_token": mtoken, "approve": "yes", "reason": "agreed"})
    assert r.status_code == 200 and "the child is placed" in r.text
    members: list[Any] = s.get(f"/api/v1/referrals/{rid}/matches", "officer").json()[
        "referral"]["child_ids"]
    for c in members:
        assert s.get(f"/api/v1/children/{c}", "officer").json()["current_placement"] == pid
    audit_html = manager.get("/audit").text
    assert "chain verified" in audit_html and "approval.approve" in audit_html
    for c in members:
        register_html = manager.get(f"/register/children?q={c}").text
        assert f"<th scope=\"row\">{c}</th>" in register_html and f"<td>{pid}</td>" in register_html


def test_the_import_page(s: Setup) -> None:
    admin, token = browser(s, "admin")
    r = admin.post("/import", data={"csrf_token": token},
                   files={"children.csv": ("children.csv", b"child_id,age\nC1,99\n"),
                          "placements.csv": ("placements.csv", b"placement_id\nP1\n")})
    assert r.status_code == 422 and "nothing was imported" in r.text
    r = admin.post("/import", data={"csrf_token": "bad"},
                   files={"children.csv": ("children.csv", b"x")})
    assert r.status_code == 403


def test_the_app_starts_on_an_empty_database(tmp_path: Path) -> None:
    c = TestClient(create_app(f"sqlite:///{tmp_path / 'new.db'}"))
    assert c.get("/sign-in").status_code == 200
    assert c.get("/api/v1/audit").status_code == 401


POSTS = [("/referrals", {"who": ""}, {"officer", "manager"}),
         ("/referrals/{rid}/decision", {"decision": "maybe"}, {"officer", "manager"}),
         ("/placements/P00001", {"vacancies": "x"}, {"manager", "admin"}),
         ("/approvals/nope", {"approve": "yes"}, {"manager"}),
         ("/reallocations", {"max_moves": "x"}, {"manager"}),
         ("/reallocations/nope/signoff", {"action": "discard"}, {"manager"}),
         ("/import", {}, {"admin"}),
         ("/commissioning", {"scenarios": "x"}, {"commissioner"})]


def test_the_role_matrix_of_every_form(s: Setup) -> None:
    """Every POST page: 303 to sign in without a session, 403 for a role that may not, and
    for one that may, an answer that is neither (nor a 500) with the session's CSRF token."""
    rid = open_referral(s, "C00001")
    anon = TestClient(s.client.app)
    signed = {role: browser(s, role) for role in ROLES}
    for path, data, allowed in POSTS:
        path = path.format(rid=rid)
        r = anon.post(path, data=data, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/sign-in", path
        for role, (client, token) in signed.items():
            r = client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)
            if role in allowed:
                assert r.status_code not in (401, 403) and r.status_code < 500, (path, role)
            else:
                assert r.status_code == 403, (path, role)
