"""The clock of a command counts from the command's start, also when a shell exec'd it
after waiting on other programs (`bash -c "install && placement solve ..."`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from optimiser.deadline import active_seconds, process_age

ROOT = Path(__file__).resolve().parents[1]
AGE = "from optimiser.deadline import process_age; print(process_age())"

pytestmark = pytest.mark.skipif(process_age() is None or active_seconds() is None,
                                reason="the OS does not date processes (/proc)")


def age_after(shell: str) -> float:
    out = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, cwd=ROOT,
                         check=True)
    return float(out.stdout.strip())


def test_a_command_execd_after_a_wait_is_dated_from_the_exec() -> None:
    age = age_after(f"sleep 3; exec {sys.executable} -c '{AGE}'")
    assert age < 2.5  # not the shell's 3 s of waiting


def test_a_command_started_busy_counts_its_start_up() -> None:
    busy = ("import time; t = time.process_time()\n"
            "while time.process_time() - t < 1.5: pass\n" + AGE.replace("; ", "\n"))
    age = age_after(f"exec {sys.executable} -c '{busy}'")
    assert age >= 1.5
