"""Readiness names the dependency that is down and answers 503; liveness does not care."""

from __future__ import annotations

import socket
from pathlib import Path

from fastapi.testclient import TestClient

from molodets.app import create_app
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
