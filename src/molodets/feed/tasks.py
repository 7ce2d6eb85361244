"""Periodic upkeep of the feeds."""

from __future__ import annotations

from sqlalchemy import text

from molodets.jobs import JobContext, periodic


@periodic(minutes=60)
def refresh_planner_statistics(ctx: JobContext) -> None:
    """Keep SQLite's planner statistics current. Nothing else fills them, and without them it
    reads one creator's newest videos by walking the newest-videos index (20 ms a For You page
    at 100,000 videos instead of 0.2). Bounded sampling keeps this a few milliseconds on any
    size. PostgreSQL's autovacuum analyses by itself."""
    if ctx.session.get_bind().dialect.name != "sqlite":
        return
    ctx.session.execute(text("PRAGMA analysis_limit=1000"))
    ctx.session.execute(text("ANALYZE"))
    ctx.log.info("planner_statistics_refreshed")
