"""Group commit for watch events: requests validate their batch and hand the rows to this
process's writer thread, which appends everything that arrived in the last moment in one
transaction. A request never takes the database's write lock (on SQLite there is only one), so
ingest scales with requests, not with commits.

The price: rows wait up to `FLUSH_SECONDS` in memory, and a crash loses those (telemetry, not
records; a stopped server flushes first). The same transaction updates the recommender's
state (feed/online.py), off the request path."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence

import structlog

from molodets.db import Database
from molodets.events import service
from molodets.events.schemas import EventIn
from molodets.feed.ranking import RankWeights

log = structlog.get_logger(__name__)

FLUSH_SECONDS = 0.05
FLUSH_ROWS = 5000
DURATION_TTL_SECONDS = 60.0


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

    def settle(self, viewer: str, timeout: float = 0.25) -> None:
        """Wait (briefly) until this viewer's queued events are written: the For You page they
        ask for next must reflect what they just did."""
        deadline = time.monotonic() + timeout
        with self._lock:
            if not self._unwritten[viewer]:
                return
            self._lock.notify_all()
            while self._unwritten[viewer] and time.monotonic() < deadline:
                self._lock.wait(timeout=0.01)

    def close(self) -> None:
        if not self.flush():
            log.warning("watch_events_unflushed_at_close")
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)

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
            with self._db.read_sessions() as session:
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
        try:
            with self._db.sessions() as session:
                service.write(session, [row for _, row in taken], weights=self._weights)
                session.commit()
        except Exception:
            log.exception("watch_events_write_failed", rows=len(taken))
            service.EVENTS_DROPPED.labels("write_failed").inc(len(taken))
