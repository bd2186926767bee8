"""Read an instance (a folder of CSV files, or one .xlsx workbook) into an `Instance`.

Every problem is collected and reported at once, each naming file, row and column,
because a council analyst fixing an export wants the whole list, not one error per run.
Row numbers are the line numbers a spreadsheet shows (the header is row 1); blank rows
are skipped but still counted, so the numbers match what the analyst sees.

This module runs a load in order and builds the `Instance`; the parts live in
`optimiser/reading/`: `raw` (files and sheets into text tables), `policy`, `columns`
(the columns each table needs), `cells` (each column's cells parsed), `tables` (each
table's arrays), `checks` (rules across rows and tables) and `collect` (the problems).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .instance import Instance, InstanceError, Policy, Problem
from .ofsted import read_ofsted
from .reader11 import Format11, read_format11
from .reading.cells import (
    MAX_POUNDS,
    by_value,
    lower_cells,
    parse_choice,
    parse_floats,
    parse_ids,
    parse_ints,
    parse_list_choice,
)
from .reading.checks import ofsted_ratings, warn_siblings_apart
from .reading.collect import Collector, fail
from .reading.columns import (
    CHILD_COLUMNS,
    DISTANCE_COLUMNS,
    EXCLUSION_COLUMNS,
    EXTRA_CHILD_COLUMNS,
    EXTRA_PLACEMENT_COLUMNS,
    PLACEMENT_COLUMNS,
    Frames,
    check_columns,
    checked_frames,
)
from .reading.policy import overlay_policy, parse_policy, policy_keys
from .reading.raw import TABLES, FileNames, read_csv_table, read_tables, workbook_cell
from .reading.tables import (
    ChildColumns,
    PlacementColumns,
    Relations,
    Vocabulary,
    read_children,
    read_placements,
    read_relations,
    vocabulary,
)

__all__ = [
    "CHILD_COLUMNS", "DISTANCE_COLUMNS", "EXCLUSION_COLUMNS", "EXTRA_CHILD_COLUMNS",
    "EXTRA_PLACEMENT_COLUMNS", "MAX_POUNDS", "PLACEMENT_COLUMNS", "TABLES", "Collector",
    "check_columns", "load_instance", "parse_choice", "parse_floats", "parse_ids",
    "parse_ints", "parse_list_choice", "read_csv_table", "workbook_cell",
]


def load_instance(path: str | Path, *, policy: Policy | None = None,
                  policy_file: str | Path | None = None,
                  ofsted: str | Path | None = None) -> Instance:
    """Load and validate an instance; raise `InstanceError` listing every problem.

    `policy`, when given, replaces the instance's own policy (what-if runs);
    `policy_file` (a policy.toml, e.g. a preset from models/policies/) is laid over it:
    its keys win, the instance's other keys stay. `ofsted` (Ofsted's provider-level
    list) gives the rating of every placement whose `urn` it holds.
    """
    with collector_paused():
        return _load(Path(path), policy, policy_file, ofsted)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused: a load makes hundreds of thousands of
    rows and cells that all live until it ends, which the collector would only walk
    over, again and again, finding nothing to free."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load(path: Path, policy: Policy | None, policy_file: str | Path | None,
          ofsted: str | Path | None) -> Instance:
    """`load_instance` of an existing or missing `path`."""
    out = Collector()
    if not path.exists():
        raise InstanceError([Problem(str(path), None, None, "no such folder or file")])
    tables, raw_policy, where, style = read_tables(path, out)
    if policy_file is not None:
        raw_policy = overlay_policy(raw_policy, Path(policy_file), out)
    names = FileNames.of(style)
    pol = policy if policy is not None else parse_policy(raw_policy, names.policy, out, where)
    # Only a missing (or unreadable) required table or column stops the load here:
    # everything else is checked on, so one run lists every problem.
    frames = checked_frames(tables, names, out)
    plc = read_placements(frames.placements, names.placements, out)
    kids = read_children(frames.children, names.children, names.placements, out, plc.index,
                         pol)
    vocab = vocabulary(frames, names.children, out, kids.faith)
    rel = read_relations(frames, names, out, kids.index, plc.index)
    f11 = _format11(frames, names, out, raw_policy, plc.ptype)
    if pol.rules.move_only_in_child_interest and not pol.rules.split_siblings:
        warn_siblings_apart(frames.children, names.children, kids.current, out)
    if ofsted is not None:
        plc.rating = _with_ofsted(plc.rating, frames.placements, names.placements, ofsted, out)
    if out.problems:
        raise fail(out, names.ordered())
    return Instance(source=str(path), policy=pol,
                    **_child_fields(frames.children, kids, vocab),
                    **_placement_fields(frames.placements, plc, vocab),
                    **_relation_fields(frames.exclusions, rel),
                    **_format11_fields(f11),
                    faiths=vocab.faiths, need_tags=vocab.tags, warnings=tuple(out.warnings))


def _format11(frames: Frames, names: FileNames, out: Collector, raw_policy: dict,
              ptype: np.ndarray) -> Format11:
    """Format 1.1's columns and file (authorities, adjoining, reserved_for, urn)."""
    f11, problems, warnings = read_format11(
        frames.children, frames.placements, frames.adjoining,
        (names.children, names.placements, names.adjoining), policy_keys(raw_policy), ptype)
    for problem in problems:
        out.add(*problem)
    for warning in warnings:
        out.warn(warning)
    return f11


