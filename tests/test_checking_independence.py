"""The checker stays independent of the engine: optimiser/checking/ and optimiser/checker.py
import from the package only the rule codes, the format's vocabularies and each other."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "optimiser"
CHECKER_FILES = sorted((PACKAGE / "checking").glob("*.py")) + [PACKAGE / "checker.py"]
ALLOWED = {"categories", "rules", "checking"}  # optimiser.<first part> the checker may import
SCREEN = 50  # lines a function may take: one screen


def package_imports(source: str, path: Path) -> list[tuple[str, str]]:
    """(first part below optimiser, name) of every import from the package in `source`,
    relative ones resolved against `path`."""
    inside = path.relative_to(PACKAGE).parent.parts
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            mods = [a.name for a in node.names if a.name.split(".")[0] == "optimiser"]
            out += [(m.split(".")[1] if "." in m else "", m) for m in mods]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(inside[: len(inside) - node.level + 1])
                parts = base + (node.module.split(".") if node.module else [])
            elif (node.module or "").split(".")[0] == "optimiser":
                parts = node.module.split(".")[1:] if node.module else []
            else:
                continue
            for alias in node.names:
                out.append((parts[0] if parts else alias.name, alias.name))
    return out


def test_the_checker_imports_only_rules_categories_and_itself() -> None:
    outside = {f"{f.relative_to(ROOT)}: {first}"
               for f in CHECKER_FILES
               for first, _ in package_imports(f.read_text(encoding="utf-8"), f)
               if first not in ALLOWED}
    assert outside == set()


def test_the_import_check_can_fail() -> None:
    here = PACKAGE / "checking" / "run.py"
    found = package_imports("from optimiser.registry import RULES\nfrom ..solver import solve\n"
                            "import optimiser.candidates\nfrom .cells import SEP\n", here)
    assert [first for first, _ in found] == ["registry", "solver", "candidates", "checking"]


def test_no_private_name_crosses_a_module_of_the_checker() -> None:
    private = {f"{f.name}: {name}"
               for f in CHECKER_FILES
               for _, name in package_imports(f.read_text(encoding="utf-8"), f)
               if name.split(".")[-1].startswith("_")}
    assert private == set()


def test_every_function_of_the_checker_reads_on_one_screen() -> None:
    long = {}
    for f in CHECKER_FILES:
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.end_lineno is not None:
                length = node.end_lineno - node.lineno + 1
                if length > SCREEN:
                    long[f"{f.name}:{node.name}"] = length
    assert long == {}
