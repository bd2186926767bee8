"""The generator writes an instance folder all or nothing."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from optimiser.generate import generate, write_instance


def snapshot(folder: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(folder.iterdir())}


def test_a_failure_part_way_leaves_the_folder_as_it_was(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "inst"
    generate(out, children=30, placements=20, seed=1)
    before = snapshot(out)
    tables = generate(None, children=40, placements=25, seed=2)
    real = pd.DataFrame.to_csv
    calls = {"n": 0}

    def fail_second(self: pd.DataFrame, *args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(pd.DataFrame, "to_csv", fail_second)
    with pytest.raises(OSError, match="disk full"):
        write_instance(out, tables)
    assert snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["inst"]  # no temporary folder left


def test_a_new_instance_replaces_the_old_files_whole(tmp_path: Path) -> None:
    out = tmp_path / "inst"
    generate(out, children=30, placements=20, seed=1)
    (out / "notes.txt").write_text("kept", encoding="utf-8")
    generate(out, children=40, placements=25, seed=2)
    fresh = tmp_path / "fresh"
    generate(fresh, children=40, placements=25, seed=2)
    after = snapshot(out)
    assert after.pop("notes.txt") == b"kept"  # files not the generator's are left alone
    assert after == snapshot(fresh)
