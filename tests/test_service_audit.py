"""The audit trail: hash-chained, append-only in the database, verified by a command;
`placement users add` and the migrations on start."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

for _dep in ("fastapi", "uvicorn", "sqlalchemy", "alembic", "argon2", "multipart", "httpx"):
    pytest.importorskip(_dep)

from service_helpers import (  # noqa: E402
    DATABASES,
    Setup,
    database_url,
    make_setup,
    open_referral,
)
from sqlalchemy import func, inspect, select, text  # noqa: E402
from sqlalchemy.exc import DatabaseError  # noqa: E402

from optimiser.service.audit import Verdict, append, event_hash, verify  # noqa: E402
from optimiser.service.cli import main  # noqa: E402
from optimiser.service.db import (  # noqa: E402
    audit_events,
    downgrade,
    make_engine,
    upgrade,
    users,
    write,
)
from optimiser.service.security import add_user  # noqa: E402

on_both = pytest.mark.parametrize("s", DATABASES, indirect=True)


@pytest.fixture
def s(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    """SQLite; PostgreSQL too where a test is marked `on_both`."""
    kind = getattr(request, "param", "sqlite")
    setup = make_setup(database_url(kind, tmp_path), seeded=True)
    rid = open_referral(setup, "C00001")
    pid = setup.get(f"/api/v1/referrals/{rid}/matches", "officer").json()["ranked"][0]
    setup.post(f"/api/v1/referrals/{rid}/decision", "officer",
               json={"placement_id": pid["placement_id"], "decision": "accept", "reason": "ok"})
    setup.client.patch("/api/v1/placements/P00003", headers=setup.headers["manager"],
                       json={"vacancies": 3})
    yield setup
    setup.client.close()
    setup.engine.dispose()


@on_both
def test_the_chain_links_every_event(s: Setup) -> None:
    events = s.get("/api/v1/audit", "manager").json()["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert [e["action"] for e in events][-3:] == ["referral.open", "decision.accept",
                                                  "placement.edit"]
    prev = "0" * 64
    for e in events:
        assert e["prev_hash"] == prev
        assert e["hash"] == event_hash(e["seq"], e["at"], e["user"], e["action"], e["subject"],
                                       e["detail"], e["prev_hash"])
        prev = e["hash"]
    assert verify(s.engine).ok


@on_both
def test_the_database_refuses_to_change_an_event(s: Setup) -> None:
    for sql in ("UPDATE audit_events SET user = 'mallory' WHERE seq = 2",
                "DELETE FROM audit_events WHERE seq = 2"):
        with pytest.raises(DatabaseError), s.engine.begin() as conn:
            conn.execute(text(sql))
    assert verify(s.engine).ok


def tamper(s: Setup, sql: str) -> None:
    """What an attacker with the database file can do: drop the guards, then edit."""
    with s.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_no_change"))
        else:
            conn.execute(text("DROP TRIGGER audit_no_update"))
            conn.execute(text("DROP TRIGGER audit_no_delete"))
        conn.execute(text(sql))


@on_both
def test_a_changed_event_is_found(s: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    with s.engine.connect() as conn:
        detail = json.loads(conn.execute(
            select(audit_events.c.detail).where(audit_events.c.seq == 3)).scalar_one())
    detail["reason"] = "changed afterwards"
    tamper(s, f"UPDATE audit_events SET detail = '{json.dumps(detail)}' WHERE seq = 3")
    s.engine.dispose()  # a later connection sees the change whatever the pool holds
    v = verify(s.engine)
    assert not v.ok and v.bad_seq == 3
    assert main(["audit", "verify", "--db", s.url]) == 1
    assert "seq 3" in capsys.readouterr().err


@pytest.mark.parametrize("sql", ["DELETE FROM audit_events WHERE seq = 2",
                                 "DELETE FROM audit_events WHERE seq = "
                                 "(SELECT MAX(seq) FROM audit_events)"])
@on_both
def test_a_removed_event_is_found(s: Setup, sql: str) -> None:
    tamper(s, sql)
    assert not verify(s.engine).ok


def test_audit_verify_command_passes_on_a_good_chain(
        s: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "--db", s.url]) == 0
    assert "verified" in capsys.readouterr().out


def test_users_add(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'u.db'}"
    monkeypatch.setattr("sys.stdin", io.StringIO("a-good-password\n"))
    assert main(["users", "add", "ada", "--role", "manager", "--db", url]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("another-password\n"))
    assert main(["users", "add", "ada", "--role", "officer", "--db", url]) == 2
    assert "exists" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "bob", "--role", "officer", "--db", url]) == 2
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(users.c.username, users.c.role, users.c.password_hash)
                            ).all()
    assert [(r.username, r.role) for r in rows] == [("ada", "manager")]
    assert rows[0].password_hash.startswith("$argon2id$")
    assert "a-good-password" not in rows[0].password_hash


def test_migrating_again_keeps_the_data(s: Setup) -> None:
    def count() -> tuple[int, int]:
        with s.engine.connect() as conn:
            return (conn.execute(select(func.count()).select_from(audit_events)).scalar_one(),
                    conn.execute(select(func.count()).select_from(users)).scalar_one())

    before = count()
    upgrade(s.engine)
    upgrade(make_engine(s.url))
    assert count() == before and before[0] > 0
    with s.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()


def test_an_upgrade_from_the_first_schema_keeps_every_row(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0001")
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert "users" in tables and "realloc_runs" not in tables
    with write(engine) as conn:
        add_user(conn, "ada", "manager", "a-good-password")
        append(conn, "ada", "test.event", "x:1", {"n": 1})
    upgrade(engine)
    with engine.connect() as conn:
        assert "realloc_runs" in inspect(conn).get_table_names()
        assert conn.execute(select(users.c.username)).scalars().all() == ["ada"]
    assert verify(engine) == Verdict(True, 1)


@pytest.mark.parametrize("db", DATABASES)
def test_downgrades_undo_each_revision_and_upgrade_again(
        tmp_path: Path, db: str) -> None:
    """Each revision can be taken back: to 0001 the later tables go and the first schema's
    rows stay (the seeded register and one more account); to base nothing of the service
    is left (its audit guards included, or the
    tables could not be dropped); the newest schema can then be built again."""
    engine = make_engine(database_url(db, tmp_path))
    upgrade(engine)
    with write(engine) as conn:
        add_user(conn, "ada", "manager", "a-good-password")
    downgrade(engine, "0001")
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert {"users", "audit_events"} <= tables
        assert not tables & {"realloc_runs", "login_failures", "register_changes",
                             "commission_plans"}
        assert "ada" in conn.execute(select(users.c.username)).scalars().all()
    downgrade(engine, "base")
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    with engine.connect() as conn:
        assert {"realloc_runs", "login_failures", "users"} <= set(
            inspect(conn).get_table_names())
