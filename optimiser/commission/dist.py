"""Scenario sweeps on Dask: one code path for a local cluster and an existing scheduler.

`plan_capacity` sends every batch of per-scenario solves through a *mapper*,
``mapper(fn, args_list) -> list`` (results in the order of ``args_list``). This module
provides the two mappers a commissioner needs:

* `InProcessMapper`: a plain loop in this process (tests, tiny cases, debugging).
* `DaskMapper`: ``Client.map`` + ``gather`` on a `dask.distributed` cluster. Without an
  address it starts a `LocalCluster` of worker *processes* (one thread each, so a
  solver never competes with a sibling thread for the GIL); with an address it connects
  to an existing scheduler. After connecting, both run exactly the same code.

Big arguments (the commissioning data shared by every task, each scenario's children) are
scattered once to every worker (``broadcast=True``) and passed as futures, remembered by
identity across batches: a 2,000-child instance is pickled once per worker rather than
once per task, and a scenario once per sweep rather than once per batch.
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
# An argument shared by every task is scattered only when it pickles to this many bytes.
SCATTER_MIN_BYTES = 16_384
# A per-task argument gets a home worker from this size (a scenario, not a little tuple).
PIN_MIN_BYTES = 1_024


class SchedulerUnreachable(ConnectionError):
    """``--scheduler ADDRESS`` names no Dask scheduler we can connect to."""


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
        bar = (_Bar(len(args_list), self.stream or sys.stderr, f"batch {self.calls}")
               if self.progress else None)
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
                 scatter: bool = True, connect_timeout: float = 30.0) -> None:
        if workers is not None and workers < 1:
            raise ValueError("a Dask cluster needs at least one worker")
        self.scheduler = scheduler
        self.workers = workers
        self.progress = progress
        self.stream = stream
        self.scatter = scatter
        self.connect_timeout = connect_timeout
        self.calls = 0
        self.tasks = 0
        self.scattered = 0  # objects sent once to every worker (not per task)
        self._cluster: Any = None
        self._client: Any = None
        # id(obj) -> (obj, future or None if sent with its task, home worker or None)
        self._scatter_cache: dict[int, tuple[Any, Any, str | None]] = {}

    # -- life cycle -------------------------------------------------------------------
    def start(self) -> DaskMapper:
        """Start the local cluster or connect to the scheduler (idempotent)."""
        if self._client is not None:
            return self
        from dask.distributed import Client

        _quiet_dask_logs()
        if self.scheduler:
            try:
                self._client = Client(self.scheduler, timeout=f"{self.connect_timeout:g}s")
            except (OSError, TimeoutError) as e:
                raise SchedulerUnreachable(
                    f"cannot reach the Dask scheduler at {self.scheduler} within "
                    f"{self.connect_timeout:g} s ({type(e).__name__}: {e})") from e
        else:
            import dask
            from dask.distributed import LocalCluster

            n = self.workers or os.cpu_count() or 1
            # No work stealing on our own cluster: a scenario's tasks stay on its home
            # worker, where the engine has its candidate pairs cached (see _scatter_big).
            # And no MALLOC_TRIM_THRESHOLD_ in the workers (Dask's default): setting it
            # turns off glibc's adaptive mmap threshold, so every large numpy array of a
            # scenario solve is mmap'ed and zeroed afresh (many times the page faults and
            # markedly more CPU on a scenario solve).
            environ = {k: v for k, v in
                       dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
                       if k != "MALLOC_TRIM_THRESHOLD_"}
            with dask.config.set({"distributed.scheduler.work-stealing": False,
                                  "distributed.nanny.pre-spawn-environ": environ}):
                self._cluster = LocalCluster(n_workers=n, threads_per_worker=1,
                                             processes=True, dashboard_address=":0",
                                             silence_logs=logging.ERROR)
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
        homes: list[str | None] = [None] * len(args_list)
        if self.scatter:
            args_list, homes = self._scatter_big(args_list)
        self.tasks += len(args_list)
        call = functools.partial(_call_unwrapped, fn)
        futures = [client.submit(call, *a, pure=False) if h is None else
                   client.submit(call, *a, pure=False, workers=[h], allow_other_workers=True)
                   for a, h in zip(args_list, homes, strict=True)]
        try:
            if self.progress:
                bar = _Bar(len(futures), self.stream or sys.stderr, f"batch {self.calls}")
                for _ in as_completed(futures):
                    bar.step()
                bar.close()
            return list(client.gather(futures))
        finally:
            for f in futures:
                f.release()

    def _scatter_big(self, args_list: list[tuple[Any, ...]]
                     ) -> tuple[list[tuple[Any, ...]], list[str | None]]:
        """Send every big argument once; give each task a home worker.

        Decided per object, by identity, for the mapper's life (arguments must not be
        mutated between batches):
        * in every task of the batch (the commissioning data): scattered to all workers
          if big; small ones (a bed vector, an option) travel with their task;
        * in some tasks only (a scenario, sent again in every batch of the search): kept
          on one *home* worker (its task's position modulo the workers), and its tasks are
          preferred there (``allow_other_workers``: stealing still balances the load).
          The engine caches a scenario's candidate pairs per process, so a scenario that
          always runs on the same worker is built once, not once per worker.
        """
        cache = self._scatter_cache
        n = len(args_list)
        count: dict[int, int] = {}
        objs: dict[int, Any] = {}
        for a in args_list:
            for x in {id(x): x for x in a if not isinstance(x, _SMALL)}.values():
                count[id(x)] = count.get(id(x), 0) + 1
                objs[id(x)] = x
        workers = sorted(self.client.scheduler_info().get("workers", {}))
        broadcast: dict[int, Any] = {}
        pinned: dict[str, dict[int, Any]] = {}
        first_task: dict[int, int] = {}
        for t, a in enumerate(args_list):
            for x in a:
                first_task.setdefault(id(x), t)
        for key, x in objs.items():
            hit = cache.get(key)
            if hit is not None and hit[0] is x and (hit[2] is None or hit[2] in workers):
                continue
            if count[key] == n and n > 1:
                if _pickled_size(x) < SCATTER_MIN_BYTES:
                    cache[key] = (x, None, None)  # holding x keeps its id() from reuse
                else:
                    broadcast[key] = x
            elif _pickled_size(x) < PIN_MIN_BYTES:
                cache[key] = (x, None, None)  # a fresh little tuple each batch: inline
            else:  # a per-task object (a scenario): pinned even when small, for affinity
                # By position: scenario i of any sweep lives on worker i mod W, so an
                # equal scenario re-sampled for a what-if finds its worker's cache warm.
                home = workers[first_task[key] % len(workers)]
                pinned.setdefault(home, {})[key] = x
        # Wrapped, so Dask pickles each whole (it serialises a bare list item by item,
        # seconds for 100k items); in lists, so one round trip per destination.
        if broadcast:
            futs = self.client.scatter([_Shared(x) for x in broadcast.values()],
                                       broadcast=True, hash=False)
            for (key, x), fut in zip(broadcast.items(), futs, strict=True):
                cache[key] = (x, fut, None)
        for home, group in pinned.items():
            futs = self.client.scatter([_Shared(x) for x in group.values()], workers=[home],
                                       hash=False)
            for (key, x), fut in zip(group.items(), futs, strict=True):
                cache[key] = (x, fut, home)
        self.scattered += len(broadcast) + sum(len(g) for g in pinned.values())

        out: list[tuple[Any, ...]] = []
        homes: list[str | None] = []
        for a in args_list:
            home = None
            row = []
            for x in a:
                hit = None if isinstance(x, _SMALL) else cache[id(x)]
                if hit is None or hit[1] is None:
                    row.append(x)
                    continue
                row.append(hit[1])
                home = home or hit[2]
            out.append(tuple(row))
            homes.append(home)
        return out, homes


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

    On a terminal it redraws one line; elsewhere (logs, CI) it writes a line when the
    batch is done, and one every `every` seconds while a long batch runs.
    """

    def __init__(self, total: int, stream: TextIO, label: str = "scenarios",
                 width: int = 30, every: float = 10.0) -> None:
        self.total, self.stream, self.width, self.every = max(total, 0), stream, width, every
        self.label = label
        self.done = 0
        self.t0 = self._last = time.perf_counter()
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        if self.tty:
            self._draw()

    def step(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.tty or (self.done < self.total and now - self._last >= self.every):
            self._last = now
            self._draw()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
        else:
            self._draw()
        self.stream.flush()

    def _draw(self) -> None:
        frac = self.done / self.total if self.total else 1.0
        fill = int(round(frac * self.width))
        secs = time.perf_counter() - self.t0
        line = (f"{self.label} [{'#' * fill}{'.' * (self.width - fill)}] "
                f"{self.done}/{self.total} {secs:5.1f}s")
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        self.stream.flush()


def _quiet_dask_logs() -> None:
    """Keep Dask's informational chatter (dashboard, worker start/stop) off the console."""
    for name in ("distributed", "distributed.scheduler", "distributed.nanny",
                 "distributed.worker", "distributed.core", "distributed.http.proxy",
                 "distributed.comm", "distributed.batched", "bokeh"):
        logging.getLogger(name).setLevel(logging.ERROR)
