"""tus over real sockets (uvicorn in a thread): a connection dropped mid-PATCH keeps its bytes
and the upload resumes from them; a second writer waits, then gets 409 upload_locked."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from pathlib import Path

import httpx

from tests.uploads.conftest import Account
from tests.uploads.support import TUS, LiveServer, is_locked, open_partial_patch, wait_for

OCTETS = {"Content-Type": "application/offset+octet-stream"}


def create(server: LiveServer, owner: Account, length: int) -> int:
    response = httpx.post(
        f"{server.url}/api/v1/uploads", headers={**TUS, **owner.auth, "Upload-Length": str(length)}
    )
    assert response.status_code == 201, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def offset_of(server: LiveServer, owner: Account, number: int) -> int:
    response = httpx.head(f"{server.url}/api/v1/uploads/{number}", headers={**TUS, **owner.auth})
    assert response.status_code == 200
    return int(response.headers["upload-offset"])


def test_a_dropped_connection_keeps_what_arrived_and_the_upload_resumes(
    live_server: LiveServer, owner: Account, upload_dir: Path
) -> None:
    data = os.urandom(600_000)
    number = create(live_server, owner, len(data))
    path = upload_dir / f"{number}.part"
    sock = open_partial_patch(
        live_server.port, number, token=owner.token, offset=0, declared=len(data), body=data[:250_000]
    )
    wait_for(lambda: is_locked(path), what="the PATCH to start")
    time.sleep(0.3)  # let the server read what is in flight; bytes still in a socket buffer are lost
    sock.close()  # the phone went into a tunnel

    wait_for(lambda: not is_locked(path), what="the server to notice the drop")
    kept = offset_of(live_server, owner, number)
    assert 0 < kept <= 250_000
    assert path.read_bytes() == data[:kept]
    rest = httpx.patch(
        f"{live_server.url}/api/v1/uploads/{number}",
        headers={**TUS, **owner.auth, **OCTETS, "Upload-Offset": str(kept)},
        content=data[kept:],
    )
    assert rest.status_code == 204, rest.text
    assert rest.headers["upload-offset"] == str(len(data))
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(data).digest()


def test_a_second_writer_waits_then_gets_409_while_the_first_holds_the_upload(
    live_server: LiveServer, owner: Account, upload_dir: Path
) -> None:
    number = create(live_server, owner, 1000)
    path = upload_dir / f"{number}.part"
    sock = open_partial_patch(
        live_server.port, number, token=owner.token, offset=0, declared=1000, body=b"a" * 100
    )
    try:
        wait_for(lambda: is_locked(path), what="the first PATCH to take the lock")
        started = time.monotonic()
        second = httpx.patch(
            f"{live_server.url}/api/v1/uploads/{number}",
            headers={**TUS, **owner.auth, **OCTETS, "Upload-Offset": "0"},
            content=b"b" * 100,
            timeout=10,
        )
        assert second.status_code == 409, second.text
        assert second.json()["code"] == "upload_locked"
        assert second.headers["tus-resumable"] == "1.0.0"
        assert time.monotonic() - started >= 1.5  # it waited for the first before giving up
    finally:
        sock.close()
    wait_for(lambda: offset_of(live_server, owner, number) == 100, what="the first PATCH's bytes")
    assert path.read_bytes() == b"a" * 100


def test_a_dropped_checksummed_chunk_is_discarded(
    live_server: LiveServer, owner: Account, upload_dir: Path
) -> None:
    """A chunk that cannot be verified (it never arrived whole) is not kept."""
    data = b"c" * 5000
    number = create(live_server, owner, len(data))
    path = upload_dir / f"{number}.part"
    digest = base64.b64encode(hashlib.sha1(data, usedforsecurity=False).digest()).decode()
    sock = open_partial_patch(
        live_server.port,
        number,
        token=owner.token,
        offset=0,
        declared=len(data),
        body=data[:2000],
        extra_headers={"Upload-Checksum": f"sha1 {digest}"},
    )
    wait_for(lambda: is_locked(path), what="the PATCH to start")
    sock.close()
    wait_for(lambda: not is_locked(path), what="the server to notice")
    assert offset_of(live_server, owner, number) == 0
    assert path.stat().st_size == 0
