"""Benchmark families that can fail: generated instances post-processed to be hard.

Each family starts from `optimiser.generate.generate` (real geography and real homes when
`data_dir` is given) and changes the tables the way the family says:

- `tight`: supply short. Vacancies are taken away, one bed at a time from random
  placements, until the children exceed the beds by `shortage` (0.3: 30% more children
  than beds).
- `uasc`: many unaccompanied asylum-seeking children. A share of the single children
  aged 14 and over become UASC (the need "uasc", mostly boys), so the placements that
  support them are contested.
- `siblings`: many sibling groups. Single children are joined into groups of 2 to 4
  living at one home (the eldest's), so most units need several beds together.

Same arguments, same tables, byte for byte (one seeded generator per family).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import generate

__all__ = ["FAMILIES", "family_tables", "write_family"]

FAMILIES = ("plain", "tight", "uasc", "siblings")


def tighten(tables: dict[str, pd.DataFrame], shortage: float, rng: np.random.Generator
            ) -> None:
    """Take beds away until children = (1 + shortage) x beds."""
    plc = tables["placements"]
    vac = plc["vacancies"].to_numpy(dtype=np.int64).copy()
    target = int(np.floor(len(tables["children"]) / (1.0 + shortage)))
    excess = int(vac.sum()) - target
    if excess > 0:
        beds = np.repeat(np.arange(len(vac)), vac)  # one entry per bed
        gone = rng.choice(len(beds), size=excess, replace=False)
        vac -= np.bincount(beds[gone], minlength=len(vac))
    plc["vacancies"] = vac


def _add_need(needs: pd.Series, rows: np.ndarray, need: str) -> pd.Series:
    values = needs.to_numpy(dtype=object).copy()
    for r in rows:
        v = values[r]
        parts = [x for x in (v if isinstance(v, str) else "").split(";") if x]
        if need not in parts:
            parts.append(need)
        values[r] = ";".join(parts)
    return pd.Series(values, index=needs.index)


def uasc_heavy(tables: dict[str, pd.DataFrame], share: float, rng: np.random.Generator
               ) -> None:
    """Make `share` of the single children aged 14+ UASC (90% of them boys)."""
    kids = tables["children"]
    single = kids["sibling_group"].isna() | (kids["sibling_group"].astype(str) == "")
    pick = np.flatnonzero(single.to_numpy() & (kids["age"].to_numpy() >= 14))
    rows = pick[rng.random(len(pick)) < share]
    kids["needs"] = _add_need(kids["needs"].astype(object), rows, "uasc")
    gender = kids["gender"].to_numpy(dtype=object).copy()
    gender[rows] = np.where(rng.random(len(rows)) < 0.9, "M", "F")
    kids["gender"] = gender


def sibling_heavy(tables: dict[str, pd.DataFrame], share: float,
                  rng: np.random.Generator) -> None:
    """Join `share` of the single children (not solo) into groups of 2-4 at one home."""
    kids = tables["children"]
    single = (kids["sibling_group"].isna() | (kids["sibling_group"].astype(str) == ""))
    solo = kids["solo"].astype(str).str.lower() == "true"
    pool = np.flatnonzero(single.to_numpy() & ~solo.to_numpy())
    pool = pool[rng.random(len(pool)) < share]
    rng.shuffle(pool)
    group = kids["sibling_group"].to_numpy(dtype=object).copy()
    lat = kids["home_lat"].to_numpy(dtype=float).copy()
    lon = kids["home_lon"].to_numpy(dtype=float).copy()
    i, g = 0, 0
    while i + 1 < len(pool):
        size = int(rng.integers(2, 5))
        members = pool[i:i + size]
        i += size
        if len(members) < 2:
            break
        group[members] = f"SGX{g:05d}"
        lat[members], lon[members] = lat[members[0]], lon[members[0]]
        g += 1
    kids["sibling_group"] = group
    kids["home_lat"], kids["home_lon"] = lat, lon


def family_tables(family: str, *, children: int, placements: int, seed: int = 0,
                  authority: str | None = None, data_dir: str | Path | None = None,
                  shortage: float = 0.3, share: float = 0.5,
                  **kwargs: Any) -> dict[str, pd.DataFrame]:
    """The tables of one family (see the module's docstring)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; one of {', '.join(FAMILIES)}")
    tables = generate.generate(None, children=children, placements=placements, seed=seed,
                               authority=authority, data_dir=data_dir, **kwargs)
    rng = np.random.default_rng([seed, FAMILIES.index(family)])
    if family == "tight":
        tighten(tables, shortage, rng)
    elif family == "uasc":
        uasc_heavy(tables, share, rng)
    elif family == "siblings":
        sibling_heavy(tables, share, rng)
    return tables


def write_family(out: str | Path, family: str, **kwargs: Any) -> Path:
    """Generate one family's instance into folder `out`."""
    tables = family_tables(family, **kwargs)
    return generate.write_instance(out, tables, {"recipe": f"family {family}"})
