"""Helpers for page tests: a browser-like client logged in through the login form."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from tests.factories.accounts import DEFAULT_PASSWORD, make_user

RU = {"Accept-Language": "ru-RU,ru;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
HTML = {"Accept": "text/html,application/xhtml+xml"}
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def csrf_from(html: str) -> str:
    match = _CSRF_META.search(html)
    assert match, "no csrf-token meta on a logged-in page"
    return match.group(1)


@dataclass
class LoggedIn:
    client: TestClient
    user: User
    csrf: str


def page_login(client: TestClient, login: str, password: str = DEFAULT_PASSWORD) -> str:
    response = client.post("/login", data={"login": login, "password": password}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_from(client.get("/settings").text)


@pytest.fixture
def anna(client: TestClient, db: Session) -> LoggedIn:
    user = make_user(db, username="anna", display_name="Анна Каренина", email="anna@example.ru")
    return LoggedIn(client=client, user=user, csrf=page_login(client, "anna"))
