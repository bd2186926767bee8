"""The rules of beds and groups, one named function per rule code: capacity, solo,
siblings_together.

Capacity counts the vacancies offered on the as-of date plus the children the instance
lists as living there; a held or not-yet-open vacancy is never a bed.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from optimiser.checking.loading import SpecInstance
from optimiser.checking.report import Violation
from optimiser.rules import Rule


def offered_vacancies(inst: SpecInstance, day: dt.date) -> pd.Series:
    """Vacancies offered on `day`: none while on hold or before `available_from`."""
    pl = inst.placements
    later = pl["available_from"].map(lambda d: d is not None and d > day).astype(bool)
    held = (pl["on_hold_reason"] != "") | later
    return pl["vacancies"].where(~held, 0.0)


def capacity(inst: SpecInstance, m: pd.DataFrame, violations: list[Violation],
             day: dt.date) -> None:
    """Capacity = offered vacancies + current residents in the instance. A held or
    not-yet-available vacancy is never a bed (re-allocation), and the words say so."""
    counts = m["placement_id"].value_counts()
    residents = inst.children["current_placement"].value_counts()
    vac = offered_vacancies(inst, day).reindex(counts.index)
    held = (inst.placements["vacancies"].reindex(counts.index) - vac).astype(float)
    res = residents.reindex(counts.index).fillna(0)
    over = counts > vac + res
    for p in counts.index[over]:
        note = f"; {held[p]:g} held vacancies do not count" if held[p] else ""
        violations.append(
            Violation(
                Rule.CAPACITY.value,
                None,
                str(p),
                f"placement {p} has {counts[p]} children assigned but capacity "
                f"{int(vac[p] + res[p])} ({vac[p]:g} vacancies + {int(res[p])} current "
                f"residents{note})",
            )
        )


def solo(m: pd.DataFrame, violations: list[Violation]) -> None:
    """A solo child must be the only child in its placement: it takes all its vacancies."""
    n_at = m["placement_id"].map(m["placement_id"].value_counts())
    alone = m[m["solo"] & (n_at > 1)]
    for cid in alone.index:
        p = str(alone.at[cid, "placement_id"])
        violations.append(
            Violation(
                Rule.SOLO.value,
                str(cid),
                p,
                f"child {cid} must be alone but {p} has {int(n_at[cid])} children assigned",
            )
        )


def siblings_together(inst: SpecInstance, eff: pd.DataFrame,
                      violations: list[Violation]) -> None:
    """Children of one sibling_group are placed in one placement together (or all left
    unplaced), unless the policy's split_siblings allows a split at a price."""
    if inst.policy.split_siblings:
        return
    group = inst.children["sibling_group"]
    g = pd.DataFrame({"group": group, "placement_id": eff["placement_id"]})
    g = g[g["group"] != ""]
    if g.empty:
        return
    distinct = g.groupby("group")["placement_id"].nunique()
    split = g[g["group"].isin(distinct.index[distinct > 1])]
    for grp, members in split.groupby("group", sort=True):
        where = ", ".join(
            f"{cid} {'at ' + p if p else 'unplaced'}" for cid, p in members["placement_id"].items()
        )
        violations.append(
            Violation(
                Rule.SIBLINGS_TOGETHER.value,
                None,
                None,
                f"sibling group {grp} is not placed together: {where}",
            )
        )
