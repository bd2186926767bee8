"""Accounts and credentials: argon2 hashes, expiring tokens, login throttling, roles.

A token is 32 random bytes given to the client once; the database keeps only its SHA-256,
so a copy of the database signs nobody in. Nothing here logs a password or a token.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, delete, select

from .audit import now_iso
from .db import begin_write, login_failures, reading, sessions, users

ROLES = ("officer", "manager", "commissioner", "admin")

# who may do what (service-api.md "Roles"); every route names one of these
READ_REGISTER = frozenset({"officer", "manager", "commissioner"})
REFER = frozenset({"officer", "manager"})  # open referrals, see matches, decide
APPROVE = frozenset({"manager"})
SIGN_OFF = frozenset({"manager"})  # re-allocation runs
EDIT_PLACEMENT = frozenset({"manager", "admin"})
READ_AUDIT = frozenset({"manager", "admin"})
READ_DECISIONS = frozenset({"officer", "manager", "commissioner"})
IMPORT = frozenset({"admin"})
MANAGE_USERS = frozenset({"admin"})
ANALYSE = frozenset({"commissioner"})  # capacity (and sufficiency) analyses

_hasher = PasswordHasher()  # argon2id, RFC 9106's low-memory profile
_dummy: dict[str, str] = {}


def configure_hashing(hasher: PasswordHasher) -> None:
    """Use other argon2 parameters (a test suite's cheaper ones; existing hashes still verify)."""
    global _hasher
    _hasher = hasher
    _dummy.clear()


def _dummy_hash() -> str:
    """Verified against when the user does not exist, so both answers take as long."""
    if "h" not in _dummy:
        _dummy["h"] = _hasher.hash(secrets.token_hex(16))
    return _dummy["h"]


class UserExists(ValueError):
    pass


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    token_hash: str


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_user(conn: Connection, username: str, role: str, password: str) -> int:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not username or len(username) > 150 or not username.isprintable():
        raise ValueError("a username is 1 to 150 printable characters")
    if conn.execute(select(users.c.id).where(users.c.username == username)).first():
        raise UserExists(f"a user named {username!r} exists already")
    res = conn.execute(users.insert().values(
        username=username, role=role, password_hash=hash_password(password),
        created_at=now_iso()))
    key = res.inserted_primary_key
    assert key is not None
    return int(key[0])


def set_password(conn: Connection, username: str, role: str, password: str) -> None:
    """Create the user, or reset its role and password (the demo accounts)."""
    found = conn.execute(select(users.c.id).where(users.c.username == username)).first()
    if found is None:
        add_user(conn, username, role, password)
    else:
        conn.execute(users.update().where(users.c.id == found.id).values(
            role=role, password_hash=hash_password(password)))


def authenticate(engine: Engine, username: str, password: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.username == username)).first()
    try:
        _hasher.verify(row.password_hash if row else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    return User(row.id, row.username, row.role)


def issue(engine: Engine, user: User, kind: str, ttl: float) -> tuple[str, str]:
    """A new token (and, for a page session, its CSRF secret); returns (token, csrf)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32) if kind == "web" else ""
    with begin_write(engine) as conn:
        conn.execute(delete(sessions).where(sessions.c.expires_at < time.time()))
        conn.execute(sessions.insert().values(
            token_hash=token_digest(token), user_id=user.id, kind=kind, csrf=csrf,
            expires_at=time.time() + ttl))
    return token, csrf


def lookup(engine: Engine, token: str, kind: str) -> Session | None:
    """The live session of a token of this kind, or None (unknown, expired, other kind)."""
    found = lookup_until(engine, token, kind)
    return None if found is None else found[0]


def lookup_until(engine: Engine, token: str, kind: str) -> tuple[Session, float] | None:
    """`lookup`, with the time (seconds since the epoch) the session expires."""
    digest = token_digest(token)
    with reading(engine) as conn:
        row = conn.execute(
            select(sessions, users.c.username, users.c.role)
            .join(users, users.c.id == sessions.c.user_id)
            .where(sessions.c.token_hash == digest, sessions.c.kind == kind)).first()
    if row is None or row.expires_at <= time.time():
        return None
    return Session(User(row.user_id, row.username, row.role), row.csrf, digest), row.expires_at


class TokenCache:
    """API tokens found lately, kept in the process for `ttl` seconds and never past
    their expiry, so a call does not read the database to know who sends it.

    API tokens are never revoked before they expire, and an account's role does not
    change while the service runs; `ttl` bounds how long a change made in the database
    by hand goes unseen. Only the token's SHA-256 is kept, as in the database.
    """

    def __init__(self, ttl: float = 10.0, size: int = 10_000):
        self.ttl, self.size = ttl, size
        self.lock = threading.Lock()
        self.kept: dict[str, tuple[Session, float]] = {}  # digest -> (session, good until)

    def get(self, token: str) -> Session | None:
        digest = token_digest(token)
        with self.lock:
            got = self.kept.get(digest)
        if got is None or got[1] <= time.time():
            return None
        return got[0]

    def put(self, session: Session, expires_at: float) -> None:
        with self.lock:
            if len(self.kept) >= self.size:  # the oldest goes
                self.kept.pop(next(iter(self.kept)))
            self.kept[session.token_hash] = (session, min(expires_at, time.time() + self.ttl))


def revoke(engine: Engine, token_hash: str) -> None:
    with begin_write(engine) as conn:
        conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash))


class Throttle:
    """Failed sign-ins per name and per client address, in a sliding window.

    After `limit` failures of a name (or four times as many from one address) in `window`
    seconds, further attempts are refused (429) until the oldest leaves the window: a
    password cannot be guessed at speed, and a flood from one address cannot lock every
    account. Kept in the database, so every worker process of the service counts alike.
    """

    def __init__(self, engine: Engine, limit: int = 5, window: float = 300.0):
        self.engine, self.limit, self.window = engine, limit, window

    @staticmethod
    def _keys(username: str, client: str) -> tuple[str, str]:
        return "u:" + username.lower()[:150], "a:" + client[:45]

    def wait(self, username: str, client: str) -> float:
        """Seconds until another attempt is allowed (0: now)."""
        now = time.time()
        worst = 0.0
        with self.engine.connect() as conn:
            for key, limit in zip(self._keys(username, client), (self.limit, self.limit * 4),
                                  strict=True):
                recent = conn.execute(
                    select(login_failures.c.at).where(
                        login_failures.c.key == key, login_failures.c.at > now - self.window)
                    .order_by(login_failures.c.at.desc()).limit(limit)).scalars().all()
                if len(recent) >= limit:
                    worst = max(worst, min(recent) + self.window - now)
        return worst

    def failed(self, username: str, client: str) -> None:
        now = time.time()
        with begin_write(self.engine) as conn:
            conn.execute(delete(login_failures).where(login_failures.c.at < now - self.window))
            conn.execute(login_failures.insert(), [{"key": k, "at": now}
                                                   for k in self._keys(username, client)])

    def succeeded(self, username: str, client: str) -> None:
        with begin_write(self.engine) as conn:
            conn.execute(delete(login_failures).where(
                login_failures.c.key == self._keys(username, client)[0]))
