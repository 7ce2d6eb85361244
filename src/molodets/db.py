"""Database engine, sessions and the after-commit hook.

One session per request or job, committed once by its owner. Service functions only flush.
Work that must follow a successful commit (enqueueing a job, publishing an event) is registered
with `after_commit` and is dropped if the transaction rolls back.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar

import orjson
import structlog
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    MetaData,
    Select,
    SQLColumnExpression,
    String,
    any_,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from molodets.concurrency import LoopSemaphore
from molodets.ids import new_id

log = structlog.get_logger(__name__)

_AFTER_COMMIT_KEY = "molodets.after_commit"
READ_ONLY_OPTION = "molodets_read_only"

# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite stores naive text otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class IdMixin:
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, default=new_id, autoincrement=False)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _configure_sqlite(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed during a write; the busy timeout makes writers queue, not fail.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def _begin_sqlite(connection: Any) -> None:
    # A writing transaction takes the write lock at BEGIN (IMMEDIATE), so two writers queue under
    # busy_timeout instead of one failing with "database is locked" when it upgrades a read lock.
    # Reads (GET requests) begin deferred and run beside writers thanks to WAL.
    if connection.get_execution_options().get(READ_ONLY_OPTION):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# Connections per process: pool plus overflow. Each SQLite connection keeps its own page cache,
# and one process runs Python on one core at a time, so a few suffice; a PostgreSQL server
# counts them against max_connections.
POOL_SIZE = {"sqlite": 8, "postgresql": 10}
POOL_OVERFLOW = {"sqlite": 8, "postgresql": 20}
# Connections kept out of the requests' share: the event writer, job consumers in embedded mode,
# media delivery and pages' short reads.
RESERVED_CONNECTIONS = 8
# Each SQLite connection's own page cache (SQLite's default is 2 MiB). The file's pages stay in
# the operating system's cache anyway, so a small one costs no measurable time (For You built
# as fast with 256 KiB as with 2 MiB), while 16 connections filling 2 MiB each, one after the
# other as load spikes open them, made a soak's memory creep up for many minutes (docs/load.md).
SQLITE_CACHE_KIB = 512


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # An in-memory database lives in one connection (SQLAlchemy's SingletonThreadPool).
        in_memory = make_url(url).database in {None, "", ":memory:"}
        sized = {"pool_size": POOL_SIZE["sqlite"], "max_overflow": POOL_OVERFLOW["sqlite"]}
        pool = {} if in_memory else sized
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15}, **pool)
        event.listen(engine, "connect", _configure_sqlite)
        # Take transaction control away from pysqlite so our BEGIN IMMEDIATE is the only one.
        event.listen(engine, "connect", lambda conn, _rec: setattr(conn, "isolation_level", None))
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    engine = create_engine(url, pool_size=POOL_SIZE["postgresql"], max_overflow=POOL_OVERFLOW["postgresql"])
    event.listen(engine, "checkin", _mark_idle)
    event.listen(engine, "checkout", partial(_ping_if_idle, engine.dialect))
    return engine


# A pooled PostgreSQL connection is pinged before use only if it sat idle in the pool this long.
# SQLAlchemy's pre-ping would cost a round trip at every checkout (one in seven of a For You
# page's); a database restart takes longer than this, so the connections it broke are found out
# here anyway, and one that breaks in busy use fails its statement with a 503 (errors.py) and
# invalidates the pool, as SQLAlchemy does with any disconnect.
IDLE_PING_SECONDS = 1.0
_IDLE_SINCE = "molodets_idle_since"


def _mark_idle(_dbapi_connection: Any, record: Any) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _ping_if_idle(dialect: Any, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    idle_since = record.info.pop(_IDLE_SINCE, None)
    if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except Exception as error:
        # The pool discards every connection older than now and retries with a new one.
        raise InvalidatePoolError() from error


class Database:
    """The engine and the kinds of session: `sessions` for work that writes; `statement_reads`
    for every read on a request's path; `read_sessions` for a job's reads that need one
    transaction (a chunked read's server-side cursor). Reads and writes differ on SQLite in
    locking, reads of the two kinds only on PostgreSQL (below)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        # Copied into every new session's `info`: how code holding only a session finds the
        # process's shared services (the job queues, for one) without a global.
        self.session_info: dict[str, Any] = {}
        self.sessions = sessionmaker(bind=self.engine, expire_on_commit=False, info=self.session_info)
        self.read_sessions = sessionmaker(
            bind=self.engine.execution_options(**{READ_ONLY_OPTION: True}),
            expire_on_commit=False,
            info=self.session_info,
        )
        # On PostgreSQL, statements that each run in a transaction of their own: READ COMMITTED
        # gives every statement its own snapshot anyway, so a transaction around a page's reads
        # only added a BEGIN and a ROLLBACK round trip to it. On SQLite, `read_sessions` (one
        # read transaction is one consistent snapshot there, and costs nothing).
        self.statement_reads = (
            self.read_sessions
            if self.is_sqlite
            else sessionmaker(
                bind=self.engine.execution_options(isolation_level="AUTOCOMMIT", **{READ_ONLY_OPTION: True}),
                expire_on_commit=False,
                info=self.session_info,
            )
        )
        dialect = "sqlite" if self.is_sqlite else "postgresql"
        self.request_slots = POOL_SIZE[dialect] + POOL_OVERFLOW[dialect] - RESERVED_CONNECTIONS
        self._admission = LoopSemaphore(self.request_slots)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def request_admission(self) -> asyncio.Semaphore:
        """The requests' share of the pool, waited for on the event loop (one per loop).

        A request holds its connection from authentication to the end of its handler, across two
        thread-pool calls (on SQLite a writing request hands it back after authentication and
        takes one again at its handler's first statement: still one at a time). Were it to wait
        for a connection inside a worker thread, requests holding connections could wait for
        threads while every thread waited for a connection: a stall until the pool's timeout.
        Waiting here, before any thread, keeps the connection holders fewer than the threads and
        the pool."""
        return self._admission()

    def dispose(self) -> None:
        self.engine.dispose()


def upsert_insert(session: Session) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (both PostgreSQL's and SQLite's)."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def in_id_set(session: Session, column: SQLColumnExpression[int], ids: Iterable[int]) -> ColumnElement[bool]:
    """`column IN ids` with the ids in one bound parameter (a JSON array read by `json_each` on
    SQLite, an array compared with `= ANY` on PostgreSQL). SQLAlchemy renders a plain `IN` of
    hundreds of values afresh for every execution, one bind per value; this statement is
    compiled once and cached like any other."""
    dialect = session.get_bind().dialect.name
    return in_id_param(dialect, column, None, id_set_value(dialect, ids))


def in_id_param(
    dialect: str, column: SQLColumnExpression[int], name: str | None, value: object = None
) -> ColumnElement[bool]:
    """`in_id_set` with the ids in the bound parameter `name`, for a statement built once and
    executed with `{name: id_set_value(dialect, ids)}`."""
    if dialect == "postgresql":
        # The ids travel as the text of an array: psycopg adapts a list of a few hundred ints in
        # Python, element by element (~0.5 ms for 600), and a string in one go.
        return column == any_(cast(bindparam(name, value, type_=String), postgresql.ARRAY(BigInteger)))
    members: Select[int] = select(literal_column("value", BigInteger)).select_from(
        func.json_each(bindparam(name, value, type_=String))
    )
    return column.in_(members.scalar_subquery())


def id_set_value(dialect: str, ids: Iterable[int]) -> object:
    """The value of an `in_id_param` parameter."""
    values = sorted({int(value) for value in ids})
    if dialect == "postgresql":
        return "{" + ",".join(map(str, values)) + "}"
    return orjson.dumps(values).decode()


def after_commit(session: Session, callback: Callable[[], object]) -> None:
    """Run `callback` once this session's transaction commits; forget it on rollback."""
    session.info.setdefault(_AFTER_COMMIT_KEY, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    callbacks = session.info.pop(_AFTER_COMMIT_KEY, [])
    for callback in callbacks:
        try:
            callback()
        except Exception:
            # The data is committed; a failed follow-up must not turn the response into an error.
            # Jobs have watchdogs for exactly this case.
            log.exception("after_commit_callback_failed", callback=repr(callback))


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_commit(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(_AFTER_COMMIT_KEY, None)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work for jobs and commands: commit at the end, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
