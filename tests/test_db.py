"""Helpers of molodets.db that queries build on, on whichever database the suite runs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.db import in_id_set
from tests.factories.accounts import make_user


def test_in_id_set_matches_the_listed_ids_only(db: Session) -> None:
    users = [make_user(db, username=f"member{n}") for n in range(5)]
    wanted = [users[0].id, users[3].id, users[3].id, 2**62]  # a repeat and an unknown id
    found = db.scalars(select(User.id).where(in_id_set(db, User.id, wanted))).all()
    assert sorted(found) == sorted([users[0].id, users[3].id])
    assert db.scalars(select(User.id).where(in_id_set(db, User.id, []))).all() == []
    others = db.scalars(select(User.id).where(~in_id_set(db, User.id, wanted))).all()
    assert set(others) == {user.id for user in users} - {users[0].id, users[3].id}
