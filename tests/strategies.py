"""Hypothesis strategies for random instances that place most of their children.

Supply is drawn close to demand and most rules are satisfiable, so the optimum is a real
trade-off (who shares which placement, which group gets the big house, who stays where
they live) and not "nobody fits". Sibling groups, solo children, current placements,
priorities, faith preferences, distance limits, exclusions and both settings of
`move_only_in_child_interest` all appear; an instance
without groups, solo children or current placements (`transport=True`) is the shape the
engine's min-cost-flow fast path takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# repeatable in CI: the same examples on every run, no example database
REPEATABLE = settings(derandomize=True, database=None, deadline=None,
                      suppress_health_check=[HealthCheck.too_slow,
                                             HealthCheck.data_too_large])

FOSTER = ("inhouse_foster", "ifa_foster", "kinship_foster")
OTHER = ("external_residential", "inhouse_residential", "supported_accommodation")


@dataclass
class Drawn:
    """Rows for tests/builders.write_instance."""

    children: list[dict[str, Any]]
    placements: list[dict[str, Any]]
    exclusions: list[dict[str, Any]] = field(default_factory=list)
    policy: str = ""


def _units(draw: st.DrawFn, n: int, transport: bool) -> list[int]:
    """Sizes of the units (sibling groups or single children) adding up to n."""
    sizes: list[int] = []
    while sum(sizes) < n:
        size = 1 if transport else draw(st.sampled_from((1, 1, 1, 1, 2, 2, 3)))
        sizes.append(min(size, n - sum(sizes)))
    return sizes


def _child(draw: st.DrawFn, cid: str, group: str, transport: bool) -> dict[str, Any]:
    age = draw(st.integers(0, 17)) if draw(st.integers(0, 4)) == 0 else draw(
        st.integers(4, 15))
    faith = draw(st.sampled_from(("", "", "", "muslim", "sikh")))
    match = draw(st.sampled_from(("none", "preferred", "preferred", "required"))) \
        if faith else ""
    return {
        "child_id": cid,
        "age": age,
        "gender": draw(st.sampled_from("FFMMX")),
        "home_lat": 52.0 + draw(st.integers(0, 40)) / 100,
        "home_lon": -1.4 + draw(st.integers(0, 40)) / 100,
        "sibling_group": group,
        "faith": faith,
        "faith_match": match,
        "needs": draw(st.sampled_from(("", "", "", "", "", "disability"))),
        "max_distance_km": draw(st.sampled_from(("", "", "", 35, 60))),
        "solo": "true" if not transport and not group and draw(
            st.integers(0, 9)) == 0 else "false",
        "priority": draw(st.sampled_from((1, 1, 1, 2, 3))),
        "current_placement": "",
    }


def _placement(draw: st.DrawFn, pid: str, beds: int) -> dict[str, Any]:
    kind = draw(st.sampled_from(FOSTER * 6 + OTHER))
    lo = 16 if kind == "supported_accommodation" else draw(st.sampled_from((0, 0, 0, 0, 5)))
    return {
        "placement_id": pid,
        "provider": f"prov{pid}",
        "type": kind,
        "vacancies": beds,
        "age_min": lo,
        "age_max": draw(st.sampled_from((17, 17, 17, 17, 15))) if lo < 15 else 17,
        "genders": draw(st.sampled_from(("", "", "", "", "", "", "F", "M;X"))),
        "faith": draw(st.sampled_from(("", "", "", "muslim", "sikh", "christian"))),
        "needs_supported": draw(st.sampled_from(("disability", "disability", "disability;uasc",
                                                 "", "uasc"))),
        "ofsted_rating": draw(st.sampled_from(("good", "good", "good", "outstanding", "not_rated",
                                               "requires_improvement", "good", "inadequate"))),
        "lat": 52.0 + draw(st.integers(0, 40)) / 100,
        "lon": -1.4 + draw(st.integers(0, 40)) / 100,
        "weekly_cost": draw(st.integers(3, 60)) * 50 + draw(st.sampled_from((0, 0, 25))),
    }


def _beds(draw: st.DrawFn, m: int, sizes: list[int]) -> tuple[list[int], list[int]]:
    """Vacancies per placement, and each unit's own placement: each unit brings its beds
    to a placement of its drawing (so a group has a house big enough somewhere), then a
    placement gains or loses a bed now and then: supply about demand."""
    home = [draw(st.integers(0, m - 1)) for _ in sizes]
    beds = [0] * m
    for size, j in zip(sizes, home, strict=True):
        beds[j] += size
    return [max(0, b + draw(st.sampled_from((-1, 0, 0, 0, 1)))) for b in beds], home


def _fit(p: dict[str, Any], kids: list[dict[str, Any]]) -> None:
    """Loosen placement p's rules so that these children may live there (most units have
    such a placement; the distance limit and the exclusions may still rule it out)."""
    p["genders"] = ""
    p["age_min"], p["age_max"] = 0, 17
    if p["type"] == "supported_accommodation":
        p["type"] = "inhouse_foster"
    if p["ofsted_rating"] == "inadequate":
        p["ofsted_rating"] = "good"
    p["needs_supported"] = ";".join(sorted({*p["needs_supported"].split(";"),
                                            *(k["needs"] for k in kids)} - {""}))
    for k in kids:
        if k["faith_match"] == "required":
            p["faith"] = k["faith"]


def _place_some(draw: st.DrawFn, kids: list[dict[str, Any]], pls: list[dict[str, Any]],
                sizes: list[int]) -> None:
    """Some units already live somewhere (a whole group in one placement, a solo child
    alone): their beds leave the vacancies, so the capacity stays what was drawn."""
    start = 0
    living: dict[str, bool] = {}  # placement -> a solo child lives there
    for size in sizes:
        unit = kids[start:start + size]
        start += size
        p = pls[draw(st.integers(0, len(pls) - 1))]
        solo = unit[0]["solo"] == "true"
        shared = p["placement_id"] in living and (solo or living[p["placement_id"]])
        if draw(st.integers(0, 3)) == 0 and p["vacancies"] >= size and not shared:
            p["vacancies"] -= size
            living[p["placement_id"]] = solo
            for k in unit:
                k["current_placement"] = p["placement_id"]


def _hold_and_pin(draw: st.DrawFn, kids: list[dict[str, Any]],
                  pls: list[dict[str, Any]]) -> None:
    """A placement on hold now and then (its residents stay), a settled child pinned."""
    for p in pls:
        p["on_hold_reason"] = "illness" if draw(st.integers(0, 5)) == 0 else ""
    for k in kids:
        settled = k["current_placement"] and not k["sibling_group"]
        k["pinned"] = "true" if settled and draw(st.integers(0, 2)) == 0 else "false"


@st.composite
def instances(draw: st.DrawFn, max_children: int = 10, max_placements: int = 6,
              transport: bool = False, reallocation: bool = False,
              min_children: int = 4) -> Drawn:
    """A random valid instance most of whose children can be placed; `reallocation`
    adds pinned children and placements on hold (the run's as-of date is far past any
    `available_from` drawn, so only holds close a placement)."""
    n = draw(st.integers(min_children, max_children))
    m = draw(st.integers(2, max_placements))
    sizes = _units(draw, n, transport)
    kids: list[dict[str, Any]] = []
    for u, size in enumerate(sizes):
        group = f"G{u}" if size > 1 else ""
        kids += [_child(draw, f"C{len(kids) + i + 1}", group, transport) for i in range(size)]
    beds, home = _beds(draw, m, sizes)
    pls = [_placement(draw, f"P{j + 1}", b) for j, b in enumerate(beds)]
    start = 0
    for size, j in zip(sizes, home, strict=True):
        if draw(st.integers(0, 5)):
            _fit(pls[j], kids[start:start + size])
        start += size
    if not transport:
        _place_some(draw, kids, pls, sizes)
    if reallocation:
        _hold_and_pin(draw, kids, pls)
    exclusions = [{"child_id": f"C{draw(st.integers(1, n))}",
                   "placement_id": f"P{draw(st.integers(1, m))}", "reason": "risk"}
                  for _ in range(draw(st.integers(0, 2)))]
    unplaced = draw(st.sampled_from((100000.0, 100000.0, 100000.0, 4000.0)))
    split = not transport and draw(st.integers(0, 9)) == 0
    # now and then the authority lets placed children move for cost alone (the rule off)
    interest = draw(st.integers(0, 3)) > 0
    policy = (f"[weights]\nunplaced = {unplaced}\n"
              f"[rules]\nsplit_siblings = {str(split).lower()}\n"
              f"move_only_in_child_interest = {str(interest).lower()}\n")
    return Drawn(kids, pls, exclusions, policy)
