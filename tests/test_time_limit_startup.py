"""When the start-up and the reading alone have taken the time limit, a command writes
the status quo at once (nobody moves, no waiting child is placed), checked; and a run of
one of the engine's own commands does not import the other commands' modules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from optimiser.cli import NO_TIME_LEFT
from optimiser.deadline import grace
from optimiser.generate import generate

ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, PYTHONPATH=str(ROOT))
LIMIT = 0.05  # seconds: gone before the interpreter has started


def python(*args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    t = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=300)
    return time.perf_counter() - t, done


@pytest.fixture(scope="module")
def placed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("startup") / "i"
    generate(folder, children=5_000, placements=3_700, seed=3, placed_share=0.7)
    return folder


def floor(instance: Path) -> float:
    """What no command can do without, measured now: starting the interpreter, importing
    what it writes with, and reading the instance (on a busy machine, seconds)."""
    wall, done = python("-c", "import sys; import optimiser.cli, optimiser.writer, "
                        "optimiser.timelimit; from optimiser.reader import load_instance; "
                        "load_instance(sys.argv[1])", str(instance))
    assert done.returncode == 0, done.stderr
    return wall


@pytest.mark.parametrize("command", ["solve", "reallocate"])
def test_no_time_left_after_reading_writes_the_status_quo(placed: Path, tmp_path: Path,
                                                          command: str) -> None:
    need = floor(placed)
    out = tmp_path / "out"
    wall, done = python("-m", "optimiser.cli", command, str(placed), "--out", str(out),
                        "--time-limit", str(LIMIT))
    assert done.returncode == 0, done.stderr
    # the promise, from the moment the unavoidable start-up and reading are done
    assert wall <= max(LIMIT, need) + grace(LIMIT), f"{wall:.1f}s, floor {need:.1f}s"
    assert NO_TIME_LEFT in done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "time_limit"
    current = pd.read_csv(placed / "children.csv", dtype=str, keep_default_na=False)
    plan = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    merged = current.merge(plan, on="child_id")
    assert (merged["current_placement"] == merged["placement_id"]).all()  # nobody moves
    check = subprocess.run([sys.executable, "-m", "optimiser.cli", "check", str(placed),
                            str(out)], cwd=ROOT, env=ENV, capture_output=True, text=True,
                           timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_core_command_builds_only_the_core_parsers() -> None:
    probe = ("import sys; from optimiser import cli; "
             "sub = cli.build_parser(full=False)._subparsers._group_actions[0].choices; "
             "print(sorted(sub)); print('optimiser.sufficiency.cli' in sys.modules, "
             "'optimiser.service.cli' in sys.modules)")
    _, done = python("-c", probe)
    assert done.returncode == 0, done.stderr
    names, loaded = done.stdout.splitlines()
    from optimiser.cli import CORE_COMMANDS

    assert names == str(sorted(CORE_COMMANDS))
    assert loaded == "False False"
    _, full = python("-m", "optimiser.cli", "--help")
    assert "sufficiency" in full.stdout and "import-903" in full.stdout
