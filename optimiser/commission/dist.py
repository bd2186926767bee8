"""Scenario sweeps on Dask: one code path for a local cluster and an existing scheduler.

`plan_capacity` sends every batch of per-scenario solves through a *mapper*,
``mapper(fn, args_list) -> list`` (results in the order of ``args_list``). This module
provides the two mappers a commissioner needs:

* `InProcessMapper`: a plain loop in this process (tests, tiny cases, debugging).
* `DaskMapper`: ``Client.map`` + ``gather`` on a `dask.distributed` cluster. Without an
  address it starts a `LocalCluster` of worker *processes* (one thread each, so a
  solver never competes with a sibling thread for the GIL); with an address it connects
  to an existing scheduler. After connecting, both run exactly the same code.

Arguments that are the same object in every task (the commissioning data, the base
instance) are scattered once to every worker (``broadcast=True``) and passed as futures,
so a 2,000-child instance is pickled once per worker rather than once per scenario.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

Mapper = Callable[[Callable[..., Any], Sequence[tuple[Any, ...]]], list[Any]]

# Positions whose argument is one of these is never scattered: cheap to send per task.
_SMALL = (int, float, str, bytes, bool, type(None))
# A shared argument is scattered once only when it pickles to at least this many bytes.
SCATTER_MIN_BYTES = 16_384


class InProcessMapper:
    """Run the tasks one after another in this process (same interface as `DaskMapper`)."""

    def __init__(self, progress: bool = False, stream: TextIO | None = None) -> None:
        self.progress = progress
        self.stream = stream
        self.calls = 0
        self.tasks = 0

    def __call__(self, fn: Callable[..., Any], args_list: Sequence[tuple[Any, ...]]) -> list[Any]:
        self.calls += 1
        self.tasks += len(args_list)
        bar = _Bar(len(args_list), self.stream or sys.stderr) if self.progress else None
        out = []
        for args in args_list:
            out.append(fn(*args))
            if bar:
                bar.step()
        if bar:
            bar.close()
        return out

    def describe(self) -> str:
        return "in-process (no Dask)"

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> InProcessMapper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DaskMapper:
    """``mapper(fn, args_list)`` on a Dask cluster: local by default, or at ``scheduler``.

    Use as a context manager so the cluster (when we started it) is shut down on every
    exit path, including errors and Ctrl-C.
    """

    def __init__(self, scheduler: str | None = None, workers: int | None = None,
                 progress: bool = False, stream: TextIO | None = None,
                 scatter: bool = True) -> None:
        if workers is not None and workers < 1:
            raise ValueError("a Dask cluster needs at least one worker")
        self.scheduler = scheduler
        self.workers = workers
        self.progress = progress
        self.stream = stream
        self.scatter = scatter
        self.calls = 0
        self.tasks = 0
        self.scattered = 0  # objects sent once to every worker (not per task)
        self._cluster: Any = None
        self._client: Any = None
        self._scatter_cache: dict[int, tuple[Any, Any]] = {}

    # -- life cycle -------------------------------------------------------------------
    def start(self) -> DaskMapper:
        """Start the local cluster or connect to the scheduler (idempotent)."""
        if self._client is not None:
            return self
        from dask.distributed import Client

        _quiet_dask_logs()
        if self.scheduler:
            self._client = Client(self.scheduler, timeout="30s")
        else:
            from dask.distributed import LocalCluster

            n = self.workers or os.cpu_count() or 1
            self._cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                         dashboard_address=None, silence_logs=logging.ERROR)
            try:
                self._client = Client(self._cluster)
            except BaseException:
                self._cluster.close()
                self._cluster = None
                raise
        return self

    def close(self) -> None:
        """Release the client; shut the cluster down if this mapper started it."""
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        self._scatter_cache.clear()
        # Closing must never mask the error that brought us here.
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()

    def __enter__(self) -> DaskMapper:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def client(self) -> Any:
        return self.start()._client

    def n_workers(self) -> int:
        """Workers currently connected to the scheduler."""
        return len(self.client.scheduler_info().get("workers", {}))

    def describe(self) -> str:
        where = f"scheduler {self.scheduler}" if self.scheduler else "local cluster"
        return f"Dask {where}, {self.n_workers()} worker(s)"

    # -- mapping ----------------------------------------------------------------------
    def __call__(self, fn: Callable[..., Any], args_list: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Run ``fn(*args)`` for every tuple on the cluster; results in input order."""
        from dask.distributed import as_completed

        client = self.client
        self.calls += 1
        args_list = [tuple(a) for a in args_list]
        if not args_list:
            return []
        width = len(args_list[0])
        if any(len(a) != width for a in args_list):
            raise ValueError("every task of a batch must have the same number of arguments")
        columns = [list(col) for col in zip(*args_list, strict=True)] if width else []
        if self.scatter:
            columns = [self._maybe_scatter(col) for col in columns]
        self.tasks += len(args_list)
        call = functools.partial(_call_unwrapped, fn)
        if width:
            futures = client.map(call, *columns, pure=False)
        else:
            futures = [client.submit(call, pure=False) for _ in args_list]
        try:
            if self.progress:
                bar = _Bar(len(futures), self.stream or sys.stderr)
                for _ in as_completed(futures):
                    bar.step()
                bar.close()
            return list(client.gather(futures))
        finally:
            for f in futures:
                f.release()

    def _maybe_scatter(self, column: list[Any]) -> list[Any]:
        """Scatter a column whose tasks all share one (non-trivial) object, once."""
        first = column[0]
        if isinstance(first, _SMALL) or any(x is not first for x in column):
            return column
        key = id(first)
        cached = self._scatter_cache.get(key)
        if cached is None or cached[0] is not first:
            if len(column) < 2 or _pickled_size(first) < SCATTER_MIN_BYTES:
                return column  # a bed vector or an option: cheaper to send with each task
            # Wrapped, so Dask pickles it whole (it serialises a bare list item by item,
            # seconds for 100k items); a list of one, so scatter does not split it.
            (future,) = self.client.scatter([_Shared(first)], broadcast=True, hash=False)
            cached = (first, future)  # holding `first` keeps its id() from being reused
            self._scatter_cache[key] = cached
            self.scattered += 1
        return [cached[1]] * len(column)


