"""The independent checker's public entry point: ``check`` and ``format_report``.

The checker itself is the package :mod:`optimiser.checking` (one job a module, one named
function per rule code); this module keeps the names every caller imports, and the
`placement check` command, where they have always been. Like the package, it imports
nothing of the engine: only the rule codes and the format's vocabularies reach it.
"""

from __future__ import annotations

from optimiser.checking import FORMAT, CheckReport, Violation, check, format_report

__all__ = ["FORMAT", "CheckReport", "Violation", "check", "format_report"]
