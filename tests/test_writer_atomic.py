"""A folder written all or nothing (`optimiser.atomic`), as `write_output` and the pooling
report use it: a failure leaves the old files; a success replaces only the named ones."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from optimiser.atomic import atomic_folder
from optimiser.writer import Report, write_output


def test_a_failure_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.csv").write_text("old\n")
    with pytest.raises(RuntimeError), atomic_folder(out, ["a.csv"]) as tmp:
        (tmp / "a.csv").write_text("new\n")
        raise RuntimeError("disk full")
    assert (out / "a.csv").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary left


def test_stale_names_go_other_files_stay(tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"
    with atomic_folder(out, ["a.csv", "b.csv"]) as tmp:
        (tmp / "a.csv").write_text("1\n")
    (out / "b.csv").write_text("stale\n")
    (out / "mine.txt").write_text("keep\n")
    with atomic_folder(out, ["a.csv", "b.csv"]) as tmp:
        (tmp / "a.csv").write_text("2\n")
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "mine.txt"]
    assert (out / "a.csv").read_text() == "2\n"


def test_write_output_replaces_its_own_files_only(tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "moves.csv").write_text("from an earlier re-allocation\n")
    (out / "notes.md").write_text("keep\n")
    rep = Report(pd.DataFrame({"child_id": ["c1"], "placement_id": ["p1"]}),
                 {"status": "optimal"}, pd.DataFrame({"child_id": []}))
    assert write_output(rep, out) == out
    assert sorted(p.name for p in out.iterdir()) == ["assignments.csv", "notes.md",
                                                     "summary.json"]
    assert pd.read_csv(out / "assignments.csv")["placement_id"].tolist() == ["p1"]
