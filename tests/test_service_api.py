"""The service's API on SQLite: import, register, referrals, decisions, approvals, errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

for _dep in ("fastapi", "uvicorn", "sqlalchemy", "alembic", "argon2", "multipart", "httpx"):
    pytest.importorskip(_dep)

from fastapi.testclient import TestClient  # noqa: E402
from service_helpers import (  # noqa: E402
    DATABASES,
    DEMO,
    Setup,
    database_url,
    demo_files,
    demo_workbook,
    make_setup,
    open_referral,
    password,
)
from sqlalchemy import func, select, update  # noqa: E402

from optimiser import load_instance  # noqa: E402
from optimiser.match import Matcher  # noqa: E402
from optimiser.service.app import create_app  # noqa: E402
from optimiser.service.audit import verify  # noqa: E402
from optimiser.service.db import audit_events, children, sessions  # noqa: E402

on_both = pytest.mark.parametrize("s", DATABASES, indirect=True)


@pytest.fixture
def s(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    """SQLite; PostgreSQL too where a test is marked `on_both`."""
    kind = getattr(request, "param", "sqlite")
    setup = make_setup(database_url(kind, tmp_path), seeded=True)
    yield setup
    setup.client.close()
    setup.engine.dispose()


def matches(s: Setup, rid: str) -> dict[str, Any]:
    r = s.get(f"/api/v1/referrals/{rid}/matches", "officer")
    assert r.status_code == 200, r.text
    return dict(r.json())


def decide(s: Setup, rid: str, pid: str, decision: str = "accept", reason: str = "fits",
           role: str = "officer") -> Any:
    return s.post(f"/api/v1/referrals/{rid}/decision", role,
                  json={"placement_id": pid, "decision": decision, "reason": reason})


def snapshot(s: Setup) -> tuple[int, int, str]:
    with s.engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(children)).scalar_one()
        ev = conn.execute(select(func.count()).select_from(audit_events)).scalar_one()
    return n, ev, s.get("/api/v1/placements/P00001", "officer").text


@on_both
def test_accept_of_a_ranked_placement_places_the_child(s: Setup) -> None:
    rid = open_referral(s, "C00001")
    best = matches(s, rid)["ranked"][0]
    before = s.get(f"/api/v1/placements/{best['placement_id']}", "officer").json()["vacancies"]
    r = decide(s, rid, best["placement_id"])
    assert r.status_code == 200 and r.json() == {"status": "placed"}
    after = s.get(f"/api/v1/placements/{best['placement_id']}", "officer").json()["vacancies"]
    assert after == before - 1
    child = s.get("/api/v1/children/C00001", "officer").json()
    assert child["current_placement"] == best["placement_id"]
    assert decide(s, rid, best["placement_id"]).status_code == 409  # decided already
    last = s.get("/api/v1/audit", "manager").json()["events"][-1]
    assert last["action"] == "decision.accept"
    assert last["detail"]["rank"] == 1 and last["detail"]["score"] == best["score"]
    assert verify(s.engine).ok


def test_ranked_entries_carry_the_approval_they_need(s: Setup) -> None:
    d = matches(s, open_referral(s, "C00001"))
    engine = Matcher(load_instance(DEMO)).rank("C00001")
    assert d["ranked"] and [r["approval"] for r in d["ranked"]] == [
        r.approval for r in engine.ranked]
    assert set(d) >= {"ranked", "ruled_out", "near_misses"}
    top = s.get(f"/api/v1/referrals/{open_referral(s, 'C00001')}/matches?top=2", "officer")
    assert len(top.json()["ranked"]) == 2


def test_accept_of_a_ruled_out_placement_is_409_with_the_rule(s: Setup) -> None:
    rid = open_referral(s, "C00001")
    out = matches(s, rid)["ruled_out"][0]
    r = decide(s, rid, out["placement_id"])
    assert r.status_code == 409
    assert r.json()["rule"] == out["rule"] and r.json()["detail"]


def near_miss_referral(s: Setup) -> tuple[str, dict[str, Any]]:
    for n in range(1, 60):
        rid = open_referral(s, f"C{n:05d}")
        d = matches(s, rid)
        if d["near_misses"]:
            return rid, d["near_misses"][0]
    raise AssertionError("the demo authority has no near miss in its first children")


@on_both
def test_a_near_miss_waits_for_a_manager_who_approves(s: Setup) -> None:
    rid, near = near_miss_referral(s)
    pid = near["placement_id"]
    r = decide(s, rid, pid, reason="best for the child")
    assert r.status_code == 202
    body = r.json()
    assert body["status"] == "awaiting_approval"
    ref = s.get(f"/api/v1/referrals/{rid}", "officer").json()
    assert ref["status"] == "awaiting_approval"
    members = [c for c in s.get(f"/api/v1/referrals/{rid}/matches", "officer").json()
               ["referral"]["child_ids"]]
    assert all(s.get(f"/api/v1/children/{c}", "officer").json()["current_placement"] == ""
               for c in members)
    pending = s.get("/api/v1/approvals", "manager").json()["approvals"]
    assert [a["id"] for a in pending] == [body["approval_id"]]
    assert s.post(f"/api/v1/approvals/{body['approval_id']}", "officer",
                  json={"approve": True}).status_code == 403
    ok = s.post(f"/api/v1/approvals/{body['approval_id']}", "manager",
                json={"approve": True, "reason": "agreed"})
    assert ok.status_code == 200 and ok.json()["status"] == "placed"
    assert all(s.get(f"/api/v1/children/{c}", "officer").json()["current_placement"] == pid
               for c in members)
    again = s.post(f"/api/v1/approvals/{body['approval_id']}", "manager",
                   json={"approve": True})
    assert again.status_code == 409
    actions = [e["action"] for e in s.get("/api/v1/audit", "manager").json()["events"]]
    assert actions[-2:] == ["decision.accept", "approval.approve"]


def test_a_refusal_places_nobody_and_reopens_the_referral(s: Setup) -> None:
    rid, near = near_miss_referral(s)
    aid = decide(s, rid, near["placement_id"]).json()["approval_id"]
    before = s.get(f"/api/v1/placements/{near['placement_id']}", "officer").json()
    r = s.post(f"/api/v1/approvals/{aid}", "manager", json={"approve": False, "reason": "no"})
    assert r.status_code == 200 and r.json()["status"] == "refused"
    assert s.get(f"/api/v1/placements/{near['placement_id']}", "officer").json() == before
    assert s.get(f"/api/v1/referrals/{rid}", "officer").json()["status"] == "open"


def test_decline_is_recorded_and_changes_nothing(s: Setup) -> None:
    rid = open_referral(s, "C00001")
    pid = matches(s, rid)["ranked"][0]["placement_id"]
    before = s.get(f"/api/v1/placements/{pid}", "officer").json()
    r = decide(s, rid, pid, "decline", "the carer is away")
    assert r.status_code == 200 and r.json()["status"] == "declined"
    assert s.get(f"/api/v1/placements/{pid}", "officer").json() == before
    ref = s.get(f"/api/v1/referrals/{rid}", "commissioner").json()
    assert [(d["decision"], d["reason"]) for d in ref["decisions"]] == [
        ("decline", "the carer is away")]
    listed = s.get("/api/v1/decisions", "commissioner").json()["decisions"]
    assert [(d["referral_id"], d["placement_id"], d["outcome"]) for d in listed] == [
        (rid, pid, "declined")]


def test_a_sibling_group_referral(s: Setup) -> None:
    r = s.post("/api/v1/referrals", "officer", json={"sibling_group": "G0001"})
    assert r.status_code == 201
    d = matches(s, r.json()["referral_id"])
    assert d["referral"]["sibling_group"] == "G0001" and len(d["referral"]["child_ids"]) >= 2
    for body in ({"sibling_group": "G9999"}, {"child_id": "C99999"}):
        assert s.post("/api/v1/referrals", "officer", json=body).status_code == 404
    for body in ({}, {"child_id": "C00001", "sibling_group": "G0001"}, {"child_id": 5}):
        r = s.post("/api/v1/referrals", "officer", json=body)
        assert r.status_code == 422 and isinstance(r.json()["detail"], str)


@on_both
def test_patch_placement_is_audited_and_validated(s: Setup) -> None:
    r = s.client.patch("/api/v1/placements/P00001", headers=s.headers["manager"],
                       json={"vacancies": 4, "on_hold_reason": "illness"})
    assert r.status_code == 200
    got = s.get("/api/v1/placements/P00001", "officer").json()
    assert (got["vacancies"], got["on_hold_reason"]) == (4, "illness")
    ev = s.get("/api/v1/audit", "admin").json()["events"][-1]
    assert ev["action"] == "placement.edit" and ev["subject"] == "placement:P00001"
    assert ev["detail"]["after"] == {"vacancies": 4, "on_hold_reason": "illness"}
    for body in ({"vacancies": -1}, {"vacancies": "many"}, {}, {"colour": "red"}):
        bad = s.client.patch("/api/v1/placements/P00001", headers=s.headers["manager"],
                             json=body)
        assert bad.status_code == 422, body
    assert s.client.patch("/api/v1/placements/NOPE", headers=s.headers["manager"],
                          json={"vacancies": 1}).status_code == 404


def test_a_held_placement_is_not_offered(s: Setup) -> None:
    rid = open_referral(s, "C00001")
    pid = matches(s, rid)["ranked"][0]["placement_id"]
    s.client.patch(f"/api/v1/placements/{pid}", headers=s.headers["manager"],
                   json={"on_hold_reason": "safeguarding"})
    d = matches(s, rid)  # the warm matcher was rebuilt for the changed register
    assert pid not in [r["placement_id"] for r in d["ranked"]]
    assert decide(s, rid, pid).status_code == 409


@on_both
def test_import_with_bad_rows_is_422_and_changes_nothing(s: Setup) -> None:
    files = demo_files()
    rows = files["children.csv"].decode().splitlines()
    rows[3] = ",".join([rows[3].split(",")[0], "eleven"] + rows[3].split(",")[2:])
    rows[5] = ",".join([rows[5].split(",")[0], "44"] + rows[5].split(",")[2:])
    files["children.csv"] = ("\n".join(rows) + "\n").encode()
    before = snapshot(s)
    r = s.post("/api/v1/register/import", "admin",
               files={n: (n, d) for n, d in files.items()})
    assert r.status_code == 422
    problems = r.json()["problems"]
    assert len(problems) >= 2
    assert all(set(p) == {"file", "row", "column", "message"} for p in problems)
    assert {(p["file"], p["row"]) for p in problems} >= {("children.csv", 4),
                                                         ("children.csv", 6)}
    assert snapshot(s) == before


@on_both
def test_import_replaces_the_register_and_keeps_decisions(s: Setup) -> None:
    rid = open_referral(s, "C00001")
    decide(s, rid, matches(s, rid)["ranked"][0]["placement_id"], "decline")
    files = demo_files()
    rows = files["placements.csv"].decode().splitlines()
    files["placements.csv"] = ("\n".join(rows[:101]) + "\n").encode()
    del files["exclusions.csv"]  # some name placements no longer there
    r = s.post("/api/v1/register/import", "admin",
               files={n: (n, d) for n, d in files.items()})
    assert r.status_code == 200 and r.json() == {"children": 300, "placements": 100}
    assert s.get("/api/v1/placements/P00150", "officer").status_code == 404
    assert len(s.get(f"/api/v1/referrals/{rid}", "officer").json()["decisions"]) == 1
    assert verify(s.engine).ok


def test_import_of_a_workbook(s: Setup) -> None:
    pytest.importorskip("openpyxl")
    r = s.post("/api/v1/register/import", "admin",
               files={"workbook": ("register.xlsx", demo_workbook(40))})
    assert r.status_code == 200, r.text
    assert r.json() == {"children": 39, "placements": 39}
    assert s.get("/api/v1/children/C00039", "officer").json()["age"]
    junk = s.post("/api/v1/register/import", "admin",
                  files={"workbook": ("x.xlsx", b"not a workbook")})
    assert junk.status_code == 422 and junk.json()["problems"]


@on_both
def test_expired_token_is_refused(s: Setup) -> None:
    """A token expired by hand in the database is refused once the process's cache of
    tokens lets it go (after its ttl)."""
    s.client.app.state.service.tokens.ttl = 0.2  # type: ignore[attr-defined]
    assert s.get("/api/v1/children/C00001", "officer").status_code == 200
    with s.engine.begin() as conn:
        conn.execute(update(sessions).values(expires_at=time.time() - 1))
    time.sleep(0.3)
    r = s.get("/api/v1/children/C00001", "officer")
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_a_token_is_refused_at_its_expiry_though_known_lately(tmp_path: Path) -> None:
    """The cache of tokens never keeps one past its expiry (tokens of one second here)."""
    setup = make_setup(database_url("sqlite", tmp_path), seeded=True, token_ttl=1.0)
    try:
        assert setup.get("/api/v1/children/C00001", "officer").status_code == 200
        assert setup.client.app.state.service.tokens.kept  # type: ignore[attr-defined]
        time.sleep(1.1)
        r = setup.get("/api/v1/children/C00001", "officer")
        assert r.status_code == 401 and "expired" in r.json()["detail"]
    finally:
        setup.client.close()
        setup.engine.dispose()


def test_tokens_are_stored_only_as_hashes(s: Setup) -> None:
    token = s.headers["officer"]["Authorization"].split()[1]
    with s.engine.connect() as conn:
        stored = [r.token_hash for r in conn.execute(select(sessions))]
    assert token not in stored and len(stored) == 4


def test_failed_logins_are_throttled_across_workers(s: Setup) -> None:
    other = TestClient(create_app(s.url))  # a second worker process on the same database
    for n in range(5):
        client = (s.client, other)[n % 2]
        r = client.post("/api/v1/token", json={"username": "officer", "password": "wrong"})
        assert r.status_code == 401
    r = s.client.post("/api/v1/token",
                      json={"username": "officer", "password": password("officer")})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    ok = s.client.post("/api/v1/token",
                       json={"username": "manager", "password": password("manager")})
    assert ok.status_code == 200


def test_errors_never_echo_a_password(s: Setup) -> None:
    secret = "hunter2-" + "x" * 2000  # too long: refused by validation
    r = s.client.post("/api/v1/token", json={"username": "officer", "password": secret})
    assert r.status_code == 422 and secret[:20] not in r.text
    r = s.client.post("/api/v1/token", json={"username": "officer", "password": "hunter2-y"})
    assert r.status_code == 401 and "hunter2" not in r.text
    r = s.client.post("/api/v1/token", content=b"{not json", headers={
        "content-type": "application/json"})
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)


@on_both
def test_unknown_ids_are_404_json(s: Setup) -> None:
    for path in ("/api/v1/children/NOPE", "/api/v1/placements/NOPE", "/api/v1/referrals/x",
                 "/api/v1/referrals/x/matches"):
        r = s.get(path, "officer")
        assert r.status_code == 404 and r.json()["detail"], path
    r = decide(s, open_referral(s, "C00001"), "NOPE")
    assert r.status_code == 404


def test_a_reg11_approval_the_engine_names_waits_for_a_manager(
        s: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the engine says a ranked placement needs the director (format 1.1 authority
    columns), the accept waits; the engine is stubbed to say so for one placement."""
    import numpy as np

    from optimiser.categories import Approval

    pid = Matcher(load_instance(DEMO)).rank("C00001", top=1).ranked[0].placement_id
    plain = Matcher._approvals

    def with_director(self: Matcher, mem: np.ndarray) -> np.ndarray:
        out = plain(self, mem).copy()
        out[self.inst.placement_index[pid]] = int(Approval.DIRECTOR)
        return out

    monkeypatch.setattr(Matcher, "_approvals", with_director)
    rid = open_referral(s, "C00001")
    shown = s.get(f"/api/v1/referrals/{rid}/matches?top=1", "officer").json()["ranked"]
    assert shown[0]["placement_id"] == pid and shown[0]["approval"] == "director"
    r = decide(s, rid, pid)
    assert r.status_code == 202
    pending = s.get("/api/v1/approvals", "manager").json()["approvals"]
    assert [(a["placement_id"], a["rule"]) for a in pending] == [(pid, "reg11_director")]
    assert s.get("/api/v1/children/C00001", "officer").json()["current_placement"] == ""
