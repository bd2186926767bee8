"""Ranked matches for one referral: who can take this child (or sibling group), best first.

A placement officer holds one referral and needs, in well under a second, every placement
that can take it, ranked by the spec's own objective terms, and for every other placement
the reason it cannot. :class:`Matcher` loads an :class:`~optimiser.instance.Instance` once
and answers many referrals: one :func:`~optimiser.candidates.evaluate_block` call of the
referral's members against every placement gives every rule mask, the distances and the
objective terms, so the rules are the engine's own (never re-implemented here) and the work
is vectorised over placements.

Ruled-out placements are reported under the *first* rule that rules them out, in the fixed
order :data:`RULE_ORDER`: the law and recorded risks first (a supported-accommodation bed for
a 14-year-old is reported as that, never as "too far"), then the child's fit, then the rules
a manager may waive, then room. Every rule a placement breaks is listed too.

With ``cohort=True`` the ranking also prices what the bed costs the rest of the waiting list
(see :class:`CohortModel` for the method and why it was chosen). A ``time_limit`` bounds that
work: what was not priced in time is said so, never guessed.
"""

from __future__ import annotations

import json
import json.encoder
import multiprocessing as mp
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property, partial
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from .approval import APPROVER, AREA, approval
from .candidates import PairBlock, build_candidates, evaluate_block
from .categories import DEFAULT_TYPES, GENDERS, PLACEMENT_TYPES, RATINGS, Approval, Rating
from .instance import Instance
from .registry import NEVER_WAIVED, RULES, TRIAGE, WAIVABLE, Breach, Waived
from .rules import Rule

__all__ = ["NEVER_WAIVED", "RULE_ORDER", "WAIVABLE", "Matcher", "MatchResult", "UnknownReferral"]

# The order in which a placement's broken rules are reported; the first one names it
# (the registry's triage order: the law and recorded risks first, then the child's fit,
# then the rules a manager may waive, then room).
RULE_ORDER: tuple[Rule, ...] = TRIAGE
# a care-plan type waiver never reaches a secure bed (a court order) or a parent-and-child one
_WAIVABLE_TYPES = np.array([t in DEFAULT_TYPES for t in PLACEMENT_TYPES])
TERM_NAMES: tuple[str, ...] = ("cost", "distance", "distance_km", "faith_mismatch", "move")
EXAMPLES = 3  # examples per rule in the text output


class UnknownReferral(KeyError):
    """The child id or sibling group is not in the instance (the CLI exits 2)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown referral"


@dataclass(frozen=True)
class Referral:
    """The children to place together: one child, or a whole sibling group."""

    members: np.ndarray  # child indices, ascending
    child_ids: tuple[str, ...]
    group: str | None
    label: str  # "child C00012" / "sibling group G0003 (3 children: ...)"
    note: str = ""  # e.g. why a --child referral was widened to its group


@dataclass(frozen=True)
class CohortImpact:
    """What the rest of the waiting list pays if the referral takes this placement."""

    others: float | None  # change of the rest's optimum, £/week; None: not priced
    exact: bool  # False: a lower bound ("at least"), or not priced at all
    moves: tuple[tuple[str, str, str], ...]  # (child_id, from placement, to placement or "")
    leaves_unplaced: tuple[str, ...]  # children of the rest left with no placement
    note: str = ""

    @property
    def sort_key(self) -> float:
        return np.inf if self.others is None else self.others


@dataclass(frozen=True)
class Ranked:
    """A placement that can take the whole referral, with its score term by term."""

    placement_id: str
    score: float  # £/week: sum over members of the spec's objective terms
    terms: dict[str, float]
    vacancies_after: int
    provider: str
    type: str
    ofsted_rating: str
    review: tuple[str, ...] = ()  # rules a member's current placement now breaks
    members_km: tuple[float, ...] = ()  # per member, for a group
    cohort: CohortImpact | None = None
    approval: str | None = None  # reg. 11: None, "nominated_officer" or "director"
    area: str | None = None  # "in area", "out of area", "at a distance"; None: not known

    @property
    def total(self) -> float:
        """Own score plus the cohort impact (the cohort ranking key)."""
        if self.cohort is None:
            return self.score
        return self.score + self.cohort.sort_key

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "placement_id": self.placement_id, "score": round(self.score, 2),
            "terms": {k: round(v, 3) for k, v in self.terms.items()},
            "vacancies_after": self.vacancies_after, "provider": self.provider,
            "type": self.type, "ofsted_rating": self.ofsted_rating,
            "approval": self.approval, "area": self.area,
        }
        if self.members_km:
            d["members_km"] = [round(x, 3) for x in self.members_km]
        if self.review:
            d["review"] = list(self.review)
        if self.cohort is not None:
            c = self.cohort
            d["cohort"] = {
                "others_change": None if c.others is None else round(c.others, 2),
                "total": None if c.others is None else round(self.score + c.others, 2),
                "exact": c.exact,
                "moves": [{"child_id": a, "from": b, "to": t or None} for a, b, t in c.moves],
                "leaves_unplaced": list(c.leaves_unplaced),
                "note": c.note,
            }
        return d


@dataclass(frozen=True)
class RuledOut:
    placement_id: str
    rule: str  # the first rule (in RULE_ORDER) that rules it out
    detail: str
    rules: tuple[str, ...]  # every rule it breaks, in that order

    def to_dict(self) -> dict[str, Any]:
        return {"placement_id": self.placement_id, "rule": self.rule, "detail": self.detail,
                "rules": list(self.rules)}


@dataclass(frozen=True)
class NearMiss:
    """A placement that fails exactly one rule a manager can lawfully waive."""

    placement_id: str
    rule: str
    detail: str
    by: float  # km over the limit, beds short, or rating levels below the floor
    unit: str  # "km", "bed", "level", "type"
    score: float  # what it would score if the rule were waived
    terms: dict[str, float]
    provider: str
    type: str
    ofsted_rating: str

    def to_dict(self) -> dict[str, Any]:
        return {"placement_id": self.placement_id, "rule": self.rule, "detail": self.detail,
                "by": round(self.by, 3), "unit": self.unit, "score": round(self.score, 2),
                "terms": {k: round(v, 3) for k, v in self.terms.items()},
                "provider": self.provider, "type": self.type,
                "ofsted_rating": self.ofsted_rating}


@dataclass
class MatchResult:
    """One referral's answer. Ruled-out entries are built on demand (there may be 50,000)."""

    referral: Referral
    ranked: list[Ranked]
    ranked_total: int  # placements that can take the referral (before --top)
    counts: dict[str, int]  # ruled out, by first rule
    seconds: float
    _matcher: Matcher = field(repr=False)
    _pb: PairBlock = field(repr=False)
    _first: np.ndarray = field(repr=False)  # per placement: index into RULE_ORDER, -1 ok
    _fails: np.ndarray = field(repr=False)  # (rules, placements) bool
    _state: dict[str, Any] = field(repr=False, default_factory=dict)
    cohort: dict[str, Any] | None = None
    _near: tuple[np.ndarray, np.ndarray] = field(  # placements, by how much
        default_factory=lambda: (np.zeros(0, np.int64), np.zeros(0)), repr=False)
    _near_misses: list[NearMiss] | None = field(default=None, repr=False)
    _ruled_out: list[RuledOut] | None = field(default=None, repr=False)

    @property
    def near_misses(self) -> list[NearMiss]:
        """Placements failing one waivable rule, best score first (built on demand: a group
        of two on a national register has thousands of one-bed homes one bed short)."""
        if self._near_misses is None:
            self._near_misses = self._matcher._near_entries(self, self._near)
        return self._near_misses

    def near_miss_head(self, k: int) -> list[NearMiss]:
        """The `k` best near misses, without building the rest."""
        if self._near_misses is not None:
            return self._near_misses[:k]
        return self._matcher._near_entries(self, (self._near[0][:k], self._near[1][:k]))

    @property
    def n_near_misses(self) -> int:
        return len(self._near[0])

    @property
    def ruled_out(self) -> list[RuledOut]:
        """Every placement that cannot take the referral, by rule order then score."""
        if self._ruled_out is None:
            self._ruled_out = self._matcher._ruled_out_entries(self, self._ruled_out_cols())
        return self._ruled_out

    def _ruled_out_cols(self) -> np.ndarray:
        cols = np.flatnonzero(self._first >= 0)  # ascending: ties stay in placement order
        cols = cols[np.argsort(self._state["score"][cols], kind="stable")]
        return cols[np.argsort(self._first[cols], kind="stable")]

    def _ruled_out_dicts(self) -> list[dict[str, Any]]:
        """`ruled_out` as JSON, without building the entries (a national register has
        tens of thousands)."""
        if self._ruled_out is not None:
            return [r.to_dict() for r in self._ruled_out]
        return [{"placement_id": p, "rule": r, "detail": d, "rules": list(rs)}
                for p, r, d, rs in self._matcher._ruled_out_rows(self, self._ruled_out_cols())]

    def examples(self, rule: str, k: int = EXAMPLES) -> list[RuledOut]:
        """The `k` best-scoring placements ruled out by `rule` (for the text summary)."""
        idx = self._state["order"].index(Rule(rule))
        cols = np.flatnonzero(self._first == idx)
        score = self._state["score"][cols]
        pick = cols[np.argsort(score, kind="stable")[:k]]
        return self._matcher._ruled_out_entries(self, pick)

    def ruled_out_json(self) -> str:
        """`to_dict()["ruled_out"]` as compact JSON text, written directly: on a national
        register it is most of the answer, and building it as objects first costs more
        than the words themselves."""
        if self._ruled_out is not None:
            return json.dumps([r.to_dict() for r in self._ruled_out], ensure_ascii=False,
                              separators=(",", ":"))
        mt = self._matcher
        cols, first, detail, mask, decoded = mt._ruled_out_columns(self, self._ruled_out_cols())
        names = [r.value for r in self._state["order"]]
        # the text around the placement and the detail: one piece per rule and per set of
        # rules broken, so the whole list is one join of pieces (in C) rather than formatted
        rule = [f',"rule":{json.dumps(n)},"detail":' for n in names]
        tail = {x: f',"rules":{json.dumps(list(r), separators=(",", ":"))}}}'
                for x, r in decoded.items()}
        head = mt.entry_heads
        parts = [""] * (4 * len(cols))
        parts[0::4] = [head[p] for p in cols]
        parts[1::4] = [rule[f] for f in first]
        parts[2::4] = map(json.encoder.encode_basestring, detail)
        parts[3::4] = [tail[x] for x in mask]
        if parts:
            parts[0] = parts[0].removeprefix(",")
        return "[" + "".join(parts) + "]"

    def to_dict(self, *, ruled_out: bool = True) -> dict[str, Any]:
        """The whole answer (`ruled_out=False`: its ruled-out list left empty, for a caller
        that writes it with `ruled_out_json`)."""
        d: dict[str, Any] = {
            "referral": {"child_ids": list(self.referral.child_ids),
                         "sibling_group": self.referral.group, "note": self.referral.note},
            "placements": int(len(self._first)),
            "ranked_total": self.ranked_total,
            "ranked": [r.to_dict() for r in self.ranked],
            "near_misses": [n.to_dict() for n in self.near_misses],
            "ruled_out_counts": dict(self.counts),
            "ruled_out": self._ruled_out_dicts() if ruled_out else [],
            "seconds": round(self.seconds, 4),
        }
        if self.cohort is not None:
            d["cohort"] = self.cohort
        return d

    def text(self) -> str:
        return format_text(self)


