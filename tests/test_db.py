"""Helpers of molodets.db that queries build on, on whichever database the suite runs."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from psycopg import pq
from sqlalchemy import delete, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.db import SQLITE_CACHE_KIB, Database, in_id_set
from molodets.runtime import Runtime
from tests.factories.accounts import make_user


def test_in_id_set_matches_the_listed_ids_only(db: Session) -> None:
    users = [make_user(db, username=f"member{n}") for n in range(5)]
    wanted = [users[0].id, users[3].id, users[3].id, 2**62]  # a repeat and an unknown id
    found = db.scalars(select(User.id).where(in_id_set(db, User.id, wanted))).all()
    assert sorted(found) == sorted([users[0].id, users[3].id])
    assert db.scalars(select(User.id).where(in_id_set(db, User.id, []))).all() == []
    others = db.scalars(select(User.id).where(~in_id_set(db, User.id, wanted))).all()
    assert set(others) == {user.id for user in users} - {users[0].id, users[3].id}


def test_sqlite_connections_keep_a_small_page_cache_and_wal(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'pragmas.sqlite3'}")
    try:
        with database.engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA cache_size").scalar() == -SQLITE_CACHE_KIB
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar() == 1
    finally:
        database.dispose()


def _in_transaction(session: Session) -> bool:
    raw = session.connection().connection.dbapi_connection
    if isinstance(raw, sqlite3.Connection):
        return raw.in_transaction
    return bool(raw.info.transaction_status == pq.TransactionStatus.INTRANS)


def test_statement_reads_skip_the_transaction_on_postgresql_only(runtime: Runtime) -> None:
    """On PostgreSQL each statement of `statement_reads` is its own transaction (no BEGIN and
    ROLLBACK round trips); on SQLite they share one read transaction, one snapshot. The pool's
    connections go back to transactions for every other session."""
    for _ in range(3):
        with runtime.db.statement_reads() as reads:
            reads.execute(select(User.id).limit(1))
            assert _in_transaction(reads) is runtime.db.is_sqlite
        for factory in (runtime.db.read_sessions, runtime.db.sessions):
            with factory() as session:
                session.execute(select(User.id).limit(1))
                assert _in_transaction(session)


def test_the_suite_fails_a_write_in_a_read_session(runtime: Runtime) -> None:
    with runtime.db.statement_reads() as reads, pytest.raises(AssertionError, match="a read session wrote"):
        reads.execute(delete(User).where(User.id == -1))


def test_a_connection_idle_in_the_pool_is_pinged_before_use_and_replaced_if_broken(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection back from the pool within `IDLE_PING_SECONDS` goes to work unpinged (no round
    trip); one idle longer is pinged, and one the server dropped meanwhile (a restart) is
    replaced before any statement fails. One dropped while in busy use fails a statement once."""
    if runtime.db.is_sqlite:
        pytest.skip("pings are for PostgreSQL's pooled connections")
    database = Database(runtime.db.url)
    pings: list[object] = []
    real_ping = database.engine.dialect.do_ping

    def counted_ping(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(database.engine.dialect, "do_ping", counted_ping)

    def backend() -> int:
        with database.engine.connect() as connection:
            return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())

    def drop(pid: int) -> None:
        with runtime.db.engine.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    try:
        first = backend()
        assert backend() == first
        assert pings == []
        drop(first)
        monkeypatch.setattr("molodets.db.IDLE_PING_SECONDS", 0.05)
        time.sleep(0.1)
        replaced = backend()
        assert replaced != first
        assert len(pings) == 1
        monkeypatch.setattr("molodets.db.IDLE_PING_SECONDS", 60.0)
        drop(replaced)
        with pytest.raises(OperationalError):
            backend()
        assert backend() != replaced
    finally:
        database.dispose()
