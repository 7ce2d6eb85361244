"""Periodic upkeep of the events domain."""

from __future__ import annotations

import time

from sqlalchemy import delete

from molodets.events.models import ViewMark
from molodets.events.service import DAY_MS
from molodets.jobs import JobContext, periodic


@periodic(minutes=60)
def forget_old_view_marks(ctx: JobContext) -> None:
    """View marks only stop a second view of the same day counting; older ones are dead weight
    (events up to a day old are accepted, so yesterday's marks stay)."""
    today = int(time.time() * 1000) // DAY_MS
    ctx.session.execute(delete(ViewMark).where(ViewMark.day < today - 1))
    ctx.log.info("view_marks_forgotten")
