"""A commissioner's capacity plan on the register: the commissioning files imported with
it, plan-capacity run by the service, the plan kept and read back; roles enforced."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

for _dep in ("fastapi", "uvicorn", "sqlalchemy", "alembic", "argon2", "multipart", "httpx"):
    pytest.importorskip(_dep)

from service_helpers import (  # noqa: E402
    ROLES,
    Setup,
    browser,
    demo_files,
    make_setup,
    seeded_sqlite,
)

from optimiser.commission.report import build_plan_json, run_plan_capacity  # noqa: E402

COMMISSION = Path(__file__).resolve().parents[1] / "instances" / "demo-commission"
SMALL = {"scenarios": 2, "seed": 3, "time_limit_per_scenario": 5, "time_limit": 60}


@pytest.fixture(scope="module")
def s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    setup = make_setup(seeded_sqlite(tmp_path_factory.mktemp("commission")), seeded=True)
    yield setup
    setup.client.close()
    setup.engine.dispose()


def import_commissioning(s: Setup) -> None:
    files = demo_files(COMMISSION)
    assert {"contracts.csv", "spot.csv", "demand.toml"} <= set(files)
    r = s.post("/api/v1/register/import", "admin",
               files={name: (name, data) for name, data in files.items()})
    assert r.status_code == 200, r.text


def test_without_commissioning_files_a_plan_is_409(s: Setup) -> None:
    r = s.post("/api/v1/commissioning/plans", "commissioner", json=SMALL)
    assert r.status_code == 409
    assert "contracts.csv" in r.json()["detail"]


def test_bad_commissioning_files_are_refused_at_import_and_change_nothing(s: Setup) -> None:
    files = demo_files(COMMISSION)
    files["contracts.csv"] = files["contracts.csv"].replace(b",", b";", 3)
    r = s.post("/api/v1/register/import", "admin",
               files={name: (name, data) for name, data in files.items()})
    assert r.status_code == 422
    assert any(p["file"] == "contracts.csv" for p in r.json()["problems"])
    assert s.get("/api/v1/commissioning/plans", "commissioner").json() == {"plans": []}


def test_a_plan_on_the_register_is_the_commands_plan(s: Setup) -> None:
    import_commissioning(s)
    r = s.post("/api/v1/commissioning/plans", "commissioner", json=SMALL)
    assert r.status_code == 201, r.text
    got = r.json()
    want = build_plan_json(run_plan_capacity(
        str(COMMISSION), SMALL["scenarios"], seed=SMALL["seed"],
        time_limit_per_scenario=SMALL["time_limit_per_scenario"], workers=0,
        progress=False))
    want = json.loads(json.dumps(want, default=str))
    assert got["plan"]["beds"] == want["beds"]
    assert got["plan"]["expected_weekly_cost"] == pytest.approx(
        want["expected_weekly_cost"], rel=1e-6)
    assert got["summary"] and got["options"]["scenarios"] == 2
    listed = s.get("/api/v1/commissioning/plans", "commissioner").json()["plans"]
    assert [p["plan_id"] for p in listed] == [got["plan_id"]]
    again = s.get(f"/api/v1/commissioning/plans/{got['plan_id']}", "commissioner").json()
    assert again == got
    events = s.get("/api/v1/audit", "manager").json()["events"]
    assert events[-1]["action"] == "commissioning.plan"
    assert events[-1]["subject"] == f"plan:{got['plan_id']}"


@pytest.mark.parametrize("role", [None, *ROLES])
@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/commissioning/plans"), ("GET", "/api/v1/commissioning/plans/nope"),
    ("POST", "/api/v1/commissioning/plans")])
def test_only_a_commissioner_plans(tmp_path: Path, role: str | None, method: str,
                                   path: str) -> None:
    s = make_setup(seeded_sqlite(tmp_path), seeded=True)
    headers = s.headers[role] if role else {}
    r = s.client.request(method, path, headers=headers,
                         json={**SMALL, "scenarios": 1} if method == "POST" else None)
    if role is None:
        assert r.status_code == 401
    elif role == "commissioner":  # no commissioning data here: 409; no such plan: 404
        assert r.status_code in (200, 404, 409), r.text
    else:
        assert r.status_code == 403
    s.client.close()
    s.engine.dispose()


def test_the_commissioners_pages(s: Setup) -> None:
    """The form refuses a bad number accessibly, makes a plan, and the plan page shows the
    beds per contract; the plans made through the API are listed too."""
    import_commissioning(s)
    client, token = browser(s, "commissioner")
    page = client.get("/commissioning")
    assert page.status_code == 200 and 'name="scenarios"' in page.text
    bad = client.post("/commissioning", data={"scenarios": "0", "csrf_token": token})
    assert bad.status_code == 422 and 'aria-describedby="scenarios-hint scenarios-error"' in (
        bad.text)
    made = client.post("/commissioning", data={"scenarios": "1", "csrf_token": token},
                       follow_redirects=False)
    assert made.status_code == 303, made.text
    view = client.get(made.headers["location"])
    assert view.status_code == 200 and "Beds to block-book" in view.text
    plan_id = made.headers["location"].rsplit("/", 1)[1]
    plan = s.get(f"/api/v1/commissioning/plans/{plan_id}", "commissioner").json()["plan"]
    for contract in plan["beds"]:
        assert f"<th scope=\"row\">{contract}</th>" in view.text
    assert plan_id in client.get("/commissioning").text
