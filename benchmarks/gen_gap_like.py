"""Generate GAP instances of the Yagiura C/D/E sizes by the published type D and E
recipes (the sets themselves are not in ../shared/data), in the single-problem layout.

    python benchmarks/gen_gap_like.py --out benchmarks/work/gap-like --seed 7
    placement gap benchmarks/work/gap-like/e801600.txt --time-limit 60 --json

Type D: a_ij ~ U{1..100}, c_ij = 111 - a_ij + U{-10..10}, b_i = floor(0.8 sum_j a_ij / m).
Type E: a_ij = floor(1 - 10 ln u), u ~ U(0, 1], c_ij = floor(1000 / a_ij - 10 U[0, 1)),
b_i = floor(0.8 sum_j a_ij / m). Not the published files: same recipe, other draws.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SIZES = [(20, 400), (40, 800), (80, 1600)]


def write(path: Path, c: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    m, n = c.shape
    lines = [f"{m} {n}"]
    lines += [" ".join(map(str, row)) for row in c]
    lines += [" ".join(map(str, row)) for row in a]
    lines.append(" ".join(map(str, b)))
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="benchmarks/work/gap-like")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    for m, n in SIZES:
        a = rng.integers(1, 101, size=(m, n))
        c = 111 - a + rng.integers(-10, 11, size=(m, n))
        write(out / f"d{m}{n}.txt", c, a, (0.8 * a.sum(axis=1) / m).astype(int))
        u = 1 - rng.random((m, n))
        a = (1 - 10 * np.log(u)).astype(int)
        c = (1000 / a - 10 * rng.random((m, n))).astype(int)
        write(out / f"e{m}{n}.txt", c, a, (0.8 * a.sum(axis=1) / m).astype(int))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
