"""Notifications: who hears of what, grouping ("Ivan and 5 others"), Russian plurals, unread
counts, marking read, and a fixed query count per inbox page."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from molodets.notifications.models import Notification
from molodets.notifications.render import describe
from molodets.runtime import Runtime
from molodets.videos import tasks
from tests.factories.accounts import bearer, make_user
from tests.factories.videos import make_ready_video
from tests.mediaclips import make_clip
from tests.querycount import count_queries
from tests.videos.test_pipeline import create_video, run_job_directly, upload_file

RU = {"Accept-Language": "ru"}
EN = {"Accept-Language": "en"}


def inbox(client: TestClient, headers: dict[str, str], **params: object) -> dict:
    response = client.get("/api/v1/notifications", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def like(client: TestClient, video_id: int, headers: dict[str, str]) -> None:
    assert client.put(f"/api/v1/videos/{video_id}/like", headers=headers).status_code == 200


def test_likes_group_into_one_row_that_counts_each_person_once(client: TestClient, db: Session) -> None:
    author = make_user(db, username="author")
    video = make_ready_video(db, author)
    fans = [make_user(db, display_name=f"Fan {n}") for n in range(6)]
    fan_headers = [bearer(db, fan) for fan in fans]
    for headers in fan_headers:
        like(client, video.id, headers)
    # One fan unlikes and likes again: still six people.
    assert client.delete(f"/api/v1/videos/{video.id}/like", headers=fan_headers[0]).status_code == 200
    like(client, video.id, fan_headers[0])

    mine = bearer(db, author) | EN
    page = inbox(client, mine)
    assert page["unread_count"] == 1
    [item] = page["items"]
    assert (item["kind"], item["actor_count"], item["read"]) == ("like", 6, False)
    assert item["actor"]["display_name"] == "Fan 5"  # the latest new actor leads
    assert item["text"] == "Fan 5 and 5 others liked your video"
    assert item["video"]["page_url"] == f"/@author/video/{video.id}"
    assert inbox(client, mine | RU)["items"][0]["text"] == "Fan 5 и ещё 5 человек оценили ваше видео"


def test_own_actions_notify_no_one(client: TestClient, db: Session) -> None:
    author = make_user(db)
    video = make_ready_video(db, author)
    headers = bearer(db, author)
    like(client, video.id, headers)
    response = client.post(f"/api/v1/videos/{video.id}/comments", json={"text": "mine"}, headers=headers)
    assert response.status_code == 201
    assert inbox(client, headers) == {"items": [], "next_cursor": None, "unread_count": 0}


@pytest.mark.parametrize(
    ("others", "russian"),
    [
        (1, "Иван и ещё 1 человек оценили ваше видео"),
        (2, "Иван и ещё 2 человека оценили ваше видео"),
        (5, "Иван и ещё 5 человек оценили ваше видео"),
        (21, "Иван и ещё 21 человек оценили ваше видео"),
        (22, "Иван и ещё 22 человека оценили ваше видео"),
        (1000, "Иван и ещё 1 000 человек оценили ваше видео"),
    ],
)
def test_grouped_sentences_use_russian_plural_forms(others: int, russian: str) -> None:
    text = describe(kind="like", actor_name="Иван", actor_count=others + 1, comment_text=None, locale="ru")
    assert text.replace("\u00a0", " ").replace("\u202f", " ") == russian
    english = describe(kind="like", actor_name="Ivan", actor_count=others + 1, comment_text=None, locale="en")
    assert english.startswith(f"Ivan and {others:,} other")


def test_comments_replies_and_mentions_reach_the_right_people(client: TestClient, db: Session) -> None:
    author, ann = make_user(db, username="author"), make_user(db, username="ann")
    bob = make_user(db, username="bob")
    video = make_ready_video(db, author)
    url = f"/api/v1/videos/{video.id}/comments"
    top = client.post(url, json={"text": "Great @bob"}, headers=bearer(db, ann)).json()
    reply = client.post(url, json={"text": "thanks", "parent_id": top["id"]}, headers=bearer(db, author))
    assert reply.status_code == 201

    author_items = inbox(client, bearer(db, author) | EN)["items"]
    assert [(i["kind"], i["text"]) for i in author_items] == [("comment", "ann commented: Great @bob")]
    assert [i["kind"] for i in inbox(client, bearer(db, bob))["items"]] == ["mention"]
    ann_items = inbox(client, bearer(db, ann))["items"]
    assert [(i["kind"], i["comment_id"]) for i in ann_items] == [("reply", reply.json()["id"])]

    # Deleting the comment takes its notifications (and its thread's) with it.
    assert client.delete(f"/api/v1/comments/{top['id']}", headers=bearer(db, ann)).status_code == 204
    assert inbox(client, bearer(db, author))["items"] == []
    assert inbox(client, bearer(db, bob))["items"] == []
    assert inbox(client, bearer(db, ann))["items"] == []


def test_follows_and_comment_likes_group(client: TestClient, db: Session) -> None:
    star = make_user(db, username="star")
    for n in range(3):
        fan = make_user(db, display_name=f"Fan {n}")
        assert client.put("/api/v1/users/star/follow", headers=bearer(db, fan)).status_code == 200
    [item] = inbox(client, bearer(db, star) | EN)["items"]
    assert (item["kind"], item["actor_count"]) == ("follow", 3)
    assert item["text"] == "Fan 2 and 2 others started following you"


def test_marking_read_counts_down_and_starts_new_groups(client: TestClient, db: Session) -> None:
    author = make_user(db)
    first, second = make_ready_video(db, author), make_ready_video(db, author)
    mine = bearer(db, author)
    like(client, first.id, bearer(db, make_user(db)))
    like(client, second.id, bearer(db, make_user(db)))
    page = inbox(client, mine)
    assert page["unread_count"] == 2
    older = page["items"][1]["id"]

    # Marking up to the older one leaves the newer unread.
    assert client.post("/api/v1/notifications/read", json={"up_to": older}, headers=mine).status_code == 204
    assert client.get("/api/v1/notifications/unread-count", headers=mine).json() == {"unread_count": 1}
    assert client.post("/api/v1/notifications/read", json={}, headers=mine).status_code == 204
    assert inbox(client, mine)["unread_count"] == 0

    # A like on a read group opens a new unread one; the old one keeps its count.
    like(client, first.id, bearer(db, make_user(db)))
    page = inbox(client, mine)
    assert page["unread_count"] == 1
    assert [(i["actor_count"], i["read"]) for i in page["items"]] == [(1, False), (1, True), (1, True)]


def test_bad_input_is_refused(client: TestClient, db: Session) -> None:
    mine = bearer(db, make_user(db))
    assert client.get("/api/v1/notifications").status_code == 401
    assert client.get("/api/v1/notifications/stream").status_code == 401
    missing = client.post("/api/v1/notifications/read", json={"up_to": "123"}, headers=mine)
    assert (missing.status_code, missing.json()["code"]) == (404, "notification_not_found")
    malformed = client.post("/api/v1/notifications/read", json={"up_to": "x"}, headers=mine)
    assert malformed.status_code == 422
    assert malformed.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/notifications", params={"limit": 0}, headers=mine).status_code == 422


def test_the_inbox_runs_a_fixed_number_of_queries(client: TestClient, db: Session, runtime: Runtime) -> None:
    author = make_user(db)
    mine = bearer(db, author)
    videos = [make_ready_video(db, author) for _ in range(12)]
    for video in videos:
        fan = make_user(db)
        fan_headers = bearer(db, fan)
        like(client, video.id, fan_headers)
        comment = client.post(f"/api/v1/videos/{video.id}/comments", json={"text": "hi"}, headers=fan_headers)
        assert comment.status_code == 201
    counts = []
    for limit in (2, 20):
        with count_queries(runtime.db.engine) as statements:
            assert len(inbox(client, mine, limit=limit)["items"]) == limit
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    assert db.scalar(select(Notification.id).limit(1)) is not None


def test_a_published_caption_tells_the_people_it_mentions(
    client: TestClient, db: Session, runtime: Runtime, tmp_path: Path
) -> None:
    """Mentions in a caption notify once the video is out, and only if it is public; someone who
    blocked the author hears nothing."""
    author = make_user(db, username="author")
    ann, bob = make_user(db, username="ann"), make_user(db, username="bob")
    headers = bearer(db, author)
    assert client.put("/api/v1/users/author/block", headers=bearer(db, bob)).status_code == 204
    clip = tmp_path / "clip.mp4"
    make_clip(clip, width=320, height=568, seconds=1.0, fps=24)
    public = create_video(client, headers, upload_file(client, headers, clip), caption="Привет @ann и @bob")
    private = create_video(
        client, headers, upload_file(client, headers, clip), caption="Тайна @ann", visibility="private"
    )
    assert inbox(client, bearer(db, ann))["items"] == []  # nothing before it is published
    for video in (public, private):
        run_job_directly(runtime, tasks.publish_first, int(str(video["id"])))
    items = inbox(client, bearer(db, ann) | EN)["items"]
    assert [(i["kind"], i["video"]["id"], i["text"]) for i in items] == [
        ("mention", public["id"], "author mentioned you in a video")
    ]
    assert inbox(client, bearer(db, bob))["items"] == []
