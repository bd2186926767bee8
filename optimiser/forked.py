"""A call that can be stopped at a deadline: run in a forked process, killed when late.

A library call that holds the interpreter for its whole run (OR-Tools' min-cost flow)
cannot be interrupted by a thread or a check between steps. A forked child shares the
parent's arrays without copying them, runs the call, and sends back only its answer; the
parent waits until the deadline and kills the child if it has not answered by then.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class TooLate(Exception):
    """The deadline came before the forked call answered (the child is killed)."""


def can_fork() -> bool:
    """Whether this platform forks (Linux, macOS); elsewhere a call runs in-process."""
    return "fork" in mp.get_all_start_methods()


class Forked(Generic[T]):
    """`fn(*args)` started in a forked process; `result` waits for its answer until a
    deadline. The parent may work meanwhile (the child runs on its own core)."""

    def __init__(self, fn: Callable[..., T], *args: Any):
        self.fn = fn
        ctx = mp.get_context("fork")
        self.recv, send = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_child, args=(fn, args, send), daemon=True)
        self.proc.start()
        send.close()

    def result(self, deadline: float) -> T:
        """The answer if it comes by `deadline` (a `time.perf_counter()` value), else
        `TooLate`; an exception in the child is raised here as a RuntimeError naming it.
        The child is stopped either way."""
        try:
            if not self.recv.poll(max(deadline - time.perf_counter(), 0.0)):
                raise TooLate
            try:
                kind, got = self.recv.recv()
            except EOFError:
                raise RuntimeError(f"{_name(self.fn)}: the worker process ended without an "
                                   "answer") from None
            if kind == "error":
                raise RuntimeError(f"{_name(self.fn)} failed in its worker process: {got}")
            return got
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Stop the child (if it still runs) and let its pipe go."""
        self.recv.close()
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()


def call_by(deadline: float, fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a forked process; its answer if it comes by `deadline` (a
    `time.perf_counter()` value), else `TooLate`. An exception in the child is raised
    here as a RuntimeError naming it."""
    return Forked(fn, *args).result(deadline)


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", repr(fn))


def _child(fn: Callable[..., Any], args: tuple[Any, ...], send: Connection) -> None:
    """In the forked process: the call, and its answer (or its error) sent back."""
    try:
        send.send(("ok", fn(*args)))
    except Exception as exc:  # the parent raises it
        send.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        send.close()
