"""Jobs reach the queue only after commit, run once in their own transaction, retry with backoff,
and keep the media queue from starving the default one. Real consumer threads throughout."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import insert

from molodets.db import Database
from molodets.jobs import (
    DEFAULT_QUEUE,
    MEDIA_QUEUE,
    JobContext,
    JobTimeout,
    PermanentJobError,
    backoff_delay,
    job,
)

from .support import EFFECTS, NOTES, StandInRuntime, wait_for

GATES: dict[str, threading.Event] = {}


def _write(ctx: JobContext, key: str) -> None:
    ctx.session.execute(insert(EFFECTS).values(key=key, attempt=ctx.attempt))


@job(retries=0)
def record(ctx: JobContext, key: str) -> None:
    NOTES.add(key, ctx.attempt)
    _write(ctx, key)


@job(retries=2, backoff_seconds=0.2)
def flaky(ctx: JobContext, key: str, failures: int) -> None:
    NOTES.add(key, ctx.attempt)
    _write(ctx, key)
    if ctx.attempt < failures:
        raise RuntimeError("transient failure")


@job(retries=3, backoff_seconds=0.01)
def doomed(ctx: JobContext, key: str) -> None:
    NOTES.add(key, ctx.attempt)
    _write(ctx, key)
    raise PermanentJobError("the video is gone")


@job(retries=1, backoff_seconds=0.01)
def always_fails(ctx: JobContext, key: str) -> None:
    NOTES.add(key, ctx.attempt)
    raise ValueError("broken")


@job(queue=MEDIA_QUEUE, retries=0)
def slow_media(ctx: JobContext, key: str) -> None:
    NOTES.add(key, ctx.attempt)
    GATES[key].wait(10)
    _write(ctx, key)


@job(retries=0)
def parent(ctx: JobContext, key: str, fail: bool) -> None:
    record.enqueue(ctx.session, f"{key}-child")
    _write(ctx, key)
    if fail:
        raise PermanentJobError("parent failed after enqueueing its child")


@job(retries=0, timeout_seconds=30)
def timed(ctx: JobContext, key: str) -> None:
    NOTES.add(key, round(ctx.remaining() or -1))


def _key(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def _outcomes(name: str, outcome: str, queue: str = DEFAULT_QUEUE) -> float:
    labels = {"job": name, "queue": queue, "outcome": outcome}
    return REGISTRY.get_sample_value("molodets_jobs_total", labels) or 0.0


def test_rolled_back_enqueue_never_runs(running: StandInRuntime) -> None:
    lost, sent = _key("lost"), _key("sent")

    def request_that_fails() -> None:
        with running.db.sessions() as session, session.begin():
            record.enqueue(session, lost)
            session.execute(insert(EFFECTS).values(key=lost, attempt=-1))
            raise RuntimeError("rollback")

    with pytest.raises(RuntimeError, match="rollback"):
        request_that_fails()
    with running.db.sessions() as session, session.begin():
        record.enqueue(session, sent)
    # The later job has run, so the consumer was alive while the first could have.
    wait_for(lambda: running.effects(sent) == [0])
    time.sleep(0.5)
    assert running.effects(lost) == []
    assert NOTES.attempts(lost) == []
    assert (record.name, [lost]) not in running.jobs.pending(DEFAULT_QUEUE)
    assert (record.name, [lost]) not in running.jobs.pending(DEFAULT_QUEUE, scheduled=True)


def test_committed_enqueue_runs_exactly_once(running: StandInRuntime) -> None:
    key = _key("once")
    with running.db.sessions() as session, session.begin():
        record.enqueue(session, key)
        # Not sent before the commit.
        assert (record.name, [key]) not in running.jobs.pending(DEFAULT_QUEUE)
    wait_for(lambda: running.effects(key))
    time.sleep(0.5)
    assert running.effects(key) == [0]
    assert NOTES.attempts(key) == [0]


def test_failed_run_rolls_back_and_retries_with_backoff(running: StandInRuntime) -> None:
    key = _key("flaky")
    retries, successes = _outcomes(flaky.name, "retry"), _outcomes(flaky.name, "success")
    with running.db.sessions() as session, session.begin():
        flaky.enqueue(session, key, 2)
    wait_for(lambda: running.effects(key), timeout=8)
    # Attempts 0 and 1 wrote a row and raised: only attempt 2's row is committed.
    assert running.effects(key) == [2]
    assert NOTES.attempts(key) == [0, 1, 2]
    first, second, third = NOTES.times(key)
    assert second - first >= backoff_delay(0.2, 0)
    assert third - second >= backoff_delay(0.2, 1)
    assert _outcomes(flaky.name, "retry") == retries + 2
    assert _outcomes(flaky.name, "success") == successes + 1


def test_permanent_error_fails_at_once_and_is_counted(running: StandInRuntime) -> None:
    key = _key("doomed")
    failed, retried = _outcomes(doomed.name, "failed"), _outcomes(doomed.name, "retry")
    with running.db.sessions() as session, session.begin():
        doomed.enqueue(session, key)
    wait_for(lambda: _outcomes(doomed.name, "failed") == failed + 1)
    time.sleep(1.2)  # longer than a scheduler pass: no retry shows up
    assert NOTES.attempts(key) == [0]
    assert _outcomes(doomed.name, "retry") == retried
    assert running.effects(key) == []
    assert (doomed.name, [key]) not in running.jobs.pending(DEFAULT_QUEUE, scheduled=True)


def test_exhausted_retries_count_as_failed(running: StandInRuntime) -> None:
    key = _key("exhausted")
    failed = _outcomes(always_fails.name, "failed")
    with running.db.sessions() as session, session.begin():
        always_fails.enqueue(session, key)
    wait_for(lambda: _outcomes(always_fails.name, "failed") == failed + 1, timeout=8)
    assert NOTES.attempts(key) == [0, 1]
    sample = REGISTRY.get_sample_value(
        "molodets_job_seconds_count", {"job": always_fails.name, "queue": DEFAULT_QUEUE}
    )
    assert sample is not None
    assert sample >= 2


def test_long_media_job_does_not_delay_default_jobs(rt: StandInRuntime) -> None:
    rt.jobs.start_consumers(workers=1, media_workers=1, discover=False)
    media, quick = _key("media"), _key("quick")
    GATES[media] = threading.Event()
    try:
        with rt.db.sessions() as session, session.begin():
            slow_media.enqueue(session, media)
        wait_for(lambda: NOTES.attempts(media) == [0])
        with rt.db.sessions() as session, session.begin():
            record.enqueue(session, quick)
        wait_for(lambda: rt.effects(quick) == [0], timeout=3)
        assert rt.effects(media) == []  # still transcoding
    finally:
        GATES[media].set()
    wait_for(lambda: rt.effects(media) == [0])


def test_jobs_enqueued_by_a_job_leave_only_after_its_commit(rt: StandInRuntime) -> None:
    ok, failing = _key("parent-ok"), _key("parent-failing")
    with rt.db.sessions() as session, session.begin():
        parent.enqueue(session, ok, False)
        parent.enqueue(session, failing, True)
    # drain runs jobs in this thread through the same pickle round trip as a worker.
    assert rt.jobs.drain() == 3
    assert rt.effects(ok) == [0]
    assert rt.effects(f"{ok}-child") == [0]
    assert rt.effects(failing) == []
    assert rt.effects(f"{failing}-child") == []


def test_delay_and_priority(rt: StandInRuntime) -> None:
    later, low, high = _key("later"), _key("low"), _key("high")
    with rt.db.sessions() as session, session.begin():
        record.enqueue(session, later, delay_seconds=60)
        record.enqueue(session, low)
        record.enqueue(session, high, priority=10)
    assert rt.jobs.pending(DEFAULT_QUEUE, scheduled=True) == [(record.name, [later])]
    assert rt.jobs.pending(DEFAULT_QUEUE) == [(record.name, [high]), (record.name, [low])]
    assert rt.jobs.drain() == 2
    assert NOTES.times(high)[0] < NOTES.times(low)[0]
    assert rt.effects(later) == []
    assert rt.jobs.drain(include_scheduled=True) == 1
    assert rt.effects(later) == [0]


def test_time_limit_reaches_the_job(rt: StandInRuntime) -> None:
    key = _key("timed")
    with rt.db.sessions() as session, session.begin():
        timed.enqueue(session, key)
    rt.jobs.drain()
    assert NOTES.attempts(key) == [30]


def test_check_deadline_raises_once_passed(rt: StandInRuntime) -> None:
    with rt.db.sessions() as session:
        ctx = JobContext(session, rt, "id", 0, log=None, deadline=time.monotonic() - 1)  # type: ignore[arg-type]
        assert ctx.remaining() == 0.0
        with pytest.raises(JobTimeout):
            ctx.check_deadline()


@pytest.mark.parametrize("bad", [object(), b"bytes", {1, 2}, datetime.now(UTC), float("nan")])
def test_non_json_arguments_are_refused_at_enqueue(rt: StandInRuntime, bad: object) -> None:
    with rt.db.sessions() as session, session.begin(), pytest.raises(TypeError, match="JSON"):
        record.enqueue(session, bad)  # type: ignore[arg-type]
    assert rt.jobs.pending_count(DEFAULT_QUEUE) == 0


def test_wrong_arity_is_refused_at_enqueue(rt: StandInRuntime) -> None:
    with rt.db.sessions() as session, pytest.raises(TypeError, match="argument"):
        record.enqueue(session, "a", "b")  # type: ignore[call-arg]


def test_enqueue_needs_a_bound_job_runtime() -> None:
    db = Database("sqlite://")
    try:
        with db.sessions() as session, pytest.raises(RuntimeError, match="JobRuntime"):
            record.enqueue(session, "x")
    finally:
        db.dispose()


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_delay(5.0, attempt) for attempt in range(4)] == [5.0, 10.0, 20.0, 40.0]
    assert backoff_delay(5.0, 100) == 3600.0