class Matcher:
    """Load an instance once; rank placements for any number of referrals.

    Per placement facts that do not depend on the referral (residents, solo residents,
    names, exclusion reasons) are computed here, so a referral costs one vectorised
    block evaluation plus a few numpy reductions.
    """

    def __init__(self, inst: Instance, *, near_km: float = 5.0, cohort_budget: float = 0.6):
        self.inst = inst
        self.near_km = float(near_km)
        self.cohort_budget = cohort_budget
        m = inst.n_placements
        self.cols = np.arange(m, dtype=np.int64)
        self.cap = inst.capacity
        here = inst.current >= 0
        self.residents = np.bincount(inst.current[here], minlength=m).astype(np.int64)
        self.solo_residents = np.bincount(inst.current[here & inst.solo],
                                          minlength=m).astype(np.int64)
        self.floor = RATINGS.index(inst.policy.rules.min_ofsted_rating)
        self.pid = inst.placement_ids.tolist()
        self.cid = inst.child_ids.tolist()
        self.type_names = [PLACEMENT_TYPES[t] for t in inst.ptype.tolist()]
        self.rating_names = [RATINGS[r] if r < len(RATINGS) else "not_rated"
                             for r in inst.rating.tolist()]
        self.provider = [str(x) for x in inst.provider.tolist()]
        self.excl_reason = {
            (int(c), int(p)): str(r) for c, p, r in zip(
                inst.excl_child.tolist(), inst.excl_placement.tolist(),
                inst.excl_reason.tolist(), strict=True)}
        groups = inst.sibling_group
        self.group_members: dict[str, np.ndarray] = {}
        has = np.flatnonzero(groups != "")
        if len(has):
            names, inv = np.unique(groups[has].astype(str), return_inverse=True)
            order = np.argsort(inv, kind="stable")
            bounds = np.searchsorted(inv[order], np.arange(len(names) + 1))
            for g, name in enumerate(names.tolist()):
                self.group_members[name] = np.sort(has[order[bounds[g]:bounds[g + 1]]])
        self._cohort: CohortModel | None = None

    @cached_property
    def entry_heads(self) -> list[str]:
        """Per placement, the start of its ruled-out entry as JSON text, after the comma
        that follows the entry before (the ruled-out list names every placement)."""
        return [',{"placement_id":' + json.dumps(p, ensure_ascii=False) for p in self.pid]

    # ---------------------------------------------------------------- referrals
    def referral(self, child_id: str | None = None, group: str | None = None) -> Referral:
        """Resolve ids: a child in a sibling group is placed with its group (unless split)."""
        inst = self.inst
        if (child_id is None) == (group is None):
            raise ValueError("give exactly one of child_id or group")
        note = ""
        if child_id is not None:
            c = inst.child_index.get(str(child_id))
            if c is None:
                raise UnknownReferral(f"no child with id {child_id!r} in the instance")
            g = str(inst.sibling_group[c])
            if g and not inst.policy.rules.split_siblings and len(self.group_members[g]) > 1:
                members = self.group_members[g]
                note = (f"child {child_id} is in sibling group {g}; the authority places "
                        f"siblings together, so the whole group of {len(members)} is matched")
                group = g
            else:
                members = np.array([c], dtype=np.int64)
        else:
            got = self.group_members.get(str(group))
            if got is None:
                raise UnknownReferral(f"no sibling group {group!r} in the instance")
            members = got
        ids = tuple(self.cid[c] for c in members.tolist())
        if len(members) == 1:
            label = f"child {ids[0]}"
        else:
            label = f"sibling group {group} ({len(ids)} children: {', '.join(ids)})"
        return Referral(members.astype(np.int64), ids, group, label, note)

    # ---------------------------------------------------------------- ranking
    def rank(self, child_id: str | None = None, *, group: str | None = None,
             top: int | None = None, cohort: bool = False,
             no_approval: bool = False, time_limit: float | None = None) -> MatchResult:
        """Every placement that can take the referral, best first; the rest with reasons.

        `top` limits the ranked list only (ruled-out and near misses stay complete).
        `cohort=True` ranks by own score plus the change of the rest's optimum.
        `no_approval=True` ranks only placements that need no reg. 11 approval.
        `time_limit` (seconds from this call) bounds the cohort model's build and pricing:
        the cohort info then says `"complete": false` and why, and every placement not
        priced in time carries no price or only a lower bound (never a guess).
        """
        t0 = time.perf_counter()
        deadline = None if time_limit is None else t0 + max(float(time_limit), 0.0)
        ref = self.referral(child_id, group)
        inst = self.inst
        mem = ref.members
        k = len(mem)
        pb = evaluate_block(inst, mem, self.cols, keep_rules=True)
        m = inst.n_placements
        order = RULE_ORDER
        pos = {r: i for i, r in enumerate(order)}
        fails = np.zeros((len(order), m), dtype=bool)
        for rule, mask in pb.violations.items():
            fails[pos[rule]] = mask.any(axis=0)
        # a member's current placement is exempt from the pair rules for that member
        cur = inst.current[mem]
        review: dict[int, tuple[str, ...]] = {}
        for c in np.unique(cur[cur >= 0]).tolist():
            mine = cur == c
            broke = []
            for rule, mask in pb.violations.items():
                col = mask[:, c]
                fails[pos[rule], c] = bool(col[~mine].any())
                if col[mine].any():
                    broke.append(rule.value)
            if broke:
                review[c] = tuple(sorted(broke, key=lambda r: pos[Rule(r)]))
        # room: residents who are not in this referral keep their beds
        others = self.residents.copy()
        solo_others = self.solo_residents.copy()
        for c, s in zip(cur.tolist(), inst.solo[mem].tolist(), strict=True):
            if c >= 0:
                others[c] -= 1
                solo_others[c] -= int(s)
        free = self.cap - others
        solo_child = k == 1 and bool(inst.solo[mem[0]])
        group_solo = k > 1 and bool(inst.solo[mem].any())
        fails[pos[Rule.CAPACITY]] = free < (1 if solo_child else k)
        if solo_child:
            fails[pos[Rule.SOLO]] = others > 0
        elif group_solo:
            fails[pos[Rule.SOLO]] = True
        else:
            fails[pos[Rule.SOLO]] = solo_others > 0
        n_fail = fails.sum(axis=0)
        first = np.where(n_fail > 0, np.argmax(fails, axis=0), -1)
        score = pb.objective.sum(axis=0)
        ok = np.flatnonzero(n_fail == 0)
        approvals = self._approvals(mem)
        if no_approval:
            ok = ok[approvals[ok] <= Approval.IN_AREA]
        state: dict[str, Any] = {"score": score, "free": free, "others": others,
                                 "solo_others": solo_others, "review": review,
                                 "solo_child": solo_child, "order": order,
                                 "approvals": approvals}

        # near misses: exactly one failing rule, one the registry lets a manager waive,
        # and the placement within that rule's reach
        one = n_fail == 1
        near_p = np.zeros(m, dtype=bool)
        near_by = np.ones(m)
        for rule in WAIVABLE:
            self._reach(rule, pb, mem, np.flatnonzero(one & (first == pos[rule])), free,
                        group_solo, near_p, near_by)
        cand = np.flatnonzero(near_p)
        cand = cand[np.lexsort((cand, score[cand]))]
        near = (cand, near_by[cand])

        counts: dict[str, int] = {}
        bad = first[first >= 0]
        if len(bad):
            per = np.bincount(bad, minlength=len(order))
            counts = {order[i].value: int(per[i]) for i in np.flatnonzero(per).tolist()}

        cohort_info: dict[str, Any] | None = None
        impacts: dict[int, CohortImpact] = {}
        if cohort:
            model = self._cohort_within(deadline)
            use = np.where(solo_child, self.cap[ok], k).astype(np.int64)
            if model is None:
                impacts, cohort_info = _unpriced(ok, t0)
            else:
                impacts, cohort_info = model.price(ref, ok, score[ok], use, top, deadline)
            by_total = sorted(ok.tolist(), key=lambda p: (
                float(score[p]) + impacts[p].sort_key, float(score[p]), p))
            sel = np.asarray(by_total[:top] if top is not None else by_total, dtype=np.int64)
        else:
            sel = ok[np.lexsort((ok, score[ok]))]
            if top is not None:
                sel = sel[:top]
        ranked = self._ranked_entries(pb, mem, state, sel, impacts)
        if cohort_info is not None and ranked:
            best = min(r.total for r in ranked)
            cohort_info["best_total"] = round(best, 2) if np.isfinite(best) else None
        return MatchResult(
            referral=ref, ranked=ranked, ranked_total=len(ok), counts=counts,
            seconds=time.perf_counter() - t0, _matcher=self, _pb=pb,
            _first=first, _fails=fails, _state=state, cohort=cohort_info, _near=near)

    def cohort_model(self) -> CohortModel:
        """The cohort's base solve, built on first use and kept for later referrals."""
        model = self._cohort_within(None)
        assert model is not None  # no deadline: always built
        return model

    def _cohort_within(self, deadline: float | None) -> CohortModel | None:
        """The cohort model, or None when it could not be built by `deadline`."""
        if self._cohort is None:
            try:
                if deadline is not None and "fork" in mp.get_all_start_methods():
                    self._cohort = _build_in_child(self.inst, self.cohort_budget, deadline)
                else:
                    self._cohort = CohortModel(self.inst, budget=self.cohort_budget,
                                               deadline=deadline)
            except _Stopped:
                return None
        return self._cohort

    def _reach(self, rule: Rule, pb: PairBlock, mem: np.ndarray, cols: np.ndarray,
               free: np.ndarray, group_solo: bool, near: np.ndarray, by: np.ndarray) -> None:
        """Mark in `near` the placements `cols` (failing only `rule`) close enough to be
        offered for a manager's waiver, and in `by` how far off they are."""
        inst, k = self.inst, len(mem)
        if rule is Rule.MAX_DISTANCE:  # a few km over the limit
            if len(cols):
                over = self._over_km(pb, mem, cols)
                near[cols] = over <= self.near_km
                by[cols] = over
        elif rule is Rule.PLACEMENT_TYPE:  # never a secure or parent-and-child bed
            near[cols] = _WAIVABLE_TYPES[inst.ptype[cols]]
        elif rule is Rule.OFSTED_RATING:  # one level below the floor, never inadequate
            if self.floor + 1 < len(RATINGS):
                near[cols] = ((inst.rating[cols] == self.floor + 1)
                              & (inst.rating[cols] != Rating.INADEQUATE))
        elif rule is Rule.CAPACITY:  # one bed short, for a group that could be split
            if k >= 2 and not group_solo:
                near[cols] = free[cols] == k - 1
        else:
            raise ValueError(f"the registry lets a manager waive {rule.value}, but match "
                             "has no reach for it")

    # ---------------------------------------------------------------- entries
    def _terms(self, pb: PairBlock, cols: np.ndarray) -> list[dict[str, float]]:
        """The spec's terms per placement, summed over members (plus any the engine adds)."""
        sums = {name: arr[:, cols].sum(axis=0).tolist() for name, arr in pb.terms.items()}
        sums["distance_km"] = pb.distance[:, cols].sum(axis=0).tolist()
        names = TERM_NAMES + tuple(n for n in sums if n not in TERM_NAMES)
        return [dict(zip(names, vals, strict=True))
                for vals in zip(*(sums[n] for n in names), strict=True)]

    def _approvals(self, mem: np.ndarray) -> np.ndarray:
        """Per placement, reg. 11's strictest approval over the referral's members."""
        return approval(self.inst, mem[:, None], np.arange(self.inst.n_placements)[None, :]
                        ).max(axis=0)

    def _ranked_entries(self, pb: PairBlock, mem: np.ndarray, state: dict[str, Any],
                        sel: np.ndarray, impacts: dict[int, CohortImpact]) -> list[Ranked]:
        k = len(mem)
        terms = self._terms(pb, sel)
        scores = state["score"][sel].tolist()
        free = state["free"][sel].tolist()
        km = pb.distance[:, sel].T.tolist() if k > 1 else [()] * len(sel)
        return [Ranked(
            placement_id=self.pid[p], score=scores[j], terms=terms[j],
            vacancies_after=0 if state["solo_child"] else free[j] - k,
            provider=self.provider[p], type=self.type_names[p],
            ofsted_rating=self.rating_names[p], review=state["review"].get(p, ()),
            members_km=tuple(km[j]), cohort=impacts.get(p),
            approval=APPROVER[int(state["approvals"][p])],
            area=AREA[int(state["approvals"][p])] or None)
            for j, p in enumerate(sel.tolist())]

    def _over_km(self, pb: PairBlock, mem: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Largest excess over a member's distance limit (a member's current place exempt)."""
        limit = self.inst.max_distance_km[mem][:, None]
        over = np.where(pb.violations[Rule.MAX_DISTANCE][:, cols],
                        pb.distance[:, cols] - limit, 0.0)
        cur = self.inst.current[mem]
        over[cur[:, None] == cols[None, :]] = 0.0
        return over.max(axis=0)

    def _near_entries(self, res: MatchResult,
                      near: tuple[np.ndarray, np.ndarray]) -> list[NearMiss]:
        inst = self.inst
        pb, mem, state = res._pb, res.referral.members, res._state
        cols, amount = near
        terms = self._terms(pb, cols)
        order = state["order"]
        said = self._details_by_rule(res, cols)
        out = []
        for j, (p, by) in enumerate(zip(cols.tolist(), amount.tolist(), strict=True)):
            rule = order[int(res._first[p])]
            assert rule in WAIVABLE
            unit = RULES[rule].near_unit
            words = RULES[rule].waiver_words
            assert words is not None
            detail = words(Waived(
                inst=inst, placement=p, by=float(by), free=int(state["free"][p]), size=len(mem),
                detail=partial(said.__getitem__, p)))
            out.append(NearMiss(
                placement_id=self.pid[p], rule=rule.value, detail=detail, by=float(by),
                unit=unit, score=float(state["score"][p]), terms=terms[j],
                provider=self.provider[p], type=self.type_names[p],
                ofsted_rating=self.rating_names[p]))
        return out

    def _details_by_rule(self, res: MatchResult, cols: np.ndarray) -> dict[int, str]:
        """Per placement, the detail of its first rule (said rule by rule, in batches)."""
        first = res._first[cols]
        said: dict[int, str] = {}
        for i in np.unique(first).tolist():
            at = cols[first == i]
            said.update(zip(at.tolist(), self._details(res, res._state["order"][i], at),
                            strict=True))
        return said

    def _ruled_out_entries(self, res: MatchResult, cols: np.ndarray) -> list[RuledOut]:
        return [RuledOut(*row) for row in self._ruled_out_rows(res, cols)]

    def _ruled_out_rows(self, res: MatchResult, cols: np.ndarray
                        ) -> Iterator[tuple[str, str, str, tuple[str, ...]]]:
        """(placement id, first rule, its detail, every rule broken) per placement."""
        at, first, detail, mask, decoded = self._ruled_out_columns(res, cols)
        names = [r.value for r in res._state["order"]]
        pid = self.pid
        return zip([pid[p] for p in at], [names[f] for f in first], detail,
                   [decoded[x] for x in mask], strict=True)

    def _ruled_out_columns(self, res: MatchResult, cols: np.ndarray) -> tuple[
            list[int], list[int], list[str], list[int], dict[int, tuple[str, ...]]]:
        """Per placement: its index, its first rule (index into the rule order), the detail
        and the code of every rule it breaks; and each code's rules by name."""
        order = res._state["order"]
        first = res._first[cols]
        names = [r.value for r in order]
        # every rule broken, as a bit mask per placement: few distinct masks, so decode once
        mask = (res._fails[:, cols].astype(np.int64)
                << np.arange(len(order), dtype=np.int64)[:, None]).sum(axis=0)
        decoded = {int(x): tuple(n for i, n in enumerate(names) if int(x) >> i & 1)
                   for x in np.unique(mask).tolist()}
        detail = np.full(len(cols), "", dtype=object)
        for i in np.unique(first).tolist():
            at = np.flatnonzero(first == i)
            said = self._details(res, order[i], cols[at])
            assert len(said) == len(at)
            detail[at] = said
        return cols.tolist(), first.tolist(), detail.tolist(), mask.tolist(), decoded

    # ---------------------------------------------------------------- details
    def _details(self, res: MatchResult, rule: Rule, cols: np.ndarray) -> list[str]:
        """Plain English for one rule at many placements; ids only, never names.

        Batched per rule (numpy gathers, then plain Python formatting), so the complete
        answer for 50,000 placements is quick.
        """
        inst = self.inst
        mem, state = res.referral.members, res._state
        if rule in (Rule.CAPACITY, Rule.SOLO):
            return self._room_details(mem, state, rule, cols)
        rows = np.array(res._pb.violations[rule][:, cols], dtype=bool)
        rows[inst.current[mem][:, None] == cols[None, :]] = False  # own placement exempt
        k = len(mem)
        ids = [self.cid[c] for c in mem.tolist()]
        if k == 1:
            who, pattern = [[0]] * len(cols), np.zeros(len(cols), np.int64)
        else:
            who, pattern = _members_each(rows)
        words = RULES[rule].detail
        if words is None:  # a rule without words of its own for a match: its sentence
            return [f"{RULES[rule].text} ({', '.join(ids[i] for i in w)})" for w in who]
        return words(Breach(inst=inst, members=mem, ids=ids, cols=cols, who=who,
                            pattern=pattern, km=res._pb.distance[:, cols],
                            exclusion_reason=self.excl_reason))

    def _room_details(self, mem: np.ndarray, state: dict[str, Any], rule: Rule,
                      cols: np.ndarray) -> list[str]:
        k = len(mem)
        cap = self.cap[cols].tolist()
        others = state["others"][cols].tolist()
        free = state["free"][cols].tolist()
        if rule is Rule.CAPACITY:
            need = 1 if state["solo_child"] else k
            who = "the child needs" if k == 1 else f"the {k} siblings together need"
            return [f"{f} free bed(s) (capacity {c}, {o} other child(ren) living there); "
                    f"{who} {need}" for c, o, f in zip(cap, others, free, strict=True)]
        if state["solo_child"]:
            return [f"{self.cid[mem[0]]} must live alone, and {o} other child(ren) live there"
                    for o in others]
        solo = [self.cid[c] for c in mem.tolist() if self.inst.solo[c]]
        if k > 1 and solo:
            return [f"{', '.join(solo)} must live alone, so the sibling group cannot be placed "
                    f"together anywhere"] * len(cols)
        return ["a child who must live alone already lives there"] * len(cols)


