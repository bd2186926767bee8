"""One encoding per category: a faith-match code means the same in every module.

The reader, the generator, the engine's checks, the objective and the explanations all use
`optimiser.categories`; these tests read files written by one module with another and
check that the meaning survives, and that no module compares a category with a bare
integer of its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import write_instance

from optimiser import load_instance
from optimiser.categories import (
    ALL_RATINGS,
    FAITH_MATCH,
    GENDERS,
    PLACEMENT_TYPES,
    FaithMatch,
    Gender,
    PlacementType,
    Rating,
)
from optimiser.explain import review_list
from optimiser.generate import generate
from optimiser.objective import pair_distances, pair_terms

PACKAGE = Path(__file__).resolve().parent.parent / "optimiser"
CATEGORY_ARRAYS = {"faith_match", "gender", "ptype", "rating"}


def test_words_and_codes() -> None:
    assert FAITH_MATCH == ("none", "preferred", "required")
    assert [FaithMatch.parse(w) for w in FAITH_MATCH] == list(FaithMatch)
    assert Gender.parse("X") is Gender.X and GENDERS == ("F", "M", "X")
    assert PlacementType.parse("secure").word == "secure"
    assert PLACEMENT_TYPES[PlacementType.SUPPORTED_ACCOMMODATION] == "supported_accommodation"
    assert ALL_RATINGS[Rating.NOT_RATED] == "not_rated"
    with pytest.raises(ValueError):
        FaithMatch.parse("Required")


def test_reader_stores_the_enum_codes(tmp_path: Path) -> None:
    words = ["none", "preferred", "required", ""]
    kids = [{"child_id": f"C{i}", "faith": "sikh" if w else "", "faith_match": w}
            for i, w in enumerate(words)]
    inst = load_instance(write_instance(tmp_path / "i", kids, [{"placement_id": "P1"}]))
    assert [FaithMatch(int(x)).word for x in inst.faith_match] == [
        "none", "preferred", "required", "none"]


def test_preferred_is_a_penalty_and_required_a_rule(tmp_path: Path) -> None:
    """The objective charges only `preferred` for a different faith."""
    kids = [{"child_id": "C1", "faith": "sikh", "faith_match": "preferred"},
            {"child_id": "C2", "faith": "sikh", "faith_match": "required"},
            {"child_id": "C3", "faith": "sikh", "faith_match": "none"}]
    inst = load_instance(write_instance(tmp_path / "i", kids,
                                        [{"placement_id": "P1", "faith": "christian"}]))
    c, p = np.arange(3), np.zeros(3, dtype=np.int64)
    terms = pair_terms(inst, c, p, pair_distances(inst, c, p))
    w = inst.policy.weights.faith_mismatch
    assert terms.faith_mismatch.tolist() == [w, 0.0, 0.0]


def test_generated_instance_reads_back_with_the_generators_meaning(tmp_path: Path) -> None:
    """The generator draws current placements that respect every rule in its own codes;
    read back, the engine finds no placed child breaking a rule (a required faith is
    matched) while children who only prefer a faith do live with other faiths."""
    folder = tmp_path / "g"
    generate(folder, children=400, placements=200, seed=11, placed_share=0.7)
    words = pd.read_csv(folder / "children.csv", dtype=str, keep_default_na=False)
    inst = load_instance(folder)
    written = words["faith_match"].replace("", "none").tolist()
    assert [FaithMatch(int(x)).word for x in inst.faith_match] == written
    placed = inst.current >= 0
    required = placed & (inst.faith_match == FaithMatch.REQUIRED)
    preferred = placed & (inst.faith_match == FaithMatch.PREFERRED)
    assert required.any() and preferred.any()
    assert review_list(inst, inst.current.astype(np.int64)) == []
    assert (inst.faith[preferred] != inst.pfaith[inst.current[preferred]]).any()


def _bare_codes(tree: ast.AST) -> list[str]:
    """Comparisons of a category array with an integer literal (`faith_match == 1`)."""
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        names = {n.attr if isinstance(n, ast.Attribute) else getattr(n, "id", "")
                 for side in sides for n in ast.walk(side)}
        literal = any(isinstance(s, ast.Constant) and isinstance(s.value, int)
                      and not isinstance(s.value, bool) and s.value > 0 for s in sides)
        if literal and names & CATEGORY_ARRAYS:
            out.append(ast.unparse(node))
    return out


def test_no_module_compares_a_category_with_a_bare_code() -> None:
    found = {f.name: _bare_codes(ast.parse(f.read_text(encoding="utf-8")))
             for f in sorted(PACKAGE.rglob("*.py"))}
    assert {k: v for k, v in found.items() if v} == {}


def test_bare_code_scan_can_fail() -> None:
    assert _bare_codes(ast.parse("ok = inst.faith_match[c] == 1")) == [
        "inst.faith_match[c] == 1"]
