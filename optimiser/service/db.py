"""The register's tables, the database engine, and schema migrations on start.

Tables are SQLAlchemy Core (no ORM): every write is an explicit statement in an explicit
transaction, which is what the concurrency rules below need to be readable.

Every write transaction first locks the one `register_meta` row (`lock_register`): on
PostgreSQL a row lock, on SQLite the write lock taken by `BEGIN IMMEDIATE`. Writers are
thus serialised, so the audit chain never forks and an accept sees the beds as they are.

On SQLite only writes take that lock: a read (`engine.connect()`) begins a deferred
transaction, a snapshot of the WAL that no writer blocks. Writers to one SQLite file queue
at a gate (a lock per process, a file lock between processes) before they begin: SQLite's
own busy handler polls with growing sleeps, which under many writers leaves some waiting
far longer than the queue ahead of them.

The requests on the hot path (referrals, decisions, approvals) write through a group commit
(`commit_job`): a job waiting while another commits joins the next transaction, each in
its own savepoint, so many jobs share one register lock, one commit and one fsync. No job
is answered before the commit that holds it is durable, and a job that fails rolls back
its savepoint alone.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    select,
)

from . import DEFAULT_URL

metadata = MetaData()

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(150), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", String(40), nullable=False),
)
sessions = Table(  # API tokens and page sessions: only the SHA-256 of the secret is kept
    "sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("kind", String(8), nullable=False),  # "api" or "web"
    Column("csrf", String(64), nullable=False, server_default=""),
    Column("expires_at", Float, nullable=False),  # seconds since the epoch
)
register_meta = Table(  # one row (id 1): the register's version and the audit chain's head
    "register_meta", metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("audit_seq", Integer, nullable=False),
    Column("audit_hash", String(64), nullable=False),
    Column("child_columns", Text, nullable=False),  # JSON list: the order written back
    Column("placement_columns", Text, nullable=False),
)
children = Table(
    "children", metadata,
    Column("child_id", String(200), primary_key=True),
    Column("row_no", Integer, nullable=False),  # file order: the engine's child index
    Column("sibling_group", String(200), nullable=False, server_default=""),
    Column("current_placement", String(200), nullable=False, server_default=""),
    Column("data", Text, nullable=False),  # JSON: every other column as given
)
placements = Table(
    "placements", metadata,
    Column("placement_id", String(200), primary_key=True),
    Column("row_no", Integer, nullable=False),
    Column("vacancies", Integer, nullable=False),
    Column("on_hold_reason", Text, nullable=False, server_default=""),
    Column("data", Text, nullable=False),
)
exclusions = Table(
    "exclusions", metadata,
    Column("id", Integer, primary_key=True),
    Column("child_id", String(200), nullable=False),
    Column("placement_id", String(200), nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
)
register_files = Table(  # policy.toml, distances.csv, adjoining.csv as imported
    "register_files", metadata,
    Column("name", String(40), primary_key=True),
    Column("content", Text, nullable=False),
)
referrals = Table(
    "referrals", metadata,
    Column("id", String(32), primary_key=True),
    Column("child_id", String(200), nullable=True),
    Column("sibling_group", String(200), nullable=True),
    Column("status", String(20), nullable=False),  # open, awaiting_approval, placed
    Column("created_by", String(150), nullable=False),
    Column("created_at", String(40), nullable=False),
)
decisions = Table(
    "decisions", metadata,
    Column("id", Integer, primary_key=True),
    Column("referral_id", String(32), ForeignKey("referrals.id"), nullable=False),
    Column("placement_id", String(200), nullable=False),
    Column("decision", String(10), nullable=False),
    Column("reason", Text, nullable=False),
    Column("outcome", String(20), nullable=False),  # placed, awaiting_approval, declined
    Column("user", String(150), nullable=False),
    Column("at", String(40), nullable=False),
)
approvals = Table(
    "approvals", metadata,
    Column("id", String(32), primary_key=True),
    Column("referral_id", String(32), ForeignKey("referrals.id"), nullable=False),
    Column("placement_id", String(200), nullable=False),
    Column("rule", String(40), nullable=False),
    Column("detail", Text, nullable=False),
    Column("status", String(10), nullable=False),  # pending, approved, refused
    Column("requested_by", String(150), nullable=False),
    Column("requested_at", String(40), nullable=False),
    Column("decided_by", String(150), nullable=True),
    Column("decided_at", String(40), nullable=True),
    Column("reason", Text, nullable=True),
)
realloc_runs = Table(  # an overnight re-allocation plan, applied only when signed off
    "realloc_runs", metadata,
    Column("id", String(32), primary_key=True),
    Column("status", String(12), nullable=False),  # proposed, signed_off, discarded
    Column("register_version", Integer, nullable=False),  # the register it was planned on
    Column("options", Text, nullable=False),  # JSON
    Column("plan", Text, nullable=False),  # JSON: summary, moves, voids, chains
    Column("created_by", String(150), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("decided_by", String(150), nullable=True),
    Column("decided_at", String(40), nullable=True),
    Column("approved_chains", Text, nullable=True),  # JSON list of chain ids
)
register_changes = Table(  # per version: what it changed (see `bump_version`)
    "register_changes", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("detail", Text, nullable=False),  # JSON: {"reset": true} or the values after
)
commission_plans = Table(  # a commissioner's plan-capacity run on the register
    "commission_plans", metadata,
    Column("id", String(32), primary_key=True),
    Column("register_version", Integer, nullable=False),  # the register it was planned on
    Column("options", Text, nullable=False),  # JSON
    Column("plan", Text, nullable=False),  # JSON: plan-capacity's plan.json
    Column("summary", Text, nullable=False),  # the command's summary, as text
    Column("created_by", String(150), nullable=False),
    Column("created_at", String(40), nullable=False),
)
login_failures = Table(  # failed sign-ins by "u:<name>" and "a:<address>", for throttling
    "login_failures", metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(200), nullable=False),
    Column("at", Float, nullable=False),  # seconds since the epoch
)
audit_events = Table(
    "audit_events", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),
    Column("user", String(150), nullable=False),
    Column("action", String(40), nullable=False),
    Column("subject", String(250), nullable=False),
    Column("detail", Text, nullable=False),  # canonical JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 (the driver we install), not psycopg2."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://"):]
    return url


WRITING = "placement_writing"  # execution option: this connection's transaction writes


class WriteGate:
    """Writers to one SQLite file, one at a time: threads queue on a lock, processes on an
    advisory file lock next to the database (the kernel wakes the next one at once)."""

    def __init__(self, lock_path: str | None):
        self.lock = threading.Lock()
        self.lock_path = lock_path

    @contextmanager
    def held(self) -> Iterator[None]:
        with self.lock:
            if self.lock_path is None:
                yield
                return
            import fcntl

            with open(self.lock_path, "a+b") as f:
                fcntl.flock(f, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(f, fcntl.LOCK_UN)


_gates: weakref.WeakKeyDictionary[Engine, WriteGate] = weakref.WeakKeyDictionary()


def _sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL (None: in memory)."""
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    return None if not name or name == ":memory:" else name


