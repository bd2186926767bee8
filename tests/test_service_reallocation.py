"""The overnight re-allocation as a run a manager signs off: the register changes only on
sign-off, chain by chain, and never from a plan made on an older register."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

for _dep in ("fastapi", "uvicorn", "sqlalchemy", "alembic", "argon2", "multipart", "httpx"):
    pytest.importorskip(_dep)

from service_helpers import (  # noqa: E402
    Setup,
    browser,
    csrf_of,
    make_setup,
    open_referral,
    seeded_sqlite,
)
from sqlalchemy import select  # noqa: E402

from optimiser.service.audit import verify  # noqa: E402
from optimiser.service.db import children, placements  # noqa: E402


def register(s: Setup) -> tuple[dict[str, str], dict[str, int]]:
    with s.engine.connect() as conn:
        cur = {r.child_id: r.current_placement for r in conn.execute(select(children))}
        vac = {r.placement_id: r.vacancies for r in conn.execute(select(placements))}
    return cur, vac


@pytest.fixture
def s(tmp_path: Path) -> Setup:
    """The demo register with a few children placed at their fifth-best placement."""
    setup = make_setup(seeded_sqlite(tmp_path), seeded=True)
    for child in ("C00001", "C00004", "C00006"):
        rid = open_referral(setup, child)
        ranked = setup.get(f"/api/v1/referrals/{rid}/matches", "officer").json()["ranked"]
        r = setup.post(f"/api/v1/referrals/{rid}/decision", "officer",
                       json={"placement_id": ranked[4]["placement_id"], "decision": "accept"})
        assert r.status_code == 200
    return setup


def start(s: Setup) -> dict[str, Any]:
    r = s.post("/api/v1/reallocations", "manager", json={"time_limit": 10})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_run_changes_nothing_until_signed_off_chain_by_chain(s: Setup) -> None:
    before = register(s)
    run = start(s)
    assert run["status"] == "proposed" and run["chains"] and run["voids"]
    assert {"moves", "summary"} <= set(run)
    assert register(s) == before
    chain_ids = sorted({c["chain_id"] for c in run["chains"]})
    pick = chain_ids[:2]
    r = s.post(f"/api/v1/reallocations/{run['run_id']}/signoff", "manager",
               json={"approve": True, "chains": pick, "reason": "checked with the carers"})
    assert r.status_code == 200 and r.json()["status"] == "signed_off"
    cur, vac = register(s)
    planned = {c["child_id"]: c["to_placement"] for c in run["chains"] if c["chain_id"] in pick}
    changed = {c for c in cur if cur[c] != before[0][c]}
    assert changed == {c for c, to in planned.items() if to != before[0][c]}
    assert all(cur[c] == to for c, to in planned.items())
    # every bed taken is a vacancy less, every bed left one more
    for p in vac:
        arrived = sum(1 for c in changed if cur[c] == p)
        left = sum(1 for c in changed if before[0][c] == p)
        assert vac[p] == before[1][p] - arrived + left, p
    again = s.post(f"/api/v1/reallocations/{run['run_id']}/signoff", "manager",
                   json={"approve": True})
    assert again.status_code == 409
    events = s.get("/api/v1/audit", "manager").json()["events"]
    assert [e["action"] for e in events][-2:] == ["reallocation.start", "reallocation.signoff"]
    assert events[-1]["detail"]["chains"] == pick
    assert verify(s.engine).ok
    rid = open_referral(s, "C00010")  # the register the sign-off left is a valid instance
    assert s.get(f"/api/v1/referrals/{rid}/matches", "officer").status_code == 200


def test_a_plan_on_an_older_register_is_refused_and_discard_changes_nothing(s: Setup) -> None:
    run = start(s)
    s.client.patch("/api/v1/placements/P00002", headers=s.headers["manager"],
                   json={"vacancies": 0})
    before = register(s)
    r = s.post(f"/api/v1/reallocations/{run['run_id']}/signoff", "manager",
               json={"approve": True})
    assert r.status_code == 409 and "register changed" in r.json()["detail"]
    assert register(s) == before
    r = s.post(f"/api/v1/reallocations/{run['run_id']}/signoff", "manager",
               json={"approve": False, "reason": "stale"})
    assert r.status_code == 200 and r.json()["status"] == "discarded"
    assert register(s) == before
    assert s.get(f"/api/v1/reallocations/{run['run_id']}", "manager").json()[
        "status"] == "discarded"
    for role in ("officer", "commissioner", "admin"):
        assert s.get(f"/api/v1/reallocations/{run['run_id']}", role).status_code == 403
    bad = s.post(f"/api/v1/reallocations/{run['run_id']}/signoff", "manager",
                 json={"approve": True, "chains": ["x"]})
    assert bad.status_code == 422


def test_the_pages_of_a_run(s: Setup) -> None:
    manager, token = browser(s, "manager")
    page = manager.get("/reallocations")
    assert page.status_code == 200 and "Start a run" in page.text
    r = manager.post("/reallocations", data={"csrf_token": token, "max_moves": "2"})
    assert r.status_code == 200 and "Re-allocation plan" in r.text
    run_id = str(r.url).rsplit("/", 1)[1]
    boxes = re.findall(r'name="chain" type="checkbox" value="(\d+)"', r.text)
    assert boxes
    before = register(s)
    bad = manager.post(f"/reallocations/{run_id}/signoff",
                       data={"csrf_token": "nope", "chain": boxes[:1], "action": "approve"})
    assert bad.status_code == 403 and register(s) == before
    r = manager.post(f"/reallocations/{run_id}/signoff", data={
        "csrf_token": csrf_of(r.text), "chain": boxes[:1], "action": "approve",
        "reason": "<b>ok</b>"})
    assert r.status_code == 200 and "Signed off" in r.text and "(approved)" in r.text
    assert register(s) != before
    run = s.get(f"/api/v1/reallocations/{run_id}", "manager").json()
    assert run["approved_chains"] == [int(boxes[0])] and run["options"]["max_moves"] == 2
    assert "<b>ok</b>" not in manager.get("/audit").text
