"""Shared set-up of the service tests: a fresh SQLite register with the demo authority.

Import this only after `pytest.importorskip` of the service's dependencies.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from optimiser.service import security
from optimiser.service.app import create_app
from optimiser.service.cli import demo_folder
from optimiser.service.db import make_engine, upgrade, write
from optimiser.service.register import replace_register, validate_upload

ROLES = ("officer", "manager", "commissioner", "admin")
DEMO = demo_folder()
SERVICE_DEPS = ("fastapi", "uvicorn", "sqlalchemy", "alembic", "argon2", "multipart", "httpx",
                "jinja2")
PG_ENV = "PLACEMENT_TEST_PG_URL"


def password(role: str) -> str:
    return f"pw-{role}-correct-horse"


def demo_files(folder: Path = DEMO) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(folder.iterdir())
            if f.name.endswith((".csv", ".toml"))}


def seed(engine: Any, folder: Path = DEMO) -> None:
    """The demo register and one user of each role (named as the role)."""
    _, texts = validate_upload(demo_files(folder))
    with write(engine) as conn:
        replace_register(conn, texts)
        for role in ROLES:
            security.add_user(conn, role, role, password(role))


@dataclass
class Setup:
    client: TestClient
    engine: Any
    url: str
    headers: dict[str, dict[str, str]]  # role -> Authorization header

    def get(self, path: str, role: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.headers[role], **kw)

    def post(self, path: str, role: str, **kw: Any) -> Any:
        return self.client.post(path, headers=self.headers[role], **kw)


def login(client: TestClient, role: str) -> dict[str, str]:
    r = client.post("/api/v1/token", json={"username": role, "password": password(role)})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'placement.db'}"


def make_setup(url: str, **app_kw: Any) -> Setup:
    engine = make_engine(url)
    upgrade(engine)
    seed(engine)
    client = TestClient(create_app(engine=engine, **app_kw))
    return Setup(client, engine, url, {r: login(client, r) for r in ROLES})


def pg_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def reset_pg(url: str) -> None:
    """Drop every table of the test database (PostgreSQL), so each test starts empty."""
    from sqlalchemy import text

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def open_referral(s: Setup, child_id: str, role: str = "officer") -> str:
    r = s.post("/api/v1/referrals", role, json={"child_id": child_id})
    assert r.status_code == 201, r.text
    return str(r.json()["referral_id"])
