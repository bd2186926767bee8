"""The distance words said once per distinct rounding read exactly as formatting each."""

from __future__ import annotations

import numpy as np
import pytest

from optimiser.registry import distance_words


def _each(who: str, km: np.ndarray, lim: float, over: str) -> list[str]:
    return [f"{who}: {d:.1f} km from home, {d - lim:.1f}{over}" for d in km.tolist()]


@pytest.mark.parametrize("lim", [0.0, 5.0, 12.5, 20.3, 7.05])
def test_distance_words_match_formatting_each(lim: float) -> None:
    rng = np.random.default_rng(7)
    km = np.concatenate([
        rng.uniform(lim, lim + 900.0, 5000),
        np.arange(0, 2000) / 20.0 + lim,  # exact halves and twentieths: the ties
        np.array([lim, lim + 0.05, lim + 0.25, lim + 1e-12, 1e10, np.inf, lim - 0.04]),
    ])
    over = f" km over the {lim:g} km limit"
    got = distance_words("C1", km, lim, over).tolist()
    assert got == _each("C1", km, lim, over)


def test_distance_words_empty() -> None:
    assert distance_words("C1", np.zeros(0), 3.0, "x").tolist() == []
