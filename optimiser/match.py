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
(see :class:`~optimiser.cohort.CohortModel` for the method and why it was chosen). A
``time_limit`` bounds that work: what was not priced in time is said so, never guessed.
"""

from __future__ import annotations

import json
import json.encoder
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any

import numpy as np

from .approval import APPROVER, AREA, approval
from .candidates import PairBlock, evaluate_block
from .categories import DEFAULT_TYPES, GENDERS, PLACEMENT_TYPES, RATINGS, Approval, Rating
from .cohort import CohortImpact, CohortModel, CohortStopped, build_in_child, unpriced
from .forked import can_fork
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
        # a small integer key: the stable sort is then a radix sort
        return cols[np.argsort(self._first[cols].astype(np.int16), kind="stable")]

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
        cols, first, detail, mask, decoded = mt._ruled_out_arrays(self, self._ruled_out_cols())
        names = [r.value for r in self._state["order"]]
        # the text around the placement and the detail: one piece per rule and per set of
        # rules broken, gathered by numpy (no Python loop over placements), so the whole
        # list is one join of pieces (in C) rather than formatted
        plain = _plain_json(detail.tolist())  # then the quotes go into the pieces around
        quote = '"' if plain else ""
        rule = np.array([f',"rule":{json.dumps(n)},"detail":{quote}' for n in names],
                        dtype=object)
        codes = np.array(sorted(decoded), dtype=np.int64)
        tail = np.array([f'{quote},"rules":{json.dumps(list(decoded[x]), separators=(",", ":"))}}}'
                         for x in codes.tolist()], dtype=object)
        parts = np.empty((len(cols), 4), dtype=object)
        parts[:, 0] = mt.entry_head_array[cols]
        parts[:, 1] = rule[first]
        parts[:, 2] = detail if plain else list(
            map(json.encoder.encode_basestring, detail.tolist()))
        parts[:, 3] = tail[np.searchsorted(codes, mask)]
        if len(cols):
            parts[0, 0] = parts[0, 0].removeprefix(",")
        return "[" + "".join(parts.ravel().tolist()) + "]"

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

    @cached_property
    def entry_head_array(self) -> np.ndarray:
        """`entry_heads` as an object array, to gather by placement with numpy."""
        heads = np.empty(len(self.pid), dtype=object)
        heads[:] = self.entry_heads
        return heads

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
                impacts, cohort_info = unpriced(ok, t0)
            else:
                impacts, cohort_info = model.price(ref.members, ok, score[ok], use, top, deadline)
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
                if deadline is not None and can_fork():
                    self._cohort = build_in_child(self.inst, self.cohort_budget, deadline)
                else:
                    self._cohort = CohortModel(self.inst, budget=self.cohort_budget,
                                               deadline=deadline)
            except CohortStopped:
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
        at, first, detail, mask, decoded = self._ruled_out_arrays(res, cols)
        return at.tolist(), first.tolist(), detail.tolist(), mask.tolist(), decoded

    def _ruled_out_arrays(self, res: MatchResult, cols: np.ndarray) -> tuple[
            np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[int, tuple[str, ...]]]:
        """`_ruled_out_columns` as numpy arrays (the details an object array)."""
        order = res._state["order"]
        first = res._first[cols]
        names = [r.value for r in order]
        # every rule broken, as a bit mask per placement: few distinct masks, so decode once
        packed = np.packbits(res._fails[:, cols], axis=0, bitorder="little").astype(np.int64)
        mask = (packed << 8 * np.arange(len(packed), dtype=np.int64)[:, None]).sum(axis=0)
        decoded = {int(x): tuple(n for i, n in enumerate(names) if int(x) >> i & 1)
                   for x in _distinct(mask).tolist()}
        detail = np.full(len(cols), "", dtype=object)
        for i in np.unique(first).tolist():
            at = np.flatnonzero(first == i)
            said = self._details(res, order[i], cols[at])
            assert len(said) == len(at)
            detail[at] = said
        return cols, first, detail, mask, decoded

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
        if words is None:  # a rule without words of its own for a match: its sentence,
            # said once per set of members (equal codes, equal sets)
            _, at, inv = np.unique(pattern, return_index=True, return_inverse=True)
            said = np.empty(len(at), dtype=object)
            said[:] = [f"{RULES[rule].text} ({', '.join(ids[i] for i in who[j])})"
                       for j in at.tolist()]
            return list(said[inv.ravel()].tolist())
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


def _plain_json(words: list[str]) -> bool:
    """Whether every one of `words` is its own JSON string body (ASCII, no quote, no
    backslash, no control character), checked on them all at once."""
    text = "".join(words)
    if not text.isascii() or '"' in text or "\\" in text:
        return False
    return not text or int(np.frombuffer(text.encode("ascii"), np.uint8).min()) >= 0x20


def _distinct(codes: np.ndarray) -> np.ndarray:
    """The distinct values of small non-negative integer codes, ascending (a count, not a
    sort)."""
    if len(codes) == 0 or int(codes.min()) < 0 or int(codes.max()) > 1 << 22:
        return np.unique(codes)
    return np.flatnonzero(np.bincount(codes))


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
