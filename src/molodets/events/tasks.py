"""Periodic upkeep of the events domain."""

from __future__ import annotations

import time
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select

from molodets.events.models import ViewMark, WatchEvent
from molodets.events.service import DAY_MS
from molodets.feed.recommender import SEEN_DAYS
from molodets.ids import first_id_at
from molodets.jobs import JobContext, periodic

FORGET_CHUNK = 10_000  # watch events deleted per transaction


@periodic(minutes=60)
def forget_old_view_marks(ctx: JobContext) -> None:
    """View marks stop a second view of the same day counting, and keep For You from offering a
    video the viewer played lately (recommender.SEEN_DAYS); older ones are dead weight."""
    today = int(time.time() * 1000) // DAY_MS
    ctx.session.execute(delete(ViewMark).where(ViewMark.day < today - SEEN_DAYS))
    ctx.log.info("view_marks_forgotten")


@periodic(minutes=60)
def forget_old_watch_events(ctx: JobContext) -> None:
    """Raw watch events are kept for `MOLODETS_EVENTS_RETENTION_DAYS`: the recommender learned
    from them as they arrived, and the table is the fastest-growing one. IDs sort by time, so
    the primary key is the time index; rows go in chunks, each its own transaction, so the event
    writer never waits long behind a day's worth of deletes."""
    days = ctx.runtime.settings.events_retention_days
    cutoff = first_id_at(int(time.time() * 1000) - days * DAY_MS)
    oldest = select(WatchEvent.id).where(WatchEvent.id < cutoff).order_by(WatchEvent.id).limit(FORGET_CHUNK)
    forgotten = 0
    while True:
        with ctx.runtime.db.sessions() as session:
            result = cast(
                CursorResult[Any],
                session.execute(delete(WatchEvent).where(WatchEvent.id.in_(oldest.scalar_subquery()))),
            )
            session.commit()
        forgotten += result.rowcount
        if result.rowcount < FORGET_CHUNK:
            break
        ctx.check_deadline()
    ctx.log.info("watch_events_forgotten", count=forgotten, retention_days=days)
