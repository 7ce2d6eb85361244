"""The request/job seam end to end: a job enqueued by a request reaches the queue only if the
request's transaction commits, and then runs exactly once on real consumer threads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import molodets.accounts.tasks  # noqa: F401 - registers the periodic job under test
from molodets.accounts import service
from molodets.accounts.models import User, UserSession
from molodets.app import create_app
from molodets.db import utcnow
from molodets.errors import Problem
from molodets.http import DbSession
from molodets.jobs import DEFAULT_QUEUE, JobContext, job
from molodets.runtime import Runtime
from tests.factories.accounts import make_user


@job(queue=DEFAULT_QUEUE, retries=0)
def append_to_bio(ctx: JobContext, user_id: int, text: str) -> None:
    """A job with a visible effect: each run appends `text` to the user's bio."""
    user = ctx.session.get(User, user_id)
    assert user is not None
    user.bio += text


router = APIRouter()


@router.post("/test/bio/{user_id}")
def enqueue_then_maybe_fail(user_id: int, fail: bool, db: DbSession) -> dict[str, str]:
    append_to_bio.enqueue(db, user_id, "+")
    if fail:
        raise Problem(409, "test_failure", "the request fails after enqueueing")
    return {"status": "ok"}


@pytest.fixture
def consumers(runtime: Runtime) -> Iterator[None]:
    runtime.jobs.start_consumers(1, scheduler=False)  # periodic jobs are not under test here
    yield
    runtime.jobs.stop_consumers()


def bio_of(runtime: Runtime, user_id: int) -> str:
    with runtime.db.sessions() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user.bio


def our_jobs_pending(runtime: Runtime) -> list[object]:
    # Only this test's job: the scheduler may have queued periodic jobs other tests registered.
    queued = runtime.jobs.pending(DEFAULT_QUEUE) + runtime.jobs.pending(DEFAULT_QUEUE, scheduled=True)
    return [entry for entry in queued if entry[0] == append_to_bio.name]


def wait_for(predicate: object, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_committed_request_runs_its_job_once_rolled_back_never(
    runtime: Runtime, db: Session, consumers: None
) -> None:
    user = make_user(db, username="jobber")
    app = create_app(runtime)
    app.include_router(router)
    client = TestClient(app, raise_server_exceptions=False)

    failed = client.post(f"/test/bio/{user.id}", params={"fail": True})
    assert failed.status_code == 409
    assert not our_jobs_pending(runtime)

    ok = client.post(f"/test/bio/{user.id}", params={"fail": False})
    assert ok.status_code == 200
    assert wait_for(lambda: bio_of(runtime, user.id) == "+")
    # Give a duplicate delivery, or the rolled-back job, time to show up; neither may.
    time.sleep(1.5)
    assert bio_of(runtime, user.id) == "+"
    assert not our_jobs_pending(runtime)


def test_expired_sessions_are_purged_by_the_nightly_job(runtime: Runtime, db: Session) -> None:
    user = make_user(db, username="sleepy")
    live, _ = service.do_start_session(db, user=user, days=1)
    dead, _ = service.do_start_session(db, user=user, days=1)
    dead.expires_at = utcnow() - timedelta(seconds=1)
    db.commit()
    # What the scheduler does at 03:17 UTC, then what a worker does with the message.
    assert (
        runtime.jobs.tick_periodic(datetime(2026, 1, 1, 3, 17)) >= 1
    )  # naive UTC, as the scheduler passes it
    assert ("molodets.accounts.tasks:purge_expired_sessions", []) in runtime.jobs.pending(DEFAULT_QUEUE)
    runtime.jobs.drain()
    db.expire_all()
    assert db.scalars(select(UserSession.id)).all() == [live.id]
    assert db.scalar(select(func.count()).select_from(User)) == 1
