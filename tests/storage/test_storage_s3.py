"""What only the S3 store does: CDN and presigned URLs, multipart, batched deletes, readiness."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from molodets.settings import Settings
from molodets.storage import S3Storage, StorageUnavailable, open_storage

pytestmark = pytest.mark.s3

MakeS3 = Callable[..., S3Storage]
CDN = "https://cdn.example.test"


def download(url: str) -> httpx.Response:
    # trust_env=False: straight to 127.0.0.1, never through a proxy named in the environment.
    return httpx.get(url, timeout=10, trust_env=False)


def test_cdn_url_when_no_expiry_is_asked(make_s3: MakeS3) -> None:
    store = make_s3(cdn_base_url=CDN + "/")
    assert store.url("videos/1/720.mp4") == f"{CDN}/videos/1/720.mp4"
    prefixed = make_s3(prefix="deploy-a", cdn_base_url=CDN)
    # The CDN's origin is the bucket root, so the store prefix is part of the path.
    assert prefixed.url("videos/1/720.mp4") == f"{CDN}/deploy-a/videos/1/720.mp4"


def test_presigned_url_downloads_the_object(make_s3: MakeS3, s3_endpoint: str) -> None:
    store = make_s3(prefix="deploy-a")
    store.put("videos/1/poster.jpg", b"\xff\xd8poster", content_type="image/jpeg")
    url = store.url("videos/1/poster.jpg")  # no CDN: presigned, default lifetime
    assert url.startswith(f"{s3_endpoint}/{store.bucket}/deploy-a/videos/1/poster.jpg?")
    response = download(url)
    assert response.status_code == 200
    assert response.content == b"\xff\xd8poster"
    assert response.headers["content-type"] == "image/jpeg"
    ranged = httpx.get(url, headers={"Range": "bytes=2-4"}, timeout=10, trust_env=False)
    assert (ranged.status_code, ranged.content) == (206, b"pos")


def test_expiry_forces_a_presigned_url_even_with_a_cdn(
    make_s3: MakeS3, s3_credentials: dict[str, str]
) -> None:
    store = make_s3(cdn_base_url=CDN)
    store.put("private/clip.mp4", b"clip", content_type="video/mp4")
    url = store.url("private/clip.mp4", expires_in=120)
    assert not url.startswith(CDN)
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["120"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Credential"][0].startswith(s3_credentials["access_key"] + "/")
    signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - signed_at).total_seconds()) < 60
    assert download(url).content == b"clip"
    with pytest.raises(ValueError, match="expires_in"):
        store.url("private/clip.mp4", expires_in=0)


def test_big_put_is_multipart(make_s3: MakeS3) -> None:
    store = make_s3()
    store.put("big.bin", bytes(12 * 1024 * 1024), content_type="application/octet-stream")
    # S3 gives a multipart upload an ETag of "<md5 of part md5s>-<part count>".
    assert store.stat("big.bin").etag.endswith("-2")
    store.put("small.bin", bytes(1024), content_type="application/octet-stream")
    assert "-" not in store.stat("small.bin").etag


def test_delete_prefix_past_one_page(make_s3: MakeS3) -> None:
    store = make_s3(prefix="p")
    keys = [f"videos/42/seg/{i:05d}.ts" for i in range(1003)]

    def put(key: str) -> None:
        store.put(key, b"", content_type="video/mp2t")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, keys))
    store.put("videos/420/keep", b"", content_type="text/plain")
    assert store.delete_prefix("videos/42") == 1003  # two ListObjectsV2 pages, two DeleteObjects calls
    assert list(store.list()) == ["videos/420/keep"]


def test_local_path_is_none(make_s3: MakeS3) -> None:
    store = make_s3()
    store.put("a", b"a", content_type="text/plain")
    assert store.local_path("a") is None


def test_check_fails_fast_when_the_endpoint_is_down(
    dead_endpoint: str, s3_credentials: dict[str, str]
) -> None:
    store = S3Storage(
        "molodets-media",
        endpoint_url=dead_endpoint,
        access_key=s3_credentials["access_key"],
        secret_key=s3_credentials["secret_key"],
    )
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        store.check()
    assert time.monotonic() - started < 5
    with pytest.raises(StorageUnavailable):
        store.get("a")


def test_check_fails_when_the_bucket_is_missing(s3_endpoint: str, s3_credentials: dict[str, str]) -> None:
    store = S3Storage(
        f"missing-{uuid.uuid4().hex[:12]}",
        endpoint_url=s3_endpoint,
        access_key=s3_credentials["access_key"],
        secret_key=s3_credentials["secret_key"],
    )
    with pytest.raises(StorageUnavailable):
        store.check()
    store.ensure_bucket()
    store.check()
    store.ensure_bucket()  # idempotent


def test_open_storage_s3(
    make_s3: MakeS3, s3_endpoint: str, s3_credentials: dict[str, str], tmp_path: Path
) -> None:
    bucket = make_s3().bucket
    settings = Settings(
        data_dir=tmp_path,
        storage_url=f"s3://{bucket}/deploy-b/",
        s3_endpoint_url=s3_endpoint,
        s3_access_key=s3_credentials["access_key"],
        s3_secret_key=s3_credentials["secret_key"],
        cdn_base_url=CDN,
    )
    store = open_storage(settings)
    assert isinstance(store, S3Storage)
    assert (store.bucket, store.prefix) == (bucket, "deploy-b/")
    store.check()
    store.put("k", b"v", content_type="text/plain")
    assert store.url("k") == f"{CDN}/deploy-b/k"
    assert download(store.url("k", expires_in=60)).content == b"v"