def _members_each(rows: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
    """Per column of a (members, placements) mask, the members set in it, and a code per
    column equal where the sets are (few distinct sets, so each is decoded once and shared
    by its columns)."""
    k = rows.shape[0]
    if k >= 63:
        _, first, code = np.unique(rows.T, axis=0, return_index=True, return_inverse=True)
        code = code.ravel().astype(np.int64)
        sets = [np.flatnonzero(rows[:, j]).tolist() for j in first.tolist()]
        return [sets[x] for x in code.tolist()], code
    code = (rows.astype(np.int64) << np.arange(k, dtype=np.int64)[:, None]).sum(axis=0)
    decoded = {x: [i for i in range(k) if x >> i & 1] for x in np.unique(code).tolist()}
    return [decoded[x] for x in code.tolist()], code


# ==================================================================== cohort impact

_INF = np.iinfo(np.int64).max // 4
COHORT_METHOD = ("transportation model solved by min-cost flow: sibling groups and solo "
                 "children held, single children re-allocated exactly; a bed priced by "
                 "the shortest chain of moves it forces (see optimiser.match.CohortModel)")


class _Stopped(Exception):
    """The time limit came before a step of the cohort model could finish."""


def _check(deadline: float | None, need: float = 0.0) -> None:
    """Stop unless `need` seconds are left before `deadline` (None: no limit).

    A min-cost flow cannot be interrupted once started, so a flow is begun only when the
    time left is at least an estimate of what it takes (the pace of the steps before it).
    """
    if deadline is not None and time.perf_counter() + need > deadline:
        raise _Stopped


def _build_in_child(inst: Instance, budget: float, deadline: float) -> CohortModel:
    """Build the cohort model in a forked process and take it back if done by `deadline`.

    A min-cost flow holds the interpreter for its whole solve and cannot be interrupted,
    so a thread or a check between steps cannot keep a time limit; a child process can be
    stopped at the deadline. The child shares the instance (fork), and sends back only the
    model's arrays.
    """
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_build, args=(inst, budget, send))
    proc.start()
    send.close()
    try:
        if not recv.poll(max(deadline - time.perf_counter(), 0.0)):
            raise _Stopped
        try:
            kind, got = recv.recv()
        except EOFError:
            raise RuntimeError("the cohort model's build process ended without an answer"
                               ) from None
        if kind == "error":
            raise RuntimeError(f"the cohort model's build failed: {got}")
        model = CohortModel.__new__(CohortModel)
        model.__dict__.update(got)
        model.inst = inst
        return model
    finally:
        recv.close()
        if proc.is_alive():
            proc.kill()
        proc.join()


