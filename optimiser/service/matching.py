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

from .db import changes_between, children, reading, register_meta, register_version
from .register import build_instance

APPROVAL_KEY = "approval"  # who must approve a ranked placement (reg. 11), null: nobody


ANSWERS_KEPT = 256  # match answers kept per register version (a referral is viewed often)


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


@dataclass
class Answer:
    """One referral's answer as sent (JSON text), and where the placements shown stand."""

    text: bytes
    shown: dict[str, Standing]  # the ranked placements shown and the near misses
    data: dict[str, Any] | None = None  # the answer parsed, once a page has asked

    def parsed(self) -> dict[str, Any]:
        if self.data is None:
            self.data = dict(json.loads(self.text))
        return self.data


@dataclass(frozen=True)
class Warm:
    """The matcher of one register version, and the answers it gave (never mutated)."""

    version: int
    instance: Instance
    matcher: Matcher
    pinned: frozenset[str] = frozenset()  # children with a pin that holds once placed
    answers: dict[tuple[str | None, str | None, int | None], Answer] = field(
        default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def kept(self, child_id: str | None, group: str | None, top: int | None = None) -> Answer:
        """A referral's answer, from the answers kept when asked before."""
        key = (child_id, group, top)
        with self.lock:
            got = self.answers.get(key)
        if got is None:
            got = answer_of(rank(self, child_id, group, top))
            with self.lock:
                if len(self.answers) >= ANSWERS_KEPT:  # the oldest answer goes
                    self.answers.pop(next(iter(self.answers)))
                self.answers[key] = got
        return got

    def answer(self, child_id: str | None, group: str | None,
               top: int | None = None) -> dict[str, Any]:
        """`matches_json` of a referral."""
        return self.kept(child_id, group, top).parsed()

    def answer_text(self, child_id: str | None, group: str | None,
                    top: int | None = None) -> bytes:
        """`matches_json` of a referral as JSON text (UTF-8)."""
        return self.kept(child_id, group, top).text

    def standing(self, child_id: str | None, group: str | None, placement_id: str
                 ) -> Standing:
        """Where `placement_id` stands for this referral: from an answer already given
        when it showed the placement, else from the engine."""
        with self.lock:
            known = [a for (c, g, _), a in self.answers.items()
                     if c == child_id and g == group]
        for ans in known:
            if placement_id in ans.shown:
                return ans.shown[placement_id]
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


Subject = tuple[str | None, str | None]  # a referral's child, or its sibling group


class Subjects:
    """Whom each referral is for, as this process has read it (a referral's child or
    group never changes once opened, so what is kept stays true)."""

    def __init__(self, size: int = 100_000):
        self.size = size
        self.lock = threading.Lock()
        self.kept: dict[str, Subject] = {}

    def get(self, rid: str) -> Subject | None:
        with self.lock:
            return self.kept.get(rid)

    def put(self, rid: str, subject: Subject) -> Subject:
        with self.lock:
            if len(self.kept) >= self.size:  # the oldest goes
                self.kept.pop(next(iter(self.kept)))
            self.kept[rid] = subject
        return subject


class MatcherCache:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._warm: Warm | None = None
        self._lock = threading.Lock()
        self.rebuilds = 0  # from the rows (the rest followed the change log)
        self.subjects = Subjects()

    def get(self, version: int | None = None) -> Warm:
        """The warm matcher of the register's current version (`version`: that version,
        just read by the caller)."""
        if version is None:
            with reading(self.engine) as conn:
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


def matches_json(res: MatchResult, *, ruled_out: bool = True) -> dict[str, Any]:
    """`placement match --json`, with the approval each ranked placement needs.

    The reg. 11 approval (nominated officer, director) is the engine's where it says one
    (format 1.1 authority columns); null otherwise. Waived rules (near misses) need a
    manager's approval, said on each near miss. (`ruled_out=False`: that list left empty.)
    """
    d = res.to_dict(ruled_out=ruled_out)
    for r in d["ranked"]:
        r.setdefault(APPROVAL_KEY, None)
    for n in d["near_misses"]:
        n[APPROVAL_KEY] = "manager"
    return d


EMPTY_RULED_OUT = '"ruled_out":[]'


def answer_of(res: MatchResult) -> Answer:
    """`matches_json` as compact JSON text (the ruled-out list written by the engine as
    text: on a national register it is most of the answer), and the placements shown."""
    d = matches_json(res, ruled_out=False)
    text = json.dumps(d, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    # the key appears once: no other object has it, and no string holds an unescaped quote;
    # the list is joined in once as bytes (megabytes on a national register: each copy
    # of it counts)
    before, after = text.split(EMPTY_RULED_OUT, 1)
    body = b"".join((before.encode("utf-8"), b'"ruled_out":',
                     res.ruled_out_json().encode("utf-8"), after.encode("utf-8")))
    ids = list(res.referral.child_ids)
    shown = {r["placement_id"]: Standing(ids, "ranked", i + 1, r["score"], r[APPROVAL_KEY])
             for i, r in enumerate(d["ranked"])}
    for n in d["near_misses"]:
        shown[n["placement_id"]] = Standing(ids, "near_miss", None, n["score"], None,
                                            n["rule"], n["detail"])
    return Answer(body, shown)
