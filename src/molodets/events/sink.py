"""Group commit for watch events: requests validate their batch and hand the rows to this
process's writer thread, which appends everything that arrived in the last moment in one
transaction. A request never takes the database's write lock (on SQLite there is only one), so
ingest scales with requests, not with commits.

The price: rows wait up to `FLUSH_SECONDS` in memory, and a crash loses those (telemetry, not
records; a stopped server flushes first). The same transaction updates the recommender's
state (feed/online.py), off the request path.

A batch whose transaction fails for a transient reason (SQLite's write lock timed out, a
PostgreSQL serialization failure or lost connection) is retried whole, with backoff, for up to
`RETRY_GIVE_UP_SECONDS`; events arriving meanwhile queue behind it. Any other error (a bug, a
constraint) loses the batch at once: retrying would only fail again. Lost rows are logged and
counted (`molodets_events_dropped_total{reason="write_failed"}`)."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import anyio.to_thread
import structlog
from prometheus_client import Counter as MetricCounter
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from molodets.db import Database
from molodets.events import service
from molodets.events.schemas import EventIn
from molodets.feed.ranking import RankWeights

log = structlog.get_logger(__name__)

FLUSH_SECONDS = 0.05
FLUSH_ROWS = 5000
DURATION_TTL_SECONDS = 60.0
WRITER_SWITCH_SECONDS = 0.001
RETRY_FIRST_SECONDS = 0.05
RETRY_MAX_SECONDS = 2.0
# Beyond this a batch is lost: the queue behind it grows in memory meanwhile, and a database
# down for longer is an outage that readiness and alerts must report, not the writer hide.
RETRY_GIVE_UP_SECONDS = 60.0

WRITE_RETRIES = MetricCounter(
    "molodets_events_write_retries_total", "Event writer transactions retried after a transient error"
)


class EventSink:
    def __init__(self, db: Database, *, weights: RankWeights | None = None) -> None:
        self._db = db
        self._weights = weights or RankWeights()
        self._pending: list[tuple[str, dict[str, object]]] = []
        self._unwritten: Counter[str] = Counter()  # rows queued or being written, by viewer
        self._written = 0  # rows taken by the writer so far, for `flush`
        self._queued = 0
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._durations: dict[str, tuple[float, int | None]] = {}

    def submit(self, *, viewer: str, events: Sequence[EventIn], now_ms: int) -> service.IngestResult:
        """Validate a batch and queue its good events; called from a request's worker thread."""
        durations = self._known_durations({event.video_id for event in events})
        result, rows = service.validate(events, durations=durations, now_ms=now_ms, viewer=viewer)
        if rows:
            with self._lock:
                self._pending.extend((viewer, row) for row in rows)
                self._unwritten[viewer] += len(rows)
                self._queued += len(rows)
                self._start_writer()
                if len(self._pending) >= FLUSH_ROWS:
                    self._lock.notify_all()
        return result

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written (tests, shutdown); False if that
        took longer than `timeout`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            target = self._queued
            self._lock.notify_all()
            while self._written < target:
                if time.monotonic() >= deadline:
                    return False
                self._lock.wait(timeout=0.01)
            return True

    def settle(self, viewer: str, timeout: float = 0.25) -> bool:
        """Wait (briefly) until this viewer's queued events are written: the For You page they
        ask for next must reflect what they just did. False if some were still unwritten."""
        deadline = time.monotonic() + timeout
        with self._lock:
            if not self._unwritten[viewer]:
                return True
            self._lock.notify_all()
            while self._unwritten[viewer] and time.monotonic() < deadline:
                self._lock.wait(timeout=0.01)
            return not self._unwritten[viewer]

    def unwritten(self, viewer: str) -> int:
        """This viewer's events queued or being written now."""
        return self._unwritten[viewer]

    async def settled(self, viewer: str) -> bool:
        """`settle` from the event loop: a worker thread only when there is something to wait for."""
        if not self.unwritten(viewer):
            return True
        return await anyio.to_thread.run_sync(self.settle, viewer)

    def close(self, timeout: float = 10.0) -> None:
        """Flush, then stop the writer: a batch still being retried gets one more attempt, and
        is lost if that fails too (a closing process cannot wait for the database)."""
        if not self.flush(timeout):
            log.warning("watch_events_unflushed_at_close")
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _known_durations(self, raw_ids: set[str]) -> dict[str, int]:
        """Durations of ready videos among `raw_ids`, from a short-lived cache (a video that is
        deleted keeps receiving events for at most a minute)."""
        now = time.monotonic()
        found: dict[str, int] = {}
        missing = []
        for raw in raw_ids:
            cached = self._durations.get(raw)
            if cached is not None and cached[0] > now:
                if cached[1] is not None:
                    found[raw] = cached[1]
            else:
                missing.append(raw)
        if missing:
            with self._db.statement_reads() as session:
                looked_up = service.durations(session, missing)
            expires = now + DURATION_TTL_SECONDS
            for raw in missing:
                self._durations[raw] = (expires, looked_up.get(raw))
            found.update(looked_up)
            if len(self._durations) > 200_000:  # bounded: old entries go first
                self._durations = {k: v for k, v in self._durations.items() if v[0] > now}
        return found

    def _start_writer(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="event-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    if self._closed:
                        return
                    self._lock.wait(timeout=FLUSH_SECONDS)
                    continue
                if len(self._pending) < FLUSH_ROWS and not self._closed:
                    self._lock.wait(timeout=FLUSH_SECONDS)
                taken, self._pending = self._pending, []
            self._write(taken)
            with self._lock:
                self._written += len(taken)
                self._unwritten.subtract(viewer for viewer, _ in taken)
                self._unwritten += Counter()  # drop the zeros
                self._lock.notify_all()

    def _write(self, taken: list[tuple[str, dict[str, object]]]) -> None:
        rows = [row for _, row in taken]
        give_up_at = time.monotonic() + RETRY_GIVE_UP_SECONDS
        delay = RETRY_FIRST_SECONDS
        attempt = 1
        while True:
            try:
                with self._db.sessions() as session, _sharing_the_interpreter():
                    service.write(session, rows, weights=self._weights)
                    session.commit()
                return
            except Exception as exc:
                with self._lock:
                    closed = self._closed
                if not _transient(exc) or closed or time.monotonic() + delay > give_up_at:
                    log.exception("watch_events_write_failed", lost=len(rows), attempts=attempt)
                    service.EVENTS_DROPPED.labels("write_failed").inc(len(rows))
                    return
                log.warning(
                    "watch_events_write_retry",
                    rows=len(rows),
                    attempt=attempt,
                    retry_in=delay,
                    # The driver's message: SQLAlchemy's own repeats the statement and its rows.
                    error=str(exc.orig if isinstance(exc, DBAPIError) else exc),
                )
            WRITE_RETRIES.inc()
            with self._lock:
                # Not a plain wait: every submit and flush notifies, and must not cut the backoff.
                self._lock.wait_for(lambda: self._closed, timeout=delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)
            attempt += 1


@contextmanager
def _sharing_the_interpreter() -> Iterator[None]:
    """While the writer folds a batch into the recommender's state (long stretches of Python),
    the interpreter lock changes hands every `WRITER_SWITCH_SECONDS` instead of Python's 5 ms,
    so ingest requests are not queued behind it: benchmarks/events.py measured p99 77-88 ms
    with 5 ms, 42-48 ms with 1 ms. Only while a batch is written: set for good, the same
    setting cost For You ~10 % of its throughput (more hand-overs between page builds)."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(WRITER_SWITCH_SECONDS)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _transient(error: Exception) -> bool:
    """Whether the same transaction may succeed if tried again. OperationalError covers SQLite's
    "database is locked" and psycopg's serialization failures, deadlocks and lost connections
    (it is wide: SQLite's "no such table" is one too, harmless here since the retries are
    bounded, and a migration may be running); a pool timeout is waiting, not failing."""
    if isinstance(error, OperationalError | PoolTimeoutError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated
