"""On SQLite a writing request authenticates in a short read transaction and takes the write lock
(BEGIN IMMEDIATE) only at its handler's first statement, so it does not hold the database's only
write lock across the hop from authentication to its handler (docs/load.md, `mixed`).

Another connection holds the write lock on the same file, as a busy writer would."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.runtime import Runtime
from molodets.social.models import VideoLike
from molodets.videos.models import Video
from tests.factories.accounts import bearer, log_in, make_user
from tests.factories.videos import make_ready_video

# Far below the 15 s busy timeout a request waiting for the lock would sit out.
PROMPT = 3.0


@pytest.fixture
def database_file(runtime: Runtime) -> Path:
    if not runtime.db.is_sqlite:
        pytest.skip("about SQLite's write lock")
    database = runtime.db.engine.url.database
    assert database
    return Path(database)


@contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    holder = sqlite3.connect(path, isolation_level=None, timeout=PROMPT)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@contextmanager
def statements_of(runtime: Runtime) -> Iterator[tuple[list[str], threading.Event]]:
    """The SQL the app sends, in order, and an event set when a BEGIN IMMEDIATE is about to run."""
    sent: list[str] = []
    immediate = threading.Event()

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)
        if statement == "BEGIN IMMEDIATE":
            immediate.set()

    event.listen(runtime.db.engine, "before_cursor_execute", record)
    try:
        yield sent, immediate
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", record)


def test_authentication_does_not_wait_for_the_write_lock(
    client: TestClient, db: Session, database_file: Path
) -> None:
    user = make_user(db, username="waiter")
    token_headers = bearer(db, user)
    cookie_client = TestClient(client.app)
    csrf = log_in(cookie_client, "waiter")
    db.close()

    # The pool outermost: the lock is released before the pool waits for its request.
    with ThreadPoolExecutor(max_workers=1) as pool, write_lock_held(database_file):
        # The handler refuses the id before any statement of its own: nothing here needs the lock.
        by_token = pool.submit(client.put, "/api/v1/videos/not-a-video/like", headers=token_headers)
        response = by_token.result(timeout=PROMPT)
        assert (response.status_code, response.json()["code"]) == (404, "video_not_found")

        by_cookie = pool.submit(
            cookie_client.put, "/api/v1/videos/not-a-video/like", headers={"X-CSRF-Token": csrf}
        )
        response = by_cookie.result(timeout=PROMPT)
        assert (response.status_code, response.json()["code"]) == (404, "video_not_found")

        # The CSRF check still sees the session loaded by authentication.
        forged = pool.submit(cookie_client.put, "/api/v1/videos/1/like", headers={"X-CSRF-Token": "forged"})
        response = forged.result(timeout=PROMPT)
        assert (response.status_code, response.json()["code"]) == (403, "csrf_invalid")


def test_the_write_lock_is_taken_at_the_handlers_first_statement(
    client: TestClient, db: Session, runtime: Runtime, database_file: Path
) -> None:
    author, fan = make_user(db, username="author"), make_user(db, username="fan")
    video_id = make_ready_video(db, author).id
    db.commit()
    db.close()
    csrf = log_in(client, "fan")

    with (
        ThreadPoolExecutor(max_workers=1) as pool,
        statements_of(runtime) as (sent, immediate),
        write_lock_held(database_file),
    ):
        liking = pool.submit(client.put, f"/api/v1/videos/{video_id}/like", headers={"X-CSRF-Token": csrf})
        assert immediate.wait(PROMPT), f"no write transaction began: {sent}"
        before_writing = sent[: sent.index("BEGIN IMMEDIATE")]
        # Authentication ran (and ended) in a deferred transaction before the write lock was asked for.
        assert before_writing[:1] == ["BEGIN"], sent
        assert any("user_sessions" in statement for statement in before_writing), sent
        assert not liking.done()  # the handler waits for the lock the other connection holds

    response = liking.result(timeout=PROMPT)
    assert response.status_code == 200, response.text
    assert response.json() == {"liked": True, "likes": 1}
    with runtime.db.read_sessions() as check:
        assert check.scalar(select(Video.like_count).where(Video.id == video_id)) == 1
        assert check.scalar(select(VideoLike.user_id).where(VideoLike.video_id == video_id)) == fan.id


def test_a_profile_edit_by_the_authenticated_user_persists(
    client: TestClient, db: Session, runtime: Runtime, database_file: Path
) -> None:
    user = make_user(db, username="editor")
    token_headers = bearer(db, user)
    db.close()
    csrf = log_in(client, "editor")

    edited = client.patch("/api/v1/me", json={"bio": "by token", "is_private": True}, headers=token_headers)
    assert edited.status_code == 200, edited.text
    by_cookie = client.patch("/api/v1/me", json={"display_name": "Editor"}, headers={"X-CSRF-Token": csrf})
    assert by_cookie.status_code == 200, by_cookie.text

    with runtime.db.read_sessions() as check:
        stored = check.get(User, user.id)
        assert stored is not None
        assert (stored.bio, stored.is_private, stored.display_name) == ("by token", True, "Editor")
