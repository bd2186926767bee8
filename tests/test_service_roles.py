"""The role matrix of service-api.md on every API route: 401 without credentials, 403 for a
role that may not, and neither (nor a 500) for a role that may."""

from __future__ import annotations

import pytest

for _dep in ("fastapi", "uvicorn", "sqlalchemy", "alembic", "argon2", "multipart", "httpx"):
    pytest.importorskip(_dep)

from service_helpers import (  # noqa: E402
    ROLES,
    Setup,
    demo_files,
    make_setup,
    open_referral,
    seeded_sqlite,
)

READ = {"officer", "manager", "commissioner"}
REFER = {"officer", "manager"}

# method, path, what to send, the roles that may (from the spec's table, not the code)
ROUTES = [
    ("POST", "/api/v1/register/import", "files", {"admin"}),
    ("GET", "/api/v1/children/C00001", None, READ),
    ("GET", "/api/v1/placements/P00001", None, READ),
    ("PATCH", "/api/v1/placements/P00002", {"vacancies": 2}, {"manager", "admin"}),
    ("POST", "/api/v1/referrals", {"child_id": "C00001"}, REFER),
    ("GET", "/api/v1/referrals/{rid}", None, READ),
    ("GET", "/api/v1/referrals/{rid}/matches", None, REFER),
    ("POST", "/api/v1/referrals/{rid}/decision",
     {"placement_id": "P00002", "decision": "decline", "reason": "not now"}, REFER),
    ("GET", "/api/v1/approvals", None, {"manager"}),
    ("POST", "/api/v1/approvals/nope", {"approve": False, "reason": "r"}, {"manager"}),
    ("GET", "/api/v1/audit", None, {"manager", "admin"}),
    ("POST", "/api/v1/users", "user", {"admin"}),
    ("GET", "/api/v1/reallocations", None, {"manager"}),
    ("GET", "/api/v1/decisions", None, READ),
    ("GET", "/api/v1/users", None, {"admin"}),
    ("GET", "/api/v1/reallocations/nope", None, {"manager"}),
    ("POST", "/api/v1/reallocations/nope/signoff", {"approve": False}, {"manager"}),
    ("GET", "/api/v1/commissioning/plans", None, {"commissioner"}),
    ("GET", "/api/v1/commissioning/plans/nope", None, {"commissioner"}),
    ("POST", "/api/v1/commissioning/plans", {"scenarios": 1, "time_limit": 30},
     {"commissioner"}),
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    return make_setup(seeded_sqlite(tmp_path_factory.mktemp("roles")), seeded=True)


@pytest.fixture(scope="module")
def rid(setup: Setup) -> str:
    return open_referral(setup, "C00004")


def call(setup: Setup, method: str, path: str, body: object, headers: dict[str, str],
         n: int) -> int:
    kw: dict[str, object] = {"headers": headers}
    if body == "files":
        kw["files"] = {name: (name, data) for name, data in demo_files().items()}
    elif body == "user":
        kw["json"] = {"username": f"new-user-{n}", "role": "officer",
                      "password": "a-long-password"}
    elif body is not None:
        kw["json"] = body
    return int(setup.client.request(method, path, **kw).status_code)  # type: ignore[arg-type]


@pytest.mark.parametrize("role", [None, *ROLES])
@pytest.mark.parametrize(("method", "path", "body", "allowed"), ROUTES,
                         ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_role_matrix(setup: Setup, rid: str, role: str | None, method: str, path: str,
                     body: object, allowed: set[str]) -> None:
    headers = setup.headers[role] if role else {}
    status = call(setup, method, path.format(rid=rid), body, headers, id(role))
    if role is None:
        assert status == 401
    elif role in allowed:
        assert status not in (401, 403) and status < 500, status
    else:
        assert status == 403


@pytest.mark.parametrize("auth", ["Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz", "x"])
def test_bad_credentials_are_401(setup: Setup, auth: str) -> None:
    r = setup.client.get("/api/v1/children/C00001", headers={"Authorization": auth})
    assert r.status_code == 401
    assert r.json()["detail"]
