"""Fixtures for the job seam: a real SQLite application database per test and a real
JobRuntime: SQLite huey in the data dir, and the same tests against Redis when
MOLODETS_REDIS_URL is set (skipped otherwise; a failure in CI if Redis does not answer)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from .support import StandInRuntime, make_runtime


def _redis_url() -> str:
    url = os.environ.get("MOLODETS_REDIS_URL")
    if not url:
        pytest.skip("MOLODETS_REDIS_URL not set")
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"MOLODETS_REDIS_URL is set but Redis does not answer: {exc}")
        pytest.skip(f"Redis at MOLODETS_REDIS_URL does not answer: {exc}")
    finally:
        client.close()
    return url


@pytest.fixture(params=["sqlite", "redis"])
def redis_url(request: pytest.FixtureRequest) -> str | None:
    return _redis_url() if request.param == "redis" else None


@pytest.fixture
def rt(tmp_path: Path, redis_url: str | None) -> Iterator[StandInRuntime]:
    prefix = f"molodets-test-{uuid.uuid4().hex[:12]}"
    runtime = make_runtime(tmp_path, redis_url, prefix)
    yield runtime
    runtime.jobs.close()
    runtime.db.dispose()
    if redis_url is not None:
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"*{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def running(rt: StandInRuntime) -> Iterator[StandInRuntime]:
    """`rt` with consumer threads and the scheduler running, as inside `molodets serve`."""
    rt.jobs.start_consumers(workers=2, media_workers=1, discover=False)
    yield rt
    rt.jobs.stop_consumers(timeout=10)