def _child_build(inst: Instance, budget: float, send: Connection) -> None:
    """In the forked process: build the model and send its state (the instance stays)."""
    try:
        model = CohortModel(inst, budget=budget)
        send.send(("model", {k: v for k, v in vars(model).items() if k != "inst"}))
    except Exception as exc:  # the parent reports it
        send.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        send.close()


def _unpriced(cols: np.ndarray, t0: float, step: str = "the whole-list model was built"
              ) -> tuple[dict[int, CohortImpact], dict[str, Any]]:
    """The cohort answer when nothing could be priced in time."""
    why = f"not priced: the time limit came before {step}"
    impacts = {p: CohortImpact(None, False, (), (), why) for p in cols.tolist()}
    return impacts, {"method": COHORT_METHOD, "complete": False, "stopped": why,
                     "priced_by_successive_paths": 0,
                     "seconds": round(time.perf_counter() - t0, 4)}


def _min_cost_flow(tails: np.ndarray, heads: np.ndarray, caps: np.ndarray, costs: np.ndarray,
                   supply: np.ndarray) -> tuple[int, np.ndarray]:
    """Solve a min-cost flow (OR-Tools); returns the cost and the flow on every arc."""
    from ortools.graph.python import min_cost_flow

    f = min_cost_flow.SimpleMinCostFlow()
    arcs = f.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), caps.astype(np.int64),
        costs.astype(np.int64))
    f.set_nodes_supplies(np.arange(len(supply), dtype=np.int32), supply.astype(np.int64))
    status = f.solve()
    if status != f.OPTIMAL:
        raise RuntimeError(f"cohort flow did not solve: {status}")
    return int(f.optimal_cost()), np.asarray(f.flows(arcs))


