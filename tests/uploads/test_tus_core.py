"""tus core and creation through the app: discovery, creation, HEAD, PATCH in chunks, offsets,
limits, authentication and the version handshake."""

from __future__ import annotations

import base64
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from molodets.db import utcnow
from molodets.runtime import Runtime
from molodets.uploads.models import Upload
from molodets.uploads.service import OPEN_UPLOADS_PER_USER
from tests.factories.accounts import log_in
from tests.uploads.conftest import Account
from tests.uploads.helpers import (
    OCTETS,
    assert_tus_problem,
    create,
    head,
    metadata,
    new_upload,
    patch,
    upload_id,
)
from tests.uploads.support import TUS


def part_files(upload_dir: Path) -> list[Path]:
    return sorted(upload_dir.glob("*.part")) if upload_dir.exists() else []


def test_options_announces_version_extensions_and_limits(client: TestClient, runtime: Runtime) -> None:
    response = client.options("/api/v1/uploads")
    assert response.status_code == 204
    assert response.headers["tus-version"] == "1.0.0"
    extensions = response.headers["tus-extension"].split(",")
    assert extensions == ["creation", "creation-with-upload", "termination", "expiration", "checksum"]
    assert "creation-defer-length" not in extensions
    assert response.headers["tus-max-size"] == str(runtime.settings.upload_max_bytes)
    assert response.headers["tus-checksum-algorithm"] == "sha1,md5,sha256"
    assert "tus-resumable" not in response.headers


def test_create_head_and_patch_in_chunks(
    client: TestClient, owner: Account, db: Session, upload_dir: Path
) -> None:
    data = bytes(range(256)) * 40  # 10,240 bytes
    created = create(client, owner, len(data), meta=metadata(filename="Клип.mp4", filetype="video/mp4"))
    assert created.status_code == 201
    assert created.headers["tus-resumable"] == "1.0.0"
    number = upload_id(created)
    assert created.headers["location"] == f"http://testserver/api/v1/uploads/{number}"
    expires = parsedate_to_datetime(created.headers["upload-expires"])
    assert abs(expires - (utcnow() + timedelta(hours=24))) < timedelta(minutes=1)

    first = head(client, owner, number)
    assert first.status_code == 200
    assert first.headers["upload-offset"] == "0"
    assert first.headers["upload-length"] == str(len(data))
    assert first.headers["cache-control"] == "no-store"
    assert first.headers["tus-resumable"] == "1.0.0"
    assert "upload-expires" in first.headers
    pairs = dict(pair.split(" ") for pair in first.headers["upload-metadata"].split(","))
    assert base64.b64decode(pairs["filename"]).decode() == "Клип.mp4"

    offset = 0
    for chunk in (data[:4000], data[4000:8000], data[8000:]):
        answer = patch(client, owner, number, offset, chunk)
        assert answer.status_code == 204, answer.text
        assert answer.headers["tus-resumable"] == "1.0.0"
        offset += len(chunk)
        assert answer.headers["upload-offset"] == str(offset)

    done = head(client, owner, number)
    assert done.headers["upload-offset"] == str(len(data))
    assert "upload-expires" not in done.headers  # finished uploads no longer expire as tus sees it
    assert (upload_dir / f"{number}.part").read_bytes() == data
    row = db.get(Upload, number)
    assert row is not None
    assert row.offset == len(data)
    assert row.completed_at is not None

    status = client.get(f"/api/v1/uploads/{number}", headers=owner.auth).json()
    assert status["id"] == str(number)
    assert status["complete"] is True
    assert status["offset"] == status["length"] == len(data)
    assert status["filename"] == "Клип.mp4"
    assert status["filetype"] == "video/mp4"


def test_offset_mismatch_is_409_and_writes_nothing(
    client: TestClient, owner: Account, upload_dir: Path
) -> None:
    number = new_upload(client, owner, 100)
    assert patch(client, owner, number, 0, b"a" * 10).status_code == 204
    for wrong in (0, 5, 11):
        answer = patch(client, owner, number, wrong, b"b" * 10)
        assert_tus_problem(answer, 409, "upload_offset_mismatch")
        assert answer.headers["upload-offset"] == "10"
    assert (upload_dir / f"{number}.part").read_bytes() == b"a" * 10


def test_patch_needs_the_tus_content_type_and_an_offset(client: TestClient, owner: Account) -> None:
    number = new_upload(client, owner, 100)
    wrong_type = patch(client, owner, number, 0, b"x", headers={"Content-Type": "application/octet-stream"})
    assert_tus_problem(wrong_type, 415, "unsupported_media_type")
    for bad in ("", "-1", "ten", "1e3"):
        answer = patch(client, owner, number, 0, b"x", headers={"Upload-Offset": bad})
        assert_tus_problem(answer, 400, "invalid_upload_offset")


