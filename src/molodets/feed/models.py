"""The recommender's state: what every web process must see alike, so it lives in the database
and is kept current by the event writer (online.py), batch by batch.

- `feed_video_stats`: per video, what its audience did (counters), its decayed engagement (for
  trending) and a quality estimate (for the "strong videos" source).
- `feed_creator_stats`: the same counters per creator, the prior of their videos.
- `feed_video_tags`: hashtag -> videos (with their quality), for "more of what this viewer
  likes" candidates.
- `feed_viewer_profiles`: per viewer, decayed exposure and positive counts per hashtag and per
  creator (the interest the ranker reads), and their latest positively engaged videos.
- `feed_co_engagement`: video -> videos that the same viewers engaged with next to it.
- `feed_vector_models`: video embeddings learned from co-engagement by a periodic job."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from molodets.db import Base, IdMixin


class OutcomeCounters:
    """What audiences did with the impressions counted."""

    impressions: Mapped[int] = mapped_column(Integer, default=0)
    long_views: Mapped[int] = mapped_column(Integer, default=0)  # > 18 s watched, or completed
    completes: Mapped[int] = mapped_column(Integer, default=0)
    skips: Mapped[int] = mapped_column(Integer, default=0)
    likes: Mapped[int] = mapped_column(Integer, default=0)
    shares: Mapped[int] = mapped_column(Integer, default=0)
    follows: Mapped[int] = mapped_column(Integer, default=0)
    hates: Mapped[int] = mapped_column(Integer, default=0)  # "not interested"


class VideoStats(OutcomeCounters, Base):
    __tablename__ = "feed_video_stats"
    __table_args__ = (
        Index("ix_feed_video_stats_trend", "trend"),
        Index("ix_feed_video_stats_quality", "quality"),
    )

    video_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)  # copied: the ranker buckets by it
    watch_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    # log of the engagement decayed to a fixed epoch (see online.TREND_HALF_LIFE_HOURS): orders
    # videos by current decayed engagement without ever rewriting old rows.
    trend: Mapped[float] = mapped_column(Float, default=-1e9)
    quality: Mapped[float] = mapped_column(Float, default=0.0)  # value estimate, shrunk to the prior


class CreatorStats(OutcomeCounters, Base):
    """What audiences did with a creator's videos, all together: the prior of each new one."""

    __tablename__ = "feed_creator_stats"

    author_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class VideoTag(Base):
    __tablename__ = "feed_video_tags"
    __table_args__ = (
        Index("ix_feed_video_tags_video_id", "video_id"),
        Index("ix_feed_video_tags_tag_quality", "tag", "quality"),
    )

    tag: Mapped[str] = mapped_column(String(100), primary_key=True)
    video_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The video's stats.quality, copied so a hashtag's best videos are one index range.
    quality: Mapped[float] = mapped_column(Float, default=1.0)


class ViewerProfile(Base):
    __tablename__ = "feed_viewer_profiles"

    viewer: Mapped[str] = mapped_column(String(40), primary_key=True)  # as in watch_events
    # {"t": {tag: [exposure, positive]}, "c": {creator id: [exposure, positive]},
    #  "r": [recent positive video ids, newest last], "w": {video id: watched ms counted}}
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class CoEngagement(Base):
    __tablename__ = "feed_co_engagement"
    __table_args__ = (Index("ix_feed_co_engagement_video_weight", "video_id", "weight"),)

    video_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    neighbour_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    weight: Mapped[float] = mapped_column(Float, default=0.0)


class VectorModel(IdMixin, Base):
    """Video embeddings learned from co-engagement (feed/vectors.py): the newest row is in use."""

    __tablename__ = "feed_vector_models"

    trained_ms: Mapped[int] = mapped_column(BigInteger)
    dimensions: Mapped[int] = mapped_column(Integer)
    video_ids: Mapped[bytes] = mapped_column(LargeBinary)  # little-endian int64, ascending
    vectors: Mapped[bytes] = mapped_column(LargeBinary)  # little-endian float32, a row per id, unit length
