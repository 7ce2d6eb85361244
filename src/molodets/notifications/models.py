"""Tables of the notifications domain.

One row per *group* rather than per event: "Ivan and 5 others liked your video" is one row whose
`actor_count` grows while it is unread, so the inbox reads one page of rows whatever the number
of likes behind them. `notification_actors` keeps each group's actors once, so one person liking,
unliking and liking again counts once. Comments, replies and mentions are groups of one."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from molodets.db import Base, IdMixin, utcnow
from molodets.ids import new_id


class Kind(enum.StrEnum):
    LIKE = "like"  # of a video
    COMMENT_LIKE = "comment_like"
    COMMENT = "comment"
    REPLY = "reply"
    MENTION = "mention"  # in a caption or a comment
    FOLLOW = "follow"
    FOLLOW_REQUEST = "follow_request"
    FOLLOW_ACCEPTED = "follow_accepted"


class Notification(IdMixin, Base):
    __tablename__ = "notifications"
    __table_args__ = (
        # The inbox, the latest activity first.
        Index("ix_notifications_recipient_id_sort_id", "recipient_id", "sort_id"),
        # At most one open (unread) group per key: later events join it. Also what counts unread.
        Index(
            "uq_notifications_open_group",
            "recipient_id",
            "group_key",
            unique=True,
            sqlite_where=text("read_at IS NULL"),
            postgresql_where=text("read_at IS NULL"),
        ),
        Index("ix_notifications_video_id", "video_id"),
        Index("ix_notifications_comment_id", "comment_id"),
    )

    recipient_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    # What events of one group share, e.g. "like:<video id>"; unique per event for kinds that
    # are never grouped.
    group_key: Mapped[str] = mapped_column(String(64))
    # A fresh time-sortable id at every new actor: the inbox's order and keyset cursor, so a
    # group that gained a like moves to the top.
    sort_id: Mapped[int] = mapped_column(BigInteger, default=new_id)
    actor_count: Mapped[int] = mapped_column(default=1)
    last_actor_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    video_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("videos.id", ondelete="CASCADE"))
    # A deleted comment takes its notifications with it.
    comment_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("comments.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(default=None)


class NotificationActor(IdMixin, Base):
    __tablename__ = "notification_actors"
    __table_args__ = (UniqueConstraint("notification_id", "actor_id", name="uq_notification_actors_pair"),)

    notification_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("notifications.id", ondelete="CASCADE")
    )
    actor_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
