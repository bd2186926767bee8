"""Calibrated, seeded, vectorised generator of synthetic placement instances.

Why: the engine needs realistic instances at every scale (a 12-child example for the docs,
an authority's list, all of England) without any real child's data. Everything is drawn
with numpy from one `numpy.random.default_rng(seed)`, calibrated on the public figures in
`optimiser.calibration`, so the same arguments give byte-identical files on any machine.
Children and placements are drawn first and the current placements last, so an instance
with `placed_share > 0` has the same children and placements as the one without.

The instances are format 1.1: each child's and placement's `authority` (GSS code), a
kinship carer reserved for the family it was drawn for (and living only with it),
`placed_since` for a child already placed, and `adjoining.csv` for the children's
authorities; the 1.1 policy keys are written out with their defaults.

This module runs the draws in order and reads the recipes; the parts live in
`optimiser/generation/`: `world` (authorities, geography, Ofsted's homes), `children`,
`placements` and `homes`, `snapshot` (exclusions, current placements), `tables` (the data
frames) and `files` (the folder).

Public API: `generate`, `generate_recipe`, `load_recipes`, `recipe_kwargs`,
`write_instance`, `instance_stats`, `default_data_dir`, `type_counts`, `RECIPES_PATH`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimiser import calibration as cal
from optimiser.generation.children import draw_children
from optimiser.generation.files import POLICY_TOML, write_instance
from optimiser.generation.placements import draw_placements, type_counts
from optimiser.generation.snapshot import draw_current, draw_exclusions
from optimiser.generation.tables import PLACED_AS_OF, PLACED_DAYS, build_tables, instance_stats
from optimiser.generation.world import (
    DATA_DIR_ENV,
    REPO_ROOT,
    adjoining_pairs,
    default_data_dir,
    load_world,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "DATA_DIR_ENV", "PLACED_AS_OF", "POLICY_TOML", "RECIPES_PATH", "REPO_ROOT",
    "adjoining_pairs", "default_data_dir", "generate", "generate_recipe", "instance_stats",
    "load_recipes", "recipe_kwargs", "type_counts", "write_instance",
]

RECIPES_PATH = REPO_ROOT / "instances" / "recipes.toml"


def generate(out: str | Path | None, *, children: int, placements: int, seed: int = 0,
             authority: str | None = None, placed_share: float = 0.0,
             data_dir: str | Path | None = None,
             recipe: str | None = None,
             type_rows: dict[str, int] | None = None) -> dict[str, pd.DataFrame]:
    """Draw a synthetic instance; write it to `out` when given.

    `authority`: a local authority (name or GSS code; default Leicestershire), a region,
    "London" or "England" - several authorities spread children over their centroids.
    `placed_share`: share of children given a consistent `current_placement`.
    `data_dir`: `shared/data`; when present, real coordinates and real children's homes
    (places, ratings, authority) are used instead of the embedded table.
    `recipe`: only a label for the README.
    `type_rows`: exact row counts for some placement types (see `type_counts`).
    """
    if children < 1 or placements < 0:
        raise ValueError("need children >= 1 and placements >= 0")
    if not 0.0 <= placed_share <= 1.0:
        raise ValueError("placed_share must be in [0, 1]")
    type_counts(placements, type_rows)  # bad type_rows: an error before any draw
    rng = np.random.default_rng(seed)
    world = load_world(data_dir)
    sel, sel_w = world.select(authority)
    kids = draw_children(rng, children, world, sel, sel_w)
    order = rng.permutation(children)  # row order of children.csv
    plc = draw_placements(rng, placements, world, sel, sel_w, kids, type_rows)
    exc = draw_exclusions(rng, kids, plc)
    if placed_share > 0:
        draw_current(rng, kids, plc, exc[0], exc[1], placed_share)
    # a stream of its own, so that the draws above stay those of version-1 instances
    since = np.random.default_rng([seed, 11]).integers(*PLACED_DAYS, size=len(kids.size))
    tables = build_tables(kids, plc, exc, order, world, since)
    if out is not None:
        write_instance(out, tables, _meta(children, placements, seed, authority, placed_share,
                                          data_dir, recipe, type_rows))
    return tables


def _meta(children: int, placements: int, seed: int, authority: str | None,
          placed_share: float, data_dir: str | Path | None, recipe: str | None,
          type_rows: dict[str, int] | None) -> dict[str, Any]:
    """The arguments as the README states them (in this order)."""
    meta: dict[str, Any] = {"recipe": recipe, "children": children,
                            "placements": placements, "seed": seed,
                            "authority": authority or cal.DEFAULT_AUTHORITY,
                            "placed_share": placed_share}
    if type_rows:
        meta["type_rows"] = dict(type_rows)
    if data_dir is not None:
        meta["data_dir"] = "shared/data (real homes and coordinates)"
    return meta


# --- recipes --------------------------------------------------------------------------------

_GENERATE_KEYS = ("children", "placements", "seed", "authority", "placed_share", "type_rows")


def load_recipes(recipes: str | Path = RECIPES_PATH) -> dict[str, dict[str, Any]]:
    """All recipes of a recipes.toml: name -> table (children, placements, seed, ...)."""
    with open(recipes, "rb") as fh:
        return tomllib.load(fh)


def recipe_kwargs(name: str, recipes: str | Path = RECIPES_PATH) -> dict[str, Any]:
    """The `generate()` keyword arguments of one recipe."""
    book = load_recipes(recipes)
    if name not in book:
        raise KeyError(f"no recipe {name!r} in {recipes}; known: {', '.join(book)}")
    return {k: v for k, v in book[name].items() if k in _GENERATE_KEYS}


def generate_recipe(name: str, recipes: str | Path = RECIPES_PATH,
                    out_root: str | Path | None = None,
                    data_dir: str | Path | None = None) -> Path:
    """Generate the instance of one recipe into `out_root/<out or name>` (default: the
    folder of recipes.toml, i.e. `instances/`) and return that folder."""
    recipes = Path(recipes)
    kwargs = recipe_kwargs(name, recipes)
    entry = load_recipes(recipes)[name]
    folder = Path(out_root or recipes.parent) / str(entry.get("out", name))
    generate(folder, data_dir=data_dir, recipe=name, **kwargs)
    return folder
