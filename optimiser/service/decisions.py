"""Referrals, decisions and approvals: each change in one transaction, with its audit event.

An accept is checked twice. First against the warm matcher (the engine's rules): a ranked
placement is placed, a near miss (one waivable rule) waits for a manager, anything else is
refused with its rule. Then, inside the write transaction, by conditional updates: the
beds are taken only `WHERE vacancies >= needed`, the children only if still where the
matcher saw them. Two officers taking the last bed at once: one update finds the bed,
the other finds none and answers 409.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select

from optimiser.match import UnknownReferral

from . import audit
from .db import (
    approvals,
    bump_version,
    children,
    commit_job,
    decisions,
    placements,
    reading,
    referrals,
    register_version,
)
from .errors import Conflict, NotFound
from .matching import Answer, MatcherCache, Subject, Warm, rank


@dataclass(frozen=True)
class Outcome:
    status: str  # placed, awaiting_approval, declined, refused
    approval_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"status": self.status}
        if self.approval_id is not None:
            d["approval_id"] = self.approval_id
        return d


def new_id() -> str:
    return secrets.token_hex(8)


def open_referral(engine: Engine, user: str, child_id: str | None,
                  group: str | None) -> str:
    rid = new_id()

    def job(conn: Connection) -> None:
        if child_id is not None:
            found = conn.execute(select(children.c.child_id).where(
                children.c.child_id == child_id)).first()
        else:
            found = conn.execute(select(children.c.child_id).where(
                children.c.sibling_group == group).limit(1)).first()
        if found is None:
            raise NotFound("no such child" if child_id is not None else "no such sibling group")
        conn.execute(referrals.insert().values(
            id=rid, child_id=child_id, sibling_group=group, status="open", created_by=user,
            created_at=audit.now_iso()))
        audit.append(conn, user, "referral.open", f"referral:{rid}",
                     {"child_id": child_id, "sibling_group": group})

    commit_job(engine, job)
    return rid


def get_referral(conn: Connection, rid: str) -> Any:
    row = conn.execute(select(referrals).where(referrals.c.id == rid)).first()
    if row is None:
        raise NotFound("no such referral")
    return row


def warm_for(engine: Engine, cache: MatcherCache, rid: str) -> tuple[Warm, Subject]:
    """The warm matcher of the register as it is now, and whom referral `rid` is for:
    one read (the register's version, and the referral unless this process knows it)."""
    subject = cache.subjects.get(rid)
    with reading(engine) as conn:
        if subject is None:
            ref = get_referral(conn, rid)
            subject = cache.subjects.put(rid, (ref.child_id, ref.sibling_group))
        version = register_version(conn)
    return cache.get(version), subject


def referral_matches(engine: Engine, cache: MatcherCache, rid: str, top: int | None = None
                     ) -> Any:
    warm, (child_id, group) = warm_for(engine, cache, rid)
    try:
        return rank(warm, child_id, group, top)
    except UnknownReferral as e:  # the register was re-imported without this child
        raise NotFound(str(e)) from e


def referral_answer(engine: Engine, cache: MatcherCache, rid: str, top: int | None = None
                    ) -> dict[str, Any]:
    """The referral's matches as `placement match --json` (and approvals), for the register
    as it is now."""
    return referral_kept(engine, cache, rid, top).parsed()


def referral_answer_text(engine: Engine, cache: MatcherCache, rid: str,
                         top: int | None = None) -> bytes:
    """`referral_answer` as the JSON text sent."""
    return referral_kept(engine, cache, rid, top).text


def referral_kept(engine: Engine, cache: MatcherCache, rid: str, top: int | None) -> Answer:
    warm, (child_id, group) = warm_for(engine, cache, rid)
    try:
        return warm.kept(child_id, group, top)
    except UnknownReferral as e:
        raise NotFound(str(e)) from e


def decide(engine: Engine, cache: MatcherCache, rid: str, user: str, placement_id: str,
           decision: str, reason: str) -> Outcome:
    warm, (child_id, group) = warm_for(engine, cache, rid)
    try:
        at = warm.standing(child_id, group, placement_id)
    except UnknownReferral as e:  # the register was re-imported without this child
        raise NotFound(str(e)) from e
    shown: dict[str, Any] = {"referral_id": rid, "placement_id": placement_id,
                             "decision": decision, "reason": reason,
                             "children": at.child_ids}
    if at.kind == "ranked" and at.score is not None:
        shown["rank"], shown["score"] = at.rank, round(at.score, 2)
    if decision == "decline":
        def decline(conn: Connection) -> None:
            _open(conn, rid)
            _record(conn, rid, placement_id, decision, reason, "declined", user)
            audit.append(conn, user, "decision.decline", f"referral:{rid}", shown)

        commit_job(engine, decline)
        return Outcome("declined")
    reg11 = at.approval if at.kind == "ranked" else None
    if at.kind == "ranked" and not reg11:
        def accept(conn: Connection) -> None:
            _open(conn, rid)
            _place(conn, at.child_ids, placement_id, len(at.child_ids))
            _set_status(conn, rid, "placed")
            _record(conn, rid, placement_id, decision, reason, "placed", user)
            audit.append(conn, user, "decision.accept", f"referral:{rid}",
                         {**shown, "outcome": "placed"})

        commit_job(engine, accept)
        return Outcome("placed")
    if reg11:  # out of area (nominated officer) or at a distance (director): reg. 11
        rule, detail = f"reg11_{reg11}", f"an out-of-area placement needs the {reg11}'s approval"
        return _await(engine, rid, user, placement_id, reason, rule, detail, shown)
    if at.kind == "near_miss" and at.rule and at.detail is not None and at.score is not None:
        return _await(engine, rid, user, placement_id, reason, at.rule, at.detail,
                      {**shown, "score": round(at.score, 2)})
    if at.kind == "ruled_out":
        raise Conflict(f"placement {placement_id} cannot take this referral: {at.detail}",
                       at.rule)
    raise NotFound("no such placement")


def _await(engine: Engine, rid: str, user: str, placement_id: str, reason: str, rule: str,
           detail: str, shown: dict[str, Any]) -> Outcome:
    """An accept that needs a manager: recorded, nothing placed until approved."""
    aid = new_id()

    def job(conn: Connection) -> None:
        _open(conn, rid)
        conn.execute(approvals.insert().values(
            id=aid, referral_id=rid, placement_id=placement_id, rule=rule, detail=detail,
            status="pending", requested_by=user, requested_at=audit.now_iso()))
        _set_status(conn, rid, "awaiting_approval")
        _record(conn, rid, placement_id, "accept", reason, "awaiting_approval", user)
        audit.append(conn, user, "decision.accept", f"referral:{rid}",
                     {**shown, "outcome": "awaiting_approval", "approval_id": aid,
                      "waived_rule": rule})

    commit_job(engine, job)
    return Outcome("awaiting_approval", aid)


def resolve_approval(engine: Engine, cache: MatcherCache, aid: str, user: str, approve: bool,
                     reason: str) -> Outcome:
    with engine.connect() as conn:
        row = conn.execute(select(approvals).where(approvals.c.id == aid)).first()
    if row is None:
        raise NotFound("no such approval")
    res = referral_matches(engine, cache, row.referral_id)
    members = list(res.referral.child_ids)
    detail = {"approval_id": aid, "referral_id": row.referral_id,
              "placement_id": row.placement_id, "waived_rule": row.rule, "approve": approve,
              "reason": reason, "children": members}
    def job(conn: Connection) -> None:
        done = conn.execute(approvals.update().where(
            approvals.c.id == aid, approvals.c.status == "pending").values(
            status="approved" if approve else "refused", decided_by=user,
            decided_at=audit.now_iso(), reason=reason))
        if done.rowcount != 1:
            raise Conflict("this approval has been decided already")
        if approve:
            # a waived room rule places a group one bed short: it takes the beds there are
            need = len(members) - 1 if row.rule == "capacity" else len(members)
            _place(conn, members, row.placement_id, need)
            _set_status(conn, row.referral_id, "placed")
        else:
            _set_status(conn, row.referral_id, "open")
        audit.append(conn, user, "approval.approve" if approve else "approval.refuse",
                     f"approval:{aid}", detail)

    commit_job(engine, job)
    return Outcome("placed" if approve else "refused")


# --------------------------------------------------------------------------- steps


def _open(conn: Connection, rid: str) -> None:
    row = get_referral(conn, rid)
    if row.status != "open":
        raise Conflict(f"this referral is {row.status.replace('_', ' ')}")


def _set_status(conn: Connection, rid: str, status: str) -> None:
    conn.execute(referrals.update().where(referrals.c.id == rid).values(status=status))


def _record(conn: Connection, rid: str, pid: str, decision: str, reason: str, outcome: str,
            user: str) -> None:
    conn.execute(decisions.insert().values(
        referral_id=rid, placement_id=pid, decision=decision, reason=reason, outcome=outcome,
        user=user, at=audit.now_iso()))


def _place(conn: Connection, members: list[str], pid: str, need: int) -> None:
    """Take `need` beds at `pid` and move `members` there, or raise Conflict (rolled back)."""
    taken = conn.execute(placements.update().where(
        placements.c.placement_id == pid, placements.c.vacancies >= need,
        placements.c.on_hold_reason == "").values(vacancies=placements.c.vacancies - need))
    if taken.rowcount != 1:
        raise Conflict(f"placement {pid} has no room for this referral any more", "capacity")
    left: list[str] = []
    for cid in members:
        row = conn.execute(select(children.c.current_placement).where(
            children.c.child_id == cid)).first()
        if row is None:
            raise Conflict(f"child {cid} is no longer in the register")
        moved = conn.execute(children.update().where(
            children.c.child_id == cid,
            children.c.current_placement == row.current_placement).values(
            current_placement=pid))
        if moved.rowcount != 1:
            raise Conflict(f"child {cid} was placed by someone else meanwhile")
        if row.current_placement:  # a move frees the bed left behind
            conn.execute(placements.update().where(
                placements.c.placement_id == row.current_placement).values(
                vacancies=placements.c.vacancies + 1))
            left.append(row.current_placement)
    bump_version(conn, placement_ids=[pid, *left], child_ids=members)
