"""tus checksum, termination and expiration, and the periodic job that removes stale uploads."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

import molodets.uploads.tasks  # noqa: F401 - registers the periodic job under test
from molodets.db import utcnow
from molodets.jobs import DEFAULT_QUEUE
from molodets.runtime import Runtime
from molodets.uploads.models import Upload
from tests.uploads.conftest import Account
from tests.uploads.helpers import assert_tus_problem, head, new_upload, patch
from tests.uploads.support import TUS


def checksum(algorithm: str, data: bytes) -> str:
    digest = hashlib.new(algorithm, data, usedforsecurity=False).digest()
    return f"{algorithm} {base64.b64encode(digest).decode()}"


@pytest.mark.parametrize("algorithm", ["sha1", "md5", "sha256"])
def test_a_good_checksum_is_accepted(
    client: TestClient, owner: Account, upload_dir: Path, algorithm: str
) -> None:
    number = new_upload(client, owner, 8)
    answer = patch(
        client, owner, number, 0, b"verified", headers={"Upload-Checksum": checksum(algorithm, b"verified")}
    )
    assert answer.status_code == 204, answer.text
    assert (upload_dir / f"{number}.part").read_bytes() == b"verified"


def test_a_bad_checksum_is_460_and_the_chunk_is_discarded(
    client: TestClient, owner: Account, upload_dir: Path
) -> None:
    number = new_upload(client, owner, 12)
    assert patch(client, owner, number, 0, b"good").status_code == 204
    bad = patch(
        client, owner, number, 4, b"corrupt!", headers={"Upload-Checksum": checksum("sha1", b"original")}
    )
    assert_tus_problem(bad, 460, "checksum_mismatch")
    assert bad.headers["upload-offset"] == "4"
    assert (upload_dir / f"{number}.part").read_bytes() == b"good"
    assert head(client, owner, number).headers["upload-offset"] == "4"
    again = patch(
        client, owner, number, 4, b"original", headers={"Upload-Checksum": checksum("sha1", b"original")}
    )
    assert again.status_code == 204


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("crc32 AAAAAA==", "unsupported_checksum"),
        ("sha512 AAAA", "unsupported_checksum"),
        ("sha1 not-base64!", "invalid_checksum"),
        ("sha1 AAAA", "invalid_checksum"),  # a digest of the wrong size
        ("sha1", "invalid_checksum"),
    ],
)
def test_unusable_checksums_are_400(client: TestClient, owner: Account, value: str, code: str) -> None:
    number = new_upload(client, owner, 8)
    answer = patch(client, owner, number, 0, b"whatever", headers={"Upload-Checksum": value})
    assert_tus_problem(answer, 400, code)
    assert head(client, owner, number).headers["upload-offset"] == "0"


def test_termination_removes_the_row_and_the_bytes(
    client: TestClient, owner: Account, db: Session, upload_dir: Path
) -> None:
    number = new_upload(client, owner, 10)
    assert patch(client, owner, number, 0, b"12345").status_code == 204
    deleted = client.delete(f"/api/v1/uploads/{number}", headers={**TUS, **owner.auth})
    assert deleted.status_code == 204
    assert deleted.headers["tus-resumable"] == "1.0.0"
    assert db.get(Upload, number) is None
    assert not (upload_dir / f"{number}.part").exists()
    assert_tus_problem(head(client, owner, number), 404, "upload_not_found")
    again = client.delete(f"/api/v1/uploads/{number}", headers={**TUS, **owner.auth})
    assert_tus_problem(again, 404, "upload_not_found")


def _age(db: Session, number: int, **values: datetime) -> None:
    row = db.get(Upload, number)
    assert row is not None
    for name, value in values.items():
        setattr(row, name, value)
    db.commit()


def test_an_expired_upload_is_gone_and_the_job_removes_stale_ones(
    client: TestClient, owner: Account, runtime: Runtime, db: Session, upload_dir: Path
) -> None:
    now = utcnow()
    expired = new_upload(client, owner, 10)
    _age(db, expired, expires_at=now - timedelta(minutes=1))
    assert_tus_problem(head(client, owner, expired), 410, "upload_expired")
    assert_tus_problem(patch(client, owner, expired, 0, b"late"), 410, "upload_expired")

    live = new_upload(client, owner, 10)
    finished_unused = new_upload(client, owner, 2)
    assert patch(client, owner, finished_unused, 0, b"ok").status_code == 204
    _age(db, finished_unused, expires_at=now - timedelta(seconds=1))
    consumed_long_ago = new_upload(client, owner, 0)
    _age(db, consumed_long_ago, consumed_at=now - timedelta(days=2))
    consumed_recently = new_upload(client, owner, 0)
    _age(db, consumed_recently, consumed_at=now - timedelta(hours=1))
    # A part file whose row never got written (a crash between the two), old and fresh.
    old_orphan, fresh_orphan = upload_dir / "42.part", upload_dir / "43.part"
    old_orphan.write_bytes(b"orphan")
    fresh_orphan.write_bytes(b"being written")
    day_ago = time.time() - 25 * 3600
    os.utime(old_orphan, (day_ago, day_ago))

    # What the scheduler does at a quarter past, then what a worker does with the message.
    assert runtime.jobs.tick_periodic(datetime(2031, 3, 1, 0, 15)) >= 1
    assert ("molodets.uploads.tasks:remove_stale_uploads", []) in runtime.jobs.pending(DEFAULT_QUEUE)
    runtime.jobs.drain()

    db.expire_all()
    assert set(db.scalars(select(Upload.id))) == {live, consumed_recently}
    assert sorted(path.name for path in upload_dir.glob("*.part")) == sorted(
        [f"{live}.part", f"{consumed_recently}.part", "43.part"]
    )
