"""Small format-1.1 regions for the pooling tests: a few authorities, scarce beds."""

from __future__ import annotations

from pathlib import Path

from optimiser.instance import Instance
from optimiser.reader import load_instance
from optimiser.regions import build_region

# Neighbouring Greater Manchester boroughs: their children can use each other's beds.
BOROUGHS = ("E08000001", "E08000002", "E08000006", "E08000010")


def small_region(folder: Path, authorities: int, seed: int, children: int = 60,
                 beds_per_child: float = 0.6) -> Instance:
    """`authorities` boroughs, `children` in all, fewer placements than children (so that
    some are unplaced alone and pooling matters); written to `folder` and read back."""
    build_region(folder, list(BOROUGHS[:authorities]), children=children,
                 placements=max(authorities, int(children * beds_per_child)), seed=seed)
    return load_instance(folder)
