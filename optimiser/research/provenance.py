"""What a benchmark row was measured on: the commit, the UTC time, the machine and its load.

Every script under `benchmarks/` and the harness (`placement bench`) stamp each result
row with `provenance()` (JSON) or `csv_fields()` (CSV), taken when the run starts, so a
figure can always be traced to the code that produced it.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
# Changes that cannot alter a measurement: the results being written (a row appended to
# a tracked CSV must not mark the next row dirty), notes and the tests.
NOT_CODE = (":(exclude)benchmarks/results", ":(exclude,glob)**/*.md", ":(exclude)tests")
DIRTY_PATHS_SHOWN = 20


def _git(root: Path, *args: str) -> str:
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                              text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout.rstrip("\n") if proc.returncode == 0 else ""


def dirty_paths(root: Path = REPO_ROOT) -> list[str]:
    """Tracked files (code, instances, configs) that differ from HEAD."""
    out = _git(root, "status", "--porcelain", "--untracked-files=no", "--", ".", *NOT_CODE)
    return [line[3:] for line in out.splitlines() if len(line) > 3]


def commit(root: Path = REPO_ROOT) -> str:
    """`git rev-parse --short HEAD`, plus "-dirty" when code differs from it ("" outside git)."""
    head = _git(root, "rev-parse", "--short", "HEAD").strip()
    return head + ("-dirty" if head and dirty_paths(root) else "")


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def cores() -> int:
    """The cores this process may run on (the machine's count where affinity is unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 0


def provenance(root: Path = REPO_ROOT) -> dict[str, Any]:
    """The stamp of one JSON row: commit, UTC time, cores, load average (1, 5, 15 min)."""
    dirty = dirty_paths(root)
    head = _git(root, "rev-parse", "--short", "HEAD").strip()
    return {
        "commit": head + ("-dirty" if head and dirty else ""),
        "utc": utc_now(),
        "cores": cores(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "machine": f"{platform.system()} {platform.machine()}, Python "
                   f"{platform.python_version()}",
        "dirty_paths": dirty[:DIRTY_PATHS_SHOWN],
    }


CSV_FIELDS = ["commit", "utc", "cores", "load_1m", "load_5m", "load_15m"]


def csv_fields(root: Path = REPO_ROOT) -> dict[str, Any]:
    """The same stamp as flat CSV columns (`CSV_FIELDS`)."""
    p = provenance(root)
    one, five, fifteen = p["load_avg"]
    return {"commit": p["commit"], "utc": p["utc"], "cores": p["cores"],
            "load_1m": one, "load_5m": five, "load_15m": fifteen}
