"""Shared set-up of the service tests: a fresh SQLite register with the demo authority.

Import this only after `pytest.importorskip` of the service's dependencies.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
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
# cheap argon2 parameters: the suite signs in hundreds of times on two busy cores
security.configure_hashing(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
_template: dict[str, Path] = {}
_texts: dict[Path, dict[str, str]] = {}


def password(role: str) -> str:
    return f"pw-{role}-correct-horse"


def demo_files(folder: Path = DEMO) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(folder.iterdir())
            if f.name.endswith((".csv", ".toml"))}


def demo_workbook(rows: int, cell: Callable[[str], str] = str) -> bytes:
    """The demo's children and placements sheets (header and `rows - 1` rows) as an .xlsx
    file, each cell's text passed through `cell`."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name in ("children", "placements"):
        ws = wb.create_sheet(name)
        for line in demo_files()[f"{name}.csv"].decode().splitlines()[:rows]:
            ws.append([cell(c) for c in line.split(",")])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def seed(engine: Any, folder: Path = DEMO) -> None:
    """The demo register and one user of each role (named as the role)."""
    if folder not in _texts:  # the reader's validation, once per run
        _texts[folder] = validate_upload(demo_files(folder))[1]
    texts = _texts[folder]
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


def seeded_sqlite(tmp_path: Path) -> str:
    """A copy of a seeded SQLite register (seeded once per test run) in `tmp_path`."""
    if "db" not in _template:
        path = Path(tempfile.mkdtemp(prefix="placement-template-")) / "placement.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        seed(engine)
        engine.dispose()  # the last connection closed folds the WAL into the file
        _template["db"] = path
    target = tmp_path / "placement.db"
    for suffix in ("", "-wal"):
        src = Path(f"{_template['db']}{suffix}")
        if src.exists():
            shutil.copyfile(src, f"{target}{suffix}")
    return f"sqlite:///{target}"


def make_setup(url: str, *, seeded: bool = False, **app_kw: Any) -> Setup:
    """The app over `url` with the demo register and users (seeded already or now)."""
    engine = make_engine(url)
    upgrade(engine)
    if not seeded:
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


PG_SKIP = (f"PostgreSQL tests need {PG_ENV}=postgresql://USER:PASS@HOST:PORT/DB (an empty "
           "database they may wipe; .ci/run starts one) and the psycopg package")


def _has_psycopg() -> bool:
    import importlib.util

    return importlib.util.find_spec("psycopg") is not None


DATABASES = [pytest.param("sqlite", id="sqlite"),
             pytest.param("postgresql", id="pg", marks=pytest.mark.skipif(
                 not (os.environ.get(PG_ENV) and _has_psycopg()), reason=PG_SKIP))]


def database_url(kind: str, tmp_path: Path) -> str:
    """A seeded register of this kind: a SQLite copy, or the PostgreSQL test database wiped
    and seeded afresh."""
    if kind == "sqlite":
        return seeded_sqlite(tmp_path)
    url = pg_url()
    assert url
    reset_pg(url)
    engine = make_engine(url)
    upgrade(engine)
    seed(engine)
    engine.dispose()
    return url


def open_referral(s: Setup, child_id: str, role: str = "officer") -> str:
    r = s.post("/api/v1/referrals", role, json={"child_id": child_id})
    assert r.status_code == 201, r.text
    return str(r.json()["referral_id"])


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no CSRF token in the form"
    return m.group(1)


def browser(s: Setup, role: str) -> tuple[TestClient, str]:
    """A client signed in through the sign-in form; returns it and its CSRF token."""
    c = TestClient(s.client.app)
    token = csrf_of(c.get("/sign-in").text)
    r = c.post("/sign-in", data={"username": role, "password": password(role),
                                 "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=strict" in r.headers["set-cookie"].lower()
    page = c.get("/register" if role != "admin" else "/import")
    return c, csrf_of(page.text)
