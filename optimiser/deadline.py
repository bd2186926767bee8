"""The one clock every command keeps: its time limit, counted from the start of the process.

A command's time limit is a promise about wall time as the user sees it: from the moment
the process started (the interpreter's start-up and imports included) to the moment the
last output file is in place. `Deadline` is that clock; every stage asks it what is left.
Times are `time.perf_counter()` values.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

GRACE_SECONDS = 2.0  # the promise: done by limit + max(GRACE_SECONDS, GRACE_SHARE x limit)
GRACE_SHARE = 0.05


# a process that slept longer than this before the command began (and longer than it
# ran) was another program until it exec'd the command: `bash -c "install && placement
# solve ..."` runs the last command in the shell's own process, which the OS dates from
# the shell's start
SLEPT_BEFORE_SECONDS = 1.0


def process_age() -> float | None:
    """Seconds since this command started, from the OS (Linux: /proc/self/stat against the
    boot-time clock, to the kernel's tick); None where the OS does not say. Where the
    process slept before (it exec'd the command after waiting on others), its time on
    and waiting for a CPU (/proc/self/schedstat) instead."""
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        # the command name (field 2) may hold spaces: fields are counted after its ")"
        ticks = int(stat[stat.rindex(b")") + 2:].split()[19])
        now = time.clock_gettime(time.CLOCK_BOOTTIME)
        age = now - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    if not 0.0 <= age < 86_400.0:
        return None
    active = active_seconds()
    if active is not None and age - active > max(SLEPT_BEFORE_SECONDS, active):
        return active
    return age


def active_seconds() -> float | None:
    """Seconds this process has run on a CPU or waited for one (None: not known)."""
    try:
        with open("/proc/self/schedstat", "rb") as f:
            run, wait = f.read().split()[:2]
        return (int(run) + int(wait)) / 1e9
    except (OSError, ValueError):
        return None


def process_started() -> float:
    """The `time.perf_counter()` value at which this process started (now, when unknown)."""
    return time.perf_counter() - (process_age() or 0.0)


def grace(limit: float) -> float:
    """Seconds a command may end past its limit: max(2 s, 5% of the limit)."""
    return max(GRACE_SECONDS, GRACE_SHARE * limit)


@dataclass(frozen=True)
class Deadline:
    """`limit` seconds (None: no limit) from `started` (a `time.perf_counter()` value)."""

    limit: float | None
    started: float

    @classmethod
    def from_process_start(cls, limit: float | None) -> Deadline:
        """The limit counted from the start of this process."""
        return cls(limit, process_started())

    @classmethod
    def from_now(cls, limit: float | None) -> Deadline:
        return cls(limit, time.perf_counter())

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def remaining(self) -> float:
        """Seconds left before the limit (negative past it; infinite with no limit)."""
        return math.inf if self.limit is None else self.limit - self.elapsed()

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def at(self) -> float:
        """The limit as a `time.perf_counter()` value (infinite with no limit)."""
        return math.inf if self.limit is None else self.started + self.limit

    def earlier(self, seconds: float) -> Deadline:
        """The same clock with `seconds` kept back (for writing, say); the limit stays
        positive so that a stage always gets a moment."""
        if self.limit is None:
            return self
        return Deadline(max(self.limit - seconds, 0.0), self.started)
