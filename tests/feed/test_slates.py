"""A viewer's candidates are read once and reused for the pages that follow (`SlateCache`):
what the viewer did still changes the very next page, what became invisible is never shown,
and a new upload reaches a feed within `SLATE_SECONDS`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.db import utcnow
from molodets.feed.recommender import SLATE_SECONDS, SlateCache, ViewerRef, build_page
from molodets.social.models import Block
from molodets.videos.models import Video, VideoStatus, Visibility
from tests.factories.accounts import bearer, make_user
from tests.factories.videos import make_ready_video
from tests.feed.test_recommender import now_ms, record
from tests.querycount import count_queries


@contextmanager
def candidate_reads(db: Session) -> Iterator[list[str]]:
    """The candidate statements (the sources' UNION ALL, co-engagement among them) run meanwhile."""
    reads: list[str] = []
    with count_queries(db.get_bind()) as sent:
        yield reads
    reads += [statement for statement in sent if "UNION ALL" in statement and "co_engagement" in statement]


@pytest.fixture
def catalogue(db: Session) -> list[Video]:
    """Sixty videos of twelve creators, published two days ago (past their exploration):
    enough for several pages from one slate."""
    creators = [make_user(db, username=f"maker{n}") for n in range(12)]
    videos = [
        make_ready_video(db, creators[n % 12], caption=f"#{'cooking' if n % 2 else 'gaming'} {n}")
        for n in range(60)
    ]
    for video in videos:
        video.published_at = utcnow() - timedelta(days=2)
    db.commit()
    return videos


def test_the_pages_after_the_first_reuse_the_candidates(db: Session, catalogue: list[Video]) -> None:
    slates = SlateCache()
    viewer = ViewerRef(key="aslate")
    rng = np.random.default_rng(1)
    with candidate_reads(db) as reads:
        first = build_page(db, viewer=viewer, limit=5, slates=slates, rng=rng)
        second = build_page(db, viewer=viewer, limit=5, cursor=first.next_cursor, slates=slates, rng=rng)
    assert len(reads) == 1
    assert len(second.items) == 5
    assert not set(first.items) & set(second.items)
    later = now_ms() + (SLATE_SECONDS + 1) * 1000
    with candidate_reads(db) as reads:
        build_page(db, viewer=viewer, limit=5, cursor=second.next_cursor, slates=slates, now_ms=later)
    assert len(reads) == 1, "an expired slate is read afresh"


def test_a_new_session_from_the_same_slate_repeats_nothing_played(
    db: Session, catalogue: list[Video]
) -> None:
    slates = SlateCache()
    viewer = ViewerRef(key="areturning")
    first = build_page(db, viewer=viewer, limit=10, slates=slates)
    second = build_page(db, viewer=viewer, limit=10, cursor=first.next_cursor, slates=slates)
    by_id = {video.id: video for video in catalogue}
    record(db, viewer.key, *(("play", by_id[video_id], {}) for video_id in [*first.items, *second.items]))
    with candidate_reads(db) as reads:
        again = build_page(db, viewer=viewer, limit=10, slates=slates)  # the app opened anew: no cursor
    assert reads == []
    assert not {*first.items, *second.items} & set(again.items)


def test_a_slate_ends_when_fewer_than_three_pages_are_left(db: Session, catalogue: list[Video]) -> None:
    slates = SlateCache()
    viewer = ViewerRef(key="adeep")
    cursor, served = None, set()
    with candidate_reads(db) as reads:
        for _ in range(12):  # 60 videos, 5 a page
            page = build_page(db, viewer=viewer, limit=5, cursor=cursor, slates=slates)
            assert not served & set(page.items)
            served |= set(page.items)
            cursor = page.next_cursor
    assert served == {video.id for video in catalogue}
    assert 2 <= len(reads) < 12


def test_what_became_invisible_is_never_served_from_a_slate(db: Session, catalogue: list[Video]) -> None:
    slates = SlateCache()
    viewer_user = make_user(db, username="looker")
    db.commit()
    viewer = ViewerRef(key=f"u{viewer_user.id}", user=viewer_user)
    first = build_page(db, viewer=viewer, limit=5, slates=slates)
    rest = [video for video in catalogue if video.id not in first.items]
    rest[0].visibility = Visibility.PRIVATE.value
    rest[1].status = VideoStatus.FAILED.value
    db.delete(rest[4])
    blocked_author = rest[2].author_id
    db.add(Block(blocker_id=viewer_user.id, blocked_id=blocked_author))
    author = db.get(User, rest[3].author_id)
    assert author is not None
    author.is_private = True
    db.commit()
    hidden = {rest[0].id, rest[1].id, rest[4].id}
    hidden_authors = {blocked_author, author.id}
    author_of = {video.id: video.author_id for video in catalogue}
    cursor = first.next_cursor
    for _ in range(8):
        page = build_page(db, viewer=viewer, limit=5, cursor=cursor, slates=slates)
        assert len(page.items) == 5
        assert not hidden & set(page.items)
        assert not hidden_authors & {author_of[video_id] for video_id in page.items}
        cursor = page.next_cursor


def test_a_new_upload_reaches_a_cached_feed_once_its_slate_expires(
    db: Session, catalogue: list[Video]
) -> None:
    slates = SlateCache()
    viewer = ViewerRef(key="afresh")
    start = now_ms()
    first = build_page(db, viewer=viewer, limit=5, slates=slates, now_ms=start)
    upload = make_ready_video(db, make_user(db, username="newcomer"), caption="#news just now")
    db.commit()
    # While the slate lasts the upload is not among its candidates; after, it takes a first-hour slot.
    soon = build_page(
        db, viewer=viewer, limit=5, cursor=first.next_cursor, slates=slates, now_ms=start + 5_000
    )
    assert upload.id not in soon.items
    later = build_page(
        db,
        viewer=viewer,
        limit=5,
        cursor=soon.next_cursor,
        slates=slates,
        now_ms=start + SLATE_SECONDS * 1000,
    )
    assert upload.id in later.items


def test_a_viewers_reactions_reshape_the_next_page_from_the_same_slate(
    flushing_client: TestClient, db: Session, catalogue: list[Video]
) -> None:
    headers = bearer(db, make_user(db, username="swiper"))
    db.rollback()  # leave the database to the event writer
    first = flushing_client.get("/api/v1/feed/for-you", params={"limit": 6}, headers=headers).json()
    batch = []
    for item in first["items"]:  # turned away at once: no positive, so the slate stays
        batch += [
            {"type": "impression", "video_id": item["id"], "ts": now_ms()},
            {"type": "skip", "video_id": item["id"], "ts": now_ms(), "watched_ms": 400},
            {"type": "not_interested", "video_id": item["id"], "ts": now_ms()},
        ]
    assert flushing_client.post("/api/v1/events", json={"events": batch}, headers=headers).status_code == 202
    with candidate_reads(db) as reads:
        following = flushing_client.get(
            "/api/v1/feed/for-you", params={"limit": 6, "cursor": first["next_cursor"]}, headers=headers
        ).json()
    assert reads == []
    assert len(following["items"]) == 6
    # The first page's creators are about half the catalogue's: unlearned, half the next page.
    turned_away = {item["author"]["id"] for item in first["items"]}
    again = [item for item in following["items"] if item["author"]["id"] in turned_away]
    assert len(again) <= 1, again


def test_a_slate_left_with_turned_away_creators_only_is_read_afresh(
    db: Session, catalogue: list[Video]
) -> None:
    slates = SlateCache()
    viewer = ViewerRef(key="apicky")
    first = build_page(db, viewer=viewer, limit=5, slates=slates)
    one_each = {video.author_id: video for video in catalogue}
    record(db, viewer.key, *(("not_interested", video, {}) for video in list(one_each.values())[:10]))
    with candidate_reads(db) as reads:
        build_page(db, viewer=viewer, limit=5, cursor=first.next_cursor, slates=slates)
    assert len(reads) == 1, "two creators' videos are fewer than three pages"


def test_the_cache_keeps_the_latest_viewers_and_drops_expired_slates(
    db: Session, catalogue: list[Video]
) -> None:
    slates = SlateCache(capacity=2)
    start = now_ms()
    for n in range(3):
        build_page(db, viewer=ViewerRef(key=f"a{n}"), limit=5, slates=slates, now_ms=start)
    assert len(slates) == 2
    assert slates.get(ViewerRef(key="a0"), start, ()) is None
    build_page(
        db, viewer=ViewerRef(key="a3"), limit=5, slates=slates, now_ms=start + SLATE_SECONDS * 1000 + 1
    )
    assert len(slates) == 1
