"""The last resort of a time limit: when the hard deadline comes and the command is still
at work, write the best answer it has and end the process.

Every stage of a command keeps its own share of the limit; this is for the stretch that
cannot be interrupted (a library call that runs on past its share, a pass that is not
ours to bound). A thread waits for the deadline; the command `claim`s the right to write
when it has its answer. Whoever comes first writes; the other stands aside. Python runs
the thread whenever the main thread is in Python code or in a library call that lets go
of the interpreter lock (NumPy's loops, OR-Tools' and HiGHS's solves).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import NoReturn, TypeVar

log = logging.getLogger(__name__)


class Watchdog:
    """Calls `fallback` at `at` (a `time.perf_counter()` value) unless `claim`ed first;
    when it wrote an answer (returned True), stops the worker processes this process
    started and exits with `exit_code`; when it had nothing to write yet (returned
    False), it tries again shortly; when it failed, the command runs on."""

    def __init__(self, at: float, fallback: Callable[[], bool], exit_code: int = 0):
        self.at = at
        self.fallback = fallback
        self.exit_code = exit_code
        self._lock = threading.Lock()
        self._claimed = False
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name="deadline-watchdog",
                                        daemon=True)

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._cancel.set()

    def claim(self) -> None:
        """The command writes its own answer: the watchdog stands aside. If the watchdog
        is writing already, this waits (and the process ends when it is done)."""
        with self._lock:
            self._claimed = True

    def _run(self) -> None:
        while not self._cancel.is_set():
            wait = self.at - time.perf_counter()
            if wait > 0:
                self._cancel.wait(min(wait, 0.1))  # `at` may be moved meanwhile
            elif self._fire():
                return
            else:  # nothing to write yet (the input not read): try again shortly
                self._cancel.wait(0.05)

    def _fire(self) -> bool:
        """Write and end the process; False when the command claimed the writing or the
        fallback had nothing to write."""
        with self._lock:
            if self._claimed:
                return True
            try:
                wrote = self.fallback()
            except Exception:  # the command's own answer may still come: let it run on
                log.exception("the time limit's fallback failed")
                return True
            if not wrote:
                return False
            end_process(self.exit_code)


def end_process(code: int) -> NoReturn:
    """Flush the output, stop the worker processes and end now, without the
    interpreter's tear-down (which waits on workers and frees every array: seconds at
    scale, and the time limit counts them)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    stop_children()
    os._exit(code)


def children(pid: int) -> list[int]:
    """Every descendant of process `pid` (Linux: read from /proc; [] elsewhere)."""
    parent: dict[int, int] = {}
    for d in Path("/proc").glob("[0-9]*"):
        try:
            stat = (d / "stat").read_bytes()
            parent[int(d.name)] = int(stat[stat.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    out: list[int] = []
    frontier = [pid]
    while frontier:
        kids = [c for c, p in parent.items() if p in frontier]
        out += kids
        frontier = kids
    return out


def stop_children() -> None:
    """Kill the worker processes this process started (LP server, HiGHS runs, Dask):
    `os._exit` skips the clean-up that would stop them."""
    for pid in children(os.getpid()):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


G = TypeVar("G", bound="Guarded")


class Guarded:
    """A command's guard over a `with` block: its `watchdog` runs inside it when `armed`
    (not armed: none runs, the process is not the command's to end)."""

    armed: bool
    watchdog: Watchdog

    def __enter__(self: G) -> G:
        if self.armed:
            self.watchdog.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.watchdog.__exit__(kind, exc, tb)
