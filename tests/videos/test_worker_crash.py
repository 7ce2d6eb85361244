"""Kill the worker (SIGKILL) in the middle of a transcode, start it again: the video still ends
ready, with no orphaned objects in storage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from molodets.db import transaction, utcnow
from molodets.runtime import Runtime
from molodets.settings import Settings
from molodets.videos import tasks
from molodets.videos.models import Stage, Video
from tests.factories.accounts import make_user
from tests.mediaclips import make_clip
from tests.videos.test_pipeline import bearer, create_video, upload_file


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MOLODETS_")}
    env.update(
        {
            "MOLODETS_DATA_DIR": str(settings.data_dir),
            "MOLODETS_DATABASE_URL": settings.resolved_database_url,
            "MOLODETS_STORAGE_URL": settings.resolved_storage_url,
            "MOLODETS_REDIS_PREFIX": settings.redis_prefix,
            "MOLODETS_LOG_LEVEL": "WARNING",
        }
    )
    if settings.redis_url:
        env["MOLODETS_REDIS_URL"] = settings.redis_url
    return subprocess.Popen(
        [sys.executable, "-m", "molodets", "worker", "--no-scheduler"],
        env=env,
        start_new_session=True,  # its own process group, so the kill takes ffmpeg down too
    )


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def video_state(runtime: Runtime, video_id: int) -> tuple[str, str, int]:
    with runtime.db.read_sessions() as session:
        video = session.get(Video, video_id)
        assert video is not None
        return video.status, video.stage, video.progress


def test_killed_worker_mid_ladder_recovers(
    client: TestClient, db: Session, runtime: Runtime, tmp_path: Path, settings: Settings
) -> None:
    clip = make_clip(tmp_path / "long.mp4", width=1080, height=1920, seconds=12.0)
    user = make_user(db, username="survivor")
    headers = bearer(db, user)
    video_id = int(str(create_video(client, headers, upload_file(client, headers, clip))["id"]))

    worker = start_worker(settings)
    try:
        wait_for(lambda: video_state(runtime, video_id)[2] >= 40, 120, "the ladder to be under way")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        status, stage, _ = video_state(runtime, video_id)
        assert (status, stage) == ("ready", Stage.LADDER.value)  # playable, ladder unfinished

        # Time passes; the watchdog finds the stage overdue and queues it again.
        with transaction(runtime.db.sessions) as session:
            video = session.get(Video, video_id)
            assert video is not None
            video.stage_deadline = utcnow() - timedelta(seconds=1)
            tasks.watchdog.enqueue(session)
        worker = start_worker(settings)
        wait_for(lambda: video_state(runtime, video_id)[1] == Stage.DONE.value, 180, "the ladder to finish")
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)

    with runtime.db.read_sessions() as session:
        video = session.get(Video, video_id)
        assert video is not None
        assert video.media_prefix is not None
        allowed_prefix, original = video.media_prefix + "/", video.original_key
    keys = list(runtime.storage.list(f"videos/{video_id}/"))
    orphans = [key for key in keys if not key.startswith(allowed_prefix) and key != original]
    assert orphans == []  # the first rendition stays a while in the current run's folder
    served = client.get(client.get(f"/api/v1/videos/{video_id}").json()["renditions"][0]["url"])
    assert served.status_code == 200
    assert not (settings.data_dir / "work" / f"video-{video_id}").exists()
