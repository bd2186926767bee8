"""The generator's parts (optimiser/generation/) each do one job a newcomer can read:
no import cycle between them, none of them imports the entry module `optimiser.generate`,
nothing private crosses modules, every function fits on a screen, and the entry keeps the
public names other code imports from it."""

from __future__ import annotations

from pathlib import Path

from layout_helpers import imports, long_functions, part_graph, reaches_itself

import optimiser.generate as entry
from optimiser.generation import files, placements, tables, world

ROOT = Path(__file__).resolve().parent.parent
PARTS = ROOT / "optimiser" / "generation"
ENTRY = ROOT / "optimiser" / "generate.py"
SCREEN = 50  # lines a function may take


def _imports(path: Path) -> list[tuple[str, str]]:
    return imports(path, "optimiser.generation")


def test_no_import_cycle_between_the_parts() -> None:
    graph = part_graph(PARTS, "optimiser.generation")
    assert {"world", "children", "placements", "snapshot", "tables", "files"} <= set(graph)
    assert reaches_itself(graph) == []


def test_the_cycle_search_can_fail() -> None:
    assert reaches_itself({"a": {"b"}, "b": {"a"}, "c": set()}) == ["a", "b"]


def test_parts_do_not_import_the_entry_module() -> None:
    back = {f.name for f in PARTS.glob("*.py")
            for mod, name in _imports(f)
            if mod == "optimiser.generate" or (mod == "optimiser" and name == "generate")}
    assert back == set()


def test_no_private_name_crosses_modules() -> None:
    files_ = [*PARTS.glob("*.py"), ENTRY]
    private = {f"{f.name}: {mod}.{name}" for f in files_ for mod, name in _imports(f)
               if mod.startswith("optimiser") and name.startswith("_")}
    assert private == set()


def test_every_function_fits_on_a_screen() -> None:
    assert long_functions([*PARTS.glob("*.py"), ENTRY], SCREEN) == {}


def test_the_entry_keeps_the_public_names() -> None:
    """Other modules, tests and benchmarks import these from optimiser.generate."""
    assert entry.write_instance is files.write_instance
    assert entry.instance_stats is tables.instance_stats
    assert entry.type_counts is placements.type_counts
    assert entry.default_data_dir is world.default_data_dir
    assert entry.adjoining_pairs is world.adjoining_pairs
    assert entry.RECIPES_PATH == ROOT / "instances" / "recipes.toml"
    for name in ("generate", "generate_recipe", "load_recipes", "recipe_kwargs"):
        assert callable(getattr(entry, name)), name
    assert set(entry.__all__) <= set(dir(entry))
