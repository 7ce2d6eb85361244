"""The event writer retries a batch whose transaction failed for a transient reason, in order and
without holding up new events; it gives up, counting the loss, on any other error, after a
bounded time, or when the sink closes."""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from molodets.events import sink as sink_module
from molodets.events.models import WatchEvent
from molodets.events.schemas import EventIn
from molodets.events.sink import EventSink
from molodets.runtime import Runtime
from molodets.videos.models import Video
from tests.factories.accounts import make_user
from tests.factories.videos import make_ready_video

INSERT = "INSERT INTO watch_events (...) VALUES (...)"
WriteCall = list[dict[str, object]]


def locked() -> Exception:
    return OperationalError(INSERT, None, sqlite3.OperationalError("database is locked"))


def connection_lost() -> Exception:
    return DBAPIError(INSERT, None, Exception("server closed the connection"), connection_invalidated=True)


def duplicate() -> Exception:
    return IntegrityError(INSERT, None, sqlite3.IntegrityError("UNIQUE constraint failed: watch_events.id"))


def lost() -> float:
    return REGISTRY.get_sample_value("molodets_events_dropped_total", {"reason": "write_failed"}) or 0.0


def retries() -> float:
    return REGISTRY.get_sample_value("molodets_events_write_retries_total") or 0.0


def stored(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(WatchEvent)) or 0)


def events(video: Video, count: int) -> list[EventIn]:
    now = int(time.time() * 1000)
    return [
        EventIn(type="progress", video_id=str(video.id), ts=now, watched_ms=100 * n) for n in range(count)
    ]


class FailingWrite:
    """`service.write` failing its first `failures` calls with `error()`, then the real one;
    records the rows of every call."""

    def __init__(self, error: Callable[[], Exception], failures: int) -> None:
        self.real = sink_module.service.write
        self.error = error
        self.failures = failures
        self.calls: list[WriteCall] = []
        self.failed = threading.Event()

    def __call__(self, session: Session, rows: WriteCall, **kwargs: object) -> int:
        self.calls.append(list(rows))
        if len(self.calls) <= self.failures:
            self.failed.set()
            raise self.error()
        return self.real(session, rows, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def sink(runtime: Runtime) -> Iterator[EventSink]:
    """A writer of its own over the test database (the runtime's belongs to the other tests)."""
    made = EventSink(runtime.db)
    yield made
    made.close(timeout=2)


@pytest.fixture
def video(db: Session) -> Video:
    made = make_ready_video(db, make_user(db))
    db.rollback()  # hold no transaction: the writer needs the database
    return made


def install(monkeypatch: pytest.MonkeyPatch, error: Callable[[], Exception], failures: int) -> FailingWrite:
    write = FailingWrite(error, failures)
    monkeypatch.setattr(sink_module.service, "write", write)
    return write


@pytest.mark.parametrize("error", [locked, connection_lost])
def test_a_transient_failure_is_retried_in_order_while_new_events_queue(
    sink: EventSink,
    video: Video,
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
    error: Callable[[], Exception],
) -> None:
    write = install(monkeypatch, error, failures=2)
    lost_before, retries_before = lost(), retries()
    first = sink.submit(viewer="u1", events=events(video, 5), now_ms=int(time.time() * 1000))
    assert write.failed.wait(timeout=5)
    started = time.monotonic()
    second = sink.submit(viewer="u2", events=events(video, 3), now_ms=int(time.time() * 1000))
    assert time.monotonic() - started < 1  # the retrying writer does not hold up requests
    assert (first.accepted, second.accepted) == (5, 3)

    assert sink.flush(timeout=10)
    # The failed batch three times, whole and in order, then the events that arrived meanwhile.
    first_rows = write.calls[0]
    assert [row["viewer"] for row in first_rows] == ["u1"] * 5
    assert [row["watched_ms"] for row in first_rows] == [0, 100, 200, 300, 400]
    assert write.calls[:3] == [first_rows] * 3
    assert [row["viewer"] for call in write.calls[3:] for row in call] == ["u2"] * 3
    assert stored(db) == 8
    assert (lost() - lost_before, retries() - retries_before) == (0, 2)


def test_a_non_transient_failure_loses_the_batch_at_once(
    sink: EventSink, video: Video, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = install(monkeypatch, duplicate, failures=1_000)
    lost_before, retries_before = lost(), retries()
    sink.submit(viewer="u1", events=events(video, 4), now_ms=int(time.time() * 1000))
    started = time.monotonic()
    assert sink.flush(timeout=5)
    assert time.monotonic() - started < 1
    assert len(write.calls) == 1
    assert stored(db) == 0
    assert (lost() - lost_before, retries() - retries_before) == (4, 0)


def test_retries_stop_after_a_bounded_time(
    sink: EventSink, video: Video, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sink_module, "RETRY_GIVE_UP_SECONDS", 0.3)
    write = install(monkeypatch, locked, failures=1_000)
    lost_before = lost()
    sink.submit(viewer="u1", events=events(video, 3), now_ms=int(time.time() * 1000))
    assert sink.flush(timeout=5)
    assert 2 <= len(write.calls) <= 5  # 0.05 + 0.1 s of backoff, then 0.2 s would pass the bound
    assert stored(db) == 0
    assert lost() - lost_before == 3


def test_closing_stops_the_retries(
    sink: EventSink, video: Video, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = install(monkeypatch, locked, failures=1_000)
    lost_before = lost()
    sink.submit(viewer="u1", events=events(video, 2), now_ms=int(time.time() * 1000))
    assert write.failed.wait(timeout=5)
    started = time.monotonic()
    sink.close(timeout=1)  # flushing waits it out, then the writer makes one last attempt
    assert time.monotonic() - started < 4
    assert lost() - lost_before == 2
    attempts = len(write.calls)
    time.sleep(0.3)
    assert len(write.calls) == attempts  # no attempt after giving up


def test_the_interpreter_changes_hands_more_often_only_while_a_batch_is_written(
    sink: EventSink, video: Video, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Learning from a batch is long stretches of Python: requests must not queue behind it for
    the interpreter's default 5 ms each time, and nothing else may run with the shorter setting."""
    real_write = sink_module.service.write
    during: list[float] = []

    def observed_write(session: Session, rows: WriteCall, **kwargs: object) -> int:
        during.append(sys.getswitchinterval())
        return real_write(session, rows, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sink_module.service, "write", observed_write)
    before = sys.getswitchinterval()
    sink.submit(viewer="u1", events=events(video, 4), now_ms=int(time.time() * 1000))
    assert sink.flush(timeout=10)
    assert during == [sink_module.WRITER_SWITCH_SECONDS]
    assert sys.getswitchinterval() == before
    assert stored(db) == 4
