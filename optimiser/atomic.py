"""A folder written all or nothing.

The files are written into a temporary folder beside the target and moved into place
only when all of them are complete, so a crash or a full disk never leaves half an
output (a reader sees the old files or the new ones, never a mix of half of each).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_folder(out: str | Path, stale: Iterable[str] = ()) -> Iterator[Path]:
    """Yield a temporary folder to write into; when the block ends normally, remove the
    `stale` names from `out` (files an earlier run may have left there; only these: the
    folder may hold other things) and move every file written into `out`. When the block
    raises, `out` is left as it was. The temporary folder is removed either way."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield tmp
        out.mkdir(exist_ok=True)
        for name in stale:
            (out / name).unlink(missing_ok=True)
        for f in tmp.iterdir():
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
