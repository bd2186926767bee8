"""Integer scaling for CP-SAT, kept in one place.

CP-SAT needs integer coefficients. Every objective coefficient is a sum of pounds per
week (cost, km times `per_km`, penalties), so we scale pounds to pence: one integer unit
is £0.01/week. Each unit-placement coefficient is rounded once, so the model's objective
differs from the exact one by at most half a penny per placed unit; results are always
re-priced exactly in floating point from the chosen assignment, and the reported bound
is widened by that rounding slack so that it stays a valid bound on the exact objective.

Magnitudes: 84,000 children x £100,000 x priority 3 x 100 = 2.5e12, far inside int64.
"""

from __future__ import annotations

import numpy as np

MONEY_SCALE = 100  # integer units per pound


def to_int(pounds: np.ndarray | float) -> np.ndarray:
    """Pounds per week -> CP-SAT integer units (rounded to the nearest penny)."""
    return np.rint(np.asarray(pounds, dtype=float) * MONEY_SCALE).astype(np.int64)


def to_pounds(units: np.ndarray | float | int) -> np.ndarray | float:
    return np.asarray(units, dtype=float) / MONEY_SCALE if isinstance(units, np.ndarray) else (
        float(units) / MONEY_SCALE
    )


def rounding_slack(n_terms: int) -> float:
    """Largest possible |exact - scaled| objective difference, in pounds."""
    return 0.5 * n_terms / MONEY_SCALE
