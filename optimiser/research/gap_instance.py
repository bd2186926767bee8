"""The generalized assignment problem (GAP) as data: instances, files, best-known values.

File layouts (see shared/data/README.md): OR-Library multi-problem files start with the
number of problems P; single-problem files (the Yagiura sets) hold one block without it.
A block is ``m n``, then c (m*n, agent-major), then a (m*n), then b (m). Line breaks
mean nothing, so the reader works on the token stream and checks the exact count.

Nothing here needs the solvers (or numba): `placement gap` reads and checks its file,
and `placement bench` its GAP families, with this module alone.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BACKENDS = ("cpsat", "plain", "highs", "cbc")  # the solvers of `gap.solve_gap`
SENSES = ("min", "max")
LAYOUTS = ("auto", "multi", "single")
REPO_ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- instance


class GapFormatError(ValueError):
    """A GAP file that does not hold what it should; the message names file and place."""

    def __init__(self, file: str, message: str):
        self.file = file
        self.detail = message
        super().__init__(f"{file}: {message}")


@dataclass(frozen=True)
class GapInstance:
    """One GAP problem: cost c[m, n], resource use a[m, n], capacity b[m] (read-only)."""

    name: str
    c: np.ndarray
    a: np.ndarray
    b: np.ndarray
    source: str = ""  # file it was read from
    problem: int = 1  # 1-based position in that file

    def __post_init__(self) -> None:
        c = np.array(self.c, dtype=np.int64)
        a = np.array(self.a, dtype=np.int64)
        b = np.array(self.b, dtype=np.int64).ravel()
        if c.ndim != 2 or c.shape != a.shape or b.shape != (c.shape[0],):
            raise ValueError(f"GapInstance {self.name}: c and a must be m x n and b of "
                             f"length m (got {c.shape}, {a.shape}, {b.shape})")
        for arr in (c, a, b):
            arr.setflags(write=False)
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)

    @property
    def m(self) -> int:
        """Agents."""
        return int(self.c.shape[0])

    @property
    def n(self) -> int:
        """Jobs."""
        return int(self.c.shape[1])

    def objective(self, assignment: np.ndarray) -> int:
        """Cost of an assignment (agent per job); raises if it is not feasible."""
        x = np.asarray(assignment, dtype=np.int64)
        if x.shape != (self.n,) or x.min(initial=0) < 0 or x.max(initial=0) >= self.m:
            raise ValueError(f"{self.name}: an assignment needs one agent in 0..{self.m - 1} "
                             f"for each of the {self.n} jobs")
        jobs = np.arange(self.n)
        load = np.bincount(x, weights=self.a[x, jobs], minlength=self.m)
        over = np.flatnonzero(load > self.b)
        if len(over):
            i = int(over[0])
            raise ValueError(f"{self.name}: agent {i} loaded {int(load[i])} > capacity "
                             f"{int(self.b[i])}")
        return int(self.c[x, jobs].sum())


_TOKEN = re.compile(r"\S+")


class _Mismatch(Exception):
    """The tokens do not fit one layout; the text says where and why."""


def _where(text: str, index: int) -> str:
    """'token 12 (line 3)' for the 0-based token index, for error messages."""
    for k, mt in enumerate(_TOKEN.finditer(text)):
        if k == index:
            return f"token {index + 1} (line {text.count(chr(10), 0, mt.start()) + 1})"
    return f"token {index + 1} (end of file)"


def _block(vals: list[int], pos: int, k: int, text: str) -> tuple[tuple[np.ndarray, ...], int]:
    """Read one 'm n c a b' block at vals[pos]; returns (c, a, b) and the next position."""
    if pos + 2 > len(vals):
        raise _Mismatch(f"problem {k} is missing: the file ends at token {len(vals)}, "
                        f"before its 'm n' line (truncated, or fewer problems than declared)")
    m, n = vals[pos], vals[pos + 1]
    if m < 1 or n < 1:
        raise _Mismatch(f"problem {k}: m={m}, n={n} at {_where(text, pos)}: agents and jobs "
                        f"must be positive")
    need = 2 + 2 * m * n + m
    have = len(vals) - pos
    if have < need:
        raise _Mismatch(f"problem {k} (m={m}, n={n}) needs {need} tokens from "
                        f"{_where(text, pos)} but only {have} remain: file truncated")
    arr = np.asarray(vals[pos + 2: pos + need], dtype=np.int64)
    c = arr[: m * n].reshape(m, n)
    a = arr[m * n: 2 * m * n].reshape(m, n)
    b = arr[2 * m * n:]
    for label, x, off in (("a", a, pos + 2 + m * n), ("b", b, pos + 2 + 2 * m * n)):
        bad = np.flatnonzero(x.ravel() < 0)
        if len(bad):
            q = int(bad[0])
            at = f"[{q // n}][{q % n}]" if x.ndim == 2 else f"[{q}]"
            raise _Mismatch(f"problem {k}: {label}{at} = {int(x.ravel()[q])} at "
                            f"{_where(text, off + q)} is negative")
    return (c, a, b), pos + need


def _parse_multi(vals: list[int], text: str) -> list[tuple[np.ndarray, ...]]:
    if not vals:
        raise _Mismatch("empty")
    p = vals[0]
    if p < 1:
        raise _Mismatch(f"the leading problem count is {p}, not a positive number")
    pos, out = 1, []
    for k in range(1, p + 1):
        blk, pos = _block(vals, pos, k, text)
        out.append(blk)
    if pos != len(vals):
        raise _Mismatch(f"after the {p} declared problem(s), {len(vals) - pos} token(s) "
                        f"remain from {_where(text, pos)}: trailing data, or the leading "
                        f"count P={p} is wrong")
    return out


def _parse_single(vals: list[int], text: str) -> list[tuple[np.ndarray, ...]]:
    blk, pos = _block(vals, 0, 1, text)
    if pos != len(vals):
        raise _Mismatch(f"m={vals[0]}, n={vals[1]} makes {pos} tokens but the file has "
                        f"{len(vals)}: {len(vals) - pos} trailing token(s) from "
                        f"{_where(text, pos)}")
    return [blk]


def parse_gap(text: str, file: str = "<text>", layout: str = "auto") -> list[GapInstance]:
    """All problems of a GAP file's text. `layout`: 'auto', 'multi' (leading P), 'single'.

    'auto' accepts whichever layout the exact token count fits; a text that fits neither
    is refused with both reasons, one that fits both (never seen) asks for `layout`.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    tokens = text.split()
    if not tokens:
        raise GapFormatError(file, "empty file: no numbers")
    try:
        vals = [int(t) for t in tokens]
    except ValueError:
        bad = next(i for i, t in enumerate(tokens) if not re.fullmatch(r"[+-]?\d+", t))
        raise GapFormatError(file, f"{_where(text, bad)} is {tokens[bad]!r}, not an integer "
                                   f"(GAP files hold integers only)") from None
    results: dict[str, list[tuple[np.ndarray, ...]]] = {}
    reasons: dict[str, str] = {}
    for name, parse in (("multi", _parse_multi), ("single", _parse_single)):
        if layout in ("auto", name):
            try:
                results[name] = parse(vals, text)
            except _Mismatch as e:
                reasons[name] = str(e)
    if len(results) == 2:
        raise GapFormatError(file, "the tokens fit both the multi-problem and the "
                                   "single-problem layout; pass layout='multi' or 'single'")
    if not results:
        if layout != "auto":
            raise GapFormatError(file, f"not a {layout}-problem GAP file: {reasons[layout]}")
        raise GapFormatError(
            file, f"{len(vals)} tokens fit neither GAP layout. As a multi-problem file "
                  f"(leading count P={vals[0]}): {reasons['multi']}. As a single-problem "
                  f"file (m={vals[0]}, n={vals[1] if len(vals) > 1 else '?'}): "
                  f"{reasons['single']}.")
    (kind, blocks), = results.items()
    stem = Path(file).stem
    return [GapInstance(f"{stem}-{k}" if kind == "multi" else stem, c, a, b, file, k)
            for k, (c, a, b) in enumerate(blocks, start=1)]


