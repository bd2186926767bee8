"""Checks across rows and tables: rules no single cell breaks (an age range upside down, a
faith required but not given, a distance given twice, pinned siblings apart, a needs tag
in another case), and Ofsted's own list laid over the register's ratings."""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimiser.categories import ALL_RATINGS, FaithMatch
from optimiser.instance import Policy

from .cells import empty_cells
from .collect import Collector


def check_age_order(pl: pd.DataFrame, pf: str, out: Collector, amin: np.ndarray,
                    amax: np.ndarray) -> None:
    """age_max below age_min, where neither cell has a problem of its own."""
    age_problem = {(p.row, p.column) for p in out.problems if p.file == pf}
    for i in np.flatnonzero(amin > amax):
        row = int(pl.index[int(i)])
        if (row, "age_min") not in age_problem and (row, "age_max") not in age_problem:
            out.add(pf, row, "age_max", f"{amax[i]} is below age_min ({amin[i]})")


def check_faith_given(ch: pd.DataFrame, cf: str, out: Collector, fm: np.ndarray,
                      cfaith: pd.Series) -> None:
    """A child whose faith must (or should) be matched has a faith."""
    none = empty_cells(cfaith)
    out.rows(cf, ch, (fm == FaithMatch.REQUIRED) & none, "faith",
             lambda v: "is empty, but faith_match is required: give the child's faith")
    out.rows(cf, ch, (fm == FaithMatch.PREFERRED) & none, "faith",
             lambda v: "is empty, but faith_match is preferred: give the child's faith "
                       "or set faith_match to none")


def check_distance_pairs(dist: pd.DataFrame, df_: str, out: Collector) -> None:
    """Each (child, placement) pair given once in the distances."""
    first: dict[tuple[str, str], int] = {}
    for r, c, p in zip(dist.index, dist["child_id"], dist["placement_id"], strict=True):
        if (c, p) in first:
            out.add(df_, int(r), "placement_id", f"child {c!r} and placement {p!r} are "
                    f"already given at row {first[(c, p)]}")
        else:
            first[(c, p)] = int(r)


def warn_tag_case(ch: pd.DataFrame, file: str, out: Collector, cneeds: list[list[str]],
                   pneeds: list[list[str]]) -> None:
    """Needs tags are matched exactly (the spec), so `Disability` is not `disability`: a
    child's tag that no placement supports, but that one does in another case, is almost
    certainly a typing slip that leaves the child with no placement at all. Warned, per
    tag with its first rows, and matched as written."""
    supported = {t for ts in pneeds for t in ts}
    folded: dict[str, set[str]] = {}
    for t in supported:
        folded.setdefault(t.lower(), set()).add(t)
    slips: dict[str, list[int]] = {}
    for r, ts in zip(ch.index, cneeds, strict=True):
        for t in ts:
            if t not in supported and t.lower() in folded:
                slips.setdefault(t, []).append(int(r))
    for t, rows in slips.items():
        near = ", ".join(repr(s) for s in sorted(folded[t.lower()]))
        out.warn(f"{file}: needs tag {t!r} (row(s) {', '.join(map(str, rows[:5]))}"
                 f"{', ...' if len(rows) > 5 else ''}) is in no placement's needs_supported, "
                 f"which has {near}: tags are matched exactly, case included, so no "
                 f"placement meets it")


def warn_siblings_apart(ch: pd.DataFrame, file: str, current: np.ndarray,
                         out: Collector) -> None:
    """Under move_only_in_child_interest a placed child is never left unplaced; a sibling
    group that does not live together can keep that only if some move reunites it."""
    homes: dict[str, set[int]] = {}
    for g, c in zip(ch["sibling_group"].tolist(), current.tolist(), strict=True):
        if g:
            homes.setdefault(g, set()).add(int(c))
    apart = sorted(g for g, at in homes.items() if len(at) > 1 and max(at) >= 0)
    if apart:
        out.warn(f"{file}: {len(apart)} sibling group(s) with a child placed do not all live "
                 f"in one placement (first: {apart[0]!r}); placed together or not at all, "
                 "they may be left unplaced, which move_only_in_child_interest forbids")


def ofsted_ratings(rating: np.ndarray, pl: pd.DataFrame, pf: str, listed: dict[str, str],
                    out: Collector) -> np.ndarray:
    """Ofsted's rating for each placement whose urn the list holds; a warning where the
    register's own rating differs, or where a urn is not in the list."""
    rating = rating.copy()
    for j, (row, urn, given) in enumerate(zip(pl.index, pl["urn"], pl["ofsted_rating"],
                                              strict=True)):
        if not urn:
            continue
        word = listed.get(urn)
        if word is None:
            out.warn(f"{pf}: row {row}, column urn: {urn} is not in Ofsted's list; the "
                     "register's rating is used")
            continue
        if given and given.lower() != word:
            out.warn(f"{pf}: row {row}, column ofsted_rating: the register says "
                     f"{given.lower()}, Ofsted's list says {word} (URN {urn}); Ofsted's is "
                     "used")
        rating[j] = ALL_RATINGS.index(word)
    return rating


def check_pinned(ch: pd.DataFrame, file: str, out: Collector, pinned: np.ndarray,
                  current: np.ndarray, pol: Policy) -> None:
    """A pinned child must have a current placement (else it is only a warning: the pin
    is ignored), and pinned siblings kept together cannot live in different placements."""
    waiting = pinned & (current < 0)
    if waiting.any():
        rows = ", ".join(str(int(r)) for r in ch.index[waiting][:5])
        out.warn(f"{file}: {int(waiting.sum())} child(ren) pinned without a current_placement "
                 f"(row(s) {rows}); the pin is ignored, they are waiting children")
    if pol.rules.split_siblings:
        return
    groups = ch["sibling_group"].to_numpy(dtype=object)
    first: dict[str, tuple[int, str]] = {}
    for i in np.flatnonzero(pinned & (current >= 0) & (groups != "")):
        g = str(groups[i])
        here = (int(current[i]), str(ch["current_placement"].iloc[i]))
        if g not in first:
            first[g] = here
        elif first[g][0] != here[0]:
            out.add(file, int(ch.index[int(i)]), "pinned",
                    f"pinned at {here[1]}, but a sibling in group {g!r} is pinned at "
                    f"{first[g][1]}; siblings are placed together, so both cannot stay")
