"""Problems and warnings gathered over a whole load, so one run names every problem."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from optimiser.instance import InstanceError, Problem

# Warnings are logged under the reader's name, the one operators and their logs know.
log = logging.getLogger("optimiser.reader")


class Collector:
    """Problems (errors) and warnings gathered over the whole load."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[str] = []

    def add(self, file: str, row: int | None, column: str | None, message: str) -> None:
        self.problems.append(Problem(file, row, column, message))

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        log.warning(message)

    def rows(self, file: str, df: pd.DataFrame, mask: Any, column: str,
             message: Callable[[Any], str]) -> None:
        """Report every row where `mask` is true; `message(value)` words it.

        The frame's index holds the spreadsheet row numbers (see `raw.read_csv_table`).
        """
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        values = df[column].to_numpy() if column in df.columns else None
        for i in np.flatnonzero(mask):
            v = values[i] if values is not None else None
            self.add(file, int(df.index[int(i)]), column, message(v))


def fail(out: Collector, files: tuple[str, ...]) -> InstanceError:
    """The error to raise, problems grouped by file and in row order, as an analyst fixes them."""
    rank = {f: i for i, f in enumerate(files)}
    return InstanceError(
        sorted(out.problems, key=lambda p: (rank.get(p.file, len(rank)), p.row or 0)))
