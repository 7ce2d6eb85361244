"""Readiness names the dependency that is down, or a schema behind the release, and answers 503;
liveness does not care."""

from __future__ import annotations

import socket
from pathlib import Path

from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import text

from molodets.app import create_app
from molodets.migrations import MIGRATIONS_DIR, upgrade
from molodets.runtime import build_runtime
from tests.conftest import make_settings


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_readiness_reports_each_unreachable_dependency(tmp_path: Path) -> None:
    port = closed_port()
    settings = make_settings(
        tmp_path,
        database_url=f"postgresql+psycopg://nobody@127.0.0.1:{port}/none?connect_timeout=2",
        redis_url=f"redis://127.0.0.1:{port}/0",
        storage_url="s3://media",
        s3_endpoint_url=f"http://127.0.0.1:{port}",
    )
    runtime = build_runtime(settings)
    try:
        client = TestClient(create_app(runtime))
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "unavailable"
        assert {name: check["ok"] for name, check in body["checks"].items()} == {
            "database": False,
            "jobs": False,
            "storage": False,
        }
        # An API call needing the database fails cleanly too.
        response = client.get("/api/v1/users/anyone")
        assert response.status_code == 503
        assert response.json()["code"] == "unavailable"
        assert response.headers["Retry-After"] == "5"
        assert "Traceback" not in response.text
    finally:
        runtime.close()


def test_readiness_waits_for_the_release_s_migrations(tmp_path: Path) -> None:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    head = script.get_current_head()
    assert head is not None
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)
    settings = make_settings(tmp_path, database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", redis_url=None)
    runtime = build_runtime(settings)
    try:
        client = TestClient(create_app(runtime))

        def database_check(status: int) -> dict[str, object]:
            ready = client.get("/readyz")
            assert ready.status_code == status, ready.text
            assert {name for name, check in ready.json()["checks"].items() if not check["ok"]} <= {"database"}
            check: dict[str, object] = ready.json()["checks"]["database"]
            return check

        behind = {"ok": False, "error": "SchemaNotCurrent", "head": head}
        assert database_check(503) == behind | {"revision": None}  # never migrated
        upgrade(settings, previous)  # a release started before its migration ran
        assert database_check(503) == behind | {"revision": previous}
        upgrade(settings)
        assert database_check(200)["ok"] is True
        with runtime.db.engine.begin() as connection:
            connection.execute(text("DELETE FROM alembic_version"))
        assert database_check(503) == behind | {"revision": None}
        # A revision this release does not know is the next release's, migrated while this one
        # still serves: still ready.
        with runtime.db.engine.begin() as connection:
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES ('9999_next')"))
        assert database_check(200)["ok"] is True
    finally:
        runtime.close()
