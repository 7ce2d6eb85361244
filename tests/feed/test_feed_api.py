"""The feed API: For You pages (each video once a session, public ready videos only), Following
newest first for logged-in viewers only, and query counts that do not grow with the page size.
How For You ranks is tested in test_recommender.py."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from molodets.feed import queries as feed_queries
from molodets.runtime import Runtime
from molodets.videos.models import VideoStatus, Visibility
from tests.factories.accounts import bearer, log_in, make_user
from tests.factories.videos import make_ready_video
from tests.querycount import count_queries


def test_for_you_pages_each_video_once_a_session(client: TestClient, db: Session) -> None:
    anna, boris = make_user(db, username="anna"), make_user(db, username="boris")
    made = [make_ready_video(db, anna if n % 2 else boris, caption=f"clip {n}") for n in range(5)]

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v1/feed/for-you", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(str(video.id) for video in made)
    assert pages == 3
    first = client.get("/api/v1/feed/for-you").json()["items"][0]
    assert first["author"]["username"] in ("anna", "boris")
    assert [r["name"] for r in first["renditions"]] == ["720p", "480p", "360p"]
    assert first["placeholder"] == "#336699"


def test_only_public_ready_videos_are_listed(client: TestClient, db: Session) -> None:
    anna = make_user(db, username="anna")
    public = make_ready_video(db, anna)
    make_ready_video(db, anna, visibility=Visibility.PRIVATE)
    make_ready_video(db, anna, visibility=Visibility.FOLLOWERS)
    make_ready_video(db, anna, status=VideoStatus.PROCESSING)
    make_ready_video(db, anna, status=VideoStatus.FAILED)
    log_in(client, "anna")  # not even the author sees them in a feed
    ids = [item["id"] for item in client.get("/api/v1/feed/for-you").json()["items"]]
    assert ids == [str(public.id)]


def test_following_needs_a_logged_in_viewer(client: TestClient, db: Session) -> None:
    make_user(db, username="anna")
    response = client.get("/api/v1/feed/following")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "unauthenticated"
    log_in(client, "anna")
    assert client.get("/api/v1/feed/following").json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("merge_max", [200, 1], ids=["per-author merge", "one index scan"])
def test_following_lists_the_followed_creators_newest_first(
    client: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch, merge_max: int
) -> None:
    """Both plans of the Following feed give the same pages."""
    monkeypatch.setattr(feed_queries, "PER_AUTHOR_MERGE_MAX", merge_max)
    viewer, followed, other = make_user(db), make_user(db), make_user(db)
    also_followed = make_user(db)
    older = make_ready_video(db, followed)
    make_ready_video(db, other)  # not followed
    for_fans = make_ready_video(db, followed, visibility=Visibility.FOLLOWERS)
    make_ready_video(db, followed, visibility=Visibility.PRIVATE)
    make_ready_video(db, followed, status=VideoStatus.PROCESSING)
    newest = make_ready_video(db, also_followed)
    headers = bearer(db, viewer)
    client.put(f"/api/v1/users/{followed.username}/follow", headers=headers)
    client.put(f"/api/v1/users/{also_followed.username}/follow", headers=headers)
    seen, cursor = [], None
    for _ in range(3):
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/feed/following", params=params, headers=headers).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert seen == [str(newest.id), str(for_fans.id), str(older.id)]
    assert cursor is None


def test_for_you_leaves_out_people_blocked_either_way(client: TestClient, db: Session) -> None:
    viewer, blocker, blocked, fine = make_user(db), make_user(db), make_user(db), make_user(db)
    kept = make_ready_video(db, fine)
    make_ready_video(db, blocker)
    make_ready_video(db, blocked)
    client.put(f"/api/v1/users/{viewer.username}/block", headers=bearer(db, blocker))
    headers = bearer(db, viewer)
    client.put(f"/api/v1/users/{blocked.username}/block", headers=headers)
    items = client.get("/api/v1/feed/for-you", headers=headers).json()["items"]
    assert [item["id"] for item in items] == [str(kept.id)]
    assert len(client.get("/api/v1/feed/for-you").json()["items"]) == 3


def test_bad_cursor_and_limit_are_problems(client: TestClient) -> None:
    assert (
        client.get("/api/v1/feed/for-you", params={"cursor": "nonsense!"}).json()["code"] == "invalid_cursor"
    )
    assert client.get("/api/v1/feed/for-you", params={"limit": 0}).status_code == 422


def test_query_count_does_not_grow_with_the_page(client: TestClient, db: Session, runtime: Runtime) -> None:
    authors = [make_user(db, username=f"author{n}") for n in range(4)]
    for n in range(24):
        make_ready_video(db, authors[n % 4])
    assert client.get("/api/v1/feed/for-you").status_code == 200  # the process's catalogue figures
    runtime.cards.clear()  # but not the cards of that page: each measured page builds its own
    counts = []
    for limit in (2, 20):
        client.cookies.clear()  # a new guest each time: both pages read their candidates
        with count_queries(runtime.db.engine) as statements:
            body = client.get("/api/v1/feed/for-you", params={"limit": limit}).json()
        assert len(body["items"]) == limit
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 12, counts


def test_for_you_pages_take_turns(client: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """Builds in more threads at once only fight over the interpreter lock (docs/load.md): the
    rest wait for their turn on the event loop, and every request is answered. One at a time on
    SQLite; two on PostgreSQL, where a build also waits for the network."""
    author = make_user(db, username="busy")
    for n in range(3):
        make_ready_video(db, author, caption=f"clip {n}")
    db.commit()
    building, most = 0, 0
    lock = threading.Lock()
    real_build = feed_queries.recommender.build_page

    def observed_build(*args: Any, **kwargs: Any) -> Any:
        nonlocal building, most
        with lock:
            building += 1
            most = max(most, building)
        try:
            time.sleep(0.1)  # long enough for every request to be waiting by now
            return real_build(*args, **kwargs)
        finally:
            with lock:
                building -= 1

    monkeypatch.setattr(feed_queries.recommender, "build_page", observed_build)

    async def together() -> list[int]:  # one event loop, as a server has
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            answers = await asyncio.gather(*(http.get("/api/v1/feed/for-you") for _ in range(6)))
        return [answer.status_code for answer in answers]

    # Its own thread: the browser tests leave an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as thread:
        assert thread.submit(asyncio.run, together()).result() == [200] * 6
    assert most == (1 if db.get_bind().dialect.name == "sqlite" else 2)


def test_the_next_page_waits_for_the_viewers_last_events_but_no_one_else_does(
    client: TestClient, db: Session, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The player reports a play and asks for the next page at once: that page already knows
    (the video just played is not offered again while others are), however slowly the event
    writer writes; and while it waits, other viewers' pages are built (it waits out of turn)."""
    author = make_user(db, username="writer_slow")
    for n in range(12):
        make_ready_video(db, author, caption=f"clip {n}")
    db.commit()
    first = client.get("/api/v1/feed/for-you", params={"limit": 12}).json()["items"]
    played = first[0]["id"]
    writes_started = threading.Event()
    real_write = runtime.events._write

    def slow_write(taken: Any) -> None:
        writes_started.set()
        time.sleep(0.2)  # within the 0.25 s a page waits at most
        real_write(taken)

    monkeypatch.setattr(runtime.events, "_write", slow_write)
    # The page waits at most 0.25 s; on a busy machine the write after the 0.2 s sleep may take
    # longer than the 50 ms left, so here the wait may last a second (it ends when written).
    real_settle = runtime.events.settle
    monkeypatch.setattr(runtime.events, "settle", lambda viewer: real_settle(viewer, timeout=1.0))
    batch = [
        {"type": kind, "video_id": played, "ts": int(time.time() * 1000), "source": "for_you"}
        for kind in ("impression", "play")
    ]

    guest = dict(client.cookies.items())

    async def report_then_pages() -> tuple[list[str], float, float]:
        transport = httpx.ASGITransport(app=client.app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://testserver", cookies=guest) as player,
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as someone_else,
        ):
            assert (await player.post("/api/v1/events", json={"events": batch})).status_code == 202
            started = time.monotonic()
            mine = asyncio.create_task(player.get("/api/v1/feed/for-you", params={"limit": 11}))
            await asyncio.to_thread(writes_started.wait, 5)
            assert (await someone_else.get("/api/v1/feed/for-you")).status_code == 200
            other_took = time.monotonic() - started
            page = (await mine).json()["items"]
            return [item["id"] for item in page], other_took, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=1) as thread:  # its own loop, as a server has
        page, other_took, mine_took = thread.submit(asyncio.run, report_then_pages()).result()
    assert mine_took >= 0.2  # it waited for the write
    assert played not in page
    assert len(page) == 11
    assert other_took < 0.2  # built meanwhile: anything behind the wait ends after the 0.2 s sleep
