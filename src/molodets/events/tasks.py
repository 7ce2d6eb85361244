"""Periodic upkeep of the events domain."""

from __future__ import annotations

import time

from sqlalchemy import delete

from molodets.events.models import ViewMark
from molodets.events.service import DAY_MS
from molodets.feed.recommender import SEEN_DAYS
from molodets.jobs import JobContext, periodic


@periodic(minutes=60)
def forget_old_view_marks(ctx: JobContext) -> None:
    """View marks stop a second view of the same day counting, and keep For You from offering a
    video the viewer played lately (recommender.SEEN_DAYS); older ones are dead weight."""
    today = int(time.time() * 1000) // DAY_MS
    ctx.session.execute(delete(ViewMark).where(ViewMark.day < today - SEEN_DAYS))
    ctx.log.info("view_marks_forgotten")
