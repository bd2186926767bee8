"""What the layout tests of a split package read from its source: its imports, cycles
among its parts, and functions longer than a screen."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path


def imports(path: Path, package: str) -> list[tuple[str, str]]:
    """(module, name) of every `from X import name` in the file; relative ones resolved
    against `package`, the file's own."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level == 1:
                mod = f"{package}.{mod}" if mod else package
            out.extend((mod, alias.name) for alias in node.names)
    return out


def part_graph(parts: Path, package: str) -> dict[str, set[str]]:
    """Each module of `parts` (the folder of `package`) and the parts it imports."""
    return {f.stem: {mod.rsplit(".", 1)[-1] for mod, _ in imports(f, package)
                     if mod.startswith(package + ".")} for f in parts.glob("*.py")}


def reaches_itself(graph: dict[str, set[str]]) -> list[str]:
    """Modules that reach themselves by imports (in a cycle)."""
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


def long_functions(files: Iterable[Path], screen: int) -> dict[str, int]:
    """`file:function` -> lines, for every function longer than `screen` lines."""
    long = {}
    for f in files:
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > screen:
                    long[f"{f.name}:{node.name}"] = lines
    return long
