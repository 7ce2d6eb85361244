"""Readiness: can this process do its work? Database, job storage and object storage must all
answer, and the database must have this release's schema; each check reports its own status so
an operator sees which one is down."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache

import orjson
import structlog
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from starlette.responses import Response

from molodets.migrations import MIGRATIONS_DIR
from molodets.runtime import Runtime

log = structlog.get_logger(__name__)

VERSION_TABLE = "alembic_version"


class SchemaNotCurrent(Exception):  # noqa: N818 - reads as a state, like the /readyz answer
    """The database answers, but this release's migrations have not all run on it."""

    def __init__(self, *, revision: str | None, head: str) -> None:
        super().__init__(f"the schema is at {revision or 'no revision'}; this release needs {head}")
        self.details: dict[str, object] = {"revision": revision, "head": head}


@cache
def _release_revisions() -> tuple[frozenset[str], frozenset[str]]:
    """Every migration this release ships, and the heads among them (read once per process)."""
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return frozenset(item.revision for item in script.walk_revisions()), frozenset(script.get_heads())


def _check_database(runtime: Runtime) -> None:
    # A read session: on SQLite a writing one would queue behind the event writer's write lock.
    with runtime.db.statement_reads() as session:
        connection = session.connection()
        current: set[str] = set()
        if inspect(connection).has_table(VERSION_TABLE):
            current.update(connection.scalars(text(f"SELECT version_num FROM {VERSION_TABLE}")))  # noqa: S608 - a constant
    known, heads = _release_revisions()
    # Only a schema behind this release is "not ready". One this release does not know is a newer
    # release's: the previous release keeps serving while the next one's migration has run and
    # its processes start (docs/operations.md), and must not drop out of the load balancer.
    if current <= known and current != heads:
        raise SchemaNotCurrent(revision=",".join(sorted(current)) or None, head=",".join(sorted(heads)))


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
            details = exc.details if isinstance(exc, SchemaNotCurrent) else {}
            report[name] = {"ok": False, "error": type(exc).__name__, **details}
        else:
            report[name] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    return all(item["ok"] for item in report.values()), report


def readiness_response(runtime: Runtime) -> Response:
    ready, report = readiness(runtime)
    body = {"status": "ok" if ready else "unavailable", "checks": report}
    return Response(orjson.dumps(body), status_code=200 if ready else 503, media_type="application/json")