@dataclass
class _State:
    """Where the movable children of the rest are, and the beds left, during pricing."""

    place_of: np.ndarray  # per unit: placement, -1 unplaced (movable units only)
    free: np.ndarray  # per placement: beds left for movable children


class CohortModel:
    """What a bed costs the rest of the waiting list: the change in their optimum.

    Method, and why. A good allocation of a whole authority's list takes the core solve
    far longer than an officer waits for a referral, so neither "re-solve per candidate
    placement" nor even one short solve fits a budget of a fraction of a second. An LP
    dual prices a bed in one number but cannot say *which* child loses out, which is the
    point of this view. So the model is a transportation problem, solved
    exactly by min-cost flow (OR-Tools), on the engine's own feasible pairs and objective:

    1. base, once per instance: the flow over every child with sibling groups split into
       their members (a relaxation: its cost is a valid lower bound on the whole list's
       optimum); sibling groups and solo children are then held where that flow sends most
       of them (largest groups first, where they fit), and the single children re-allocated
       exactly around them;
    2. per referral: its beds are given back and filled by the best improving chain of
       moves (the flow stays optimal: one shortest path per freed bed);
    3. one bed at a full placement costs the rest the shortest augmenting path out of it
       (children moving one after another into a free bed, or one left unplaced). One
       Bellman-Ford pass over the residual graph prices every placement at once, exactly,
       and names the children who move;
    4. several beds (a sibling group, a solo child) are priced by successive shortest paths,
       in order of a convexity lower bound (beds short x one-bed price) until no later
       placement can reach the top of the list or `budget` seconds are spent; the rest
       keep the bound, marked "at least".

    Exact for the single children given where the groups are held; moving a group is not
    considered, so otherwise the figure is an upper bound that is a real, feasible plan.
    """

    def __init__(self, inst: Instance, *, budget: float = 0.6, deadline: float | None = None):
        t0 = time.perf_counter()
        _check(deadline)
        self.inst = inst
        self.budget = budget
        units = inst.units
        m, n_u = inst.n_placements, units.n
        self.m = m
        w = inst.policy.weights
        first = units.order[units.start[:-1]]
        g = units.group_of_child[first]
        gsize = np.bincount(units.group_of_child[units.group_of_child >= 0],
                            minlength=len(units.group_names) + 1)
        grouped = (g >= 0) & (gsize[np.maximum(g, 0)] > 1)
        self.movable = (units.size == 1) & ~units.solo & ~grouped
        self.unpl = np.rint(w.unplaced * units.unplaced_cost * 100).astype(np.int64)
        pool, _ = build_candidates(inst, limit=None)  # every feasible pair, sorted by unit
        _check(deadline, need=time.perf_counter() - t0)
        t_flow = time.perf_counter()
        size = units.size.astype(np.int64)
        unit_starts = np.searchsorted(pool.unit, np.arange(n_u + 1))

        # 1a. relaxed flow: every child a unit of flow, groups free to split
        per_member = np.rint(pool.objective / size[pool.unit] * 100).astype(np.int64)
        uu = np.arange(n_u)
        unpl_node, sink = n_u + m, n_u + m + 1
        total = int(size.sum())
        relaxed_cost, flows = _min_cost_flow(
            np.concatenate([pool.unit, uu, n_u + np.arange(m), [unpl_node]]),
            np.concatenate([n_u + pool.placement, np.full(n_u, unpl_node),
                            np.full(m, sink), [sink]]),
            np.concatenate([size[pool.unit], size, inst.capacity, [total]]),
            np.concatenate([per_member, self.unpl // size, np.zeros(m + 1, np.int64)]),
            np.concatenate([size, np.zeros(m, np.int64), [0, -total]]))
        self.lower_bound = relaxed_cost / 100.0
        share = flows[: len(pool.unit)]
        t_flow = time.perf_counter() - t_flow
        _check(deadline)

        # 1b. hold groups and solo children where the relaxed flow sent most of them
        place = np.full(n_u, -1, dtype=np.int64)
        left = inst.capacity.astype(np.int64).copy()
        fixed = np.flatnonzero(~self.movable)
        fixed = fixed[np.argsort(-size[fixed], kind="stable")]
        pl, obj = pool.placement, pool.objective
        for u in fixed.tolist():
            a, b = int(unit_starts[u]), int(unit_starts[u + 1])
            for j in (a + np.lexsort((obj[a:b], -share[a:b]))).tolist():
                p = int(pl[j])
                if units.solo[u]:
                    if left[p] == inst.capacity[p] and left[p] > 0:
                        place[u], left[p] = p, 0
                        break
                elif left[p] >= size[u]:
                    place[u] = p
                    left[p] -= size[u]
                    break
        self.fixed_place = place.copy()

        # 1c. single children re-allocated exactly around them
        mv = self.movable[pool.unit]
        self.arc_unit, self.arc_place = pool.unit[mv], pool.placement[mv]
        self.arc_cost = np.rint(pool.objective[mv] * 100).astype(np.int64)
        by_place = np.lexsort((self.arc_unit, self.arc_place))  # edges come out sorted by head
        self.arc_unit = self.arc_unit[by_place]
        self.arc_place = self.arc_place[by_place]
        self.arc_cost = self.arc_cost[by_place]
        key = self.arc_unit * m + self.arc_place
        self._key_order = np.argsort(key, kind="stable")
        self._key_sorted = key[self._key_order]
        movers = np.flatnonzero(self.movable)
        _check(deadline, need=t_flow)
        cost, flows = _min_cost_flow(
            np.concatenate([self.arc_unit, movers, n_u + np.arange(m), [unpl_node]]),
            np.concatenate([n_u + self.arc_place, np.full(len(movers), unpl_node),
                            np.full(m, sink), [sink]]),
            np.concatenate([np.ones(len(self.arc_unit) + len(movers), np.int64), left,
                            [len(movers)]]),
            np.concatenate([self.arc_cost, self.unpl[movers], np.zeros(m + 1, np.int64)]),
            np.concatenate([self.movable.astype(np.int64), np.zeros(m, np.int64),
                            [0, -len(movers)]]))
        used = flows[: len(self.arc_unit)] > 0
        place[self.arc_unit[used]] = self.arc_place[used]
        self.base_place = place  # per unit
        self.base_free = left - np.bincount(self.arc_place[used], minlength=m)
        held = (~self.movable) & (place >= 0)
        held_cost = 0.0
        if held.any():
            key = np.flatnonzero(held) * m + place[held]
            pkey = pool.unit * m + pool.placement
            held_cost = float(pool.objective[np.searchsorted(pkey, key)].sum())
        # the held units' own options, to price moving one out of a contested placement
        hold = ~self.movable[pool.unit]
        self.hold_place = pool.placement[hold]
        self.hold_cost = np.rint(pool.objective[hold] * 100).astype(np.int64)
        self.hold_start = np.searchsorted(pool.unit[hold], np.arange(n_u + 1))
        self.base_objective = (cost / 100.0 + held_cost
                               + float(w.unplaced * units.unplaced_cost[
                                   (~self.movable) & (place < 0)].sum()))
        self.seconds = time.perf_counter() - t0

    # ---------------------------------------------------------------- residual graph
    def _cost_at(self, u: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Pence of movable unit u at placement p (the pair must be one of its arcs)."""
        return self.arc_cost[self._key_order[np.searchsorted(self._key_sorted, u * self.m + p)]]

    def _arcs(self, skip: np.ndarray) -> dict[str, np.ndarray]:
        """The arcs of the rest (the referral's own removed), still sorted by placement."""
        ok = ~np.isin(self.arc_unit, skip)
        return {"unit": self.arc_unit[ok], "place": self.arc_place[ok],
                "cost": self.arc_cost[ok], "movers": np.flatnonzero(
                    self.movable & ~np.isin(np.arange(len(self.movable)), skip))}

    def _edges(self, st: _State, arcs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Moves of the movable children: (from node, to node, pence, unit); node m = unplaced.

        Placed child u at q: q -> r (moves to r), q -> m (left unplaced); unplaced u: m -> r.
        Sorted by the node moved to (the arcs are sorted by placement, m comes last).
        """
        m = self.m
        au, ap = arcs["unit"], arcs["place"]
        movers = arcs["movers"]
        where = st.place_of[movers]
        placed = movers[where >= 0]
        now_u = np.zeros(len(st.place_of), dtype=np.int64)
        now_u[movers] = self.unpl[movers]
        now_u[placed] = self._cost_at(placed, st.place_of[placed])
        here = st.place_of[au]
        mv = ap != here
        return {
            "src": np.concatenate([np.where(here >= 0, here, m)[mv], st.place_of[placed]]),
            "dst": np.concatenate([ap[mv], np.full(len(placed), m)]),
            "wgt": np.concatenate([(arcs["cost"] - now_u[au])[mv],
                                   self.unpl[placed] - now_u[placed]]),
            "who": np.concatenate([au[mv], placed]),
        }

    def _push(self, e: dict[str, np.ndarray], st: _State, deadline: float | None,
              not_sink: int | None = None) -> dict[str, Any]:
        """Cheapest way to push one child out of every placement into a free bed (or out)."""
        m = self.m
        keep = e["src"] < m  # a chain never needs to pass through "unplaced"
        g: dict[str, Any] = {k: v[keep] for k, v in e.items()}
        sink0 = np.concatenate([st.free > 0, [True]])
        if not_sink is not None:
            sink0[not_sink] = False
        g["dist"], g["parent"] = _bellman_ford(g["src"], g["dst"], g["wgt"],
                                               np.where(sink0, 0, _INF).astype(np.int64),
                                               deadline)
        dist = g["dist"]
        g["sink0"] = sink0
        out = np.full(m + 1, _INF, dtype=np.int64)  # cheapest way out, a sink or not
        if len(g["src"]):
            d = dist[g["dst"]]
            np.minimum.at(out, g["src"], np.where(d >= _INF, _INF, g["wgt"] + d))
        g["out"] = out
        return g

    def _path(self, g: dict[str, Any], p: int) -> list[tuple[int, int, int]]:
        """(unit, from, to) moves of the shortest chain out of p; to == m: left unplaced."""
        moves: list[tuple[int, int, int]] = []
        node = p
        for _ in range(self.m + 1):
            e = int(g["parent"][node])
            if e < 0:
                break
            nxt = int(g["dst"][e])
            moves.append((int(g["who"][e]), node, nxt))
            node = nxt
        return moves

    def _fill(self, st: _State, q: int, arcs: dict[str, np.ndarray],
              deadline: float | None) -> None:
        """Fill a freed bed at q by the best improving chain of moves into it, if any.

        Single-source from q: dist[x] = cost of the chain that starts by moving a child out
        of x (or placing an unplaced child, x = m) and ends with a child moving into q.
        """
        m = self.m
        e = self._edges(st, arcs)
        into = e["dst"] < m  # leaving a child unplaced never helps to fill a bed
        g: dict[str, Any] = {k: v[into] for k, v in e.items()}
        e = g
        dist0 = np.full(m + 1, _INF, dtype=np.int64)
        dist0[q] = 0
        dist, g["parent"] = _bellman_ford(e["src"], e["dst"], e["wgt"], dist0, deadline)
        dist[q] = _INF  # "no chain" is not a chain
        start = int(np.argmin(dist))
        if dist[start] >= 0:
            return
        for u, frm, to in self._path(g, start):
            self._move(st, u, frm, to)

    def _move(self, st: _State, u: int, frm: int, to: int) -> None:
        m = self.m
        if frm < m:
            st.free[frm] += 1
        if to < m:
            st.free[to] -= 1
        st.place_of[u] = to if to < m else -1

    # ---------------------------------------------------------------- pricing
    def _rest(self, ref_units: np.ndarray, deadline: float | None
              ) -> tuple[_State, dict[str, np.ndarray], dict[str, Any]]:
        """The rest's optimum without the referral, its arcs, and the shared pricing pass."""
        inst, units = self.inst, self.inst.units
        st = _State(self.base_place.copy(), self.base_free.copy())
        # give the referral's beds back to the rest, and let the rest use them
        freed: list[int] = []
        for u in ref_units.tolist():
            q = int(st.place_of[u])
            if q >= 0:
                beds = int(inst.capacity[q]) if units.solo[u] else int(units.size[u])
                st.free[q] += beds
                st.place_of[u] = -1
                freed += [q] * beds
        arcs = self._arcs(ref_units)
        for q in freed:
            if st.free[q] > 0:
                self._fill(st, q, arcs, deadline)
        return st, arcs, self._push(self._edges(st, arcs), st, deadline)

    def price(self, ref: Referral, cols: np.ndarray, own: np.ndarray, use: np.ndarray,
              top: int | None, deadline: float | None = None
              ) -> tuple[dict[int, CohortImpact], dict[str, Any]]:
        """Impact on the rest for each placement in `cols` (the referral taking `use` beds).

        By `deadline` (a `time.perf_counter()` value, None: none) the pricing stops: before
        the shared pass, nothing is priced; after it, the rest keep their lower bounds.
        """
        t0 = time.perf_counter()
        units = self.inst.units
        m = self.m
        ref_units = np.unique(units.unit_of[ref.members])
        try:
            st, arcs, g = self._rest(ref_units, deadline)
        except _Stopped:
            return _unpriced(cols, t0, "the rest's optimum without the referral was found")
        rest_place = st.place_of.copy()
        stop = t0 + self.budget
        by_limit = deadline is not None and deadline <= stop  # the limit, not the budget, stops
        stop = deadline if by_limit and deadline is not None else stop
        stopped = False  # by the time limit: the answer is then not complete
        singles_load = np.bincount(st.place_of[self.movable & (st.place_of >= 0)],
                                   minlength=m)
        own_of = dict(zip(cols.tolist(), own.tolist(), strict=True))
        use_of = dict(zip(cols.tolist(), use.tolist(), strict=True))
        value: dict[int, float] = {}  # pence, exact one-bed prices
        impacts: dict[int, CohortImpact] = {}
        pending: list[tuple[float, int]] = []  # (lower bound of the total, placement)
        for p in cols.tolist():
            short = int(use_of[p] - st.free[p])
            if short <= 0:
                impacts[p] = CohortImpact(0.0, True, (), (), "a bed is free in the optimum")
            elif short == 1 and st.free[p] == 0 and g["dist"][p] < _INF:
                value[p] = float(g["dist"][p])
            elif short > singles_load[p]:
                pending.append((own_of[p], p))  # a held group must move: priced below
            else:
                out = int(g["out"][p])
                lb = short * max(out, 0) / 100.0 if out < _INF else np.inf
                pending.append((own_of[p] + lb, p))
        pending.sort()
        k_best = top if top is not None else len(cols)
        totals = sorted([own_of[q] + c.others for q, c in impacts.items()
                         if c.others is not None]
                        + [own_of[q] + v / 100.0 for q, v in value.items()])
        priced = 0
        for lb_total, p in pending:
            bar = totals[k_best - 1] if len(totals) >= k_best else np.inf
            spent = stopped or time.perf_counter() > stop
            stopped = stopped or (spent and by_limit)
            if spent or lb_total >= bar:
                lb = lb_total - own_of[p]
                why = (("time limit reached" if stopped else "time budget spent") if spent
                       else "cannot reach the top of the list")
                impacts[p] = CohortImpact(lb if np.isfinite(lb) else None, False, (), (),
                                          f"lower bound only ({why})")
                continue
            try:
                imp = self._several(st, rest_place, p, int(use_of[p]), arcs,
                                    g if st.free[p] == 0 else None, deadline)
            except _Stopped:
                stopped = True
                lb = lb_total - own_of[p]
                impacts[p] = CohortImpact(lb if np.isfinite(lb) else None, False, (), (),
                                          "lower bound only (time limit reached)")
                continue
            priced += 1
            impacts[p] = imp
            if imp.others is not None:
                total = own_of[p] + imp.others
                totals.insert(int(np.searchsorted(totals, total)), total)
        # chains of moves are spelled out only for the entries that will be shown
        order = sorted(value, key=lambda q: (own_of[q] + value[q] / 100.0, own_of[q], q))
        shown = set(sorted(
            cols.tolist(), key=lambda q: (own_of[q] + (value[q] / 100.0 if q in value
                                                       else impacts[q].sort_key), own_of[q], q)
        )[:k_best])
        for q in order:
            moves = self._path(g, q) if q in shown else []
            impacts[q] = self._impact(moves, rest_place, value[q], exact=True)
        choice = int(self.base_place[ref_units[0]])
        rest = ~np.isin(np.arange(units.n), ref_units)
        info = {
            "method": COHORT_METHOD,
            "complete": not stopped,
            "base_objective": round(self.base_objective, 2),
            "lower_bound": round(self.lower_bound, 2),
            "base_seconds": round(self.seconds, 3),
            "optimum_choice": str(self.inst.placement_ids[choice]) if choice >= 0 else None,
            "rest_unplaced": int(units.size[rest & (rest_place < 0)].sum()),
            "priced_by_successive_paths": priced,
            "seconds": round(time.perf_counter() - t0, 4),
        }
        if stopped:
            info["stopped"] = "time limit reached: placements not priced keep a lower bound"
        return impacts, info

    def _several(self, st0: _State, rest_place: np.ndarray, p: int, use: int,
                 arcs: dict[str, np.ndarray], g0: dict[str, Any] | None,
                 deadline: float | None) -> CohortImpact:
        """Successive shortest paths: push children out of p until the referral fits.

        If the single children at p cannot make room, the held groups (or solo children)
        there move to their cheapest placement with room, or are left unplaced: a real plan,
        so an upper bound, marked not exact.
        """
        inst, units = self.inst, self.inst.units
        st = _State(st0.place_of.copy(), st0.free.copy())
        st.free[p] -= use
        moves: list[tuple[int, int, int]] = []
        cost = 0
        exact = True
        singles = int(((st.place_of == p) & self.movable).sum())
        held = np.flatnonzero((st.place_of == p) & ~self.movable)
        if -st.free[p] > singles:
            exact = False
            # cheapest relocation first, until the singles can cover the rest
            options = sorted((self._relocate(st, int(u), p) + (int(u),) for u in held),
                             key=lambda x: x[0])
            for extra, to, u in options:
                if -st.free[p] <= singles:
                    break
                beds = int(inst.capacity[p]) if units.solo[u] else int(units.size[u])
                st.free[p] += beds
                if to >= 0:
                    st.free[to] -= (int(inst.capacity[to]) if units.solo[u]
                                    else int(units.size[u]))
                st.place_of[u] = to
                cost += extra
                moves.append((u, p, to if to >= 0 else self.m))
        while st.free[p] < 0:
            if g0 is not None and not moves:  # p was already full: the shared pass holds
                g = g0
            else:
                g = self._push(self._edges(st, arcs), st, deadline, not_sink=p)
            if g["dist"][p] >= _INF:
                return CohortImpact(None, False, (), (), "no way to free enough beds here")
            cost += int(g["dist"][p])
            path = self._path(g, p)
            for u, frm, to in path:
                self._move(st, u, frm, to)
            moves += path
        return self._impact(moves, rest_place, float(cost), exact=exact)

    def _relocate(self, st: _State, u: int, p: int) -> tuple[int, int]:
        """(extra pence, placement or -1) for moving held unit u out of p, cheapest first."""
        units = self.inst.units
        a, b = int(self.hold_start[u]), int(self.hold_start[u + 1])
        here = a + int(np.searchsorted(self.hold_place[a:b], p))
        now = int(self.hold_cost[here])
        places = self.hold_place[a:b]
        if units.solo[u]:
            room = (st.free[places] == self.inst.capacity[places]) & (st.free[places] > 0)
        else:
            room = st.free[places] >= units.size[u]
        room &= places != p
        best_unpl = int(self.unpl[u]) - now
        if room.any():
            j = int(np.argmin(np.where(room, self.hold_cost[a:b], _INF)))
            if int(self.hold_cost[a + j]) - now <= best_unpl:
                return int(self.hold_cost[a + j]) - now, int(places[j])
        return best_unpl, -1

    def _impact(self, moves: list[tuple[int, int, int]], rest_place: np.ndarray, pence: float,
                exact: bool) -> CohortImpact:
        inst, units = self.inst, self.inst.units
        m = self.m
        out: list[tuple[str, str, str]] = []
        unplaced: list[str] = []
        for u, frm, to in moves:
            kids = [str(inst.child_ids[c]) for c in units.members(u).tolist()]
            for c in kids:
                out.append((c, str(inst.placement_ids[frm]) if frm < m else "",
                            str(inst.placement_ids[to]) if to < m else ""))
            if to == m and rest_place[u] >= 0:
                unplaced += kids
        note = f"leaves {', '.join(unplaced)} with no placement" if unplaced else ""
        if not exact:
            note = "upper bound: a sibling group or solo child held in place moves" + (
                f"; {note}" if note else "")
        return CohortImpact(pence / 100.0, exact, tuple(out), tuple(unplaced), note)


def _bellman_ford(tail: np.ndarray, head: np.ndarray, wgt: np.ndarray, dist0: np.ndarray,
                  deadline: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """dist[tail] = min(dist[tail], wgt + dist[head]) to a fixed point (integer pence).

    Edges must be sorted by head. Only edges into nodes that changed in the last round are
    relaxed (a frontier), so a round costs what changed, not the whole graph. Returns the
    distances and, per node, the edge of its shortest path (-1 at a start): pointers set
    only on a strict decrease form a tree, so a path never loops on a zero-cost swap. The
    flow is optimal, so the residual graph has no negative cycle and this settles; integer
    pence keep it exact (no float "cycles" of -1e-12). Past `deadline` it stops (_Stopped).
    """
    n = len(dist0)
    starts = np.searchsorted(head, np.arange(n + 1))
    dist = dist0.copy()
    parent = np.full(n, -1, dtype=np.int64)
    frontier = np.flatnonzero(dist < _INF)
    for _ in range(n + 1):
        _check(deadline)
        lo, hi = starts[frontier], starts[frontier + 1]
        lens = hi - lo
        total = int(lens.sum())
        if total == 0:
            return dist, parent
        idx = np.repeat(lo - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) + np.arange(total)
        t = tail[idx]
        cand = wgt[idx] + dist[head[idx]]
        new = dist.copy()
        np.minimum.at(new, t, cand)
        better = new < dist
        hit = better[t] & (cand == new[t])
        parent[t[hit]] = idx[hit]
        frontier = np.flatnonzero(better)
        dist = new
    raise RuntimeError("negative cycle in the cohort's residual graph")


# ==================================================================== text


def _money(x: float) -> str:
    return f"£{x:,.0f}"


def format_text(res: MatchResult) -> str:
    """The officer's view: best matches, near misses, and why the rest cannot."""
    mt = res._matcher
    inst = mt.inst
    w = inst.policy.weights
    ref = res.referral
    lines = [f"Referral: {ref.label}"]
    for c in ref.members.tolist():
        bits = [f"age {int(inst.age[c])}", GENDERS[int(inst.gender[c])]]
        needs = inst.needs_of(inst.needs[c])
        if needs:
            bits.append(f"needs {', '.join(needs)}")
        if np.isfinite(inst.max_distance_km[c]):
            bits.append(f"within {float(inst.max_distance_km[c]):g} km of home")
        if inst.solo[c]:
            bits.append("must live alone")
        if inst.current[c] >= 0:
            bits.append(f"now at {inst.placement_ids[inst.current[c]]}")
        lines.append(f"  {mt.cid[c]}: {', '.join(bits)}")
    if ref.note:
        lines.append(f"  note: {ref.note}")
    n_out = sum(res.counts.values())
    lines.append(f"{len(res._first):,} placements: {res.ranked_total:,} can take "
                 f"{'the child' if len(ref.members) == 1 else 'the group together'}, "
                 f"{n_out:,} cannot, {res.n_near_misses:,} near miss(es).")
    lines.append("")
    if res.ranked:
        shown = "" if len(res.ranked) == res.ranked_total else f" (top {len(res.ranked)})"
        lines.append(f"Best matches{shown}. Score in £/week = weekly cost + £{w.per_km:g} per km "
                     f"from home + faith preference + move:")
        if res.cohort is not None:
            lines.append("  ranked by the whole waiting list's optimum: own score + what the "
                         "rest of the list pays")
        for i, r in enumerate(res.ranked, 1):
            t = r.terms
            extra = []
            if t["faith_mismatch"]:
                extra.append(f"faith {_money(t['faith_mismatch'])}")
            if t["move"]:
                extra.append(f"move {_money(t['move'])}")
            lines.append(
                f"  {i:>3}. {r.placement_id:<10} {_money(r.score):>9}  = cost "
                f"{_money(t['cost'])} + {t['distance_km']:.1f} km ({_money(t['distance'])})"
                f"{''.join(' + ' + e for e in extra)}; {r.vacancies_after} bed(s) left; "
                f"{r.provider}, {r.type}, {r.ofsted_rating}"
                + (f"; {r.area}" if r.area else "")
                + (f" (reg. 11: {r.approval.replace('_', ' ')} approves)" if r.approval else ""))
            if r.review:
                lines.append(f"       current placement, for review: now breaks "
                             f"{', '.join(r.review)}")
            if r.cohort is not None:
                c = r.cohort
                if c.others is None:
                    lines.append(f"       rest of the list: {c.note}")
                else:
                    pre = "" if c.exact else "at least "
                    moved = "; ".join(f"{a} {b}->{to or 'unplaced'}"
                                      for a, b, to in c.moves[:4])
                    more = f" (+{len(c.moves) - 4} more moves)" if len(c.moves) > 4 else ""
                    lines.append(f"       rest of the list pays {pre}{_money(c.others)}/week"
                                 f"{': ' + moved + more if moved else ''}"
                                 f"{'' if c.exact else ' [' + c.note + ']'}")
                    if c.leaves_unplaced:
                        lines.append(f"       WARNING: leaves {', '.join(c.leaves_unplaced)} "
                                     f"with no placement at all")
    else:
        lines.append("No placement can take this referral as the rules stand.")
    if res.cohort is not None and not res.cohort.get("complete", True):
        why = res.cohort.get("stopped") or "the time limit was reached"
        lines.append(f"  (cohort pricing incomplete: {why})")
    if res.cohort is not None and "base_objective" in res.cohort:
        oc = res.cohort.get("optimum_choice")
        lines.append(f"  (whole-list allocation £{res.cohort['base_objective']:,.0f}/week, lower "
                     f"bound £{res.cohort['lower_bound']:,.0f}; it places this referral at "
                     f"{oc or 'no placement'})")
    if res.n_near_misses:
        lines.append("")
        lines.append("Near misses (one rule a manager could waive):")
        for n in res.near_miss_head(10):
            lines.append(f"  {n.placement_id:<10} {n.rule}: {n.detail}; would score "
                         f"{_money(n.score)}/week ({n.provider}, {n.type}, {n.ofsted_rating})")
        if res.n_near_misses > 10:
            lines.append(f"  ... and {res.n_near_misses - 10:,} more")
    if res.counts:
        lines.append("")
        lines.append("Ruled out (by the first rule that rules each placement out):")
        for rule in res._state["order"]:
            count = res.counts.get(rule.value, 0)
            if not count:
                continue
            lines.append(f"  {rule.value:<34} {count:>7,}  ({RULES[rule].text})")
            for e in res.examples(rule.value):
                lines.append(f"      e.g. {e.placement_id}: {e.detail}")
    return "\n".join(lines)
