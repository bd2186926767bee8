"""No request body, however wrong, makes the API answer 500 (hypothesis-generated JSON)."""

from __future__ import annotations

from pathlib import Path

import pytest

for _dep in ("fastapi", "uvicorn", "sqlalchemy", "alembic", "argon2", "multipart", "httpx"):
    pytest.importorskip(_dep)
hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from service_helpers import Setup, make_setup, open_referral, seeded_sqlite  # noqa: E402

FIELDS = ["username", "password", "child_id", "sibling_group", "placement_id", "decision",
          "reason", "approve", "vacancies", "on_hold_reason", "chains", "time_limit",
          "max_moves", "role", "x"]
SCALARS = (st.none() | st.booleans() | st.integers(-2**40, 2**40)
           | st.floats(allow_nan=False) | st.text(max_size=30)
           | st.sampled_from(["accept", "decline", "C00001", "P00001", "G0001", "officer"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=5)
BODIES = (st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=5)
          | st.lists(SCALARS, max_size=3) | SCALARS)
ROUTES = [("POST", "/api/v1/token"), ("PATCH", "/api/v1/placements/P00001"),
          ("POST", "/api/v1/referrals"), ("POST", "/api/v1/referrals/{rid}/decision"),
          ("POST", "/api/v1/approvals/nope"), ("POST", "/api/v1/users"),
          ("POST", "/api/v1/reallocations/nope/signoff")]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    return make_setup(seeded_sqlite(Path(tmp_path_factory.mktemp("fuzz"))), seeded=True)


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[p for _, p in ROUTES])
def test_no_body_makes_a_500(setup: Setup, method: str, path: str) -> None:
    rid = open_referral(setup, "C00001")
    role = {"/api/v1/users": "admin", "/api/v1/placements/P00001": "manager",
            "/api/v1/approvals/nope": "manager",
            "/api/v1/reallocations/nope/signoff": "manager"}.get(path, "officer")

    @settings(max_examples=15, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(body=BODIES)
    def check(body: object) -> None:
        r = setup.client.request(method, path.format(rid=rid), json=body,
                                 headers=setup.headers[role])
        assert r.status_code < 500, (body, r.text)
        assert "detail" in r.json() or r.status_code < 300

    check()
