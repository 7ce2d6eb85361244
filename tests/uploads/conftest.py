"""Fixtures for upload tests: the uploads table, an account with a Bearer token, a clean upload
folder per test, and a live uvicorn server for clients that need real sockets."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from molodets.accounts import service as accounts
from molodets.app import create_app
from molodets.runtime import Runtime
from tests.factories.accounts import make_user
from tests.uploads.support import LiveServer


@pytest.fixture(autouse=True)
def remove_part_files(runtime: Runtime) -> Iterator[None]:
    yield
    shutil.rmtree(runtime.settings.resolved_upload_dir, ignore_errors=True)


@dataclass
class Account:
    id: int
    username: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_account(db: Session, username: str) -> Account:
    user = make_user(db, username=username)
    _, secret = accounts.do_create_token(db, user=user, name="uploads")
    db.commit()
    return Account(id=user.id, username=user.username, token=secret)


@pytest.fixture
def owner(db: Session) -> Account:
    return make_account(db, "uploader")


@pytest.fixture
def stranger(db: Session) -> Account:
    return make_account(db, "stranger")


@pytest.fixture
def upload_dir(runtime: Runtime) -> Path:
    return runtime.settings.resolved_upload_dir


@pytest.fixture(scope="session")
def live_server(runtime: Runtime) -> Iterator[LiveServer]:
    server = LiveServer(create_app(runtime)).start()
    yield server
    server.stop()
