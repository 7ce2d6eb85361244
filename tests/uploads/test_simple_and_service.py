"""The plain multipart upload, and the service functions the videos domain builds on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from molodets.app import create_app
from molodets.errors import Problem
from molodets.runtime import Runtime, build_runtime
from molodets.settings import Settings
from molodets.uploads import service
from molodets.uploads.models import Upload
from tests.conftest import make_settings
from tests.factories.accounts import log_in
from tests.uploads.conftest import Account
from tests.uploads.helpers import assert_problem, new_upload, patch

SMALL_LIMIT = 4096


@pytest.fixture
def small_client(runtime: Runtime, settings: Settings, tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    """An app over the same database whose uploads may be at most SMALL_LIMIT bytes."""
    small = build_runtime(
        make_settings(
            tmp_path,
            database_url=settings.resolved_database_url,
            redis_url=settings.redis_url,
            upload_max_bytes=SMALL_LIMIT,
        )
    )
    yield TestClient(create_app(small), raise_server_exceptions=False), small.settings.resolved_upload_dir
    small.close()


def count_uploads(db: Session) -> int:
    count = db.scalar(select(func.count()).select_from(Upload)) or 0
    db.rollback()  # a test session's read still holds SQLite's write lock until it ends
    return count


def test_simple_upload_streams_one_file_and_answers_like_the_status(
    client: TestClient, owner: Account, upload_dir: Path
) -> None:
    data = b"\x00\x01clip" * 5000
    response = client.post(
        "/api/v1/uploads/simple",
        headers=owner.auth,
        data={"caption": "ignored"},
        files={"file": ("Клип.mp4", data, "video/mp4")},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["complete"] is True
    assert body["length"] == body["offset"] == len(data)
    assert body["filename"] == "Клип.mp4"
    assert body["filetype"] == "video/mp4"
    assert response.headers["location"].endswith(f"/api/v1/uploads/{body['id']}")
    assert (upload_dir / f"{body['id']}.part").read_bytes() == data
    assert client.get(f"/api/v1/uploads/{body['id']}", headers=owner.auth).json() == body


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": {"other": "field"}, "files": {"notfile": ("a", b"x")}}, 400, "file_missing"),
        ({"content": b"raw bytes", "headers": {"content-type": "video/mp4"}}, 415, "unsupported_media_type"),
        (
            {"content": b"--b\r\nContent-Disposition: form-data; name=file\r\n\r\nabc", "headers": {}},
            400,
            "invalid_multipart",
        ),
        (
            {
                "files": [("file", ("a", b"1")), ("file", ("b", b"2"))],
            },
            400,
            "invalid_multipart",
        ),
    ],
)
def test_simple_upload_refusals_leave_nothing(
    client: TestClient,
    owner: Account,
    db: Session,
    upload_dir: Path,
    kwargs: dict[str, object],
    status: int,
    code: str,
) -> None:
    headers = {**owner.auth, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    if "content" in kwargs and "content-type" not in headers:
        headers["content-type"] = "multipart/form-data; boundary=b"  # truncated: no closing boundary
    response = client.post("/api/v1/uploads/simple", headers=headers, **kwargs)  # type: ignore[arg-type]
    assert_problem(response, status, code)
    assert count_uploads(db) == 0
    assert list(upload_dir.glob("*.part")) == []


def test_size_limits_refuse_before_storing(
    small_client: tuple[TestClient, Path], owner: Account, db: Session
) -> None:
    client, upload_dir = small_client
    too_big = b"x" * (SMALL_LIMIT + 1)
    declared = client.post("/api/v1/uploads/simple", headers=owner.auth, files={"file": ("a.mp4", too_big)})
    assert_problem(declared, 413, "upload_too_large")

    boundary = "limit"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n'.encode()
        + too_big
        + f"\r\n--{boundary}--\r\n".encode()
    )

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    streamed = client.post(
        "/api/v1/uploads/simple",
        headers={**owner.auth, "content-type": f"multipart/form-data; boundary={boundary}"},
        content=chunked(),
    )
    assert_problem(streamed, 413, "upload_too_large")
    tus = client.post(
        "/api/v1/uploads", headers={**owner.auth, "Tus-Resumable": "1.0.0", "Upload-Length": "4097"}
    )
    assert_problem(tus, 413, "upload_too_large")
    assert count_uploads(db) == 0
    assert list(upload_dir.glob("*.part")) == []
    at_limit = client.post(
        "/api/v1/uploads/simple", headers=owner.auth, files={"file": ("a.mp4", too_big[:-1])}
    )
    assert at_limit.status_code == 201


def test_simple_upload_by_cookie_needs_the_csrf_header(client: TestClient, owner: Account) -> None:
    csrf = log_in(client, owner.username)
    files = {"file": ("a.mp4", b"abc", "video/mp4")}
    # The form-field fallback of the CSRF check would parse the whole body first: refused.
    refused = client.post("/api/v1/uploads/simple", files=files, data={"csrf_token": csrf})
    assert_problem(refused, 403, "csrf_missing")
    accepted = client.post("/api/v1/uploads/simple", files=files, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 201


def test_the_videos_domain_takes_a_finished_upload_once(
    client: TestClient, owner: Account, stranger: Account, runtime: Runtime, db: Session
) -> None:
    unfinished = new_upload(client, owner, 10)
    with pytest.raises(Problem) as incomplete:
        service.get_completed_upload(db, upload_id=unfinished, user_id=owner.id)
    assert (incomplete.value.status, incomplete.value.code) == (409, "upload_incomplete")
    db.rollback()  # end the test session's transaction: on SQLite it holds the write lock
    assert patch(client, owner, unfinished, 0, b"0123456789").status_code == 204

    for user_id, upload_id in ((stranger.id, unfinished), (owner.id, unfinished + 1)):
        with pytest.raises(Problem) as missing:
            service.get_completed_upload(db, upload_id=upload_id, user_id=user_id)
        assert (missing.value.status, missing.value.code) == (404, "upload_not_found")

    upload = service.get_completed_upload(db, upload_id=unfinished, user_id=owner.id)
    path = service.upload_path(runtime.settings, upload)
    assert path == service.upload_path(runtime.settings, upload.id)
    assert path.read_bytes() == b"0123456789"
    service.do_consume_upload(db, upload=upload)
    db.commit()
    with pytest.raises(Problem) as consumed:
        service.get_completed_upload(db, upload_id=unfinished, user_id=owner.id)
    assert (consumed.value.status, consumed.value.code) == (409, "upload_consumed")
    db.rollback()
    # A consumed upload can no longer be terminated from under its video.
    refused = client.delete(f"/api/v1/uploads/{unfinished}", headers={**owner.auth, "Tus-Resumable": "1.0.0"})
    assert_problem(refused, 409, "upload_consumed")
    service.discard_upload_file(runtime.settings, upload)
    assert not path.exists()
    service.discard_upload_file(runtime.settings, upload.id)  # twice is fine: jobs run twice


def test_a_local_file_can_be_imported_as_a_finished_upload(
    owner: Account, runtime: Runtime, db: Session, tmp_path: Path
) -> None:
    source = tmp_path / "demo.mp4"
    source.write_bytes(b"demo bytes")
    upload = service.do_import_file(
        db, runtime.settings, user_id=owner.id, source=source, filetype="video/mp4"
    )
    db.commit()
    found = service.get_completed_upload(db, upload_id=upload.id, user_id=owner.id)
    assert (found.filename, found.filetype, found.length) == ("demo.mp4", "video/mp4", 10)
    assert service.upload_path(runtime.settings, found).read_bytes() == b"demo bytes"
