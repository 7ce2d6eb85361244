"""Fixtures for the storage tests: a real moto S3 server process, and stores of both kinds."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from molodets.storage import LocalStorage, S3Storage, Storage
from tests.conftest import S3_ACCESS_KEY as ACCESS_KEY
from tests.conftest import S3_SECRET_KEY as SECRET_KEY
from tests.conftest import free_port

SIGNING_KEY = b"0123456789abcdef0123456789abcdef"


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
