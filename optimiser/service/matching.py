"""One Matcher kept warm for the register as it is now, following the register's changes.

Every change to the register bumps `register_meta.version` and writes what it changed to
the change log, in its own transaction (`db.bump_version`). A match reads the version and,
when it differs from the warm matcher's, catches up once (other requests wait for that
rather than each doing it): the changes since the warm version (beds, holds, children's
current placements) are applied to the warm instance, which costs what changed, not the
register; an import, a gap in the log or a change the reader would read differently (a
free-text hold, a pinned child placed) rebuilds from the rows instead. Every worker
process does this on its own, so all of them follow the database.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, select

from optimiser import Instance
from optimiser.categories import HOLD_REASONS
from optimiser.match import Matcher, MatchResult

from .db import changes_between, children, register_meta, register_version
from .register import build_instance

APPROVAL_KEY = "approval"  # who must approve a ranked placement (reg. 11), null: nobody


ANSWERS_KEPT = 256  # match answers kept per register version (a referral is viewed often)


@dataclass(frozen=True)
class Warm:
    """The matcher of one register version, and the answers it gave (never mutated)."""

    version: int
    instance: Instance
    matcher: Matcher
    pinned: frozenset[str] = frozenset()  # children with a pin that holds once placed
    answers: dict[tuple[str | None, str | None, int | None], dict[str, Any]] = field(
        default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def answer(self, child_id: str | None, group: str | None,
               top: int | None = None) -> dict[str, Any]:
        """`matches_json` of a referral, from the answers kept when asked before."""
        key = (child_id, group, top)
        with self.lock:
            got = self.answers.get(key)
        if got is None:
            got = matches_json(rank(self, child_id, group, top))
            with self.lock:
                if len(self.answers) >= ANSWERS_KEPT:  # the oldest answer goes
                    self.answers.pop(next(iter(self.answers)))
                self.answers[key] = got
        return got


    def known_answers(self, child_id: str | None, group: str | None
                      ) -> list[dict[str, Any]]:
        """The answers already given for this referral (any `top`), computing none."""
        with self.lock:
            return [a for (c, g, _), a in self.answers.items() if c == child_id and g == group]

    def standing(self, child_id: str | None, group: str | None, placement_id: str
                 ) -> Standing:
        """Where `placement_id` stands for this referral: from an answer already given
        when it says, else from the engine (without building the ruled-out list)."""
        for ans in self.known_answers(child_id, group):
            got = standing_in(ans, placement_id)
            if got is not None:
                return got
        res = rank(self, child_id, group)
        ids = list(res.referral.child_ids)
        for i, r in enumerate(res.ranked):
            if r.placement_id == placement_id:
                return Standing(ids, "ranked", i + 1, round(r.score, 2), r.approval)
        for n in res.near_misses:
            if n.placement_id == placement_id:
                return Standing(ids, "near_miss", None, round(n.score, 2), None, n.rule,
                                n.detail)
        for o in res.ruled_out:
            if o.placement_id == placement_id:
                return Standing(ids, "ruled_out", None, None, None, o.rule, o.detail)
        return Standing(ids, "unknown")


@dataclass(frozen=True)
class Standing:
    """Where one placement stands for a referral, as a decision needs it."""

    child_ids: list[str]
    kind: str  # ranked, near_miss, ruled_out, unknown (no such placement)
    rank: int | None = None  # 1-based, when ranked
    score: float | None = None  # pounds a week, to the penny as shown
    approval: str | None = None  # reg. 11, when ranked
    rule: str | None = None  # the waivable rule (near miss) or the first rule (ruled out)
    detail: str | None = None


def standing_in(ans: dict[str, Any], placement_id: str) -> Standing | None:
    """From a `matches_json` answer; None when it cannot say (a ranked list cut by `top`
    that may hold the placement further down)."""
    ids = list(ans["referral"]["child_ids"])
    for i, r in enumerate(ans["ranked"]):
        if r["placement_id"] == placement_id:
            return Standing(ids, "ranked", i + 1, r["score"], r.get(APPROVAL_KEY))
    for n in ans["near_misses"]:
        if n["placement_id"] == placement_id:
            return Standing(ids, "near_miss", None, n["score"], None, n["rule"], n["detail"])
    for o in ans["ruled_out"]:
        if o["placement_id"] == placement_id:
            return Standing(ids, "ruled_out", None, None, None, o["rule"], o["detail"])
    if len(ans["ranked"]) < ans["ranked_total"]:
        return None
    return Standing(ids, "unknown")


class MatcherCache:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._warm: Warm | None = None
        self._lock = threading.Lock()
        self.rebuilds = 0  # from the rows (the rest followed the change log)

    def get(self) -> Warm:
        with self.engine.connect() as conn:
            version = register_version(conn)
        warm = self._warm
        if warm is not None and warm.version == version:
            return warm
        with self._lock:
            warm = self._warm
            if warm is not None and warm.version == version:
                return warm
            with self.engine.connect() as conn:
                version = register_version(conn)
                got = None
                if warm is not None and warm.version < version:
                    changes = changes_between(conn, warm.version, version)
                    got = None if changes is None else follow(warm, version, changes)
                if got is None:
                    got = rebuild(conn)
                    self.rebuilds += 1
            self._warm = got
            return got


def rebuild(conn: Connection) -> Warm:
    """The warm matcher from every row of the register (in one read transaction)."""
    version = register_version(conn)
    inst = build_instance(conn)
    return Warm(version, inst, Matcher(inst), pinned_children(conn))


PIN_OFF = ("", "false", "no", "0", "n", "f")  # a pin column's values that pin nobody


def pinned_children(conn: Connection) -> frozenset[str]:
    """Children whose `pinned` cell pins them (the reader keeps a pin only for a placed
    child, so placing or unplacing one of these is rebuilt from the rows)."""
    columns = json.loads(conn.execute(select(register_meta.c.child_columns)).scalar_one())
    if "pinned" not in columns:
        return frozenset()
    return frozenset(
        r.child_id for r in conn.execute(select(children.c.child_id, children.c.data))
        if str(json.loads(r.data).get("pinned", "")).strip().lower() not in PIN_OFF)


def hold_value(text: str) -> str | None:
    """`on_hold_reason` as the reader keeps it, or None where only the reader can say
    (free text: the reader warns about it, so leave it to the reader)."""
    s = text.strip()
    if s.lower() in HOLD_REASONS:
        return s.lower()
    return "" if s == "" else None


def follow(warm: Warm, version: int, changes: list[dict[str, Any]]) -> Warm | None:
    """The warm matcher with `changes` applied (None: rebuild from the rows instead)."""
    inst = warm.instance
    vac = np.array(inst.vacancies, dtype=np.int32)
    assert inst.on_hold is not None
    hold = np.array(inst.on_hold, dtype=object)
    cur = np.array(inst.current, dtype=np.int32)
    for change in changes:
        if change.get("reset"):
            return None
        for pid, (beds, text) in change["placements"].items():
            p, held = inst.placement_index.get(pid), hold_value(text)
            if p is None or held is None:
                return None
            vac[p], hold[p] = beds, held
        for cid, pid in change["children"].items():
            c = inst.child_index.get(cid)
            q = -1 if pid == "" else inst.placement_index.get(pid)
            if c is None or q is None or (cid in warm.pinned and (q >= 0) != (cur[c] >= 0)):
                return None
            cur[c] = q
    new = replace(inst, vacancies=vac, on_hold=hold, current=cur)
    return Warm(version, new, Matcher(new), warm.pinned)


def rank(warm: Warm, child_id: str | None, group: str | None,
         top: int | None = None) -> MatchResult:
    if child_id is not None:
        return warm.matcher.rank(child_id, top=top)
    return warm.matcher.rank(group=group, top=top)


def matches_json(res: MatchResult) -> dict[str, Any]:
    """`placement match --json`, with the approval each ranked placement needs.

    The reg. 11 approval (nominated officer, director) is the engine's where it says one
    (format 1.1 authority columns); null otherwise. Waived rules (near misses) need a
    manager's approval, said on each near miss.
    """
    d = res.to_dict()
    for r in d["ranked"]:
        r.setdefault(APPROVAL_KEY, None)
    for n in d["near_misses"]:
        n[APPROVAL_KEY] = "manager"
    return d
