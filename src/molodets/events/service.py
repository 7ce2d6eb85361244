"""Ingesting watch events: validate each against what is possible, append the good ones with
multi-row inserts (sink.py batches them across requests), and count views once per viewer,
video and day.

An event that cannot be true (an unknown video, a time far from now, more watching than the
video and its loops allow) is dropped and counted by reason, never stored: the recommender
learns from these rows, so they must be evidence, not whatever a client sent."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import Counter as MetricCounter
from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session, aliased

from molodets.db import upsert_insert, utcnow
from molodets.events.models import EventType, Source, ViewMark, WatchEvent
from molodets.events.schemas import EventIn
from molodets.feed import online
from molodets.feed.ranking import RankWeights
from molodets.ids import new_id
from molodets.videos import service as videos
from molodets.videos.models import Video, VideoStatus

MAX_BATCH = 100
STALE_MS = 24 * 3600 * 1000  # an event older than a day is not news; the client kept it too long
FUTURE_MS = 5 * 60 * 1000  # clocks drift, but not by more than this
MAX_LOOPS = 100  # a 10 s clip looped for 16 minutes is already a lot
WATCH_SLACK_MS = 5000
DAY_MS = 24 * 3600 * 1000

EVENTS_ACCEPTED = MetricCounter("molodets_events_accepted_total", "Watch events stored", ["type"])
EVENTS_DROPPED = MetricCounter("molodets_events_dropped_total", "Watch events refused", ["reason"])


@dataclass
class IngestResult:
    accepted: int = 0
    dropped: Counter[str] = field(default_factory=Counter)


# The columns `write` passes to the driver, in order (received_at last, converted once).
_COLUMNS = ("id", "viewer", "video_id", "type", "source", "client_ts", "watched_ms", "loops")
_INSERT = {
    paramstyle: f"INSERT INTO watch_events ({', '.join(_COLUMNS)}, received_at) "  # noqa: S608 - constants
    f"VALUES ({', '.join([marker] * (len(_COLUMNS) + 1))})"
    for paramstyle, marker in (("qmark", "?"), ("format", "%s"), ("pyformat", "%s"))
}
_COPY = f"COPY watch_events ({', '.join(_COLUMNS)}, received_at) FROM STDIN"


def validate(
    events: Sequence[EventIn], *, durations: Mapping[str, int], now_ms: int, viewer: str
) -> tuple[IngestResult, list[dict[str, object]]]:
    """The rows to store for `viewer` ("u<id>" or "a<guest id>"), and what was dropped, by
    reason. `durations` holds the ready videos among the batch's ids."""
    result = IngestResult()
    rows: list[dict[str, object]] = []
    accepted: Counter[str] = Counter()
    received_at = utcnow()
    for event in events:
        reason = _refusal(event, durations, now_ms)
        if reason is not None:
            result.dropped[reason] += 1
            continue
        accepted[event.type] += 1
        rows.append(
            {
                "id": new_id(),
                "viewer": viewer,
                "video_id": int(event.video_id),
                "type": EventType[event.type.upper()].value,
                "source": Source[event.source.upper()].value if event.source else Source.UNKNOWN.value,
                "client_ts": event.ts,
                "watched_ms": event.watched_ms,
                "loops": event.loops,
                "received_at": received_at,
            }
        )
    result.accepted = len(rows)
    for type_name, count in accepted.items():
        EVENTS_ACCEPTED.labels(type_name).inc(count)
    for reason, count in result.dropped.items():
        EVENTS_DROPPED.labels(reason).inc(count)
    return result, rows


def write(
    session: Session,
    rows: list[dict[str, object]],
    *,
    now_ms: int | None = None,
    weights: RankWeights | None = None,
) -> int:
    """Append validated rows (of any viewers), count their views and fold them into the
    recommender's state (feed/online.py); returns the new views. `now_ms` is the writer's
    clock (the simulator passes its own)."""
    if not rows:
        return 0
    views = _append(session, rows)
    online.learn(
        session,
        rows,
        now_ms=int(time.time() * 1000) if now_ms is None else now_ms,
        weights=weights or RankWeights(),
    )
    return views


