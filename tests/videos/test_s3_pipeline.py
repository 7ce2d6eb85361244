"""The pipeline against an S3-compatible server (moto, a real separate process): media is handed
out as presigned URLs that serve byte ranges, originals follow the setting, and deleting a video
removes every object from the bucket."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from molodets.app import create_app
from molodets.runtime import Runtime, build_runtime
from molodets.settings import Settings
from molodets.storage import S3Storage
from tests.conftest import S3_ACCESS_KEY, S3_SECRET_KEY, make_settings
from tests.factories.accounts import make_user
from tests.mediaclips import make_clip
from tests.videos.test_pipeline import bearer, create_video, upload_file

pytestmark = pytest.mark.s3


@pytest.fixture
def s3_runtime(tmp_path: Path, settings: Settings, s3_endpoint: str, runtime: Runtime) -> Iterator[Runtime]:
    """A second runtime over the same database, storing media in a fresh bucket, keeping no
    originals. (`runtime` is requested so the shared tables are emptied after the test.)"""
    s3_settings = make_settings(
        tmp_path,
        database_url=settings.resolved_database_url,
        redis_url=settings.redis_url,
        storage_url=f"s3://t-{uuid.uuid4().hex[:20]}/media",
        s3_endpoint_url=s3_endpoint,
        s3_access_key=S3_ACCESS_KEY,
        s3_secret_key=S3_SECRET_KEY,
        keep_originals=False,
    )
    built = build_runtime(s3_settings)
    assert isinstance(built.storage, S3Storage)
    built.storage.ensure_bucket()
    yield built
    built.close()


def test_s3_pipeline_presigned_ranges_and_full_deletion(
    s3_runtime: Runtime, db: Session, tmp_path: Path
) -> None:
    client = TestClient(create_app(s3_runtime), raise_server_exceptions=False)
    clip = make_clip(tmp_path / "clip.mp4", width=480, height=854, seconds=1.5)
    user = make_user(db, username="s3.creator")
    headers = bearer(db, user)
    video_id = create_video(client, headers, upload_file(client, headers, clip))["id"]
    s3_runtime.jobs.drain(include_scheduled=True)

    video = client.get(f"/api/v1/videos/{video_id}").json()
    assert (video["status"], video["stage"]) == ("ready", "done")
    url = video["renditions"][0]["url"]
    assert url.startswith(s3_runtime.settings.s3_endpoint_url or "")
    assert "X-Amz-Signature=" in url
    whole = httpx.get(url, trust_env=False)
    assert whole.status_code == 200
    assert len(whole.content) == video["renditions"][0]["size_bytes"]
    part = httpx.get(url, headers={"Range": "bytes=10-99"}, trust_env=False)
    assert part.status_code == 206
    assert part.content == whole.content[10:100]
    # The app does not serve media itself in S3 mode.
    assert client.get(f"/media/videos/{video_id}/x.mp4").status_code == 404

    keys = list(s3_runtime.storage.list(f"videos/{video_id}"))
    assert keys
    assert not any(key.endswith("/original") for key in keys)  # MOLODETS_KEEP_ORIGINALS=false

    assert client.delete(f"/api/v1/videos/{video_id}", headers=headers).status_code == 204
    assert list(s3_runtime.storage.list(f"videos/{video_id}")) == []
