"""From a finished upload to a playable video, through the real jobs and the real ffmpeg."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import structlog
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.jobs import JobContext
from molodets.runtime import Runtime
from molodets.uploads import service as uploads
from molodets.videos import tasks
from molodets.videos.models import Video
from tests.factories.accounts import make_user
from tests.mediaclips import make_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "vertical.mp4", width=540, height=960, seconds=2.0)


def bearer(db: Session, user: User) -> dict[str, str]:
    from molodets.accounts import service

    _, secret = service.do_create_token(db, user=user, name="test")
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


def upload_file(client: TestClient, headers: dict[str, str], path: Path) -> str:
    with path.open("rb") as handle:
        response = client.post(
            "/api/v1/uploads/simple", files={"file": (path.name, handle, "video/mp4")}, headers=headers
        )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def create_video(
    client: TestClient, headers: dict[str, str], upload_id: str, **fields: object
) -> dict[str, object]:
    response = client.post("/api/v1/videos", json={"upload_id": upload_id, **fields}, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def run_job_directly(runtime: Runtime, job: object, *args: object) -> None:
    """One job run in this thread with its own committed transaction, like a worker does."""
    with runtime.db.sessions() as session:
        ctx = JobContext(
            session=session, runtime=runtime, job_id="test", attempt=0, log=structlog.get_logger()
        )
        job(ctx, *args)  # type: ignore[operator]
        session.commit()


def make_scratch(runtime: Runtime, name: str) -> Path:
    folder = runtime.settings.data_dir / "work" / name
    folder.mkdir(parents=True)
    (folder / "720p.mp4.part").write_bytes(b"partial")
    return folder


def test_upload_to_ready_video_with_first_rendition_then_ladder(
    client: TestClient, db: Session, runtime: Runtime, clip: Path
) -> None:
    user = make_user(db, username="maker")
    headers = bearer(db, user)
    created = create_video(
        client, headers, upload_file(client, headers, clip), caption="Первое видео #привет #Hello @friend"
    )
    assert created["status"] == "processing"
    assert created["hashtags"] == ["привет", "hello"]
    assert created["mentions"] == ["friend"]
    video_id = int(str(created["id"]))
    # Scratch folders of runs killed on this worker, whose retries ran elsewhere: one abandoned
    # a day ago, one that a live run on another worker thread is still writing.
    abandoned, live = (make_scratch(runtime, name) for name in ("video-1", "video-2"))
    day_ago = time.time() - 86_400
    for path in (abandoned, *abandoned.iterdir()):
        os.utime(path, (day_ago, day_ago))

    run_job_directly(runtime, tasks.publish_first, video_id)
    assert not abandoned.exists()
    assert live.exists()
    shutil.rmtree(live)
    published = client.get(f"/api/v1/videos/{video_id}", headers=headers).json()
    assert published["status"] == "ready"
    assert published["stage"] == "ladder"
    assert len(published["renditions"]) == 1
    assert published["poster_url"]
    assert published["placeholder"]
    # Anyone can watch it now, before the ladder exists.
    first_url = published["renditions"][0]["url"]
    assert TestClient(client.app).get(first_url).status_code == 200

    runtime.jobs.drain()  # the ladder; not the delayed sweep
    done = client.get(f"/api/v1/videos/{video_id}", headers=headers).json()
    assert done["stage"] == "done"
    assert done["progress"] == 100
    assert done["duration_ms"] == pytest.approx(2000, abs=150)
    assert (done["width"], done["height"]) == (540, 960)
    assert [r["height"] for r in done["renditions"]] == sorted(
        (r["height"] for r in done["renditions"]), reverse=True
    )
    assert max(r["width"] for r in done["renditions"]) <= 540  # never upscaled
    assert done["preview_url"]
    # A page handed the first rendition's URL before the ladder landed can still play it...
    assert TestClient(client.app).get(first_url).status_code == 200
    # ...until the delayed sweep removes it.
    runtime.jobs.drain(include_scheduled=True)
    keys = set(runtime.storage.list(f"videos/{video_id}/"))
    assert not any(key.endswith("/first.mp4") for key in keys), keys
    # The upload's file is gone once the ladder no longer needs it.
    assert not uploads.upload_path(runtime.settings, _upload_id(db, video_id)).exists()


def _upload_id(db: Session, video_id: int) -> int:
    db.expire_all()
    video = db.get(Video, video_id)
    assert video is not None
    assert video.upload_id is not None
    return video.upload_id


def test_media_is_served_with_ranges_and_cache_headers(
    client: TestClient, db: Session, runtime: Runtime, clip: Path
) -> None:
    user = make_user(db, username="ranger")
    headers = bearer(db, user)
    video_id = create_video(client, headers, upload_file(client, headers, clip))["id"]
    runtime.jobs.drain(include_scheduled=True)
    rendition = client.get(f"/api/v1/videos/{video_id}").json()["renditions"][0]
    url = rendition["url"]
    whole = client.get(url)
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert whole.headers["accept-ranges"] == "bytes"
    body = whole.content
    assert len(body) == rendition["size_bytes"]
    etag = whole.headers["etag"]
    for start, end in [(0, 0), (0, 1023), (100, 4000), (len(body) - 1, len(body) - 1)]:
        part = client.get(url, headers={"Range": f"bytes={start}-{end}"})
        assert part.status_code == 206
        assert part.content == body[start : end + 1]
        assert part.headers["content-range"] == f"bytes {start}-{end}/{len(body)}"
    suffix = client.get(url, headers={"Range": "bytes=-500"})
    assert suffix.content == body[-500:]
    multi = client.get(url, headers={"Range": "bytes=0-9,20-29"})
    assert multi.status_code == 206
    assert multi.headers["content-type"].startswith("multipart/byteranges")
    assert body[0:10] in multi.content
    assert body[20:30] in multi.content
    assert client.get(url, headers={"Range": f"bytes={len(body)}-"}).status_code == 416
    assert client.get(url, headers={"Range": "bytes=0-9", "If-Range": etag}).status_code == 206
    assert client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"stale"'}).status_code == 200
    assert client.head(url).headers["content-length"] == str(len(body))


def test_private_video_needs_a_signed_link(
    client: TestClient, db: Session, runtime: Runtime, clip: Path
) -> None:
    owner = make_user(db, username="secretive")
    other = make_user(db, username="curious")
    headers = bearer(db, owner)
    video_id = create_video(client, headers, upload_file(client, headers, clip), visibility="private")["id"]
    runtime.jobs.drain(include_scheduled=True)
    mine = client.get(f"/api/v1/videos/{video_id}", headers=headers).json()
    signed = mine["renditions"][0]["url"]
    assert "signature=" in signed
    anonymous = TestClient(client.app)
    assert anonymous.get(signed).status_code == 200
    assert anonymous.get(signed).headers["cache-control"].startswith("private, max-age=")
    assert anonymous.get(signed.split("?")[0]).status_code == 404
    assert anonymous.get(signed.replace("signature=", "signature=x")).status_code == 403
    assert anonymous.get(f"/api/v1/videos/{video_id}").status_code == 404
    assert client.get(f"/api/v1/videos/{video_id}", headers=bearer(db, other)).status_code == 404
    assert client.get("/api/v1/users/secretive/videos").json()["items"] == []
    assert len(client.get("/api/v1/users/secretive/videos", headers=headers).json()["items"]) == 1


def test_deleting_a_video_removes_every_object(
    client: TestClient, db: Session, runtime: Runtime, clip: Path
) -> None:
    user = make_user(db, username="deleter")
    headers = bearer(db, user)
    video_id = create_video(client, headers, upload_file(client, headers, clip))["id"]
    runtime.jobs.drain(include_scheduled=True)
    assert list(runtime.storage.list(f"videos/{video_id}/"))
    assert client.delete(f"/api/v1/videos/{video_id}", headers=headers).status_code == 204
    assert list(runtime.storage.list(f"videos/{video_id}/")) == []
    assert client.get(f"/api/v1/videos/{video_id}", headers=headers).status_code == 404


def test_a_refused_file_fails_with_a_readable_code(
    client: TestClient, db: Session, runtime: Runtime, tmp_path: Path
) -> None:
    user = make_user(db, username="refused")
    headers = bearer(db, user)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video at all" * 100)
    video_id = create_video(client, headers, upload_file(client, headers, bad))["id"]
    runtime.jobs.drain(include_scheduled=True)
    failed = client.get(f"/api/v1/videos/{video_id}", headers=headers).json()
    assert failed["status"] == "failed"
    assert failed["error_code"] == "not_a_video"
    assert failed["error_message"]
    assert list(runtime.storage.list(f"videos/{video_id}/")) in ([], [f"videos/{video_id}/original"])


def test_progress_stream_follows_processing_to_the_end(
    client: TestClient, db: Session, runtime: Runtime, clip: Path
) -> None:
    user = make_user(db, username="watcher")
    headers = bearer(db, user)
    video_id = create_video(client, headers, upload_file(client, headers, clip))["id"]
    stranger = bearer(db, make_user(db, username="stranger"))
    assert client.get(f"/api/v1/videos/{video_id}/progress", headers=stranger).status_code == 404
    runtime.jobs.start_consumers(1, scheduler=False)  # periodic jobs are not under test here
    try:
        events = []
        with client.stream("GET", f"/api/v1/videos/{video_id}/progress", headers=headers) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line.removeprefix("data: ")))
    finally:
        runtime.jobs.stop_consumers()
    assert events[-1]["stage"] == "done"
    assert events[-1]["progress"] == 100
    progress = [event["progress"] for event in events]
    assert progress == sorted(progress)
    assert len(events) >= 2


def test_short_clips_go_before_long_ones_on_the_media_queue() -> None:
    short, minute, hour = (tasks.ladder_priority(ms) for ms in (15_000, 60_000, 3_600_000))
    assert tasks.FIRST_PRIORITY > short > minute > hour >= 10