def _with_ofsted(rating: np.ndarray, pl: pd.DataFrame, pf: str, ofsted: str | Path,
                 out: Collector) -> np.ndarray:
    """The ratings with Ofsted's list laid over them (unchanged when it cannot be read)."""
    try:
        listed = read_ofsted(ofsted)
    except (OSError, ValueError) as e:
        out.add(str(ofsted), None, None, str(e))
        return rating
    return ofsted_ratings(rating, pl, pf, listed, out)


def _bitset(lists: list[list[str]], vocab: dict[str, int], words: int) -> np.ndarray:
    """Each row's tags as bits over `words` 64-bit words (at least one)."""
    mask = np.zeros((len(lists), max(words, 1)), dtype=np.uint64)
    rows, bits = [], []
    for i, tags in enumerate(lists):
        for t in tags:
            rows.append(i)
            bits.append(vocab[t])
    if rows:
        r = np.asarray(rows)
        b = np.asarray(bits)
        one = np.left_shift(np.uint64(1), (b % 64).astype(np.uint64))
        np.bitwise_or.at(mask, (r, b // 64), one)
    return mask


def _child_fields(ch: pd.DataFrame, kids: ChildColumns, vocab: Vocabulary) -> dict[str, Any]:
    """The Instance's fields about children, in the dtypes it keeps."""
    fidx = vocab.faith_index
    return {
        "child_ids": kids.ids,
        "age": kids.age.astype(np.int16),
        "gender": kids.gender.astype(np.int8),
        "home_lat": kids.home_lat,
        "home_lon": kids.home_lon,
        "sibling_group": ch["sibling_group"].to_numpy(dtype=object),
        "faith": by_value(kids.faith, lambda f: fidx.get(f, -1), np.int32),
        "faith_match": kids.faith_match.astype(np.int8),
        "needs": _bitset(vocab.child_needs, vocab.tag_index, vocab.words),
        "types_allowed": kids.types,
        "max_distance_km": kids.max_km,
        "solo": kids.solo,
        "current": kids.current.astype(np.int32),
        "priority": kids.priority.astype(np.int32),
        "pinned": kids.pinned & (kids.current >= 0),
        "placed_since": kids.placed_since,
    }


def _placement_fields(pl: pd.DataFrame, plc: PlacementColumns,
                      vocab: Vocabulary) -> dict[str, Any]:
    """The Instance's fields about placements, in the dtypes it keeps."""
    fidx = vocab.faith_index
    pfaith_s = lower_cells(pl["faith"])
    return {
        "placement_ids": plc.ids,
        "provider": pl["provider"].to_numpy(dtype=object),
        "ptype": plc.ptype.astype(np.int8),
        "vacancies": plc.vacancies.astype(np.int32),
        "age_min": plc.age_min.astype(np.int16),
        "age_max": plc.age_max.astype(np.int16),
        "genders_allowed": plc.genders,
        "pfaith": by_value(pfaith_s, lambda f: fidx.get(f, -1), np.int32),
        "needs_supported": _bitset(vocab.placement_needs, vocab.tag_index, vocab.words),
        "rating": plc.rating.astype(np.int8),
        "lat": plc.lat,
        "lon": plc.lon,
        "weekly_cost": plc.cost,
        "block_contract": pl["block_contract"].to_numpy(dtype=object),
        "on_hold": plc.on_hold,
        "available_from": plc.available_from,
    }


def _relation_fields(ex: pd.DataFrame, rel: Relations) -> dict[str, Any]:
    """The Instance's exclusions and given distances."""
    return {
        "excl_child": rel.excl_child.astype(np.int32),
        "excl_placement": rel.excl_placement.astype(np.int32),
        "excl_reason": ex["reason"].to_numpy(dtype=object),
        "dist_child": rel.dist_child.astype(np.int32),
        "dist_placement": rel.dist_placement.astype(np.int32),
        "dist_km": rel.dist_km,
    }


def _format11_fields(f11: Format11) -> dict[str, Any]:
    """The Instance's format 1.1 fields."""
    return {
        "authority": f11.authority,
        "pauthority": f11.pauthority,
        "authorities": f11.authorities,
        "authority_labels": f11.authority_labels,
        "adjoining": f11.adjoining,
        "reserved_for": f11.reserved_for,
        "reserve_child": f11.reserve_child,
        "reserve_placement": f11.reserve_placement,
        "urn": f11.urn,
        "format_11": f11.used,
    }
