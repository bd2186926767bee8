"""The checker's rules are named by their codes, and its small parts say what the spec says.

Expected values are written out here by hand, not taken from the checker's own code.
"""

from __future__ import annotations

import datetime as dt
import math

import pytest

import optimiser.checker
import optimiser.checking
from optimiser.checking import bed_rules, reallocation_rules
from optimiser.checking.cells import parse_date, unquote
from optimiser.checking.pair_rules import PAIR_CHECKS
from optimiser.checking.report import number_text
from optimiser.checking.summary import close, num
from optimiser.rules import PAIR_RULES, Rule

OTHER_RULES = {  # rule code -> the module holding the function of that name
    Rule.CAPACITY: bed_rules,
    Rule.SOLO: bed_rules,
    Rule.SIBLINGS_TOGETHER: bed_rules,
    Rule.ON_HOLD: reallocation_rules,
    Rule.NOT_YET_AVAILABLE: reallocation_rules,
    Rule.PINNED: reallocation_rules,
    Rule.MOVE_NOT_IN_CHILD_INTEREST: reallocation_rules,
}


def test_checker_py_is_the_package_under_its_old_names() -> None:
    assert optimiser.checker.check is optimiser.checking.check
    assert optimiser.checker.format_report is optimiser.checking.format_report
    assert optimiser.checker.FORMAT == "format"


def test_each_pair_rule_is_checked_and_worded_by_functions_named_for_its_code() -> None:
    assert list(PAIR_CHECKS) == list(PAIR_RULES)
    names = {rule.value: (c.broken.__name__, c.words.__name__) for rule, c in PAIR_CHECKS.items()}
    assert names == {code: (code, f"{code}_words") for code in names}


def test_each_bed_and_reallocation_rule_has_a_function_named_for_its_code() -> None:
    missing = [rule.value for rule, module in OTHER_RULES.items()
               if not callable(getattr(module, rule.value, None))]
    assert missing == []


def test_on_hold_names_the_reason_and_spares_an_open_placement() -> None:
    found = reallocation_rules.on_hold("C1", "P1", "illness")
    assert found is not None
    assert (found.rule, found.child_id, found.placement_id) == ("on_hold", "C1", "P1")
    assert found.detail == "child C1 is new to P1, which is on hold (illness)"
    assert reallocation_rules.on_hold("C1", "P1", "") is None


def test_not_yet_available_counts_from_the_day_after_the_as_of_date() -> None:
    day = dt.date(2026, 12, 8)
    assert reallocation_rules.not_yet_available("C1", "P1", day, day) is None
    assert reallocation_rules.not_yet_available("C1", "P1", None, day) is None
    later = reallocation_rules.not_yet_available("C1", "P1", dt.date(2026, 12, 9), day)
    assert later is not None and later.rule == "not_yet_available"
    assert later.detail.endswith("open on 2026-12-09 (after 2026-12-08)")


def test_a_neutralised_formula_cell_is_read_as_its_text() -> None:
    assert unquote("'=SUM(A1)") == "=SUM(A1)"
    assert unquote("'+44") == "+44"
    assert unquote("'quoted") == "'quoted"  # not a formula: the quote is the cell's own
    assert unquote("=1") == "=1"


def test_dates_take_an_excel_midnight_and_refuse_the_rest() -> None:
    assert parse_date("2026-01-31T00:00:00", "x") == dt.date(2026, 1, 31)
    assert parse_date("", "x") is None
    for bad in ("2026-02-30", "31/01/2026"):
        with pytest.raises(ValueError, match=r"is not a date \(YYYY-MM-DD\)"):
            parse_date(bad, "placements.available_from (P1)")


def test_summary_numbers_and_their_tolerance() -> None:
    assert math.isnan(num(True)) and math.isnan(num(None)) and math.isnan(num("lots"))
    assert num("2.5") == 2.5
    assert close(100.005, 100.0, 1e-6, 0.01)
    assert not close(100.02, 100.0, 1e-6, 0.01)
    assert not close(math.nan, 100.0, 1e-6, 0.01)
    assert number_text(1234.5) == "1234.5" and number_text(1e20) == "1e+20"
