"""Declarative benchmark harness: `placement bench CONFIG [--out CSV] [--resume] [--summary]`.

One TOML file describes a benchmark: families of instances x backends x time limits x
seeds. Every run goes to a fresh process, so its peak memory is its own: the process's
high-water mark (VmHWM, read by the run itself at its end, and polled from outside every
0.5 s with the RSS of any helper process it started, e.g. CBC). Not `ru_maxrss`: on
Linux a child started by fork/vfork + exec inherits the parent's high-water mark there,
so a small run would show the harness's own memory. Each run has a hard timeout and an
optional memory ceiling watched from outside; a crash is a row with status ``error``, a run the
harness had to stop a row with status ``killed``, never a harness crash. Each row is
appended to the CSV and flushed as its run ends, so an interrupted benchmark resumes
with ``--resume``: a key (instance, backend, time limit, seed) already in the CSV is
not run again. At the end a summary per family is printed (``--summary`` re-prints it
from the CSV alone), and a scaling plot is drawn when the config asks for one.

Config (paths relative to the repository root)::

    [bench]
    out = "benchmarks/results/smoke.csv"   # default for --out
    work = "benchmarks/work/bench"         # generated instances, run logs (gitignored)
    backends = ["cpsat", "highs"]          # defaults for every family ...
    time_limits = [2]
    seeds = [0]
    workers = 2
    hard_timeout = 300                     # s per run; default 2 x limit + 120
    memory_limit_mib = 16000               # stop a run above this RSS (default: none)
    check = false                          # run the independent checker on each answer
    plot = "benchmarks/results/scaling.png"

    [[family]]                             # ... each may be overridden per family
    name = "authority"
    recipes = ["demo", "authority-2000"]   # instances/recipes.toml, generated into work
    instances = ["instances/tiny"]         # existing instance folders
    generate = [{children = 500, placements = 400, seed = 3, authority = "Kent"}]

    [[family]]
    name = "gap1"
    gap = ["orlib/gap1.txt"]               # relative to <data>/gap; skipped if absent
    problems = [1]                         # default: every problem of the file
    senses = ["min"]                       # default: those best_known.csv lists
    data = "../shared/data"                # default: $PLACEMENT_DATA_DIR or ../shared/data

Backends: placement families dispatch through `PLACEMENT_BACKENDS` ("cpsat", "highs":
`optimiser.solve` with `SolveOptions(backend=...)`), extended by the `run_backend` of
`bench_backends`; GAP families use every backend of `gap.solve_gap`, and are skipped,
saying why, where numba (the `research` extra) is not installed.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import importlib.util
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, as a package
    import tomli as tomllib

from . import INSTALL_HINT
from .provenance import csv_fields

REPO_ROOT = Path(__file__).resolve().parents[2]

FIELDS = [
    "instance", "family", "kind", "size", "resources", "backend", "time_limit", "seed",
    "workers", "status", "objective", "bound", "best_known", "gap_to_best_known",
    "gap_to_bound", "seconds", "wall_seconds", "generate_seconds", "load_seconds",
    "candidates_seconds", "lp_seconds", "build_seconds", "solve_seconds", "peak_mib",
    "pairs_feasible", "pairs_kept", "placed", "unplaced", "check", "load_avg_start",
    "cores", "started", "commit", "note",
]
KEY = ("instance", "backend", "time_limit", "seed")
STATUS_ERROR, STATUS_KILLED = "error", "killed"
_FAMILY_KEYS = {"name", "recipes", "instances", "generate", "gap", "problems", "senses",
                "data", "backends", "time_limits", "seeds", "workers", "hard_timeout",
                "memory_limit_mib", "check"}
_BENCH_KEYS = {"out", "work", "backends", "time_limits", "seeds", "workers", "hard_timeout",
               "memory_limit_mib", "check", "plot", "data", "description"}
_GENERATE_KEYS = {"children", "placements", "seed", "authority", "placed_share", "type_rows",
                  # a family of research/families.py, its knobs, and the real homes
                  "family", "shortage", "share", "real_data"}


class BenchConfigError(ValueError):
    """A config that cannot be run; the message names the file and the entry."""


# --------------------------------------------------------------------------- backends
# A placement backend takes (instance, time_limit, seed, workers) and returns a dict with
# status, objective, bound, seconds and optionally timings (dict), stats (dict) and the
# engine's `Result` under "result" (then the checker can be run on it).

PlacementBackend = Callable[[Any, float, int, int], dict[str, Any]]


def _solve_backend(name: str) -> PlacementBackend:
    """`optimiser.solve` with MIP solver `name` ("auto": as the command runs it, with the
    min-cost-flow fast path where it applies; else that solver, fast path off, as in
    `bench_backends`)."""

    def run(inst: Any, time_limit: float, seed: int, workers: int) -> dict[str, Any]:
        import dataclasses

        from ..solver import SolveOptions, solve

        kw: dict[str, Any] = {"time_limit": time_limit, "seed": seed, "workers": workers}
        if name != "auto":
            kw["backend"] = name
            if "fast_path" in {f.name for f in dataclasses.fields(SolveOptions)}:
                kw["fast_path"] = False
        t = time.perf_counter()

        def progress(msg: str) -> None:  # into the run's log: where a killed run was
            print(f"[{time.perf_counter() - t:8.1f}s] {msg}", file=sys.stderr, flush=True)

        res = solve(inst, SolveOptions(**kw), progress=progress)
        return {"status": res.status, "objective": res.objective, "bound": res.bound,
                "seconds": time.perf_counter() - t, "timings": dict(res.timings),
                "stats": dict(res.stats), "placed": res.placed, "unplaced": res.unplaced,
                "result": res}

    return run


PLACEMENT_BACKENDS: dict[str, PlacementBackend] = {
    "auto": _solve_backend("auto"),
    "cpsat": _solve_backend("cpsat"),
    "highs": _solve_backend("highs"),
}


def placement_backends() -> dict[str, PlacementBackend]:
    """Our own table (the engine's time split and `Result`, so the checker can run) for
    every MIP solver `SolveOptions` knows (e.g. "cbc"), extended by the `run_backend` of
    `bench_backends` for the others ("mcf", "pulp-dense")."""
    from ..pipeline.types import BACKENDS as SOLVER_BACKENDS
    from .bench_backends import BENCH_BACKENDS, run_backend

    table = dict(PLACEMENT_BACKENDS)
    for name in SOLVER_BACKENDS:
        table.setdefault(name, _solve_backend(name))
    for name in BENCH_BACKENDS:
        if name not in table:
            table[name] = _external_backend(run_backend, name)
    return table


def _external_backend(run_backend: Callable[..., Any], name: str) -> PlacementBackend:
    def run(inst: Any, time_limit: float, seed: int, workers: int) -> dict[str, Any]:
        t = time.perf_counter()
        out = run_backend(inst, name, time_limit, seed, workers)
        row = dict(out) if isinstance(out, dict) else dict(vars(out))
        row.setdefault("seconds", time.perf_counter() - t)
        return row

    return run


def gap_backends() -> tuple[str, ...]:
    from .gap_instance import BACKENDS

    return BACKENDS


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class InstanceSpec:
    """One instance of a family: where it comes from and how to name it in the CSV."""

    name: str
    family: str
    kind: str  # "placement" or "gap"
    path: str  # instance folder, or GAP file
    make: dict[str, Any] | None = None  # generate() arguments when the folder is made here
    problem: int = 1
    sense: str = "min"
    best_known: float | None = None


@dataclass
class Family:
    name: str
    kind: str
    instances: list[InstanceSpec]
    backends: list[str]
    time_limits: list[float]
    seeds: list[int]
    workers: int
    hard_timeout: float | None
    memory_limit_mib: float | None
    check: bool
    skipped: str = ""  # why the family has no instances (e.g. GAP data absent)


@dataclass
class Config:
    path: Path
    out: Path | None
    work: Path
    plot: Path | None
    families: list[Family] = field(default_factory=list)


def _repo_path(p: str | Path) -> Path:
    q = Path(p).expanduser()
    return q if q.is_absolute() else REPO_ROOT / q


def _list(v: Any, where: str, typ: type | tuple[type, ...]) -> list[Any]:
    vals = v if isinstance(v, list) else [v]
    for x in vals:
        if not isinstance(x, typ) or isinstance(x, bool) and typ is not bool:
            raise BenchConfigError(f"{where}: {x!r} is not a {getattr(typ, '__name__', typ)}")
    if not vals:
        raise BenchConfigError(f"{where}: empty list")
    return vals


def _opt_list(f: dict[str, Any], key: str, where: str,
              typ: type | tuple[type, ...]) -> list[Any]:
    """An optional list entry of a family: [] when absent."""
    return _list(f[key], f"{where}: {key}", typ) if key in f else []


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def load_config(path: str | Path) -> Config:
    """Read and check a bench config; every error names the file and the entry."""
    from ..generate import RECIPES_PATH, load_recipes

    cfg_path = Path(path)
    try:
        with cfg_path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise BenchConfigError(f"{cfg_path}: no such config file") from None
    except tomllib.TOMLDecodeError as e:
        raise BenchConfigError(f"{cfg_path}: not valid TOML ({e})") from None
    top = raw.get("bench", {})
    unknown = set(raw) - {"bench", "family"}
    if unknown:
        raise BenchConfigError(f"{cfg_path}: unknown table(s) {sorted(unknown)}; "
                               "expected [bench] and [[family]]")
    if set(top) - _BENCH_KEYS:
        raise BenchConfigError(f"{cfg_path}: [bench]: unknown key(s) "
                               f"{sorted(set(top) - _BENCH_KEYS)}")
    fams = raw.get("family", [])
    if not isinstance(fams, list) or not fams:
        raise BenchConfigError(f"{cfg_path}: no [[family]] entries")
    work = _repo_path(top.get("work", "benchmarks/work/bench"))
    cfg = Config(cfg_path, _repo_path(top["out"]) if "out" in top else None, work,
                 _repo_path(top["plot"]) if "plot" in top else None)
    recipes: dict[str, dict[str, Any]] | None = None
    seen: dict[str, str] = {}
    pb = placement_backends()
    for i, f in enumerate(fams, start=1):
        where = f"{cfg_path}: family #{i}"
        if not isinstance(f, dict) or "name" not in f:
            raise BenchConfigError(f"{where}: needs a name")
        name = str(f["name"])
        where = f"{cfg_path}: family {name!r}"
        if any(fam.name == name for fam in cfg.families):
            raise BenchConfigError(f"{where}: a second family of that name")
        if set(f) - _FAMILY_KEYS:
            raise BenchConfigError(f"{where}: unknown key(s) {sorted(set(f) - _FAMILY_KEYS)}")

        def opt(key: str, default: Any, f: dict[str, Any] = f) -> Any:
            return f.get(key, top.get(key, default))

        is_gap = "gap" in f
        if is_gap and any(k in f for k in ("recipes", "instances", "generate")):
            raise BenchConfigError(f"{where}: a family is either GAP files or placement "
                                   "instances, not both")
        if not is_gap and not any(k in f for k in ("recipes", "instances", "generate")):
            raise BenchConfigError(f"{where}: give recipes, instances, generate or gap")
        kind = "gap" if is_gap else "placement"
        backends = [str(b) for b in _list(opt("backends", ["cpsat"]), f"{where}: backends",
                                          str)]
        known = gap_backends() if is_gap else tuple(pb)
        bad = [b for b in backends if b not in known]
        if bad:
            raise BenchConfigError(f"{where}: backend(s) {bad} unknown for {kind} "
                                   f"instances; known: {', '.join(known)}")
        limits = [float(x) for x in _list(opt("time_limits", [30.0]), f"{where}: time_limits",
                                          (int, float))]
        if any(x <= 0 for x in limits):
            raise BenchConfigError(f"{where}: time_limits must be positive")
        seeds = [int(x) for x in _list(opt("seeds", [0]), f"{where}: seeds", int)]
        workers = int(opt("workers", 2))
        if workers < 1:
            raise BenchConfigError(f"{where}: workers must be at least 1")
        ht = opt("hard_timeout", None)
        mem = opt("memory_limit_mib", None)
        fam = Family(name, kind, [], backends, limits, seeds, workers,
                     None if ht is None else float(ht), None if mem is None else float(mem),
                     bool(opt("check", False)))
        if is_gap:
            _gap_instances(fam, f, top, where)
        else:
            for r in _opt_list(f, "recipes", where, str):
                if recipes is None:
                    recipes = load_recipes(RECIPES_PATH)
                if r not in recipes:
                    raise BenchConfigError(f"{where}: no recipe {r!r} in {RECIPES_PATH}")
                kw = {k: v for k, v in recipes[r].items() if k in _GENERATE_KEYS}
                kw["recipe"] = r
                fam.instances.append(InstanceSpec(r, name, kind, str(work / "instances" / r),
                                                  kw))
            for p in _opt_list(f, "instances", where, str):
                folder = _repo_path(p)
                fam.instances.append(InstanceSpec(folder.name, name, kind, str(folder)))
            for g in _opt_list(f, "generate", where, dict):
                if not isinstance(g, dict) or not {"children", "placements"} <= set(g):
                    raise BenchConfigError(f"{where}: generate entries need children and "
                                           "placements")
                if set(g) - _GENERATE_KEYS:
                    raise BenchConfigError(f"{where}: generate: unknown key(s) "
                                           f"{sorted(set(g) - _GENERATE_KEYS)}")
                label = f"gen-{g['children']}c-{g['placements']}p-s{g.get('seed', 0)}"
                if g.get("authority"):
                    label += "-" + _slug(str(g["authority"]))
                if g.get("placed_share"):
                    label += f"-placed{g['placed_share']:g}"
                if g.get("family"):
                    label += f"-{g['family']}"
                if g.get("real_data"):
                    label += "-real"
                fam.instances.append(InstanceSpec(label, name, kind,
                                                  str(work / "instances" / label), dict(g)))
        for spec in fam.instances:
            if spec.name in seen and seen[spec.name] != spec.path:
                raise BenchConfigError(f"{where}: instance name {spec.name!r} is used twice "
                                       "for different instances (rows are keyed by name)")
            seen[spec.name] = spec.path
        cfg.families.append(fam)
    return cfg


def _gap_instances(fam: Family, f: dict[str, Any], top: dict[str, Any], where: str) -> None:
    from .gap_instance import GapFormatError, default_data_dir, read_best_known, read_gap

    if importlib.util.find_spec("numba") is None:
        fam.skipped = f"the GAP solver needs numba: {INSTALL_HINT}"
        return
    data_opt = f.get("data", top.get("data"))
    data = _repo_path(data_opt) if data_opt else default_data_dir()
    files = [str(x) for x in _list(f["gap"], f"{where}: gap", str)]
    gap_dir = None if data is None else data / "gap"
    if gap_dir is None or not gap_dir.is_dir():
        fam.skipped = (f"GAP data not found ({'no shared data dir' if data is None else gap_dir}"
                       "): set data = ... in the config or PLACEMENT_DATA_DIR")
        return
    best_path = gap_dir / "best_known.csv"
    best = read_best_known(best_path) if best_path.is_file() else {}
    probs_opt = f.get("problems")
    problems_wanted = None if probs_opt is None else [
        int(x) for x in _list(probs_opt, f"{where}: problems", int)]
    senses_opt = f.get("senses")
    senses_wanted = None if senses_opt is None else [
        str(x) for x in _list(senses_opt, f"{where}: senses", str)]
    if senses_wanted and set(senses_wanted) - {"min", "max"}:
        raise BenchConfigError(f"{where}: senses must be min or max")
    missing = []
    for rel in files:
        path = gap_dir / rel
        if not path.is_file():
            missing.append(rel)
            continue
        try:
            probs = read_gap(path)
        except GapFormatError as e:
            raise BenchConfigError(f"{where}: {e}") from None
        for inst in probs:
            if problems_wanted and inst.problem not in problems_wanted:
                continue
            senses = senses_wanted or [s for s in ("min", "max")
                                       if (rel, inst.problem, s) in best] or ["min"]
            for s in senses:
                bk = best.get((rel, inst.problem, s))
                stem = Path(rel).stem
                label = f"{stem}-p{inst.problem}-{s}" if len(probs) > 1 else f"{stem}-{s}"
                fam.instances.append(InstanceSpec(label, fam.name, "gap", str(path), None,
                                                  inst.problem, s,
                                                  None if bk is None else float(bk.value)))
    if missing and not fam.instances:
        fam.skipped = f"GAP file(s) not found under {gap_dir}: {', '.join(missing)}"
    elif missing:
        print(f"note: family {fam.name!r}: not found under {gap_dir}, skipped: "
              f"{', '.join(missing)}", file=sys.stderr)


# --------------------------------------------------------------------------- CSV


def _fmt(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, float):
        if not math.isfinite(x):
            return ""
        return f"{x:.10g}"
    return str(x)


def read_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a bench CSV (empty if none); a foreign header is an error, not a guess."""
    if not path.is_file() or path.stat().st_size == 0:
        return []
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not set(KEY) <= set(reader.fieldnames):
            raise BenchConfigError(f"{path}: not a bench CSV (header {reader.fieldnames})")
        return list(reader)


def row_key(row: dict[str, Any]) -> tuple[str, ...]:
    return (str(row["instance"]), str(row["backend"]), _fmt(float(row["time_limit"])),
            str(int(row["seed"])))


def gap_to_bound(objective: float | None, bound: float | None) -> float | None:
    """|objective - bound| relative to the objective (the solver's own proof gap)."""
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    return abs(objective - bound) / max(abs(objective), 1.0)


def gap_to_best(objective: float | None, best: float | None, sense: str) -> float | None:
    """Shortfall against the best known value, positive is worse."""
    if objective is None or best is None:
        return None
    diff = objective - best if sense == "min" else best - objective
    return diff / max(abs(best), 1.0)


# --------------------------------------------------------------------------- child side


def _child_run(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs in the fresh process: load, solve, (check); returns the row's measured part."""
    out: dict[str, Any] = {}
    if spec["kind"] == "gap":
        from .gap import solve_gap
        from .gap_instance import load_gap

        t = time.perf_counter()
        ginst = load_gap(spec["path"], spec["problem"])
        out["load_seconds"] = time.perf_counter() - t
        out["size"], out["resources"] = ginst.n, ginst.m
        g = solve_gap(ginst, spec["sense"], spec["backend"], spec["time_limit"],
                      spec["workers"], spec["seed"])
        out.update(status=g.status, objective=g.objective, bound=g.bound, seconds=g.seconds)
        return out
    from ..reader import load_instance

    t = time.perf_counter()
    inst = load_instance(spec["path"])
    out["load_seconds"] = time.perf_counter() - t
    out["size"], out["resources"] = inst.n_children, inst.n_placements
    run = placement_backends()[spec["backend"]]
    r = run(inst, spec["time_limit"], spec["seed"], spec["workers"])
    tm = r.get("timings", {}) or {}
    st = r.get("stats", {}) or {}
    out.update(status=r.get("status"), objective=r.get("objective"), bound=r.get("bound"),
               seconds=r.get("seconds"), candidates_seconds=tm.get("candidates"),
               lp_seconds=tm.get("lp"), build_seconds=tm.get("build"),
               solve_seconds=tm.get("solve"), pairs_feasible=st.get("pairs_feasible"),
               pairs_kept=st.get("pairs_kept"), placed=r.get("placed"),
               unplaced=r.get("unplaced"))
    out["build_seconds"] = out["build_seconds"] or r.get("build_seconds")
    used = st.get("backend", r.get("backend_used"))
    notes = []
    if r.get("why"):
        notes.append(str(r["why"]))
    if isinstance(used, str) and used != spec["backend"] and spec["backend"] != "auto":
        notes.append(f"the model was solved by {used}")
    elif isinstance(used, str) and spec["backend"] == "auto":
        notes.append(f"solved by {used}")
    if notes:
        out["note"] = "; ".join(notes)
    if spec.get("check") and r.get("result") is not None:
        import tempfile

        from .. import write_solution
        from ..checker import check

        with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
            write_solution(r["result"], Path(tmp) / "out")
            rep = check(spec["path"], Path(tmp) / "out")
            out["check"] = "ok" if rep.ok else f"failed ({len(rep.violations)} violations)"
    return out


def _child_generate(spec: dict[str, Any]) -> dict[str, Any]:
    from ..generate import default_data_dir, generate
    from .families import write_family

    kw = dict(spec["make"])
    recipe = kw.pop("recipe", None)
    if kw.pop("real_data", False):
        kw["data_dir"] = default_data_dir()
    t = time.perf_counter()
    if "family" in kw:
        write_family(spec["tmp"], kw.pop("family"), **kw)
    else:
        generate(spec["tmp"], recipe=recipe, **kw)
    return {"generate_seconds": time.perf_counter() - t}


def _child_main(argv: list[str]) -> int:
    """Entry of a child process: the answer (or the error, on one line) as JSON."""
    mode, spec_file, result_file = argv
    spec = json.loads(Path(spec_file).read_text())
    code = 0
    try:
        out = _child_run(spec) if mode == "_run" else _child_generate(spec)
    except Exception as e:  # reported as the row's note; the traceback stays in the log
        import traceback

        traceback.print_exc()
        text = " / ".join(ln.strip() for ln in str(e).splitlines() if ln.strip())
        out, code = {"_error": f"{type(e).__name__}: {text}"[:500]}, 1
    out["peak_mib"] = _status_mib(os.getpid(), "VmHWM")
    tmp = Path(result_file + ".tmp")
    tmp.write_text(json.dumps(out, default=float))
    tmp.replace(result_file)
    return code


# --------------------------------------------------------------------------- parent side


@dataclass
class Outcome:
    """How a child process ended, measured from outside."""

    result: dict[str, Any] | None
    status: str | None  # None: finished normally; else STATUS_ERROR / STATUS_KILLED
    note: str
    wall: float
    peak_mib: float | None


def _status_mib(pid: int, field: str) -> float:
    """A memory line (VmRSS, VmHWM) of /proc/PID/status in MiB; 0 if unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def _tree_mib(pid: int) -> tuple[float, float]:
    """(resident set now, high-water mark) of a process plus the resident sets of its
    direct children (e.g. a CBC executable)."""
    extra = 0.0
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        extra = sum(_status_mib(int(k), "VmRSS") for k in kids)
    except OSError:
        pass
    return _status_mib(pid, "VmRSS") + extra, _status_mib(pid, "VmHWM") + extra


def run_child(mode: str, spec: dict[str, Any], log: Path, timeout: float,
              memory_limit_mib: float | None) -> Outcome:
    """Run one job in a fresh process under a hard timeout and memory ceiling."""
    log.parent.mkdir(parents=True, exist_ok=True)
    spec_file = log.with_suffix(".spec.json")
    result_file = log.with_suffix(".result.json")
    spec_file.write_text(json.dumps(spec))
    result_file.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "optimiser.research.bench", mode, str(spec_file), str(result_file)]
    t0 = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
                                start_new_session=True)
    why = ""
    peak_seen = 0.0
    last_poll = 0.0
    status = 0
    while True:
        pid, status = os.waitpid(proc.pid, os.WNOHANG)
        if pid:
            break
        now = time.perf_counter() - t0
        if not why and now > timeout:
            why = f"hard timeout {timeout:g} s"
        if not why and now - last_poll >= 0.5:
            last_poll = now
            rss, hwm = _tree_mib(proc.pid)
            peak_seen = max(peak_seen, hwm)
            if memory_limit_mib and rss > memory_limit_mib:
                why = f"memory limit {memory_limit_mib:g} MiB (RSS {rss:,.0f} MiB)"
        if why:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            _, status = os.waitpid(proc.pid, 0)
            break
        time.sleep(0.1)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    spec_file.unlink(missing_ok=True)
    result: dict[str, Any] | None = None
    if result_file.is_file():
        result = json.loads(result_file.read_text())
        result_file.unlink()
    peak = max(peak_seen, float(result.get("peak_mib") or 0.0) if result else 0.0) or None
    if why:
        last = _last_line(log)
        return Outcome(None, STATUS_KILLED, f"killed by the harness: {why}"
                       + (f"; last progress: {last}" if last else ""), wall, peak)
    if proc.returncode < 0:
        sig = -proc.returncode
        hint = " (the kernel's out-of-memory killer?)" if sig == signal.SIGKILL else ""
        return Outcome(None, STATUS_KILLED, f"died of signal {sig}{hint}", wall, peak)
    if proc.returncode != 0 or result is None or "_error" in result:
        why = result["_error"] if result and "_error" in result else _last_error(log)
        return Outcome(None, STATUS_ERROR, f"exit {proc.returncode}: {why}", wall, peak)
    result["peak_mib"] = peak
    return Outcome(result, None, "", wall, peak)


def _last_line(log: Path) -> str:
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


def _last_error(log: Path) -> str:
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    for ln in reversed(lines):
        if re.match(r"^[A-Za-z_.]*(Error|Exception|Interrupt)\b", ln):
            return ln[:300]
    return (lines[-1][:300] if lines else "no output") + f" (log: {log})"


def _make_key(spec: InstanceSpec) -> str:
    return hashlib.sha1(json.dumps(spec.make, sort_keys=True).encode()).hexdigest()[:12]


def prepare(spec: InstanceSpec, work: Path, timeout: float) -> tuple[float | None, str]:
    """Generate a recipe/generator instance once into work/instances (reused after, when
    its arguments match); returns (seconds spent, error message or "")."""
    if spec.make is None:
        there = Path(spec.path).is_file() if spec.kind == "gap" else Path(spec.path).is_dir()
        what = "GAP file" if spec.kind == "gap" else "instance folder"
        return None, "" if there else f"no {what} {spec.path}"
    folder = Path(spec.path)
    stamp = folder.with_name(folder.name + ".args")
    if folder.is_dir() and stamp.is_file() and stamp.read_text().strip() == _make_key(spec):
        return None, ""
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"generating {spec.name} ({spec.make}) ...", file=sys.stderr, flush=True)
    o = run_child("_generate", {"make": spec.make, "tmp": str(tmp)},
                  work / "logs" / f"generate-{spec.name}.log", timeout, None)
    if o.status:
        shutil.rmtree(tmp, ignore_errors=True)
        return o.wall, f"generating the instance failed: {o.note}"
    shutil.rmtree(folder, ignore_errors=True)
    tmp.replace(folder)
    stamp.write_text(_make_key(spec) + "\n")
    assert o.result is not None
    return float(o.result["generate_seconds"]), ""


def _default_timeout(limit: float) -> float:
    return 2 * limit + 120


def iter_runs(cfg: Config) -> Iterable[tuple[Family, InstanceSpec, str, float, int]]:
    for fam in cfg.families:
        for spec in fam.instances:
            for backend in fam.backends:
                for limit in fam.time_limits:
                    for seed in fam.seeds:
                        yield fam, spec, backend, limit, seed


def run_config(cfg: Config, out: Path, resume: bool,
               say: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Run every missing (instance, backend, time limit, seed) of the config; append rows."""
    existing = read_rows(out)
    if existing and not resume:
        raise BenchConfigError(f"{out} already holds {len(existing)} row(s): pass --resume "
                               "to add the missing runs to it, or choose another --out")
    if out.is_file() and out.stat().st_size > 0:
        with out.open(newline="") as fh:
            header = next(csv.reader(fh), [])
        if header != FIELDS:
            raise BenchConfigError(f"{out}: its columns differ from this harness's "
                                   "(written by another version?): choose another --out")
    done = {row_key(r) for r in existing}
    out.parent.mkdir(parents=True, exist_ok=True)
    for fam in cfg.families:
        if fam.skipped:
            say(f"skipping family {fam.name!r}: {fam.skipped}")
    new_rows: list[dict[str, Any]] = []
    prepared: dict[str, tuple[float | None, str]] = {}
    with out.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        if not existing:
            writer.writeheader()
            fh.flush()
        for fam, spec, backend, limit, seed in iter_runs(cfg):
            base = {"instance": spec.name, "family": fam.name, "kind": spec.kind,
                    "backend": backend, "time_limit": limit, "seed": seed,
                    "workers": fam.workers}
            if row_key(base) in done:
                continue
            if spec.name not in prepared:
                prepared[spec.name] = prepare(spec, cfg.work, 3600.0)
            gen_s, err = prepared[spec.name]
            row: dict[str, Any] = dict(base)
            row["generate_seconds"] = gen_s
            prepared[spec.name] = (None, err)  # generation time goes on the first row only
            row["best_known"] = spec.best_known
            stamp = csv_fields(REPO_ROOT)  # commit ("-dirty": code differs), UTC, machine
            row["load_avg_start"] = stamp["load_1m"]
            row["cores"] = stamp["cores"]
            row["started"] = stamp["utc"]
            row["commit"] = stamp["commit"]
            if spec.make is not None:
                row["size"] = spec.make.get("children")
                row["resources"] = spec.make.get("placements")
            if err:
                row.update(status=STATUS_ERROR, note=err)
            else:
                child = {"kind": spec.kind, "path": spec.path, "problem": spec.problem,
                         "sense": spec.sense, "backend": backend, "time_limit": limit,
                         "seed": seed, "workers": fam.workers, "check": fam.check}
                timeout = fam.hard_timeout or _default_timeout(limit)
                say(f"run {spec.name} {backend} {limit:g}s seed {seed} "
                    f"(load {row['load_avg_start']}) ...")
                log = cfg.work / "logs" / _slug(f"{spec.name}-{backend}-{limit:g}-{seed}")
                o = run_child("_run", child, log.with_suffix(".log"), timeout,
                              fam.memory_limit_mib)
                row["wall_seconds"] = o.wall
                row["peak_mib"] = o.peak_mib
                if o.status:
                    row.update(status=o.status, note=o.note)
                else:
                    assert o.result is not None
                    row.update({k: v for k, v in o.result.items() if k in FIELDS})
            obj = _num(row.get("objective"))
            row["gap_to_bound"] = gap_to_bound(obj, _num(row.get("bound")))
            row["gap_to_best_known"] = gap_to_best(obj, spec.best_known, spec.sense)
            writer.writerow({k: _fmt(row.get(k)) for k in FIELDS})
            fh.flush()
            new_rows.append(row)
            say(_one_line(row))
    return new_rows


def _num(x: Any) -> float | None:
    if x is None or x == "":
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def _one_line(row: dict[str, Any]) -> str:
    def f(key: str, spec: str) -> str:
        v = _num(row.get(key))
        return "-" if v is None else format(v, spec)

    g = _num(row.get("gap_to_bound"))
    return (f"  {row['status']:10s} obj {f('objective', ',.6g')} bound {f('bound', ',.6g')} "
            f"gap {'-' if g is None else f'{100 * g:.3g}%'} {f('seconds', '.2f')}s "
            f"peak {f('peak_mib', ',.0f')} MiB" + (f"  [{row['note']}]" if row.get("note")
                                                   else ""))


# --------------------------------------------------------------------------- summary


def summarise(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """One line per family x backend x time limit: counts, gaps, time, memory."""
    groups: dict[tuple[str, str, float], list[dict[str, str]]] = {}
    for r in rows:
        groups.setdefault((r["family"], r["backend"], float(r["time_limit"])), []).append(r)
    table = []
    for (fam, backend, limit), rs in groups.items():
        gb = [v for r in rs if (v := _num(r["gap_to_bound"])) is not None]
        gk = [v for r in rs if (v := _num(r["gap_to_best_known"])) is not None]
        secs = [v for r in rs if (v := _num(r["seconds"])) is not None]
        peaks = [v for r in rs if (v := _num(r["peak_mib"])) is not None]
        sizes = sorted({int(v) for r in rs if (v := _num(r["size"])) is not None})
        table.append({
            "family": fam, "backend": backend, "time_limit": limit, "runs": len(rs),
            "sizes": (f"{sizes[0]:,}" if len(sizes) == 1 else
                      f"{sizes[0]:,}-{sizes[-1]:,}" if sizes else ""),
            "optimal": sum(r["status"] == "optimal" for r in rs),
            "answered": sum(r["objective"] != "" for r in rs),
            "error": sum(r["status"] == STATUS_ERROR for r in rs),
            "killed": sum(r["status"] == STATUS_KILLED for r in rs),
            "mean_gap_to_bound_pct": 100 * sum(gb) / len(gb) if gb else None,
            "max_gap_to_bound_pct": 100 * max(gb) if gb else None,
            "mean_gap_to_best_pct": 100 * sum(gk) / len(gk) if gk else None,
            "max_seconds": max(secs) if secs else None,
            "max_peak_mib": max(peaks) if peaks else None,
        })
    return table


def format_summary(table: list[dict[str, Any]]) -> str:
    """The summary as a Markdown table (pastes into benchmarks/README.md)."""
    if not table:
        return "(no rows)"
    cols = list(table[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in table:
        cells = []
        for c in cols:
            v = row[c]
            cells.append("" if v is None else f"{v:,.3f}" if isinstance(v, float)
                         else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


ROW_COLUMNS = ("instance", "size", "resources", "backend", "time_limit", "status", "objective",
               "bound", "gap_to_bound", "load_seconds", "candidates_seconds", "lp_seconds",
               "build_seconds", "solve_seconds", "seconds", "wall_seconds", "peak_mib",
               "pairs_feasible", "pairs_kept", "load_avg_start", "note")


def format_rows(rows: list[dict[str, str]], cols: Iterable[str] = ROW_COLUMNS) -> str:
    """Every run as a Markdown table row (gaps in %, seconds to 0.01, counts with commas)."""
    cols = list(cols)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c, "")
            x = _num(v) if c not in ("instance", "backend", "status", "note") else None
            if x is None:
                cells.append(v or "")
            elif c.startswith("gap"):
                cells.append(f"{100 * x:.3g}%")
            elif c.endswith("seconds"):
                cells.append(f"{x:.2f}")
            elif c in ("objective", "bound"):
                cells.append(f"{x:,.0f}")
            elif c in ("peak_mib", "load_avg_start", "time_limit"):
                cells.append(f"{x:,.4g}" if x < 1000 else f"{x:,.0f}")
            else:
                cells.append(f"{x:,.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_scaling(rows: list[dict[str, str]], png: Path) -> Path | None:
    """Time and peak memory against children (log-log) and the gap to the bound: one
    colour per family, one marker per backend (placement rows only; the latest row of
    each instance, backend and limit); a run without an answer is an x at its wall
    time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    latest: dict[tuple[str, str, str], dict[str, str]] = {}
    for r in rows:
        if r["kind"] == "placement" and _num(r["size"]):
            latest[(r["instance"], r["backend"], r["time_limit"])] = r
    pts = list(latest.values())
    if not pts:
        return None
    fig, (ax_t, ax_m, ax_g) = plt.subplots(1, 3, figsize=(16, 5))
    families = sorted({r["family"] for r in pts})
    backends = sorted({r["backend"] for r in pts})
    markers = "os^Dv<>"
    for i, fam in enumerate(families):
        for j, backend in enumerate(backends):
            rs = sorted((r for r in pts if r["family"] == fam and r["backend"] == backend),
                        key=lambda r: float(r["size"]))
            if not rs:
                continue
            style = dict(color=f"C{i % 10}", marker=markers[j % len(markers)])
            label = f"{fam} / {backend}"
            ok = [r for r in rs if r["objective"] != ""]
            ax_t.plot([float(r["size"]) for r in ok],
                      [float(r["wall_seconds"] or r["seconds"]) for r in ok], "-",
                      label=label, **style)
            bad = [r for r in rs if r["objective"] == ""]
            if bad:
                ax_t.plot([float(r["size"]) for r in bad],
                          [float(r["wall_seconds"] or 1) for r in bad], "x", ms=10, mew=2,
                          color=style["color"])
            mem = [r for r in rs if _num(r["peak_mib"])]
            ax_m.plot([float(r["size"]) for r in mem], [float(r["peak_mib"]) for r in mem],
                      "-", label=label, **style)
            gaps = [(float(r["size"]), 100 * float(r["gap_to_bound"])) for r in ok
                    if _num(r["gap_to_bound"]) is not None]
            ax_g.plot([g[0] for g in gaps], [g[1] for g in gaps], "-", label=label,
                      **style)
    for ax, ylabel in ((ax_t, "wall seconds"), (ax_m, "peak RSS (MiB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("children")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    ax_g.set_xscale("log")
    ax_g.set_yscale("symlog", linthresh=0.01)
    ax_g.set_ylim(0, 200)
    ax_g.set_xlabel("children")
    ax_g.set_ylabel("gap to bound (%)")
    ax_g.grid(True, which="both", alpha=0.3)
    ax_g.legend(fontsize=6)
    ax_t.set_title("wall time vs size (x: no answer)")
    ax_m.set_title("peak memory vs size")
    ax_g.set_title("gap to the proven bound at the end")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


# --------------------------------------------------------------------------- command


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `placement bench` on an argparse sub-parsers object."""
    b = subparsers.add_parser(
        "bench", help="run a benchmark config (families x backends x time limits x seeds)",
        description="Run a declarative benchmark: one row per run appended to a CSV, "
                    "each run in its own process under a hard timeout.")
    b.add_argument("config", help="a TOML config (see benchmarks/configs/)")
    b.add_argument("--out", default=None, help="CSV of rows (default: the config's out)")
    b.add_argument("--resume", action="store_true",
                   help="add to an existing CSV, skipping runs already in it")
    b.add_argument("--summary", action="store_true",
                   help="only print the summary of the CSV (no runs)")
    b.add_argument("--rows", action="store_true",
                   help="also print every run of the CSV as a table")
    b.add_argument("--family", action="append", default=None, metavar="NAME",
                   help="run only this family (repeatable; the summary covers the CSV)")
    b.add_argument("--work", default=None,
                   help="folder for generated instances and logs (default: the config's)")
    b.set_defaults(func=cmd_bench)
    return b


def cmd_bench(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config)
        if args.work:
            cfg.work = Path(args.work)
            for fam in cfg.families:  # generated instances follow the work folder
                fam.instances = [
                    InstanceSpec(s.name, s.family, s.kind,
                                 str(cfg.work / "instances" / s.name), s.make, s.problem,
                                 s.sense, s.best_known) if s.make is not None else s
                    for s in fam.instances]
        if args.family:
            unknown = set(args.family) - {f.name for f in cfg.families}
            if unknown:
                raise BenchConfigError(f"{args.config}: no family {sorted(unknown)}; known: "
                                       f"{', '.join(f.name for f in cfg.families)}")
            cfg.families = [f for f in cfg.families if f.name in args.family]
        out = Path(args.out) if args.out else cfg.out
        if out is None:
            raise BenchConfigError(f"{args.config}: no out in [bench]: pass --out CSV")
        if not args.summary:
            run_config(cfg, out, args.resume, say=lambda s: print(s, flush=True))
        rows = read_rows(out)
    except BenchConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not rows:
        print(f"{out}: no rows")
        return 0
    print(f"\nsummary of {out} ({len(rows)} rows):")
    print(format_summary(summarise(rows)))
    if args.rows:
        print(f"\nruns of {out}:")
        print(format_rows(rows))
    if cfg.plot is not None:
        png = plot_scaling(rows, cfg.plot)
        if png:
            print(f"plot: {png}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("_run", "_generate"):
        return _child_main(argv)
    ap = argparse.ArgumentParser(prog="python -m optimiser.research.bench")
    add_parser(ap.add_subparsers(dest="command", required=True))
    args = ap.parse_args(["bench", *argv])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
