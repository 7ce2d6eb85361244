"""Accounts made through the real service functions, so tests never build rows by hand that
the application could not have made."""

from __future__ import annotations

import itertools

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from molodets.accounts import service
from molodets.accounts.models import Role, User

DEFAULT_PASSWORD = "correct horse battery"
_numbers = itertools.count(1)


def make_user(
    db: Session,
    *,
    username: str | None = None,
    password: str = DEFAULT_PASSWORD,
    display_name: str | None = None,
    email: str | None = None,
    role: Role = Role.USER,
) -> User:
    user = service.do_sign_up(
        db,
        username=username or f"user{next(_numbers)}",
        password=password,
        display_name=display_name,
        email=email,
        role=role,
    )
    db.commit()
    return user


def log_in(client: TestClient, login: str, password: str = DEFAULT_PASSWORD) -> str:
    """Log the client in by cookie; returns the CSRF token its unsafe requests must send."""
    response = client.post("/api/v1/sessions", json={"login": login, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


def bearer(db: Session, user: User) -> dict[str, str]:
    """Headers that authenticate as `user` with a fresh API token."""
    _, secret = service.do_create_token(db, user=user, name="test")
    db.commit()
    return {"Authorization": f"Bearer {secret}"}