def test_nothing_is_stored_past_upload_length(client: TestClient, owner: Account, upload_dir: Path) -> None:
    number = new_upload(client, owner, 10)
    assert patch(client, owner, number, 0, b"123456").status_code == 204
    declared = patch(client, owner, number, 6, b"7890AB")  # Content-Length says 6 > 4 left
    assert_tus_problem(declared, 413, "upload_length_exceeded")

    def chunked() -> object:  # no Content-Length: counted while streaming
        yield b"78"
        yield b"90AB"

    streamed = patch(client, owner, number, 6, chunked())
    assert_tus_problem(streamed, 413, "upload_length_exceeded")
    assert streamed.headers["upload-offset"] == "6"
    assert (upload_dir / f"{number}.part").read_bytes() == b"123456"
    assert patch(client, owner, number, 6, b"7890").status_code == 204


def test_upload_length_over_the_limit_is_413_before_anything_is_stored(
    client: TestClient, owner: Account, runtime: Runtime, db: Session, upload_dir: Path
) -> None:
    too_big = runtime.settings.upload_max_bytes + 1
    refused = create(client, owner, too_big)
    assert_tus_problem(refused, 413, "upload_too_large")
    with_data = create(client, owner, too_big, body=b"x" * 1000)
    assert_tus_problem(with_data, 413, "upload_too_large")
    assert db.scalar(select(func.count()).select_from(Upload)) == 0
    assert part_files(upload_dir) == []


def test_an_account_holds_a_bounded_number_of_open_uploads(
    client: TestClient, owner: Account, stranger: Account, db: Session, upload_dir: Path
) -> None:
    held = [new_upload(client, owner, 10) for _ in range(OPEN_UPLOADS_PER_USER)]
    refused = create(client, owner, 10)
    assert_tus_problem(refused, 429, "too_many_open_uploads")
    assert refused.json()["max_open_uploads"] == OPEN_UPLOADS_PER_USER
    assert len(part_files(upload_dir)) == OPEN_UPLOADS_PER_USER  # the refused one left no file
    new_upload(client, stranger, 10)  # others are not affected
    consumed = db.get(Upload, held[0])
    assert consumed is not None
    consumed.consumed_at = utcnow()  # a video was made from it
    db.commit()
    new_upload(client, owner, 10)


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Upload-Length": ""}, "invalid_upload_length"),
        ({"Upload-Length": "-5"}, "invalid_upload_length"),
        ({"Upload-Length": "1.5"}, "invalid_upload_length"),
        ({"Upload-Length": "99999999999999999999"}, "invalid_upload_length"),
        ({"Upload-Length": "10", "Upload-Metadata": "filename not*base64"}, "invalid_metadata"),
        ({"Upload-Length": "10", "Upload-Metadata": "a MQ== extra"}, "invalid_metadata"),
        ({"Upload-Length": "10", "Upload-Metadata": "dup MQ==,dup Mg=="}, "invalid_metadata"),
        ({"Upload-Length": "10", "Upload-Metadata": ",filename MQ=="}, "invalid_metadata"),
        ({"Upload-Length": "10", "Upload-Metadata": "name /w=="}, "invalid_metadata"),  # not UTF-8
    ],
)
def test_bad_creation_headers_are_400(
    client: TestClient, owner: Account, headers: dict[str, str], code: str
) -> None:
    response = client.post("/api/v1/uploads", headers={**TUS, **owner.auth, **headers})
    assert_tus_problem(response, 400, code)


def test_deferred_length_is_not_supported(client: TestClient, owner: Account) -> None:
    response = client.post("/api/v1/uploads", headers={**TUS, **owner.auth, "Upload-Defer-Length": "1"})
    assert_tus_problem(response, 400, "invalid_upload_length")


def test_bare_metadata_keys_round_trip(client: TestClient, owner: Account) -> None:
    number = new_upload(client, owner, 5, meta=metadata(filename="a.mp4") + ",is_private")
    assert (
        head(client, owner, number).headers["upload-metadata"] == metadata(filename="a.mp4") + ",is_private"
    )


