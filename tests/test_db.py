"""Helpers of molodets.db that queries build on, on whichever database the suite runs."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.db import SQLITE_CACHE_KIB, Database, in_id_set
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
