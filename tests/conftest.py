"""Shared fixtures: a real database migrated by Alembic (a SQLite file, or PostgreSQL when
`MOLODETS_DATABASE_URL` is set), a real runtime and app, emptied between tests.

Services named by the environment but unreachable fail the run in CI (`CI=true`) and skip the
tests that need them elsewhere, with the reason.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.orm import Session

from molodets.app import create_app
from molodets.db import READ_ONLY_OPTION, Base
from molodets.feed import recommender
from molodets.migrations import upgrade
from molodets.runtime import Runtime, build_runtime
from molodets.settings import Settings, load_settings

IN_CI = os.environ.get("CI", "").lower() == "true"
S3_ACCESS_KEY = "molodets-test"
S3_SECRET_KEY = "molodets-test-secret"
_WRITES = frozenset({"INSERT", "UPDATE", "DELETE"})


@event.listens_for(Engine, "before_cursor_execute")
def _read_sessions_never_write(connection: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    """Read sessions (every GET request's among them) only read: on PostgreSQL their statements
    are not wrapped in a transaction (`Database.statement_reads`), and on SQLite a deferred
    transaction that writes contends for the write lock. Any write in one fails the test."""
    if connection.get_execution_options().get(READ_ONLY_OPTION) and statement.lstrip()[:6].upper() in _WRITES:
        raise AssertionError(f"a read session wrote: {statement[:120]}")


def service_unavailable(reason: str) -> None:
    """Fail in CI (a missing service there is a broken build), skip elsewhere."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true, so this is an error, not a skip)")
    pytest.skip(reason)


def _worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database for this test session (one per xdist worker)."""
    configured = os.environ.get("MOLODETS_DATABASE_URL")
    if not configured:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'molodets.sqlite3'}"
        return
    url = make_url(
        load_settings(database_url=configured, data_dir=tmp_path_factory.mktemp("pg")).resolved_database_url
    )
    name = f"molodets_test_{_worker_id()}_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - reported as a skip or failure with its reason
        admin.dispose()
        service_unavailable(f"PostgreSQL at MOLODETS_DATABASE_URL is unreachable: {exc}")
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str | None:
    configured = os.environ.get("MOLODETS_REDIS_URL")
    if not configured:
        return None
    import redis

    try:
        redis.Redis.from_url(configured, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        service_unavailable(f"Redis at MOLODETS_REDIS_URL is unreachable: {exc}")
    return configured


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str | None) -> Settings:
    data_dir = tmp_path_factory.mktemp("data")
    return make_settings(data_dir, database_url=database_url, redis_url=redis_url)


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "storage_url": (data_dir / "media").as_uri(),
        "redis_prefix": f"molodets-test-{_worker_id()}-{os.getpid()}-{secrets.token_hex(3)}",
        "rate_limits": "on",
        "public_base_url": None,
        "cdn_base_url": None,
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture(scope="session")
def runtime(settings: Settings) -> Iterator[Runtime]:
    upgrade(settings)
    built = build_runtime(settings)
    yield built
    built.close()


@pytest.fixture(autouse=True)
def _clean_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """Empty every table and forget rate-limit windows after each test that used the runtime."""
    yield
    if "runtime" not in request.fixturenames:
        return
    runtime: Runtime = request.getfixturevalue("runtime")
    with runtime.db.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    runtime.limiter.reset()
    runtime.for_you.slates.clear()
    runtime.cards.clear()
    recommender.forget_catalogue_figures()


@pytest.fixture
def db(runtime: Runtime) -> Iterator[Session]:
    """A session for arranging and checking data directly; the test commits what it arranges."""
    session = runtime.db.sessions()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    # No lifespan (`with`): the session-wide runtime outlives each client.
    return TestClient(create_app(runtime), raise_server_exceptions=False)


@pytest.fixture
def flushing_client(client: TestClient, runtime: Runtime) -> TestClient:
    """The app's client, whose event posts return once their events are written (the sink
    otherwise writes them a moment later, together with other requests')."""
    post = client.post

    def post_and_flush(url: str, **kwargs: Any) -> httpx.Response:
        response = post(url, **kwargs)
        assert runtime.events.flush(), "the event writer is stuck (a test transaction holding the lock?)"
        return response

    client.post = post_and_flush  # type: ignore[method-assign]
    return client


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
