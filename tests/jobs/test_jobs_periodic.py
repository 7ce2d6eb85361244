"""Periodic jobs under the scheduler, job discovery, the `molodets worker` loop, readiness."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from molodets.jobs import (
    DEFAULT_QUEUE,
    JobContext,
    JobRuntime,
    JobsUnavailable,
    discover_jobs,
    get_job,
    job,
    periodic,
)
from molodets.settings import Settings

from .support import EFFECTS, StandInRuntime, wait_for

LEAP_DAY = datetime(2028, 2, 29, 0, 0, 10)  # naive UTC, as huey's scheduler passes it


@periodic(cron="0 0 29 2 *")
def leap_day(ctx: JobContext) -> None:
    ctx.session.execute(insert(EFFECTS).values(key="leap-day", attempt=ctx.attempt))


@periodic(minutes=1)
def minutely(ctx: JobContext) -> None:
    # Runs in every test whose scheduler is on; it only ever writes this key.
    ctx.session.execute(insert(EFFECTS).values(key="minutely", attempt=ctx.attempt))


@job(retries=0)
def mark(ctx: JobContext, key: str) -> None:
    ctx.session.execute(insert(EFFECTS).values(key=key, attempt=ctx.attempt))


def test_scheduler_runs_periodic_jobs(running: StandInRuntime) -> None:
    # huey's scheduler checks periodic jobs on its first pass, then once a minute.
    wait_for(lambda: running.effects("minutely") == [0])


def test_tick_sends_due_jobs_once_per_minute(rt: StandInRuntime) -> None:
    rt.jobs.tick_periodic(datetime(2028, 2, 28, 0, 0, 10))
    rt.jobs.drain()
    assert rt.effects("leap-day") == []
    assert rt.jobs.tick_periodic(LEAP_DAY) >= 2  # leap_day and minutely
    # A second scheduler (another worker) ticking in the same minute sends nothing.
    assert rt.jobs.tick_periodic(LEAP_DAY.replace(second=40)) == 0
    rt.jobs.drain()
    assert rt.effects("leap-day") == [0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"minutes": 7}, "divide"),
        ({"minutes": 0}, "at least 1"),
        ({"minutes": 5, "cron": "* * * * *"}, "exactly one"),
        ({"cron": "0 0 * *"}, "5 fields"),
        ({}, "exactly one"),
        ({"cron": "61 * * * *"}, "not a valid input"),
    ],
)
def test_bad_schedules_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        periodic(**kwargs)  # type: ignore[arg-type]


def test_hourly_schedules() -> None:
    schedule = periodic(minutes=120)(lambda ctx: None).schedule
    assert schedule is not None
    assert schedule(datetime(2028, 1, 1, 2, 0))
    assert not schedule(datetime(2028, 1, 1, 3, 0))


def test_discover_imports_domain_tasks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "fakeapp"
    (package / "things").mkdir(parents=True)
    (package / "bare").mkdir()
    (package / "__init__.py").write_text("")
    (package / "bare" / "__init__.py").write_text("")
    (package / "things" / "__init__.py").write_text("")
    (package / "things" / "tasks.py").write_text(
        "from molodets.jobs import job\n\n@job()\ndef ping(ctx):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert discover_jobs("fakeapp") == ["fakeapp.things.tasks"]
    assert get_job("fakeapp.things.tasks:ping").name == "fakeapp.things.tasks:ping"
    for name in ("fakeapp.things.tasks", "fakeapp.things", "fakeapp.bare", "fakeapp"):
        sys.modules.pop(name, None)


def test_unknown_job_names_raise_lookup_error() -> None:
    with pytest.raises(LookupError):
        get_job(f"{__name__}:no_such_job")


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="needs signals")
def test_worker_runs_until_sigterm(rt: StandInRuntime) -> None:
    with rt.db.sessions() as session, session.begin():
        mark.enqueue(session, "via-worker")

    def stop_when_done() -> None:
        deadline = time.monotonic() + 10
        while not rt.effects("via-worker") and time.monotonic() < deadline:
            time.sleep(0.02)
        if signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None):
            os.kill(os.getpid(), signal.SIGTERM)

    stopper = threading.Thread(target=stop_when_done)
    stopper.start()
    started = time.monotonic()
    rt.jobs.run_worker([DEFAULT_QUEUE], workers=1, scheduler=False, discover=False)
    stopper.join()
    assert rt.effects("via-worker") == [0]
    assert time.monotonic() - started < 10
    # Without the scheduler no periodic job was sent.
    assert rt.effects("minutely") == []
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_check_passes_on_reachable_storage(rt: StandInRuntime) -> None:
    rt.jobs.check()


def test_check_reports_unreachable_redis(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, redis_url="redis://127.0.0.1:9/0")  # type: ignore[call-arg]
    jobs = JobRuntime(settings)
    try:
        with pytest.raises(JobsUnavailable):
            jobs.check()
    finally:
        jobs.close()
