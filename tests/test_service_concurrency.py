"""Twenty officers accept the last bed at once, over HTTP against a real server: one wins."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

for _dep in ("fastapi", "uvicorn", "sqlalchemy", "alembic", "argon2", "multipart", "httpx"):
    pytest.importorskip(_dep)

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from service_helpers import DATABASES, DEMO, database_url, password  # noqa: E402
from sqlalchemy import select  # noqa: E402

from optimiser import load_instance  # noqa: E402
from optimiser.match import Matcher  # noqa: E402
from optimiser.service.app import create_app  # noqa: E402
from optimiser.service.audit import verify  # noqa: E402
from optimiser.service.db import children, make_engine  # noqa: E402

N = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=DATABASES)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    url = database_url(request.param, tmp_path)
    port = free_port()
    config = uvicorn.Config(create_app(url), host="127.0.0.1", port=port, log_level="error")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", url
    srv.should_exit = True
    thread.join(10)


def contested_bed() -> tuple[str, list[str]]:
    """A placement that N waiting children (no sibling group) could each take."""
    m = Matcher(load_instance(DEMO))
    takers: dict[str, list[str]] = {}
    for cid, group in zip(m.cid, m.inst.sibling_group.tolist(), strict=True):
        if group:
            continue
        for r in m.rank(cid).ranked:
            takers.setdefault(r.placement_id, []).append(cid)
    pid, kids = max(takers.items(), key=lambda kv: len(kv[1]))
    assert len(kids) >= N
    return pid, kids[:N]


def token(http: httpx.Client, role: str) -> dict[str, str]:
    r = http.post("/api/v1/token", json={"username": role, "password": password(role)})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_twenty_accepts_of_the_last_bed(server: tuple[str, str]) -> None:
    base, db_url = server
    pid, kids = contested_bed()
    with httpx.Client(base_url=base, timeout=60) as http:
        officer, manager = token(http, "officer"), token(http, "manager")
        r = http.patch(f"/api/v1/placements/{pid}", json={"vacancies": 1}, headers=manager)
        assert r.status_code == 200
        rids = [http.post("/api/v1/referrals", json={"child_id": c}, headers=officer)
                .json()["referral_id"] for c in kids]
    start = threading.Barrier(N)
    statuses: list[int] = []

    def accept(rid: str) -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            start.wait()
            r = http.post(f"/api/v1/referrals/{rid}/decision", headers=officer,
                          json={"placement_id": pid, "decision": "accept", "reason": "race"})
            statuses.append(r.status_code)

    threads = [threading.Thread(target=accept, args=(rid,)) for rid in rids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert Counter(statuses) == Counter({200: 1, 409: N - 1})
    engine = make_engine(db_url)
    with engine.connect() as conn:
        placed = conn.execute(select(children.c.child_id).where(
            children.c.current_placement == pid)).scalars().all()
    assert len(placed) == 1 and placed[0] in kids
    with httpx.Client(base_url=base, timeout=60) as http:
        assert http.get(f"/api/v1/placements/{pid}", headers=officer).json()["vacancies"] == 0
        events = http.get("/api/v1/audit", headers=manager).json()["events"]
    accepts = [e for e in events if e["action"] == "decision.accept"]
    assert [e["detail"]["children"] for e in accepts] == [placed]
    assert verify(engine).ok
    engine.dispose()
