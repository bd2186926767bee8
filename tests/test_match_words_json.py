"""The ruled-out list written as text directly is, byte for byte, its JSON dump."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import write_instance

from optimiser import load_instance
from optimiser.generate import generate
from optimiser.match import Matcher, MatchResult


def _dumped(res: MatchResult) -> str:
    return json.dumps(res.to_dict()["ruled_out"], ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("reason", ["plain words", 'said "no"', "a \\ b", "tab\there",
                                    "line\nbreak", "£5 — 家", "\x7f"])
def test_ruled_out_json_is_the_dump_whatever_a_reason_holds(tmp_path: Path,
                                                            reason: str) -> None:
    kids = [{"child_id": "A", "sibling_group": "G"}, {"child_id": "B", "sibling_group": "G"},
            {"child_id": "C", "age": 4}]
    pls = [{"placement_id": f"P{j}", "vacancies": 1 + j % 3, "weekly_cost": 400 + j,
            "age_max": 17 if j % 2 else 5} for j in range(8)]
    folder = write_instance(tmp_path / "i", kids, pls, exclusions=[
        {"child_id": "A", "placement_id": "P1", "reason": reason},
        {"child_id": "C", "placement_id": "P3", "reason": reason}])
    m = Matcher(load_instance(folder))
    for res in (m.rank(group="G"), m.rank("C")):
        text = res.ruled_out_json()
        assert any(reason in r["detail"] for r in json.loads(text))
        assert text == _dumped(res)


def test_ruled_out_json_is_the_dump_on_a_generated_register(tmp_path: Path) -> None:
    generate(tmp_path / "g", children=200, placements=600, seed=5, placed_share=0.5)
    inst = load_instance(tmp_path / "g")
    m = Matcher(inst)
    groups = sorted({str(g) for g in inst.sibling_group if g})[:2]
    refs = [m.rank(group=g) for g in groups] + [m.rank(str(c)) for c in inst.child_ids[:4]]
    rules = set()
    for res in refs:
        text = res.ruled_out_json()
        assert text == _dumped(res)
        rules |= {r["rule"] for r in json.loads(text)}
    assert len(rules) >= 3, "the case needs several rules"
