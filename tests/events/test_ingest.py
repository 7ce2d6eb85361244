"""Watch events: a batch is stored in one go, impossible events are dropped and counted, views
count once per viewer per video per day, guests get an id, and beacons (forms) work too."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from molodets.db import utcnow
from molodets.events import tasks
from molodets.events.models import EventType, Source, ViewMark, WatchEvent
from molodets.events.service import DAY_MS
from molodets.events.tasks import forget_old_view_marks
from molodets.feed.models import ViewerProfile
from molodets.feed.recommender import SEEN_DAYS
from molodets.ids import first_id_at, new_id
from molodets.runtime import Runtime
from molodets.videos.models import Video
from tests.factories.accounts import bearer, log_in, make_user
from tests.factories.videos import make_ready_video
from tests.querycount import count_queries
from tests.videos.test_pipeline import run_job_directly


def now_ms() -> int:
    return int(time.time() * 1000)


def event(video: Video, kind: str = "play", **fields: object) -> dict[str, object]:
    return {"type": kind, "video_id": str(video.id), "ts": now_ms(), "source": "for_you", **fields}


def views_of(client: TestClient, video: Video) -> int:
    return int(client.get(f"/api/v1/videos/{video.id}").json()["counts"]["views"])


@pytest.fixture
def client(flushing_client: TestClient) -> TestClient:
    """Every test here reads what it posted: event posts return once written."""
    return flushing_client


def test_a_batch_is_stored_and_counts_views_once_a_day(
    client: TestClient, db: Session, runtime: Runtime
) -> None:
    video = make_ready_video(db, make_user(db))
    viewer = make_user(db)
    headers = bearer(db, viewer)
    batch = [
        event(video, "impression"),
        event(video, "play"),
        event(video, "progress", watched_ms=1500, loops=0),
        event(video, "complete", watched_ms=video.duration_ms),
        event(video, "replay", loops=1),
        event(video, "play"),  # the replay's play: not a second view
    ]
    response = client.post("/api/v1/events", params={"wait": "true"}, json={"events": batch}, headers=headers)
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 6, "dropped": {}, "written": True}
    assert views_of(client, video) == 1
    again = client.post("/api/v1/events", json={"events": [event(video)]}, headers=headers)
    assert again.json()["accepted"] == 1
    assert views_of(client, video) == 1  # the same viewer, the same day

    rows = db.scalars(select(WatchEvent).order_by(WatchEvent.id)).all()
    assert [row.type for row in rows[:3]] == [EventType.IMPRESSION, EventType.PLAY, EventType.PROGRESS]
    assert {row.viewer for row in rows} == {f"u{viewer.id}"}
    assert rows[2].watched_ms == 1500
    assert rows[0].source == Source.FOR_YOU

    other = client.post("/api/v1/events", json={"events": [event(video)]}, headers=bearer(db, make_user(db)))
    assert other.status_code == 202
    assert views_of(client, video) == 2


def test_impossible_events_are_dropped_and_counted(client: TestClient, db: Session, runtime: Runtime) -> None:
    video = make_ready_video(db, make_user(db))
    duration = int(video.duration_ms or 0)
    batch = [
        event(video),
        {"type": "play", "video_id": "123456789", "ts": now_ms()},
        event(video, ts=now_ms() - 3 * 24 * 3600 * 1000),
        event(video, ts=now_ms() + 3600 * 1000),
        event(video, "progress", watched_ms=duration * 5 + 60_000, loops=1),
        event(video, "progress", watched_ms=duration * 3, loops=2),  # looped: possible
    ]
    headers = bearer(db, make_user(db))
    response = client.post("/api/v1/events", params={"wait": "true"}, json={"events": batch}, headers=headers)
    assert response.status_code == 202
    assert response.json() == {
        "accepted": 2,
        "dropped": {"unknown_video": 1, "stale": 1, "future": 1, "impossible_watch": 1},
        "written": True,
    }
    assert db.scalar(select(func.count()).select_from(WatchEvent)) == 2


def test_malformed_batches_are_refused_whole(client: TestClient, db: Session, runtime: Runtime) -> None:
    video = make_ready_video(db, make_user(db))
    headers = bearer(db, make_user(db))
    for body, in_detail in (
        ({"events": []}, "events"),
        ({"events": [event(video)] * 101}, "events"),
        ({"events": [event(video, "teleport")]}, "type"),
        ({"events": [{"type": "play", "video_id": "x1", "ts": 1}]}, "video_id"),
        ({"events": [event(video, watched_ms=-5)]}, "watched_ms"),
    ):
        response = client.post("/api/v1/events", json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.json()["code"] == "invalid_events"
        assert in_detail in response.json()["detail"]
    broken = client.post(
        "/api/v1/events", content=b"{not json", headers=headers | {"Content-Type": "application/json"}
    )
    assert (broken.status_code, broken.json()["code"]) == (422, "invalid_events")
    assert db.scalar(select(func.count()).select_from(WatchEvent)) == 0


def test_guests_get_an_id_and_keep_it(client: TestClient, db: Session, runtime: Runtime) -> None:
    video = make_ready_video(db, make_user(db))
    first = client.post("/api/v1/events", json={"events": [event(video)]})
    assert first.status_code == 202
    guest = first.cookies["molodets_guest"]
    assert len(guest) == 22
    assert "httponly" in first.headers["set-cookie"].lower()
    second = client.post("/api/v1/events", json={"events": [event(video, "complete")]})
    assert "set-cookie" not in second.headers
    assert set(db.scalars(select(WatchEvent.viewer))) == {f"a{guest}"}
    assert views_of(client, video) == 1


def test_a_beacon_sends_a_form_with_its_csrf_token(client: TestClient, db: Session, runtime: Runtime) -> None:
    video = make_ready_video(db, make_user(db))
    make_user(db, username="watcher")
    csrf = log_in(client, "watcher")
    batch = json.dumps({"events": [event(video)]})
    refused = client.post("/api/v1/events", data={"events": batch})
    assert (refused.status_code, refused.json()["code"]) == (403, "csrf_missing")
    sent = client.post("/api/v1/events", data={"events": batch, "csrf_token": csrf})
    assert sent.status_code == 202, sent.text
    assert sent.json()["accepted"] == 1


def test_a_flood_from_one_viewer_is_cut_off(client: TestClient, db: Session, runtime: Runtime) -> None:
    video = make_ready_video(db, make_user(db))
    headers = bearer(db, make_user(db))
    batch = {"events": [event(video, "progress", watched_ms=100)] * 100}
    statuses = [client.post("/api/v1/events", json=batch, headers=headers).status_code for _ in range(13)]
    assert statuses[:12] == [202] * 12
    assert statuses[12] == 429
    assert db.scalar(select(func.count()).select_from(WatchEvent)) == 1200


def test_ingest_runs_a_fixed_number_of_queries(client: TestClient, db: Session, runtime: Runtime) -> None:
    videos = [make_ready_video(db, make_user(db)) for _ in range(5)]
    headers = bearer(db, make_user(db))
    counts = []
    for size in (2, 50):
        batch = {
            "events": [
                event(videos[n % 5], "play" if n % 2 else "progress", watched_ms=10) for n in range(size)
            ]
        }
        with count_queries(runtime.db.engine) as statements:
            assert client.post("/api/v1/events", json=batch, headers=headers).status_code == 202
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


def test_old_view_marks_are_forgotten(client: TestClient, db: Session, runtime: Runtime) -> None:
    video = make_ready_video(db, make_user(db))
    headers = bearer(db, make_user(db))
    yesterday = now_ms() - 23 * 3600 * 1000
    body = {"events": [event(video, ts=yesterday)]}
    client.post("/api/v1/events", json=body, headers=headers)
    today = now_ms() // DAY_MS
    db.add(ViewMark(viewer="u1", video_id=video.id, day=today - SEEN_DAYS - 1))
    db.add(ViewMark(viewer="u1", video_id=video.id, day=today - SEEN_DAYS))
    db.commit()
    run_job_directly(runtime, forget_old_view_marks)
    db.expire_all()
    assert sorted(db.scalars(select(ViewMark.day))) == [today - SEEN_DAYS, yesterday // DAY_MS]
    db.rollback()  # let the event writer have the database
    # The kept mark still stops the same play counting twice.
    client.post("/api/v1/events", json=body, headers=headers)
    assert client.get(f"/api/v1/videos/{body['events'][0]['video_id']}").json()["counts"]["views"] == 1


def test_watch_events_past_their_retention_are_forgotten_in_chunks(
    db: Session, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    days = runtime.settings.events_retention_days
    now = now_ms()
    old = [first_id_at(now - (days + 1) * DAY_MS) + n for n in range(7)]
    kept = [first_id_at(now - (days - 1) * DAY_MS), new_id()]
    row = {"viewer": "u1", "video_id": 1, "type": 1, "client_ts": now, "received_at": utcnow()}
    db.execute(insert(WatchEvent), [{**row, "id": event_id} for event_id in old + kept])
    db.commit()
    monkeypatch.setattr(tasks, "FORGET_CHUNK", 3)  # three chunks, the last one short
    run_job_directly(runtime, tasks.forget_old_watch_events)
    db.expire_all()
    assert sorted(db.scalars(select(WatchEvent.id))) == kept


def test_a_guest_who_signs_up_keeps_their_history(client: TestClient, db: Session, runtime: Runtime) -> None:
    video = make_ready_video(db, make_user(db), caption="#горы", duration_ms=20_000)
    db.rollback()
    assert (
        client.post("/api/v1/events", json={"events": [event(video), event(video, "complete")]}).status_code
        == 202
    )
    guest = client.cookies["molodets_guest"]
    signup = client.post("/api/v1/accounts", json={"username": "newbie", "password": "correct horse battery"})
    assert signup.status_code == 201, signup.text
    assert "molodets_guest" not in client.cookies  # the next guest on this browser starts afresh
    user_id = int(signup.json()["id"])
    db.expire_all()
    assert set(db.scalars(select(WatchEvent.viewer))) == {f"u{user_id}"}
    assert set(db.scalars(select(ViewMark.viewer))) == {f"u{user_id}"}  # played: not offered again
    # What the feed learned about the guest is the account's now.
    assert db.get(ViewerProfile, f"a{guest}") is None
    profile = db.get(ViewerProfile, f"u{user_id}")
    assert profile is not None
    assert profile.state["t"]["горы"][1] == pytest.approx(1.5)
