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
from typing import Any, TypeVar

T = TypeVar("T")


class TooLate(Exception):
    """The deadline came before the forked call answered (the child is killed)."""


def can_fork() -> bool:
    """Whether this platform forks (Linux, macOS); elsewhere a call runs in-process."""
    return "fork" in mp.get_all_start_methods()


def call_by(deadline: float, fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a forked process; its answer if it comes by `deadline` (a
    `time.perf_counter()` value), else `TooLate`. An exception in the child is raised
    here as a RuntimeError naming it."""
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(fn, args, send), daemon=True)
    proc.start()
    send.close()
    try:
        if not recv.poll(max(deadline - time.perf_counter(), 0.0)):
            raise TooLate
        try:
            kind, got = recv.recv()
        except EOFError:
            raise RuntimeError(f"{_name(fn)}: the worker process ended without an answer"
                               ) from None
        if kind == "error":
            raise RuntimeError(f"{_name(fn)} failed in its worker process: {got}")
        return got
    finally:
        recv.close()
        if proc.is_alive():
            proc.kill()
        proc.join()


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
