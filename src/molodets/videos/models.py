"""Tables of the videos domain: a video and the renditions it can be played from."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from molodets.db import Base, IdMixin, TimestampMixin


class VideoStatus(enum.StrEnum):
    PROCESSING = "processing"  # not playable yet
    READY = "ready"  # playable (the full ladder may still be on its way: see `stage`)
    FAILED = "failed"  # `error_code` says why


class Stage(enum.StrEnum):
    """Where processing is; the creator's page shows it with `progress`."""

    QUEUED = "queued"
    PROBING = "probing"
    FIRST_RENDITION = "first_rendition"
    LADDER = "ladder"
    DONE = "done"


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    FOLLOWERS = "followers"
    PRIVATE = "private"


class CommentAudience(enum.StrEnum):
    """Who may comment on a video while its comments are on (its author always may)."""

    EVERYONE = "everyone"
    FOLLOWERS = "followers"


class Video(IdMixin, TimestampMixin, Base):
    __tablename__ = "videos"
    __table_args__ = (
        Index("ix_videos_author_id_id", "author_id", "id"),
        Index("ix_videos_status_visibility_id", "status", "visibility", "id"),
    )

    author_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    upload_id: Mapped[int | None] = mapped_column(BigInteger)
    caption: Mapped[str] = mapped_column(Text, default="")
    hashtags: Mapped[list[str]] = mapped_column(JSON, default=list)
    mentions: Mapped[list[str]] = mapped_column(JSON, default=list)
    visibility: Mapped[str] = mapped_column(String(16), default=Visibility.PUBLIC.value)
    comments_enabled: Mapped[bool] = mapped_column(default=True)
    comment_audience: Mapped[str] = mapped_column(String(16), default=CommentAudience.EVERYONE.value)
    pinned_comment_id: Mapped[int | None] = mapped_column(BigInteger)
    language: Mapped[str | None] = mapped_column(String(8))
    cover_time_ms: Mapped[int | None]

    status: Mapped[str] = mapped_column(String(16), default=VideoStatus.PROCESSING.value)
    stage: Mapped[str] = mapped_column(String(24), default=Stage.QUEUED.value)
    progress: Mapped[int] = mapped_column(default=0)  # percent of the whole pipeline
    error_code: Mapped[str | None] = mapped_column(String(48))
    error_detail: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(default=0)
    # When the watchdog should consider the current stage stuck and queue it again.
    stage_deadline: Mapped[datetime | None]
    published_at: Mapped[datetime | None]

    duration_ms: Mapped[int | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    fps: Mapped[float | None]
    source: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # probe summary

    # Storage keys. Derived objects live under `media_prefix`, one folder per processing run,
    # so a re-run never overwrites what viewers may have cached and a crashed run is easy to sweep.
    media_prefix: Mapped[str | None] = mapped_column(String(200))
    original_key: Mapped[str | None] = mapped_column(String(300))
    poster_key: Mapped[str | None] = mapped_column(String(300))
    poster_webp_key: Mapped[str | None] = mapped_column(String(300))
    preview_key: Mapped[str | None] = mapped_column(String(300))
    audio_key: Mapped[str | None] = mapped_column(String(300))
    placeholder: Mapped[str | None] = mapped_column(String(120))

    view_count: Mapped[int] = mapped_column(BigInteger, default=0)
    like_count: Mapped[int] = mapped_column(BigInteger, default=0)
    comment_count: Mapped[int] = mapped_column(BigInteger, default=0)
    share_count: Mapped[int] = mapped_column(BigInteger, default=0)
    bookmark_count: Mapped[int] = mapped_column(BigInteger, default=0)


class Rendition(IdMixin, Base):
    __tablename__ = "renditions"
    __table_args__ = (Index("ix_renditions_video_id", "video_id"),)

    video_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("videos.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(16))
    width: Mapped[int]
    height: Mapped[int]
    bitrate: Mapped[int]
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(300))
