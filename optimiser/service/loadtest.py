"""A bounded load test of the service: simulated officers over HTTP on the loopback address.

    python -m optimiser.service.loadtest instances/authority-2000 --officers 50 --seconds 30

Seeds a fresh SQLite register from the instance, starts `placement serve` as a separate
process, and runs officers that each open a referral for a waiting child, fetch its
matches (`?top=10`), and record a decision: a decline, or an accept every `--accept-every`
decisions (an accept changes the register, so the next match rebuilds the warm matcher).
Prints p50/p95/max per call, the errors, the load average before and after, and the CPU
the server's processes used per officer's round (referral, match, decision): on a shared
machine the latencies depend on everyone's load, the CPU per round much less.
Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from . import security
from .db import make_engine, upgrade, write
from .register import replace_register, validate_upload


def seed(url: str, folder: Path) -> tuple[list[str], str]:
    """The register from `folder` and one officer; returns waiting child ids, password."""
    files = {f.name: f.read_bytes() for f in sorted(folder.iterdir())
             if f.name.endswith((".csv", ".toml"))}
    inst, texts = validate_upload(files)
    password = secrets.token_urlsafe(12)
    engine = make_engine(url)
    upgrade(engine)
    with write(engine) as conn:
        replace_register(conn, texts)
        security.add_user(conn, "load-officer", "officer", password)
    engine.dispose()
    waiting = [c for c, cur in zip(inst.child_ids.tolist(), inst.current.tolist(), strict=True)
               if cur < 0]
    return waiting, password


def warm_up(base: str, auth: dict[str, str], child: str, workers: int) -> None:
    """Build each worker's warm matcher before the clock starts: a referral's matches,
    asked by several callers at once, so that every worker process gets some."""
    rid = httpx.post(f"{base}/api/v1/referrals", headers=auth,
                     json={"child_id": child}).json()["referral_id"]

    def ask() -> None:
        httpx.get(f"{base}/api/v1/referrals/{rid}/matches", headers=auth, timeout=120)

    for _ in range(2):
        callers = [threading.Thread(target=ask) for _ in range(4 * workers)]
        for t in callers:
            t.start()
        for t in callers:
            t.join()


def wipe(url: str) -> None:
    """Drop every table of the database at `url` (PostgreSQL: its public schema)."""
    from sqlalchemy import text

    engine = make_engine(url)
    if engine.dialect.name != "postgresql":
        raise SystemExit("--db: only a PostgreSQL database (it is wiped first)")
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its descendants, from /proc (0: not
    known, e.g. not Linux); a worker that has ended is no longer counted."""
    try:
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", "rb") as f:
                        raw = f.read()
                except OSError:
                    continue
                fields = raw[raw.rindex(b")") + 2:].split()
                stats[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    except OSError:
        return 0.0
    family, total, grew = {pid}, 0, True
    while grew:
        more = {p for p, (ppid, _) in stats.items() if ppid in family} - family
        grew = bool(more)
        family |= more
    for p in family:
        total += stats.get(p, (0, 0))[1]
    return total / os.sysconf("SC_CLK_TCK")


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m optimiser.service.loadtest")
    ap.add_argument("instance", type=Path)
    ap.add_argument("--officers", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--accept-every", type=int, default=10)
    ap.add_argument("--workers", type=int, default=1, help="server worker processes")
    ap.add_argument("--db", default=None,
                    help="a PostgreSQL database to use, WIPED first (default: a fresh SQLite "
                         "file)")
    ap.add_argument("--think", type=float, default=0.0,
                    help="seconds an officer waits before each call, on average: drawn "
                         "uniformly from half to one and a half times it, so that officers "
                         "do not all click at the same instant (default 0: a stress test)")
    args = ap.parse_args(argv)
    url = args.db or f"sqlite:///{Path(tempfile.mkdtemp(prefix='placement-load-'))}/placement.db"
    if args.db:
        wipe(url)
    waiting, password = seed(url, args.instance)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = subprocess.Popen([sys.executable, "-m", "optimiser.service.cli", "serve", "--db",
                             url, "--port", str(port), "--workers", str(args.workers)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                httpx.get(f"{base}/sign-in", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        token = httpx.post(f"{base}/api/v1/token", json={
            "username": "load-officer", "password": password}).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        warm_up(base, auth, waiting[0], args.workers)
        times: dict[str, list[float]] = {"referral": [], "match": [], "decision": []}
        errors: list[str] = []
        lock = threading.Lock()
        end = time.monotonic() + args.seconds

        def timed(rnd: random.Random, kind: str, call: Callable[..., httpx.Response],
                  path: str, **kw: Any) -> httpx.Response:
            if args.think:
                time.sleep(args.think * rnd.uniform(0.5, 1.5))
            t = time.perf_counter()
            r = call(path, **kw)
            with lock:
                times[kind].append(time.perf_counter() - t)
                if r.status_code >= 400 and r.status_code != 409:
                    errors.append(f"{kind} {r.status_code}")
            return r

        def officer(seed_: int) -> None:
            rnd = random.Random(seed_)
            n = 0
            with httpx.Client(base_url=base, headers=auth, timeout=60) as http:
                while time.monotonic() < end:
                    child = rnd.choice(waiting)
                    r = timed(rnd, "referral", http.post, "/api/v1/referrals",
                              json={"child_id": child})
                    rid = r.json().get("referral_id")
                    m = timed(rnd, "match", http.get, f"/api/v1/referrals/{rid}/matches",
                              params={"top": 10}).json()
                    if not m.get("ranked"):
                        continue
                    n += 1
                    accept = args.accept_every > 0 and n % args.accept_every == 0
                    body = {"placement_id": m["ranked"][0]["placement_id"],
                            "decision": "accept" if accept else "decline", "reason": "load"}
                    timed(rnd, "decision", http.post, f"/api/v1/referrals/{rid}/decision",
                          json=body)

        threads = [threading.Thread(target=officer, args=(i,)) for i in range(args.officers)]
        load_before = os.getloadavg()
        cpu0, own0 = tree_cpu(proc.pid), time.process_time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        cpu = tree_cpu(proc.pid) - cpu0
        own = time.process_time() - own0
        load_after = os.getloadavg()
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"{args.officers} officers for {args.seconds:g} s on {args.instance} "
          f"(accept every {args.accept_every} decisions, think {args.think:g} s on average, "
          f"{args.workers} worker(s))")
    for kind, xs in times.items():
        if xs:
            print(f"  {kind:<9} n={len(xs):>5}  p50 {1000 * statistics.median(xs):7.1f} ms  "
                  f"p95 {1000 * pct(xs, 0.95):7.1f} ms  max {1000 * max(xs):7.1f} ms")
    print(f"  errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    rounds = max(len(times["referral"]), 1)
    print(f"  server CPU {cpu:.1f} s ({1000 * cpu / rounds:.1f} ms per round), officers' "
          f"client CPU {own:.1f} s; load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
