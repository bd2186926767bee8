"""Every hard rule is defined once and completely, and the engine and the checker agree on it.

The registry (optimiser/registry.py) must give every rule code an engine check, words for
officers, a waiver and its places in the explanation orders; tests/rule_cases.py must give
it a pair of cases. Each case is then run through the engine (its mask for the pair and a
whole solve) and through the independent checker, which has its own code for every rule.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from rule_cases import ALL_CASES, CASES, DAY, RuleCase

from optimiser import load_instance, solve, write_solution
from optimiser.candidates import evaluate_block
from optimiser.checker import FORMAT, check
from optimiser.registry import (
    DEFINITIONS,
    FUNNEL,
    NEVER_WAIVED,
    RULES,
    SPEC_PAIR_RULES,
    TRIAGE,
    Breach,
    Scope,
    Waiver,
)
from optimiser.rules import PAIR_RULES, Rule


def test_every_rule_code_has_exactly_one_definition() -> None:
    assert [d.rule for d in DEFINITIONS] == list(Rule)
    assert len(RULES) == len(Rule)


def _missing(rule: Rule) -> list[str]:
    """What the registry or the case table lacks for `rule`."""
    d = RULES.get(rule)
    if d is None:
        return ["a definition"]
    missing = []
    if not d.text:
        missing.append("words (text)")
    if d.scope is Scope.FIT and d.fit is None:
        missing.append("an engine check (fit)")
    if d.scope in (Scope.PAIR, Scope.RUN) and d.pair is None:
        missing.append("an engine check (pair)")
    if d.scope is Scope.MODEL and not d.model:
        missing.append("where the model enforces it")
    if d.scope is not Scope.MODEL:
        if d.funnel is None or d.funnel_words is None:
            missing.append("a funnel place and its words")
        if d.triage is None:
            missing.append("a triage place")
    if d.scope in (Scope.FIT, Scope.PAIR):
        if not d.void_words:
            missing.append("words for a void bed")
        if d.detail is None:
            missing.append("words for a ruled-out placement")
    if d.waiver is Waiver.MANAGER and not (d.near and d.near_unit and d.waiver_words):
        missing.append("how near a waivable placement must be, and its words")
    pair = CASES.get(rule)
    if pair is None or [c.binds for c in pair] != [True, False] or any(
            c.rule is not rule for c in pair):
        missing.append("its pair of cases (binds, free) in tests/rule_cases.py")
    return missing


@pytest.mark.parametrize("rule", list(Rule), ids=lambda r: r.value)
def test_every_rule_is_complete(rule: Rule) -> None:
    assert _missing(rule) == []
    assert RULES[rule].has_engine_check


def test_completeness_test_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule whose words or cases are taken away is reported."""
    from dataclasses import replace

    monkeypatch.setitem(RULES, Rule.GENDER, replace(RULES[Rule.GENDER], detail=None))
    monkeypatch.delitem(CASES, Rule.NEEDS)
    assert _missing(Rule.GENDER) == ["words for a ruled-out placement"]
    assert _missing(Rule.NEEDS) == ["its pair of cases (binds, free) in tests/rule_cases.py"]


def test_the_checker_lists_the_registry_spec_rules_in_its_order() -> None:
    assert SPEC_PAIR_RULES == PAIR_RULES


def test_orders_are_orders() -> None:
    funnel = [d.funnel for d in DEFINITIONS if d.funnel is not None]
    triage = [d.triage for d in DEFINITIONS if d.triage is not None]
    assert sorted(funnel) == list(range(len(funnel))) and len(FUNNEL) == len(funnel)
    assert sorted(triage) == list(range(len(triage))) and len(TRIAGE) == len(triage)


def test_never_waived_is_the_law_the_risks_a_required_faith_and_a_reservation() -> None:
    assert {Rule.SUPPORTED_UNDER_16, Rule.EXCLUSION, Rule.FAITH_REQUIRED,
            Rule.RESERVED} == NEVER_WAIVED


# --------------------------------------------------------------------------- the cases


def _assignments(folder: Path) -> dict[str, str]:
    a = pd.read_csv(folder / "assignments.csv", dtype=str, keep_default_na=False)
    return dict(zip(a["child_id"], a["placement_id"], strict=True))


