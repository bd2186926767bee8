"""One Matcher kept warm for the register as it is now, rebuilt when the register changes.

Every change to the register bumps `register_meta.version` in its own transaction; a match
reads the version and, when it differs from the warm matcher's, rebuilds it once (other
requests wait for that build rather than each building their own).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from optimiser import Instance
from optimiser.match import Matcher, MatchResult

from .db import register_version
from .register import build_instance

APPROVAL_KEY = "approval"  # who must approve a ranked placement (reg. 11), null: nobody


ANSWERS_KEPT = 256  # match answers kept per register version (a referral is viewed often)


@dataclass(frozen=True)
class Warm:
    """The matcher of one register version, and the answers it gave (never mutated)."""

    version: int
    instance: Instance
    matcher: Matcher
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


class MatcherCache:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._warm: Warm | None = None
        self._lock = threading.Lock()

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
                inst = build_instance(conn)
            self._warm = Warm(version, inst, Matcher(inst))
            return self._warm


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
