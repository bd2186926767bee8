"""The spec's per-pair rules (a child at a placement), one named function per rule code.

Each rule is a column-wise test over the placed frame (:mod:`optimiser.checking.placed`)
that says which rows break it, with its words for the report beside it; `PAIR_CHECKS`
lists them in the order reports list broken rules (:data:`optimiser.rules.PAIR_RULES`).
Written from the spec, not from the engine's :mod:`optimiser.registry`, on purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optimiser.categories import ALL_RATINGS, SUPPORTED_MIN_AGE, rating_allowed
from optimiser.checking.cells import SEP, explode
from optimiser.checking.loading import SpecInstance
from optimiser.checking.report import Violation
from optimiser.rules import PAIR_RULES, Rule

SUPPORTED = "supported_accommodation"

Row = Mapping[Any, Any]


def supported_accommodation_under_16(inst: SpecInstance, m: pd.DataFrame) -> pd.Series:
    """Supported accommodation never takes a child under 16 (law in England since
    October 2021), whatever the rows say."""
    return (m["p_type"] == SUPPORTED) & (m["age"] < SUPPORTED_MIN_AGE)


def supported_accommodation_under_16_words(row: Row, inst: SpecInstance) -> str:
    return f"age {row['age']:g} is under {SUPPORTED_MIN_AGE} in supported accommodation"


def placement_type(inst: SpecInstance, m: pd.DataFrame) -> pd.Series:
    """The placement's type must be one the child's care plan accepts."""
    child_types = explode(m.index.to_series(), m["placement_types"])
    ok_types = set((child_types["id"] + SEP + child_types["item"]).tolist())
    keys = m.index.to_series().astype(str) + SEP + m["p_type"]
    return ~keys.isin(ok_types)


def placement_type_words(row: Row, inst: SpecInstance) -> str:
    return f"type {row['p_type']} is not in the care plan ({row['placement_types']})"


def age_range(inst: SpecInstance, m: pd.DataFrame) -> pd.Series:
    """A placement takes the ages it accepts, both ends inclusive."""
    return (m["age"] < m["p_age_min"]) | (m["age"] > m["p_age_max"])


def age_range_words(row: Row, inst: SpecInstance) -> str:
    return f"age {row['age']:g} outside {row['p_age_min']:g}-{row['p_age_max']:g}"


def gender(inst: SpecInstance, m: pd.DataFrame) -> pd.Series:
    """A placement takes the genders it accepts (every gender when none is listed)."""
    pl = inst.placements
    pg = explode(pl.index.to_series(), pl["genders"])
    ok_genders = set((pg["id"] + SEP + pg["item"]).tolist())
    return ~(m["placement_id"] + SEP + m["gender"]).isin(ok_genders)


def gender_words(row: Row, inst: SpecInstance) -> str:
    return f"gender {row['gender']} not in {row['p_genders']}"


def needs(inst: SpecInstance, m: pd.DataFrame) -> pd.Series:
    """Every need of the child must be among the placement's needs_supported."""
    idx = m.index
    child_needs = explode(idx.to_series(), m["needs"])
    if child_needs.empty:
        return pd.Series(False, index=idx)
    pl = inst.placements
    pn = explode(pl.index.to_series(), pl["needs_supported"])
    supported = set((pn["id"] + SEP + pn["item"]).tolist())
    at = child_needs["id"].map(m["placement_id"])
    unmet = child_needs[~(at + SEP + child_needs["item"]).isin(supported)]
    return pd.Series(idx.isin(unmet["id"]), index=idx)


def needs_words(row: Row, inst: SpecInstance) -> str:
    have = {t.strip() for t in str(row["p_needs_supported"]).split(";")}
    unmet = [t.strip() for t in str(row["needs"]).split(";") if t.strip() not in have]
    return f"need(s) {';'.join(unmet)} not supported"


def faith_required(inst: SpecInstance, m: pd.DataFrame) -> pd.Series:
    """faith_match `required`: only a placement whose faith equals the child's (a child
    with no faith given can meet it nowhere)."""
    required = m["faith_match"] == "required"
    return required & ((m["faith"] == "") | (m["p_faith"] != m["faith"]))


def faith_required_words(row: Row, inst: SpecInstance) -> str:
    return (
        f"faith {row['faith'] or '(none given)'} required, "
        f"placement faith is {row['p_faith'] or '(none given)'}"
    )