def read_gap(path: str | Path, layout: str = "auto") -> list[GapInstance]:
    """Every problem in a GAP file (either layout)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="strict")
    except FileNotFoundError:
        raise GapFormatError(str(p), "no such file") from None
    except UnicodeDecodeError as e:
        raise GapFormatError(str(p), f"not a text file ({e.reason} at byte {e.start})") \
            from None
    except IsADirectoryError:
        raise GapFormatError(str(p), "is a directory, not a GAP file") from None
    return parse_gap(text, str(p), layout)


def load_gap(path: str | Path, problem: int | None = None,
             layout: str = "auto") -> GapInstance:
    """One problem (1-based) of a GAP file; `problem` may be omitted for one-problem files."""
    probs = read_gap(path, layout)
    if problem is None:
        if len(probs) > 1:
            raise GapFormatError(str(path), f"holds {len(probs)} problems: choose one with "
                                            f"problem=1..{len(probs)} (--problem K)")
        return probs[0]
    if not 1 <= problem <= len(probs):
        raise GapFormatError(str(path), f"holds {len(probs)} problem(s); problem {problem} "
                                        f"is outside 1..{len(probs)}")
    return probs[problem - 1]


# --------------------------------------------------------------------------- best known


def default_data_dir() -> Path | None:
    """`$PLACEMENT_DATA_DIR`, else `../shared/data` beside the repository, if it exists."""
    env = os.environ.get("PLACEMENT_DATA_DIR")
    path = Path(env) if env else REPO_ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None


@dataclass(frozen=True)
class BestKnown:
    value: int
    proven: bool
    source: str


def read_best_known(path: str | Path) -> dict[tuple[str, int, str], BestKnown]:
    """best_known.csv as {(instance relative to gap/, problem 1-based, sense): value}."""
    out: dict[tuple[str, int, str], BestKnown] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            key = (row["instance"], int(row["problem_index"]), row["sense"])
            out[key] = BestKnown(int(row["best_known"]),
                                 row["optimal_proven"].strip().lower() == "true",
                                 row.get("source", ""))
    return out
