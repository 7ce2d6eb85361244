"""Counters stay exact under real concurrency: 200 distinct viewers like and unlike one video at
once through a live server (threads of requests against uvicorn, on SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from molodets.accounts import passwords
from molodets.app import create_app
from molodets.runtime import Runtime
from molodets.social.models import Follow, VideoLike
from molodets.videos.models import Video
from tests.factories.accounts import DEFAULT_PASSWORD, bearer, make_user
from tests.factories.videos import make_ready_video
from tests.uploads.support import LiveServer

VIEWERS = 200


def send(http: httpx.Client, method: str, url: str) -> int:
    """One request as a well-behaved client sends it: a 503 (SQLite's writer queue longer than
    its busy timeout on a loaded machine) is retried, as its Retry-After asks."""
    for _ in range(5):
        status = http.request(method, url).status_code
        if status != 503:
            return status
    return status


@pytest.fixture
def live(runtime: Runtime) -> Iterator[str]:
    server = LiveServer(create_app(runtime)).start()
    yield server.url
    server.stop()


@pytest.fixture
def viewers(db: Session, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, str]]:
    """200 accounts with tokens. They are made by the real sign-up, with one real argon2 hash
    reused: hashing 200 times would spend half a minute on what is not under test."""
    known = passwords.hash_password(DEFAULT_PASSWORD)
    monkeypatch.setattr(passwords, "hash_password", lambda _password: known)
    return [bearer(db, make_user(db)) for _ in range(VIEWERS)]


def test_concurrent_likes_and_unlikes_leave_the_exact_count(
    live: str, db: Session, viewers: list[dict[str, str]]
) -> None:
    author = make_user(db, username="popular")
    video = make_ready_video(db, author)
    url = f"{live}/api/v1/videos/{video.id}/like"

    def act(index: int) -> list[int]:
        """Every viewer likes; every third then unlikes; every fifth likes twice more."""
        headers = viewers[index]
        with httpx.Client(timeout=60, headers=headers) as http:
            codes = [send(http, "PUT", url)]
            if index % 3 == 0:
                codes.append(send(http, "DELETE", url))
            if index % 5 == 0:
                codes += [send(http, "PUT", url), send(http, "PUT", url)]
            return codes

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(act, range(VIEWERS)))
    assert {code for codes in results for code in codes} == {200}

    expected = sum(1 for i in range(VIEWERS) if i % 3 != 0 or i % 5 == 0)
    db.expire_all()
    rows = db.scalar(select(func.count()).select_from(VideoLike).where(VideoLike.video_id == video.id))
    assert rows == expected
    assert db.scalar(select(Video.like_count).where(Video.id == video.id)) == expected
    db.refresh(author)
    assert author.like_count == expected


def test_concurrent_follows_of_one_creator_are_exact(
    live: str, db: Session, viewers: list[dict[str, str]]
) -> None:
    creator = make_user(db, username="star")
    url = f"{live}/api/v1/users/{creator.username}/follow"

    def act(index: int) -> int:
        with httpx.Client(timeout=60, headers=viewers[index]) as http:
            status = send(http, "PUT", url)
            if index % 4 == 0:
                status = max(status, send(http, "DELETE", url))
            return status

    with ThreadPoolExecutor(max_workers=32) as pool:
        assert set(pool.map(act, range(VIEWERS))) == {200}
    expected = VIEWERS - len(range(0, VIEWERS, 4))
    db.expire_all()
    assert (
        db.scalar(select(func.count()).select_from(Follow).where(Follow.followee_id == creator.id))
        == expected
    )
    db.refresh(creator)
    assert creator.follower_count == expected
