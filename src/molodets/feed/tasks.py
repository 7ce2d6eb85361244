"""Periodic upkeep of the feeds."""

from __future__ import annotations

import time

from sqlalchemy import text

from molodets.feed import vectors
from molodets.jobs import JobContext, periodic

VECTOR_MINUTES = 30


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


@periodic(minutes=VECTOR_MINUTES)
def train_video_vectors(ctx: JobContext) -> None:
    """Relearn the video embeddings from the co-engagement pairs gathered since (vectors.py).
    New pairs arrive with every batch of events; a video's vector can wait this long, since
    until it has one the other candidate sources (newest, hashtags, neighbours) carry it."""
    started = time.perf_counter()
    # Learnt in a read session: the job's own would take SQLite's write lock at its first
    # statement and hold it while the pairs are factorised, every other writer waiting.
    with ctx.runtime.db.read_sessions() as session:
        learned = vectors.learn(session)
    if learned is not None:
        vectors.store(ctx.session, *learned, now_ms=int(time.time() * 1000))
    videos = None if learned is None else len(learned[0])
    ctx.log.info("feed_vectors_trained", videos=videos, seconds=round(time.perf_counter() - started, 2))
