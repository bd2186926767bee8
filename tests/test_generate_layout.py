"""The generator's parts (optimiser/generation/) each do one job a newcomer can read:
no import cycle between them, none of them imports the entry module `optimiser.generate`,
nothing private crosses modules, every function fits on a screen, and the entry keeps the
public names other code imports from it."""

from __future__ import annotations

import ast
from pathlib import Path

import optimiser.generate as entry
from optimiser.generation import files, placements, tables, world

ROOT = Path(__file__).resolve().parent.parent
PARTS = ROOT / "optimiser" / "generation"
ENTRY = ROOT / "optimiser" / "generate.py"
SCREEN = 50  # lines a function may take


def _imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every `from X import name` in the file; relative ones resolved
    against optimiser.generation."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level == 1:
                mod = f"optimiser.generation.{mod}" if mod else "optimiser.generation"
            out.extend((mod, alias.name) for alias in node.names)
    return out


def _part_graph() -> dict[str, set[str]]:
    graph = {}
    for f in PARTS.glob("*.py"):
        deps = {mod.rsplit(".", 1)[-1] for mod, _ in _imports(f)
                if mod.startswith("optimiser.generation.")}
        graph[f.stem] = deps
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """Modules that reach themselves."""
    found = []
    for start in graph:
        seen: set[str] = set()
        todo = list(graph[start])
        while todo:
            m = todo.pop()
            if m == start:
                found.append(start)
                break
            if m not in seen:
                seen.add(m)
                todo.extend(graph.get(m, ()))
    return sorted(found)


def test_no_import_cycle_between_the_parts() -> None:
    graph = _part_graph()
    assert {"world", "children", "placements", "snapshot", "tables", "files"} <= set(graph)
    assert _cycle(graph) == []


def test_the_cycle_search_can_fail() -> None:
    assert _cycle({"a": {"b"}, "b": {"a"}, "c": set()}) == ["a", "b"]


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
    long = {}
    for f in [*PARTS.glob("*.py"), ENTRY]:
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > SCREEN:
                    long[f"{f.name}:{node.name}"] = lines
    assert long == {}


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
