"""The reader's parts (optimiser/reading/) each do one job a newcomer can read: no import
cycle between them, none imports the entry module `optimiser.reader`, nothing private
crosses modules, every function fits on a screen, and the entry keeps the public names
other code imports from it (commissioning, the 903 import, the service)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from layout_helpers import imports, long_functions, part_graph, reaches_itself

import optimiser.reader as entry
from optimiser.reading import cells, collect, columns, raw

ROOT = Path(__file__).resolve().parent.parent
PARTS = ROOT / "optimiser" / "reading"
ENTRY = ROOT / "optimiser" / "reader.py"
SCREEN = 50  # lines a function may take


def _imports(path: Path) -> list[tuple[str, str]]:
    return imports(path, "optimiser.reading" if path.parent == PARTS else "optimiser")


def test_no_import_cycle_between_the_parts() -> None:
    graph = part_graph(PARTS, "optimiser.reading")
    assert {"raw", "policy", "columns", "cells", "tables", "checks", "collect"} <= set(graph)
    assert reaches_itself(graph) == []
    assert reaches_itself({"a": {"b"}, "b": {"a"}}) == ["a", "b"]  # the search can fail


def test_parts_do_not_import_the_entry_module() -> None:
    back = {f.name for f in PARTS.glob("*.py") for mod, name in _imports(f)
            if mod == "optimiser.reader" or (mod == "optimiser" and name == "reader")}
    assert back == set()


def test_no_private_name_crosses_modules() -> None:
    private = {f"{f.name}: {mod}.{name}" for f in [*PARTS.glob("*.py"), ENTRY]
               for mod, name in _imports(f) if mod.startswith("optimiser")
               and name.startswith("_")}
    assert private == set()


def test_every_function_fits_on_a_screen() -> None:
    assert long_functions([*PARTS.glob("*.py"), ENTRY], SCREEN) == {}


def test_the_entry_keeps_the_public_names() -> None:
    assert entry.Collector is collect.Collector
    assert entry.read_csv_table is raw.read_csv_table
    assert entry.workbook_cell is raw.workbook_cell
    assert entry.check_columns is columns.check_columns
    for name in ("parse_choice", "parse_floats", "parse_ids", "parse_ints",
                 "parse_list_choice"):
        assert getattr(entry, name) is getattr(cells, name), name
    assert set(entry.__all__) <= set(dir(entry))


def test_warnings_are_still_logged_under_the_readers_name(
        caplog: pytest.LogCaptureFixture) -> None:
    out = entry.Collector()
    with caplog.at_level(logging.WARNING, logger="optimiser.reader"):
        out.warn("children.csv: unknown column 'x' ignored")
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        ("optimiser.reader", "children.csv: unknown column 'x' ignored")]
    assert out.warnings == ["children.csv: unknown column 'x' ignored"]
