"""What a timed command does before its time limit can be checked is kept cheap: the
command line imports no table library until its command runs, a load leaves Python's
garbage collector as it found it, and cells are trimmed and un-neutralised column by
column exactly as the format says."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from optimiser.instance import InstanceError
from optimiser.reader import load_instance, read_csv_table
from optimiser.reading.collect import Collector

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "instances" / "demo"


def test_the_command_line_imports_no_table_library_before_its_command() -> None:
    probe = "import sys, optimiser.cli; print('pandas' in sys.modules, 'scipy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("enabled", [True, False])
def test_a_load_leaves_the_collector_as_it_found_it(enabled: bool, tmp_path: Path) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        load_instance(DEMO)
        assert gc.isenabled() is enabled
        with pytest.raises(InstanceError):
            load_instance(tmp_path / "missing")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_cells_are_trimmed_and_unquoted_as_written(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    rows = [
        "a,b,c",
        " x ,'=1+2,'plain",  # a formula start after ' is the format's; a plain ' stays
        "y\t, '-3 ,\"two\nlines'\"",  # a line break inside a quoted cell
        "",  # blank: skipped, but counted
        "z,,\"'@x\"",
    ]
    f.write_text("\n".join(rows) + "\n", encoding="utf-8")
    frame = read_csv_table(f, "t.csv", Collector())
    assert frame is not None
    assert frame.index.tolist() == [2, 3, 5]  # the rows a spreadsheet shows
    assert frame["a"].tolist() == ["x", "y", "z"]
    assert frame["b"].tolist() == ["=1+2", "-3", ""]
    assert frame["c"].tolist() == ["'plain", "two\nlines'", "@x"]
    assert {str(t) for t in frame.dtypes} == {"object"}


def test_a_column_without_a_quote_is_read_the_same(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("id,v\n  a1 ,1 \nb2,\t2\n", encoding="utf-8")
    frame = read_csv_table(f, "t.csv", Collector())
    assert frame is not None
    assert frame.to_dict("list") == {"id": ["a1", "b2"], "v": ["1", "2"]}