def test_creation_with_upload_stores_the_first_chunk(
    client: TestClient, owner: Account, upload_dir: Path
) -> None:
    partial = create(client, owner, 10, body=b"hello")
    number = upload_id(partial)
    assert partial.headers["upload-offset"] == "5"
    assert "upload-expires" in partial.headers
    assert patch(client, owner, number, 5, b"world").status_code == 204
    assert (upload_dir / f"{number}.part").read_bytes() == b"helloworld"

    whole = create(client, owner, 3, body=b"abc")
    assert whole.headers["upload-offset"] == "3"
    assert "upload-expires" not in whole.headers
    status = client.get(f"/api/v1/uploads/{upload_id(whole)}", headers=owner.auth).json()
    assert status["complete"] is True


def test_an_empty_upload_is_complete_at_once(client: TestClient, owner: Account) -> None:
    number = new_upload(client, owner, 0)
    assert head(client, owner, number).headers["upload-offset"] == "0"
    assert client.get(f"/api/v1/uploads/{number}", headers=owner.auth).json()["complete"] is True


def test_someone_elses_upload_looks_missing(
    client: TestClient, owner: Account, stranger: Account, upload_dir: Path
) -> None:
    number = new_upload(client, owner, 10)
    for response in (
        head(client, stranger, number),
        patch(client, stranger, number, 0, b"mine now"),
        client.delete(f"/api/v1/uploads/{number}", headers={**TUS, **stranger.auth}),
        head(client, owner, number + 1),
        head(client, owner, 12345),
    ):
        assert_tus_problem(response, 404, "upload_not_found")
    assert client.get(f"/api/v1/uploads/{number}", headers=stranger.auth).status_code == 404
    assert (upload_dir / f"{number}.part").read_bytes() == b""
    for bad in ("abc", "-1", "99999999999999999999", "1.5"):
        assert_tus_problem(head(client, owner, bad), 404, "upload_not_found")  # type: ignore[arg-type]


def test_anonymous_requests_are_401_and_still_speak_tus(client: TestClient, owner: Account) -> None:
    number = new_upload(client, owner, 10)
    assert_tus_problem(
        client.post("/api/v1/uploads", headers={**TUS, "Upload-Length": "5"}), 401, "unauthenticated"
    )
    assert_tus_problem(client.head(f"/api/v1/uploads/{number}", headers=TUS), 401, "unauthenticated")
    bad_token = {**TUS, "Authorization": "Bearer mld_nope", "Upload-Length": "5"}
    assert_tus_problem(client.post("/api/v1/uploads", headers=bad_token), 401, "invalid_token")


def test_wrong_or_missing_tus_resumable_is_412(client: TestClient, owner: Account) -> None:
    number = new_upload(client, owner, 10)
    for version in ({"Tus-Resumable": "0.2.2"}, {}):
        created = client.post("/api/v1/uploads", headers={**owner.auth, **version, "Upload-Length": "5"})
        assert_tus_problem(created, 412, "tus_version_unsupported")
        assert created.headers["tus-version"] == "1.0.0"
        headed = client.head(f"/api/v1/uploads/{number}", headers={**owner.auth, **version})
        assert_tus_problem(headed, 412, "tus_version_unsupported")
        patched = client.patch(
            f"/api/v1/uploads/{number}",
            headers={**owner.auth, **version, "Content-Type": OCTETS, "Upload-Offset": "0"},
            content=b"x",
        )
        assert_tus_problem(patched, 412, "tus_version_unsupported")
    assert head(client, owner, number).headers["upload-offset"] == "0"


def test_cookie_sessions_need_the_csrf_header(client: TestClient, owner: Account) -> None:
    csrf = log_in(client, owner.username)
    no_token = client.post("/api/v1/uploads", headers={**TUS, "Upload-Length": "4"})
    assert_tus_problem(no_token, 403, "csrf_missing")
    wrong = client.post("/api/v1/uploads", headers={**TUS, "Upload-Length": "4", "X-CSRF-Token": "x" * 20})
    assert_tus_problem(wrong, 403, "csrf_invalid")
    created = client.post("/api/v1/uploads", headers={**TUS, "Upload-Length": "4", "X-CSRF-Token": csrf})
    number = upload_id(created)
    sent = {**TUS, "Content-Type": OCTETS, "Upload-Offset": "0"}
    refused = client.patch(f"/api/v1/uploads/{number}", headers=sent, content=b"data")
    assert_tus_problem(refused, 403, "csrf_missing")
    accepted = client.patch(
        f"/api/v1/uploads/{number}", headers={**sent, "X-CSRF-Token": csrf}, content=b"data"
    )
    assert accepted.status_code == 204
    assert client.head(f"/api/v1/uploads/{number}", headers=TUS).headers["upload-offset"] == "4"