def _pickled_size(obj: Any) -> int:
    """Bytes of ``obj`` pickled (what each task would otherwise carry); big if unpicklable."""
    import cloudpickle

    try:
        return len(cloudpickle.dumps(obj))
    except Exception:  # noqa: BLE001 - let Dask report the real serialisation error
        return SCATTER_MIN_BYTES


class _Shared:
    """An object scattered once; unwrapped on the worker by `_call_unwrapped`."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj


def _call_unwrapped(fn: Callable[..., Any], *args: Any) -> Any:
    """Run on a worker: ``fn`` with every scattered argument unwrapped."""
    return fn(*(a.obj if isinstance(a, _Shared) else a for a in args))


def make_mapper(scheduler: str | None = None, workers: int | None = None,
                progress: bool = False, stream: TextIO | None = None
                ) -> DaskMapper | InProcessMapper:
    """The mapper for a command line: Dask unless ``workers == 0`` and no scheduler.

    ``scheduler``: address of an existing Dask scheduler (``tcp://host:8786``); None
    starts a local cluster of ``workers`` processes (None: one per core). ``workers=0``
    without a scheduler runs in this process, without Dask.
    """
    if scheduler is None and workers == 0:
        return InProcessMapper(progress=progress, stream=stream)
    return DaskMapper(scheduler=scheduler, workers=workers, progress=progress, stream=stream)


@contextlib.contextmanager
def mapper_context(scheduler: str | None = None, workers: int | None = None,
                   progress: bool = False) -> Iterator[DaskMapper | InProcessMapper]:
    """``with mapper_context(...) as m:`` - `make_mapper`, started and always closed."""
    m = make_mapper(scheduler, workers, progress)
    with m:
        yield m


class _Bar:
    """A dependency-free text progress bar on stderr, redrawn as tasks complete.

    On a terminal it redraws one line; elsewhere (logs, CI) it prints a line per tenth.
    """

    def __init__(self, total: int, stream: TextIO, width: int = 30) -> None:
        self.total, self.stream, self.width = max(total, 0), stream, width
        self.done = 0
        self.t0 = time.perf_counter()
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last_tenth = -1
        self._draw()

    def step(self, n: int = 1) -> None:
        self.done += n
        self._draw()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
        self.stream.flush()

    def _draw(self) -> None:
        frac = self.done / self.total if self.total else 1.0
        if not self.tty:
            tenth = int(frac * 10)
            if tenth == self._last_tenth:
                return
            self._last_tenth = tenth
        fill = int(round(frac * self.width))
        secs = time.perf_counter() - self.t0
        line = (f"scenarios [{'#' * fill}{'.' * (self.width - fill)}] "
                f"{self.done}/{self.total} {secs:5.1f}s")
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        self.stream.flush()


def _quiet_dask_logs() -> None:
    """Keep Dask's informational chatter (dashboard, worker start/stop) off the console."""
    for name in ("distributed", "distributed.scheduler", "distributed.nanny",
                 "distributed.worker", "distributed.core", "distributed.http.proxy",
                 "distributed.comm", "distributed.batched", "bokeh"):
        logging.getLogger(name).setLevel(logging.ERROR)
