"""An upload resumes on another web process: two `molodets web` processes over one data dir
(SQLite file and upload folder), half the bytes through each, a dropped connection in between,
and the part file's lock seen across processes."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories.accounts import DEFAULT_PASSWORD
from tests.test_cli import _free_port, run_cli, start_process, stop, wait_until_ready
from tests.uploads.support import TUS, is_locked, open_partial_patch, sha256_of, wait_for

OCTETS = {"Content-Type": "application/offset+octet-stream"}


@pytest.fixture
def two_web_processes(tmp_path: Path) -> Iterator[tuple[str, str]]:
    assert run_cli(tmp_path, "migrate").returncode == 0
    created = run_cli(tmp_path, "user", "create", "traveller", "--password", DEFAULT_PASSWORD)
    assert created.returncode == 0, created.stderr
    ports = [_free_port(), _free_port()]
    processes = [start_process(tmp_path, "web", "--host", "127.0.0.1", "--port", str(port)) for port in ports]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for process, base in zip(processes, bases, strict=True):
            wait_until_ready(process, base)
        yield bases[0], bases[1]
    finally:
        for process in processes:
            stop(process)


def test_an_upload_moves_between_web_processes(two_web_processes: tuple[str, str], tmp_path: Path) -> None:
    first, second = two_web_processes
    issued = httpx.post(
        f"{first}/api/v1/tokens", json={"name": "phone", "login": "traveller", "password": DEFAULT_PASSWORD}
    )
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    auth = {**TUS, "Authorization": f"Bearer {token}"}
    data = os.urandom(400_000)
    source = tmp_path / "source.bin"
    source.write_bytes(data)

    created = httpx.post(f"{first}/api/v1/uploads", headers={**auth, "Upload-Length": str(len(data))})
    assert created.status_code == 201, created.text
    number = int(created.headers["location"].rsplit("/", 1)[1])
    path = tmp_path / "uploads" / f"{number}.part"
    half = httpx.patch(
        f"{first}/api/v1/uploads/{number}",
        headers={**auth, **OCTETS, "Upload-Offset": "0"},
        content=data[:200_000],
    )
    assert half.headers["upload-offset"] == "200000"

    # A PATCH through the first process stalls mid-body; the second process must not write.
    port = int(first.rsplit(":", 1)[1])
    stalled = open_partial_patch(
        port, number, token=token, offset=200_000, declared=len(data) - 200_000, body=data[200_000:250_000]
    )
    try:
        wait_for(lambda: is_locked(path), what="the first process to take the lock")
        blocked = httpx.patch(
            f"{second}/api/v1/uploads/{number}",
            headers={**auth, **OCTETS, "Upload-Offset": "200000"},
            content=data[200_000:],
            timeout=10,
        )
        assert blocked.status_code == 409
        assert blocked.json()["code"] == "upload_locked"
        time.sleep(0.2)  # let the first process read what is in flight before the drop
    finally:
        stalled.close()

    wait_for(lambda: not is_locked(path), what="the first process to notice the drop")
    kept = int(httpx.head(f"{second}/api/v1/uploads/{number}", headers=auth).headers["upload-offset"])
    assert 200_000 < kept <= 250_000
    rest = httpx.patch(
        f"{second}/api/v1/uploads/{number}",
        headers={**auth, **OCTETS, "Upload-Offset": str(kept)},
        content=data[kept:],
    )
    assert rest.status_code == 204, rest.text
    assert rest.headers["upload-offset"] == str(len(data))
    status = httpx.get(f"{first}/api/v1/uploads/{number}", headers=auth).json()
    assert status["complete"] is True
    assert sha256_of(path) == sha256_of(source)
