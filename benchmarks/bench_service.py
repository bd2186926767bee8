"""Service benchmark: one match over HTTP on a national register of 50,000 placements.

    python benchmarks/bench_service.py [--referrals 30] [--children 3000] [--out benchmarks/results]

A register of 50,000 placements (``optimiser.generate.generate``, England; 3,000 children by
default) is imported into a fresh SQLite database, ``placement serve`` (one worker) is
started on the loopback address and its warm matcher built. Then, for `--referrals`
waiting children, a referral is opened and its matches fetched with
``GET /api/v1/referrals/{id}/matches?top=10``: the time from sending the request to the
last byte of the answer (the complete JSON: every ruled-out placement with its reason),
cold (a referral never asked before) and again (the same referral, same register
version: the answer kept). The body is parsed afterwards, outside the timing, to check it.
Also recorded: the server's CPU per cold match, the answer's size, the load average.

Figures go to ``<out>/service.json``; target (issue 16): median <= 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from optimiser.research.provenance import provenance  # noqa: E402  (the repository first)


def _ms(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs) * 1000.0
    return {"n": len(a), "median_ms": round(float(np.median(a)), 1),
            "p95_ms": round(float(np.percentile(a, 95)), 1),
            "max_ms": round(float(a.max()), 1)}


def register(work: Path, children: int, placements: int, seed: int) -> Path:
    from optimiser.generate import generate

    folder = work / f"service-{placements}-{children}-s{seed}"
    if not (folder / "children.csv").exists():
        generate(folder, children=children, placements=placements, seed=seed,
                 authority="England")
    return folder


def serve(url: str) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = subprocess.Popen([sys.executable, "-m", "optimiser.service.cli", "serve", "--db",
                             url, "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        try:
            httpx.get(f"{base}/sign-in", timeout=2)
            return proc, base
        except httpx.TransportError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("the service did not start") from None
            time.sleep(0.2)


def timed_get(http: Any, path: str) -> tuple[float, bytes]:
    """Seconds from sending the request to the last byte of the body."""
    t = time.perf_counter()
    with http.stream("GET", path, params={"top": 10}) as r:
        body = r.read()
        took = time.perf_counter() - t
        assert r.status_code == 200, r.status_code
    return took, body


def run(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    from optimiser.service.loadtest import seed, tree_cpu

    folder = register(Path(args.work), args.children, args.placements, args.seed)
    db = Path(tempfile.mkdtemp(prefix="placement-bench-")) / "placement.db"
    t = time.perf_counter()
    waiting, password = seed(f"sqlite:///{db}", folder)
    t_import = time.perf_counter() - t
    proc, base = serve(f"sqlite:///{db}")
    try:
        with httpx.Client(base_url=base, timeout=120) as http:
            token = http.post("/api/v1/token", json={"username": "load-officer",
                                                     "password": password}).json()
            http.headers["Authorization"] = f"Bearer {token['access_token']}"
            rng = np.random.default_rng(args.seed)
            kids = [waiting[i] for i in rng.permutation(len(waiting))[:args.referrals + 3]]
            rids = [http.post("/api/v1/referrals", json={"child_id": c}).json()["referral_id"]
                    for c in kids]
            # the first builds the warm matcher from the register's rows; then warm-up
            t_warm = timed_get(http, f"/api/v1/referrals/{rids[0]}/matches")[0]
            for rid in rids[1:3]:
                timed_get(http, f"/api/v1/referrals/{rid}/matches")
            cold, again, sizes, ruled = [], [], [], []
            cpu0 = tree_cpu(proc.pid)
            for rid in rids[3:]:
                took, body = timed_get(http, f"/api/v1/referrals/{rid}/matches")
                cold.append(took)
                sizes.append(len(body))
                answer = json.loads(body)
                ruled.append(len(answer["ruled_out"]) + answer["ranked_total"]
                             + len(answer["near_misses"]))
            cpu = tree_cpu(proc.pid) - cpu0
            for rid in rids[3:]:
                again.append(timed_get(http, f"/api/v1/referrals/{rid}/matches")[0])
    finally:
        proc.terminate()
        proc.wait(30)
    return {
        "instance": str(folder.relative_to(ROOT)) if folder.is_relative_to(ROOT) else str(folder),
        "children": args.children, "placements": args.placements,
        "import_s": round(t_import, 1), "warm_matcher_s": round(t_warm, 1),
        "match_cold": _ms(cold), "match_again": _ms(again),
        "server_cpu_ms_per_cold_match": round(1000 * cpu / max(len(cold), 1), 1),
        "answer_kib_median": round(float(np.median(sizes)) / 1024, 1),
        "placements_answered_min": int(min(ruled)),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--referrals", type=int, default=30)
    ap.add_argument("--children", type=int, default=3000)
    ap.add_argument("--placements", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--work", default=str(ROOT / "benchmarks" / "work"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args()
    Path(args.work).mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()
    stamp = provenance(ROOT)
    row = {**stamp, **run(args)}
    doc = {"meta": {"load_average_start": [round(x, 2) for x in load0],
                    "load_average_end": [round(x, 2) for x in os.getloadavg()],
                    "command": "python benchmarks/bench_service.py " + " ".join(sys.argv[1:])},
           "national_match_over_http": row}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "service.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
