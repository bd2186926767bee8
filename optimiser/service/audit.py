"""The audit trail: append-only events, each chained to the one before by SHA-256.

An event is `seq, at, user, action, subject, detail, prev_hash, hash` where
`hash = SHA-256(canonical JSON of seq, at, user, action, subject, detail || prev_hash)`.
Changing, inserting or removing any event breaks every hash after it, and the chain's head
kept in `register_meta` shows a removed tail. Events hold ids only (children, placements,
referrals, users), never a child's name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select

from .db import audit_events, audit_head, move_audit_head, register_meta

GENESIS = "0" * 64


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(seq: int, at: str, user: str, action: str, subject: str, detail: Any,
               prev_hash: str) -> str:
    body = canonical({"seq": seq, "at": at, "user": user, "action": action,
                      "subject": subject, "detail": detail})
    return hashlib.sha256((body + prev_hash).encode("utf-8")).hexdigest()


def append(conn: Connection, user: str, action: str, subject: str,
           detail: dict[str, Any]) -> int:
    """Add one event inside the caller's write transaction; return its seq.

    The caller holds the register lock (`db.write`), so the head read here is the head.
    """
    last, prev = audit_head(conn)
    seq = last + 1
    at = now_iso()
    text = canonical(detail)
    digest = event_hash(seq, at, user, action, subject, json.loads(text), prev)
    conn.execute(audit_events.insert().values(
        seq=seq, at=at, user=user, action=action, subject=subject, detail=text,
        prev_hash=prev, hash=digest))
    move_audit_head(conn, seq, digest)
    return seq


def event_dict(row: Any) -> dict[str, Any]:
    return {"seq": row.seq, "at": row.at, "user": row.user, "action": row.action,
            "subject": row.subject, "detail": json.loads(row.detail),
            "prev_hash": row.prev_hash, "hash": row.hash}


def events(conn: Connection, *, after: int = 0, limit: int | None = None
           ) -> list[dict[str, Any]]:
    q = select(audit_events).where(audit_events.c.seq > after).order_by(audit_events.c.seq)
    if limit is not None:
        q = q.limit(limit)
    return [event_dict(r) for r in conn.execute(q)]


@dataclass(frozen=True)
class Verdict:
    ok: bool
    events: int
    bad_seq: int | None = None
    reason: str = ""


def verify(engine: Engine) -> Verdict:
    """Walk the chain from the first event; name the first one that does not hold."""
    prev, expect, n = GENESIS, 1, 0
    with engine.connect() as conn:
        head = conn.execute(select(register_meta)).mappings().one()
        for row in conn.execute(select(audit_events).order_by(audit_events.c.seq)):
            n += 1
            if row.seq != expect:
                return Verdict(False, n, expect, f"event {expect} is missing")
            if row.prev_hash != prev:
                return Verdict(False, n, row.seq, "prev_hash is not the hash of the event before")
            try:
                detail = json.loads(row.detail)
            except ValueError:
                return Verdict(False, n, row.seq, "detail is not JSON")
            digest = event_hash(row.seq, row.at, row.user, row.action, row.subject, detail,
                                row.prev_hash)
            if digest != row.hash:
                return Verdict(False, n, row.seq, "hash does not match the event")
            prev, expect = row.hash, expect + 1
    if head["audit_seq"] != expect - 1 or head["audit_hash"] != prev:
        return Verdict(False, n, expect, f"events after {expect - 1} were removed")
    return Verdict(True, n)
