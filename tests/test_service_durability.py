"""`placement serve --demo` killed (SIGKILL) in the middle of decisions: after a restart the
register and the audit trail agree and the chain verifies."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

for _dep in ("fastapi", "uvicorn", "sqlalchemy", "alembic", "argon2", "multipart", "httpx"):
    pytest.importorskip(_dep)

import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from service_helpers import DEMO  # noqa: E402
from sqlalchemy import select  # noqa: E402

from optimiser.service.app import create_app  # noqa: E402
from optimiser.service.audit import events, verify  # noqa: E402
from optimiser.service.db import children, decisions, placements  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_demo(url: str, port: int) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start the service as a user would; read the demo accounts it prints."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "optimiser.service.cli", "serve", "--db", url, "--port",
         str(port), "--demo"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    accounts: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        words = line.split()
        if len(words) == 4 and words[2] == "password":
            accounts[words[0]] = words[3]
            accounts[words[0] + "_name"] = words[1]
        if line.startswith("placement service on"):
            break
    assert set(accounts) >= {"officer", "manager", "commissioner", "admin"}, (
        f"no demo accounts printed (server exit code {proc.poll()})")
    deadline = time.monotonic() + 120
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/sign-in", timeout=2)
            return proc, accounts
        except httpx.TransportError:
            assert time.monotonic() < deadline and proc.poll() is None, "no server"
            time.sleep(0.1)


def test_killed_in_the_middle_of_decisions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'placement.db'}"
    port = free_port()
    proc, acc = start_demo(url, port)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            r = http.post("/api/v1/token", json={"username": acc["officer_name"],
                                                 "password": acc["officer"]})
            auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        stop = threading.Event()
        done: list[str] = []

        def officer(kids: list[str]) -> None:
            with httpx.Client(base_url=base, timeout=30, headers=auth) as http:
                for child in kids:
                    if stop.is_set():
                        return
                    try:
                        rid = http.post("/api/v1/referrals", json={"child_id": child}).json()[
                            "referral_id"]
                        m = http.get(f"/api/v1/referrals/{rid}/matches?top=1").json()
                        if m["ranked"]:
                            r = http.post(f"/api/v1/referrals/{rid}/decision", json={
                                "placement_id": m["ranked"][0]["placement_id"],
                                "decision": "accept", "reason": "durability"})
                            done.append(f"{child}:{r.status_code}")
                    except (httpx.TransportError, KeyError, ValueError):
                        return  # the server is gone

        kids = [f"C{n:05d}" for n in range(1, 301)]
        threads = [threading.Thread(target=officer, args=(kids[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 120
        while len(done) < 8 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)  # mid-flight: requests are being answered
        proc.wait(10)
        stop.set()
        for t in threads:
            t.join(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(done) >= 8, f"only {len(done)} decisions before the kill: {done}"

    # restart: migrations run again, the audit chain verifies, register and audit agree
    app = create_app(url)
    engine = app.state.service.engine
    client = TestClient(app)
    verdict = verify(engine)
    assert verdict.ok, verdict
    with engine.connect() as conn:
        placed = {r.child_id: r.current_placement for r in conn.execute(select(children))
                  if r.current_placement}
        vac = {r.placement_id: r.vacancies for r in conn.execute(select(placements))}
        recorded = {(r.referral_id, r.placement_id) for r in conn.execute(
            select(decisions).where(decisions.c.outcome == "placed"))}
        audited = [e for e in events(conn) if e["action"] == "decision.accept"
                   and e["detail"]["outcome"] == "placed"]  # not those awaiting approval
    assert placed, "no decision survived"
    # every accept answered "placed" before the kill was durable when answered
    answered = {d.split(":")[0] for d in list(done) if d.endswith(":200")}
    assert answered and answered <= set(placed), sorted(answered - set(placed))
    from_audit = {c: e["detail"]["placement_id"] for e in audited
                  for c in e["detail"]["children"]}
    assert from_audit == placed, {c: (from_audit.get(c), placed.get(c))
                                  for c in set(from_audit) | set(placed)
                                  if from_audit.get(c) != placed.get(c)}
    assert {(e["detail"]["referral_id"], e["detail"]["placement_id"]) for e in audited} == (
        recorded)
    with (DEMO / "placements.csv").open(newline="", encoding="utf-8") as f:
        original = {r["placement_id"]: int(r["vacancies"]) for r in csv.DictReader(f)}
    for pid, n in original.items():
        assert vac[pid] == n - sum(1 for p in placed.values() if p == pid), pid
    assert client.get("/sign-in").status_code == 200
