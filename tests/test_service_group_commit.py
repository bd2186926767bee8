"""The group commit: jobs that wait while another commits share one transaction, each in
its own savepoint; a job that fails leaves the others committed and the audit chain whole."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

for _dep in ("fastapi", "uvicorn", "sqlalchemy", "alembic", "argon2", "multipart", "httpx"):
    pytest.importorskip(_dep)

from service_helpers import DATABASES, database_url  # noqa: E402
from sqlalchemy import Connection, event, func, select  # noqa: E402

from optimiser.service import audit  # noqa: E402
from optimiser.service.db import (  # noqa: E402
    audit_events,
    commit_job,
    make_engine,
    upgrade,
)
from optimiser.service.errors import Conflict  # noqa: E402

JOBS = 12


@pytest.fixture(params=DATABASES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    eng = make_engine(database_url(request.param, tmp_path))
    upgrade(eng)
    yield eng
    eng.dispose()


def commits_of(engine: Any) -> list[int]:
    """A list that grows by one at each commit of `engine`."""
    seen: list[int] = []
    event.listen(engine, "commit", lambda conn: seen.append(1))
    return seen


def behind_a_slow_job(engine: Any, jobs: list[Any],
                      caught: type[BaseException]) -> dict[str, Any]:
    """Each job's answer (or the `caught` it raised), keyed by its index as text ("slow"
    for the leader): the jobs are queued while a slow one holds the group open, so they
    form the next group together."""
    first_in, release = threading.Event(), threading.Event()

    def slow(conn: Connection) -> str:
        audit.append(conn, "tester", "test.slow", "job:slow", {})
        first_in.set()
        release.wait(10)
        return "slow"

    results: dict[str, Any] = {}
    calling = threading.Semaphore(0)

    def call(name: str, fn: Any) -> None:
        calling.release()
        try:
            results[name] = commit_job(engine, fn)
        except caught as e:
            results[name] = e

    leader = threading.Thread(target=call, args=("slow", slow))
    leader.start()
    assert first_in.wait(10)
    others = [threading.Thread(target=call, args=(str(n), fn)) for n, fn in enumerate(jobs)]
    for t in others:
        t.start()
    for _ in range(len(jobs) + 1):
        assert calling.acquire(timeout=10)
    time.sleep(0.5)  # each is in the queue behind the leader by now
    release.set()
    for t in [leader, *others]:
        t.join(30)
    return results


def test_waiting_jobs_share_a_commit_and_a_failure_is_theirs_alone(engine: Any) -> None:
    def job(n: int) -> Any:
        def run(conn: Connection) -> int:
            audit.append(conn, "tester", "test.job", f"job:{n}", {"n": n})
            if n % 4 == 3:  # fails after writing: its event must not stay
                raise Conflict(f"job {n} refused")
            return n
        return run

    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(audit_events)).scalar_one()
    commits = commits_of(engine)
    results = behind_a_slow_job(engine, [job(n) for n in range(JOBS)], Conflict)

    assert results["slow"] == "slow"
    for n in range(JOBS):
        got = results[str(n)]
        assert isinstance(got, Conflict) if n % 4 == 3 else got == n, (n, got)
    assert len(commits) == 2, commits  # the leader's, then every job that waited: one
    with engine.connect() as conn:
        subjects = [r.subject for r in conn.execute(
            select(audit_events).where(audit_events.c.seq > before).order_by(audit_events.c.seq))]
    kept = {f"job:{n}" for n in range(JOBS) if n % 4 != 3}
    assert subjects[0] == "job:slow" and set(subjects[1:]) == kept
    assert len(subjects) == 1 + len(kept)
    verdict = audit.verify(engine)
    assert verdict.ok, verdict


def test_a_job_alone_that_fails_writes_nothing(engine: Any) -> None:
    def failing(conn: Connection) -> None:
        audit.append(conn, "tester", "test.fail", "job:alone", {})
        raise Conflict("refused")

    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(audit_events)).scalar_one()
    with pytest.raises(Conflict):
        commit_job(engine, failing)
    seq = commit_job(engine, lambda conn: audit.append(conn, "t", "test.ok", "job:ok", {}))
    assert seq == before + 1
    with engine.connect() as conn:
        assert [r.subject for r in conn.execute(
            select(audit_events).where(audit_events.c.seq > before))] == ["job:ok"]
    assert audit.verify(engine).ok


class Interrupted(BaseException):
    """Not an Exception: what a worker being stopped raises in the middle of a group."""


def test_a_group_interrupted_answers_none_of_its_jobs_as_done(engine: Any) -> None:
    def job(n: int) -> Any:
        def run(conn: Connection) -> int:
            audit.append(conn, "tester", "test.job", f"job:{n}", {"n": n})
            if n == 1:
                raise Interrupted()
            return n
        return run

    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(audit_events)).scalar_one()
    results = behind_a_slow_job(engine, [job(n) for n in range(3)], Interrupted)
    assert results["slow"] == "slow"
    assert all(isinstance(results[str(n)], Interrupted) for n in range(3)), results
    with engine.connect() as conn:
        subjects = [r.subject for r in conn.execute(
            select(audit_events).where(audit_events.c.seq > before))]
    assert subjects == ["job:slow"]
    assert audit.verify(engine).ok