def ofsted_rating(inst: SpecInstance, m: pd.DataFrame) -> pd.Series:
    """The placement's rating must reach the policy's min_ofsted_rating."""
    allowed = {r: rating_allowed(r, inst.policy.min_rating) for r in ALL_RATINGS}
    return ~m["p_ofsted_rating"].map(allowed).astype(bool)


def ofsted_rating_words(row: Row, inst: SpecInstance) -> str:
    return f"rating {row['p_ofsted_rating']} is below {inst.policy.min_rating}"


def exclusion(inst: SpecInstance, m: pd.DataFrame) -> pd.Series:
    """A pair listed in exclusions.csv (a known risk, a breakdown) is never made."""
    return m["pair"].isin(inst.exclusions)


def exclusion_words(row: Row, inst: SpecInstance) -> str:
    return "pair is in exclusions"


def max_distance(inst: SpecInstance, m: pd.DataFrame) -> pd.Series:
    """The child's max_distance_km, where given, is a hard limit on distance from home."""
    return m["max_distance_km"].notna() & (m["km"] > m["max_distance_km"] + 1e-9)


def max_distance_words(row: Row, inst: SpecInstance) -> str:
    return f"{row['km']:.3f} km exceeds the limit of {row['max_distance_km']:g} km"


def reserved(inst: SpecInstance, m: pd.DataFrame) -> pd.Series:
    """A placement reserved (reserved_for) takes only the children or sibling groups it
    names: a kinship carer approved for one family, a bed matched to a named child."""
    out = []
    for cid, group, names in zip(m.index, m["sibling_group"], m["p_reserved_for"], strict=True):
        listed = {x.strip() for x in str(names).split(";") if x.strip()}
        out.append(bool(listed) and str(cid) not in listed and (group == "" or group not in listed))
    return pd.Series(out, index=m.index, dtype=bool)


def reserved_words(row: Row, inst: SpecInstance) -> str:
    return f"the placement is reserved for {row['p_reserved_for']}"


@dataclass(frozen=True)
class PairCheck:
    """One per-pair rule: its code, which placed rows break it, and why in words."""

    rule: Rule
    broken: Callable[[SpecInstance, pd.DataFrame], pd.Series]
    words: Callable[[Row, SpecInstance], str]


PAIR_CHECKS: dict[Rule, PairCheck] = {check.rule: check for check in (
    PairCheck(Rule.SUPPORTED_UNDER_16, supported_accommodation_under_16,
              supported_accommodation_under_16_words),
    PairCheck(Rule.PLACEMENT_TYPE, placement_type, placement_type_words),
    PairCheck(Rule.AGE_RANGE, age_range, age_range_words),
    PairCheck(Rule.GENDER, gender, gender_words),
    PairCheck(Rule.NEEDS, needs, needs_words),
    PairCheck(Rule.FAITH_REQUIRED, faith_required, faith_required_words),
    PairCheck(Rule.OFSTED_RATING, ofsted_rating, ofsted_rating_words),
    PairCheck(Rule.EXCLUSION, exclusion, exclusion_words),
    PairCheck(Rule.MAX_DISTANCE, max_distance, max_distance_words),
    PairCheck(Rule.RESERVED, reserved, reserved_words),
)}


def pair_rule_masks(inst: SpecInstance, m: pd.DataFrame) -> dict[Rule, pd.Series]:
    """A boolean 'broken' column per per-pair rule, computed column-wise over placed rows."""
    return {rule: pd.Series(np.asarray(PAIR_CHECKS[rule].broken(inst, m), dtype=bool),
                            index=m.index) for rule in PAIR_RULES}


def pair_rules(
    inst: SpecInstance, m: pd.DataFrame, violations: list[Violation], review: list[str]
) -> None:
    """Per-pair rules; a child kept in its own current placement goes to review instead."""
    masks = pair_rule_masks(inst, m)
    kept = m["current_placement"] == m["placement_id"]
    notes: dict[str, list[str]] = {}
    for rule in PAIR_RULES:
        broken = m[masks[rule]]
        for cid, row, stays in zip(
            broken.index, broken.to_dict("records"), kept[masks[rule]], strict=True
        ):
            why = PAIR_CHECKS[rule].words(row, inst)
            detail = f"child {cid} at {row['placement_id']}: {why}"
            if stays:
                notes.setdefault(str(cid), []).append(f"{rule.value} ({detail})")
            else:
                violations.append(Violation(rule.value, str(cid), str(row["placement_id"]), detail))
    for cid, items in notes.items():
        review.append(
            f"child {cid} stays in current placement {str(m.at[cid, 'placement_id'])}, which now "
            f"breaks: " + "; ".join(items)
        )
