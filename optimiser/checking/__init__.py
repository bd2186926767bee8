"""The independent checker of a solve against the interchange spec (instance-format.md).

Why independent: the checker must catch the engine's mistakes, so it shares no reading,
candidate, rule-check, objective or model code with the rest of the package. Its modules
import from the package only :mod:`optimiser.rules` (the stable rule codes) and
:mod:`optimiser.categories` (the format's vocabularies), so that a report, a test and a
log line say the same thing; ``tests/test_checking_independence.py`` holds it to that,
and ``tests/rule_cases.py`` runs the checker and the engine on one table of cases.

The modules, in the order a check runs:

- ``cells``: the spec's cells turned into values (text, booleans, numbers, dates, lists);
- ``policy``, ``tables``, ``loading``: the instance read from its files on its own;
- ``solution``: the output folder read, one row per child, and its format faults;
- ``placed``: each placed child beside its placement, with the spec's distance;
- ``pair_rules``, ``bed_rules``, ``reallocation_rules``: one named function per rule code;
- ``objective``: the objective recomputed from the spec's formula;
- ``summary``: summary.json held to the recomputed figures;
- ``report``: what was found, and its plain-English text; ``run``: ``check()`` itself.

The main checks are column-wise pandas operations (no per-row Python loop over all
children), so the work grows with the columns, not with Python loops; loops only run over
the violations found, the sibling groups that break, or the handful of policy keys.
"""

from optimiser.checking.report import FORMAT, CheckReport, Violation, format_report
from optimiser.checking.run import check

__all__ = ["FORMAT", "CheckReport", "Violation", "check", "format_report"]
