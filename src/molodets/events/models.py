"""Tables of the events domain.

`watch_events` is append-only and the fastest-growing table: one narrow row per event, one
index (the viewer's history, which the recommender and the sign-up carry-over read). Video ids
are checked when a batch arrives rather than by a foreign key, so an insert touches one index;
events of a deleted video stay until they age out and are ignored by their readers."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from molodets.db import Base, IdMixin, utcnow


class EventType(enum.IntEnum):
    """Stored as small integers; the API speaks the names."""

    IMPRESSION = 1
    PLAY = 2
    PROGRESS = 3
    COMPLETE = 4
    REPLAY = 5
    SKIP = 6
    PAUSE = 7
    UNMUTE = 8
    LIKE = 9
    SHARE = 10
    FOLLOW = 11
    COMMENT = 12
    PROFILE_VISIT = 13
    NOT_INTERESTED = 14


class Source(enum.IntEnum):
    UNKNOWN = 0
    FOR_YOU = 1
    FOLLOWING = 2
    PROFILE = 3
    HASHTAG = 4
    SEARCH = 5
    SOUND = 6
    LINK = 7


class WatchEvent(IdMixin, Base):
    __tablename__ = "watch_events"
    __table_args__ = (Index("ix_watch_events_viewer_id", "viewer", "id"),)

    # "u<user id>" for a logged-in viewer, "a<anonymous id>" for a guest (the cookie's value).
    viewer: Mapped[str] = mapped_column(String(40))
    video_id: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[int] = mapped_column(SmallInteger)
    source: Mapped[int] = mapped_column(SmallInteger, default=Source.UNKNOWN)
    # When it happened on the client (epoch ms), and how much of the video had been watched by
    # then in this viewing (ms, loops included).
    client_ts: Mapped[int] = mapped_column(BigInteger)
    watched_ms: Mapped[int | None] = mapped_column(Integer)
    loops: Mapped[int | None] = mapped_column(SmallInteger)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class ViewMark(IdMixin, Base):
    """One per viewer, video and day: a view counts once per viewer per video per day."""

    __tablename__ = "view_marks"
    __table_args__ = (UniqueConstraint("viewer", "video_id", "day", name="uq_view_marks_viewer_video_day"),)

    viewer: Mapped[str] = mapped_column(String(40))
    video_id: Mapped[int] = mapped_column(BigInteger)
    day: Mapped[int] = mapped_column(Integer)  # days since the epoch (UTC) of the play