def make_engine(url: str = DEFAULT_URL) -> Engine:
    """An engine; SQLite gets WAL, a busy timeout, and `BEGIN IMMEDIATE` for writes."""
    url = normalise_url(url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    path = _sqlite_file(url)
    try:
        import fcntl  # noqa: F401  (POSIX: the gate between processes)
    except ImportError:
        path = None
    _gates[engine] = WriteGate(None if path is None else path + "-writers.lock")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # a writer takes the write lock at the start (IMMEDIATE), so two writers never
        # both read and then fail to upgrade; a reader takes a snapshot and no lock
        writes = conn.get_execution_options().get(WRITING, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


def migrations_dir() -> Path:
    return Path(str(resources.files("optimiser.service") / "migrations"))


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or migrate the schema to `revision` (default the newest; Alembic, in-process)."""
    _migrate(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to `revision` ("base": empty). The service never does this:
    it drops what later revisions added, with its data; for an operator, with a backup."""
    _migrate(engine, "downgrade", revision)


def _migrate(engine: Engine, how: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, how)(cfg, revision)
        conn.commit()


@contextmanager
def begin_write(engine: Engine) -> Iterator[Connection]:
    """One transaction that writes (on SQLite: through the gate, `BEGIN IMMEDIATE`)."""
    gate = _gates.get(engine)
    with gate.held() if gate is not None else _no_gate(), engine.connect() as conn:
        conn.execution_options(**{WRITING: True})
        with conn.begin():
            yield conn


@contextmanager
def _no_gate() -> Iterator[None]:
    yield


_readers: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def reading(engine: Engine) -> Connection:
    """A connection for reads that need not see one snapshot together (a version, a
    referral, a token). On PostgreSQL each statement commits on its own, saving the
    BEGIN and ROLLBACK round trips a transaction costs; SQLite reads as `connect()`."""
    if engine.dialect.name != "postgresql":
        return engine.connect()
    reader = _readers.get(engine)
    if reader is None:
        reader = _readers[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return reader.connect()


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    """One write transaction, holding the register lock (see the module docstring).

    The audit chain's head moves in the transaction as events are appended and is written
    to `register_meta` once, before the commit (one statement, not one per event)."""
    with begin_write(engine) as conn:
        lock_register(conn)
        conn.info[DEFERRED] = conn.get_transaction()
        yield conn
        got = conn.info.get(HEAD)
        if got is not None and got[0] is conn.get_transaction() and got[3]:
            conn.execute(register_meta.update().where(register_meta.c.id == 1).values(
                audit_seq=got[1], audit_hash=got[2]))


T = TypeVar("T")


class Job(Generic[T]):
    """One write waiting for its group's commit: its result, or the error it raised."""

    def __init__(self, fn: Callable[[Connection], T]):
        self.fn = fn
        self.finished = False
        self.result: T | None = None
        self.error: BaseException | None = None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return cast(T, self.result)  # set once fn returned


class GroupCommit:
    """The jobs of one process, committed in groups (see the module docstring).

    A job joins the queue; if no thread of this process is committing, its thread leads:
    it takes the whole queue, runs each job in a savepoint of one write transaction under
    the register lock, and commits. Jobs that arrive meanwhile wait for the next leader,
    who takes them all at once. Under light load a group is one job, as a plain `write`.
    """

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.queue: list[Job[Any]] = []
        self.leading = False

    def run(self, engine: Engine, fn: Callable[[Connection], T]) -> T:
        job: Job[T] = Job(fn)
        with self.cond:
            self.queue.append(job)
            while self.leading and not job.finished:
                self.cond.wait()
            if job.finished:
                return job.outcome()
            self.leading = True
            group, self.queue = self.queue, []
        try:
            self.commit(engine, group)
        except BaseException as e:  # interrupted: the group is not known to be committed
            for j in group:
                if j.error is None:
                    j.error, j.result = e, None
            raise
        finally:
            with self.cond:
                for j in group:
                    j.finished = True
                self.leading = False
                self.cond.notify_all()
        return job.outcome()

    @staticmethod
    def commit(engine: Engine, group: list[Job[Any]]) -> None:
        if len(group) == 1:  # alone: no savepoint, its failure rolls back the transaction
            job = group[0]
            try:
                with write(engine) as conn:
                    job.result = job.fn(conn)
            except Exception as e:
                job.error, job.result = e, None
            return
        try:
            with write(engine) as conn:
                for job in group:
                    head = conn.info.get(HEAD)
                    try:
                        with conn.begin_nested():
                            job.result = job.fn(conn)
                    except Exception as e:  # this job's savepoint is rolled back alone
                        job.error = e
                        conn.info[HEAD] = head  # and the chain's head with it
        except Exception as e:  # nothing of the group was committed: each job says so
            for job in group:
                if job.error is None:
                    job.error, job.result = e, None


_groups: weakref.WeakKeyDictionary[Engine, GroupCommit] = weakref.WeakKeyDictionary()
_groups_lock = threading.Lock()


def commit_job(engine: Engine, fn: Callable[[Connection], T]) -> T:
    """`fn(conn)` inside a write transaction holding the register lock, committed (durably)
    with the jobs other threads of this process are waiting to commit; its result, or
    the exception it raised (its own writes rolled back, the others' kept)."""
    with _groups_lock:
        group = _groups.get(engine)
        if group is None:
            group = _groups[engine] = GroupCommit()
    return group.run(engine, fn)


HEAD = "placement_audit_head"  # conn.info: (transaction, seq, hash, moved) of the chain
DEFERRED = "placement_head_deferred"  # conn.info: the `write` transaction that stores it


def lock_register(conn: Connection) -> dict[str, Any]:
    """Lock the register's one `register_meta` row for this transaction; its values.

    The audit chain's head read here is kept with the transaction (`audit_head`), so the
    events appended under this lock need not read it again (and a head this transaction
    has moved already is kept, not read back).
    """
    row = dict(conn.execute(
        select(register_meta).where(register_meta.c.id == 1).with_for_update()).mappings().one())
    got = conn.info.get(HEAD)
    if got is None or got[0] is not conn.get_transaction():
        conn.info[HEAD] = (conn.get_transaction(), int(row["audit_seq"]),
                           str(row["audit_hash"]), False)
    return row


def audit_head(conn: Connection) -> tuple[int, str]:
    """The audit chain's head (seq, hash) in this transaction, locking the register first
    if this transaction has not. Kept against the transaction object itself, so a head
    can never outlive the transaction it was read in."""
    got = conn.info.get(HEAD)
    if got is None or got[0] is not conn.get_transaction():
        lock_register(conn)
        got = conn.info[HEAD]
    return int(got[1]), str(got[2])


def move_audit_head(conn: Connection, seq: int, digest: str) -> None:
    """The chain's new head after an event: stored now, or by `write` before it commits."""
    if conn.info.get(DEFERRED) is not conn.get_transaction():
        conn.execute(register_meta.update().where(register_meta.c.id == 1).values(
            audit_seq=seq, audit_hash=digest))
    conn.info[HEAD] = (conn.get_transaction(), seq, digest, True)


CHANGES_KEPT = 10_000  # versions of the change log kept; a worker further behind rebuilds


def bump_version(conn: Connection, *, placement_ids: Iterable[str] = (),
                 child_ids: Iterable[str] = (), reset: bool = False) -> int:
    """A new register version, with what it changed in the change log (same transaction).

    The change names the placements and children touched and their values *after* the
    change (vacancies and hold; current placement), read back here, so applying a change
    twice is harmless. `reset` (an import) says: rebuild from the rows.
    """
    conn.execute(register_meta.update().where(register_meta.c.id == 1).values(
        version=register_meta.c.version + 1))
    version = register_version(conn)
    detail: dict[str, Any] = {"reset": True}
    if not reset:
        pids, cids = sorted(set(placement_ids)), sorted(set(child_ids))
        detail = {"placements": {}, "children": {}}
        if pids:
            rows = conn.execute(select(placements.c.placement_id, placements.c.vacancies,
                                       placements.c.on_hold_reason).where(
                placements.c.placement_id.in_(pids)))
            detail["placements"] = {r.placement_id: [int(r.vacancies), r.on_hold_reason]
                                    for r in rows}
        if cids:
            rows = conn.execute(select(children.c.child_id, children.c.current_placement)
                                .where(children.c.child_id.in_(cids)))
            detail["children"] = {r.child_id: r.current_placement for r in rows}
    conn.execute(register_changes.insert().values(version=version, detail=json.dumps(detail)))
    conn.execute(delete(register_changes).where(
        register_changes.c.version <= version - CHANGES_KEPT))
    return version


def changes_between(conn: Connection, after: int, upto: int) -> list[dict[str, Any]] | None:
    """The changes of versions after..upto in order, or None when one is missing (the log
    was pruned, or the version was made before the log existed)."""
    rows = conn.execute(select(register_changes).where(
        register_changes.c.version > after, register_changes.c.version <= upto)
        .order_by(register_changes.c.version)).all()
    if [r.version for r in rows] != list(range(after + 1, upto + 1)):
        return None
    return [dict(json.loads(r.detail)) for r in rows]


def register_version(conn: Connection) -> int:
    return int(conn.execute(select(register_meta.c.version)).scalar_one())
