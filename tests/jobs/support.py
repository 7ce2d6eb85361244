"""Shared pieces of the job-seam tests: the side-effect table, a record of what job runs saw,
and a small stand-in for `molodets.runtime.Runtime` carrying what jobs use."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, func, select

from molodets.db import Database
from molodets.jobs import JobRuntime
from molodets.models import Base
from molodets.settings import Settings

EFFECTS = Table(
    "job_effects",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("key", String(100), nullable=False),
    Column("attempt", Integer, nullable=False),
)


@dataclass
class StandInRuntime:
    """What jobs reach through `ctx.runtime` in these tests (the real one also has storage)."""

    settings: Settings
    db: Database
    jobs: JobRuntime

    def effects(self, key: str) -> list[int]:
        """Attempt numbers of the committed side effects written under `key`."""
        with self.db.read_sessions() as session:
            rows = session.execute(
                select(EFFECTS.c.attempt).where(EFFECTS.c.key == key).order_by(EFFECTS.c.id)
            )
            return list(rows.scalars())

    def effect_count(self) -> int:
        with self.db.read_sessions() as session:
            return int(session.execute(select(func.count()).select_from(EFFECTS)).scalar_one())


def wait_for(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)


class Notes:
    """What job runs saw, including runs whose database writes were rolled back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, list[tuple[int, float]]] = {}

    def add(self, key: str, attempt: int) -> None:
        with self._lock:
            self._seen.setdefault(key, []).append((attempt, time.monotonic()))

    def attempts(self, key: str) -> list[int]:
        with self._lock:
            return [attempt for attempt, _ in self._seen.get(key, [])]

    def times(self, key: str) -> list[float]:
        with self._lock:
            return [at for _, at in self._seen.get(key, [])]


NOTES = Notes()


def make_runtime(data_dir: Path, redis_url: str | None, prefix: str) -> StandInRuntime:
    # _env_file=None and an explicit redis_url: CI's MOLODETS_REDIS_URL must not leak into the
    # SQLite variant.
    settings = Settings(_env_file=None, data_dir=data_dir, redis_url=redis_url)  # type: ignore[call-arg]
    db = Database(f"sqlite:///{data_dir / 'app.sqlite3'}")
    EFFECTS.metadata.create_all(db.engine)
    # The scheduler sends every registered periodic job, the application's too (the registry is
    # process-wide); give them their tables so they run as quick no-ops instead of failing.
    Base.metadata.create_all(db.engine)
    jobs = JobRuntime(settings, prefix=prefix)
    runtime = StandInRuntime(settings=settings, db=db, jobs=jobs)
    jobs.bind(runtime)  # type: ignore[arg-type]  # a stand-in for molodets.runtime.Runtime
    return runtime