def _engine_mask(case: RuleCase, folder: Path) -> dict[Rule, bool]:
    """The engine's verdict per rule on the case's pair."""
    assert case.pair is not None
    inst = load_instance(folder).with_reallocation(date=DAY, **case.run)
    c, p = inst.child_index[case.pair[0]], inst.placement_index[case.pair[1]]
    pb = evaluate_block(inst, np.array([c]), np.array([p]), keep_rules=True)
    return {rule: bool(np.asarray(m)[0, 0]) for rule, m in pb.violations.items()}


@pytest.mark.parametrize("case", [c for c in ALL_CASES if RULES[c.rule].scope is not Scope.MODEL],
                         ids=lambda c: c.name)
def test_engine_check_on_the_pair(tmp_path: Path, case: RuleCase) -> None:
    broken = _engine_mask(case, case.write(tmp_path / "i"))
    assert broken[case.rule] == case.binds
    assert [r for r, b in broken.items() if b and r is not case.rule] == []


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_engine_solve(tmp_path: Path, case: RuleCase) -> None:
    """Free: the plan is the engine's optimum. Binding: the engine never returns it, and
    the checker accepts what it returns instead."""
    folder = case.write(tmp_path / "i")
    inst = load_instance(folder).with_reallocation(date=DAY, **case.run)
    out = tmp_path / "out"
    write_solution(solve(inst, time_limit=20, workers=1), out)
    got = _assignments(out)
    assert (got == case.plan) != case.binds
    report = check(folder, out, date=DAY)
    assert report.ok, [v.detail for v in report.violations]
    if case.binds and len(case.placements) == 1 and RULES[case.rule].scope is not Scope.MODEL:
        # the only placement breaks the rule: the explanation names it, in words
        a = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
        row = a.set_index("child_id").loc["C1"]
        assert (row["reason_code"], bool(row["reason"])) == (case.rule.value, True)


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_checker(tmp_path: Path, case: RuleCase) -> None:
    """The checker, given the case's plan, reports the rule exactly when it binds (a rule
    that is an option of the run, not of the files, is one the checker cannot see)."""
    folder = case.write(tmp_path / "i")
    out = tmp_path / "plan"
    out.mkdir()
    ids = [str(c["child_id"]) for c in case.children]
    pd.DataFrame({"child_id": ids, "placement_id": [case.plan.get(c, "") for c in ids]}
                 ).to_csv(out / "assignments.csv", index=False)
    report = check(folder, out, date=DAY)
    codes = {v.rule for v in report.violations} - {FORMAT}  # no cost columns written
    if case.binds and RULES[case.rule].checker:
        assert case.rule.value in codes
    else:
        assert codes == set()


@pytest.mark.parametrize("words", [1, 3])
def test_needs_detail_names_each_members_unmet_needs(words: int) -> None:
    """The needs detail decodes each distinct unmet set once; at every placement it still
    names, per member breaking the rule, exactly the needs that placement does not support
    (over one bit-set word and over several)."""
    rng = np.random.default_rng(words)
    tags = [f"need{t}" for t in range(64 * words - 3)]
    bits = (1 << min(64 * words - 3, 63)) - 1
    needs = (rng.integers(0, bits, size=(4, words)) & rng.integers(0, bits, size=(4, words))
             ).astype(np.uint64)
    supported = rng.integers(0, bits, size=(60, words)).astype(np.uint64)
    supported[::4] = supported[1]  # placements with equal needs supported

    def needs_of(mask: np.ndarray) -> list[str]:
        return [t for i, t in enumerate(tags) if int(mask[i // 64]) >> (i % 64) & 1]

    inst: Any = SimpleNamespace(needs=needs, needs_supported=supported, needs_of=needs_of)
    patterns = [[0, 2], [1], [0, 1, 2]]
    for members, who in ((np.array([3]), [[0]] * 60),
                         (np.array([0, 1, 2]), [patterns[j % 3] for j in range(60)])):
        ids = [f"C{c}" for c in members.tolist()]
        code = np.array([patterns.index(w) if len(members) > 1 else 0 for w in who])
        b = Breach(inst=inst, members=members, ids=ids, cols=np.arange(60), who=who,
                   pattern=code, km=np.zeros((len(members), 60)), exclusion_reason={})
        detail = RULES[Rule.NEEDS].detail
        assert detail is not None
        want = ["cannot meet needs (" + "; ".join(
            f"{ids[i]}: " + ", ".join(needs_of(needs[members[i]] & ~supported[p]))
            for i in w) + ")" for p, w in enumerate(who)]
        assert detail(b) == want
