"""Readiness: can this process do its work? Database, job storage and object storage must all
answer; each check reports its own status so an operator sees which one is down."""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson
import structlog
from sqlalchemy import text
from starlette.responses import Response

from molodets.runtime import Runtime

log = structlog.get_logger(__name__)


def _check_database(runtime: Runtime) -> None:
    with runtime.db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def readiness(runtime: Runtime) -> tuple[bool, dict[str, dict[str, object]]]:
    checks: dict[str, Callable[[], None]] = {
        "database": lambda: _check_database(runtime),
        "jobs": runtime.jobs.check,
        "storage": runtime.storage.check,
    }
    report: dict[str, dict[str, object]] = {}
    for name, check in checks.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported by name
            log.warning("readiness_check_failed", check=name, error=str(exc))
            report[name] = {"ok": False, "error": type(exc).__name__}
        else:
            report[name] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    return all(item["ok"] for item in report.values()), report


def readiness_response(runtime: Runtime) -> Response:
    ready, report = readiness(runtime)
    body = {"status": "ok" if ready else "unavailable", "checks": report}
    return Response(orjson.dumps(body), status_code=200 if ready else 503, media_type="application/json")
