"""The rule, category, objective and reading modules sit in layers: no import cycle
through them, and nothing private imported from them by another module."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "optimiser"
LAYERED = {  # module -> the modules it may import from the package (directly)
    "categories": set(),
    "rules": {"categories"},
    "objective": {"categories"},
    "instance": {"categories", "objective"},
    "registry": {"categories", "rules"},
    # independent by design: the engine's checks must not leak into the checker; its
    # entry point re-exports optimiser/checking/, which
    # tests/test_checking_independence.py holds to rules and categories
    "checker": {"checking"},
}
CHECKED = {"categories", "rules", "objective", "instance", "registry", "candidates", "reader",
           "checker", "explain", "match", "generate", "reallocate", "writer", "calibration"}


def _imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) imported from the package outside `if TYPE_CHECKING:` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    out = []
    for node in ast.walk(tree):
        if id(node) in typing_only or not isinstance(node, ast.ImportFrom):
            continue
        mod = node.module or ""
        if node.level == 0 and not mod.startswith("optimiser"):
            continue
        mod = mod.removeprefix("optimiser").lstrip(".")
        for alias in node.names:
            out.append((mod, alias.name))
    return out


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for f in PACKAGE.glob("*.py"):
        deps = set()
        for mod, name in _imports(f):
            deps.add(mod if mod else name)  # `from . import calibration`
        graph[f.stem] = {d.split(".")[0] for d in deps if d} - {f.stem}
    return graph


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), list(graph.get(start, ()))
    while todo:
        m = todo.pop()
        if m == goal:
            return True
        if m not in seen:
            seen.add(m)
            todo.extend(graph.get(m, ()))
    return False


def test_lower_layers_import_only_what_lies_below() -> None:
    graph = _graph()
    assert {m: graph[m] - allowed for m, allowed in LAYERED.items() if graph[m] - allowed} == {}


def test_no_import_cycle_through_these_modules() -> None:
    graph = _graph()
    assert sorted(m for m in CHECKED if _reaches(graph, m, m)) == []


def test_no_private_name_imported_from_these_modules() -> None:
    files = [PACKAGE / f"{m}.py" for m in sorted(CHECKED)] + sorted((ROOT / "tests").glob("*.py"))
    private = {f"{f.name}: {mod}.{name}" for f in files for mod, name in _imports(f)
               if mod.split(".")[-1] in CHECKED and name.startswith("_")}
    assert private == set()


def test_the_cycle_search_can_fail() -> None:
    assert _reaches({"a": {"b"}, "b": {"a"}}, "a", "a")
    assert not _reaches({"a": {"b"}, "b": set()}, "a", "a")
