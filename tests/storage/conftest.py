"""Fixtures for the storage tests: a real moto S3 server process, and stores of both kinds."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from molodets.storage import LocalStorage, S3Storage, Storage

ACCESS_KEY = "molodets-test"
SECRET_KEY = "molodets-test-secret"
SIGNING_KEY = b"0123456789abcdef0123456789abcdef"


def free_port() -> int:
    """A port nothing listens on right now (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start `moto.server` as its own process on 127.0.0.1 and stop it at the end of the session."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"moto server exited with {process.returncode}: {log_path.read_text()[-2000:]}")
            try:
                # trust_env=False: a proxy from the environment must never see test traffic.
                httpx.get(f"{endpoint}/moto-api/", timeout=1, trust_env=False)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail(f"moto server did not answer within 30 s: {log_path.read_text()[-2000:]}")
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def s3_credentials() -> dict[str, str]:
    """The keys every test store uses (moto accepts any)."""
    return {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}


@pytest.fixture
def dead_endpoint() -> str:
    """An http URL on 127.0.0.1 where nothing listens, for outage tests."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def make_s3(s3_endpoint: str) -> Callable[..., S3Storage]:
    """Build an S3Storage on a fresh bucket (one per call), so tests never see each other's objects."""

    def make(prefix: str = "", cdn_base_url: str | None = None, bucket: str | None = None) -> S3Storage:
        store = S3Storage(
            bucket or f"t-{uuid.uuid4().hex[:24]}",
            prefix,
            endpoint_url=s3_endpoint,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            region="us-east-1",
            cdn_base_url=cdn_base_url,
        )
        store.ensure_bucket()
        return store

    return make


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "media", base_url="", signing_key=SIGNING_KEY)


@pytest.fixture(
    params=[
        pytest.param("local"),
        pytest.param("s3", marks=pytest.mark.s3),
        # A store prefix must be invisible to callers: same contract, keys stored under "deploy-a/".
        pytest.param("s3-prefixed", marks=pytest.mark.s3),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """Each contract test runs once per implementation."""
    if request.param == "local":
        return LocalStorage(tmp_path / "media", base_url="", signing_key=SIGNING_KEY)
    make_s3: Callable[..., S3Storage] = request.getfixturevalue("make_s3")
    return make_s3(prefix="deploy-a" if request.param == "s3-prefixed" else "")