def _append(session: Session, rows: list[dict[str, object]]) -> int:
    """One multi-row insert (COPY on PostgreSQL), plus two statements when there are plays."""
    connection = session.connection()
    # The driver's own executemany with plain tuples: this is the hot loop, and SQLAlchemy's
    # per-row parameter processing cost more CPU than the database (and held the GIL from the
    # requests). Only `received_at` needs converting, and it is one value per write.
    if connection.dialect.name == "postgresql":
        # COPY: several times the rows per second of any INSERT form on PostgreSQL.
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(_COPY) as copy:
            for row in rows:
                copy.write_row((*(row[name] for name in _COLUMNS), row["received_at"]))
        return _count_views(session, rows)
    bind = WatchEvent.received_at.type.bind_processor(connection.dialect)
    received_at = bind(rows[0]["received_at"]) if bind else rows[0]["received_at"]
    connection.exec_driver_sql(
        _INSERT[connection.dialect.paramstyle],
        [(*(row[name] for name in _COLUMNS), received_at) for row in rows],
    )
    return _count_views(session, rows)


def durations(session: Session, raw_ids: Sequence[str]) -> dict[str, int]:
    """Duration (ms) of each ready video among the ids; unknown ids are absent."""
    ids = [int(raw) for raw in raw_ids]
    found = session.execute(
        select(Video.id, Video.duration_ms).where(Video.id.in_(ids), Video.status == VideoStatus.READY.value)
    )
    return {str(video_id): duration or 0 for video_id, duration in found}


def _refusal(event: EventIn, durations: Mapping[str, int], now_ms: int) -> str | None:
    duration = durations.get(event.video_id)
    if duration is None:
        return "unknown_video"
    if event.ts < now_ms - STALE_MS:
        return "stale"
    if event.ts > now_ms + FUTURE_MS:
        return "future"
    if event.watched_ms is not None:
        loops = MAX_LOOPS if event.loops is None else min(event.loops, MAX_LOOPS)
        if event.watched_ms > max(duration, 1000) * (loops + 1) + WATCH_SLACK_MS:
            return "impossible_watch"
    return None


def _count_views(session: Session, rows: list[dict[str, object]]) -> int:
    """Mark each played video viewed that day by its viewer; new marks add to the view counters."""
    marks = {
        (str(row["viewer"]), int(str(row["video_id"])), int(str(row["client_ts"])) // DAY_MS)
        for row in rows
        if row["type"] == EventType.PLAY.value
    }
    if not marks:
        return 0
    statement = upsert_insert(session)(ViewMark).on_conflict_do_nothing(
        index_elements=["viewer", "video_id", "day"]
    )
    new_marks = session.scalars(
        statement.returning(ViewMark.video_id),
        [
            {"id": new_id(), "viewer": viewer, "video_id": video_id, "day": day}
            for viewer, video_id, day in marks
        ],
    ).all()
    videos.add_views(session, Counter(new_marks))
    return len(new_marks)


def adopt_guest_history(session: Session, *, guest: str, user_id: int) -> None:
    """A guest who signs up or logs in keeps what their feed learned: their events and their
    recommender profile become the account's, and what they played is not offered again."""
    old, new = f"a{guest}", f"u{user_id}"
    kept = aliased(ViewMark)
    twice = exists().where(kept.viewer == new, kept.video_id == ViewMark.video_id, kept.day == ViewMark.day)
    session.execute(delete(ViewMark).where(ViewMark.viewer == old, twice))  # a mark per day, not two
    for model in (WatchEvent, ViewMark):
        session.execute(
            update(model).where(model.viewer == old).values(viewer=new),
            execution_options={"synchronize_session": False},
        )
    online.adopt_profile(session, guest=old, user=new, now_ms=int(time.time() * 1000))
