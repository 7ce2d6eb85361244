"""Tables of the social domain. Each relation is one row with a time-sortable id, unique on its
pair: the id orders lists newest first (keyset pagination), the unique pair makes every toggle
idempotent in the database itself, whatever the race."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from molodets.db import Base, IdMixin, utcnow


class Follow(IdMixin, Base):
    __tablename__ = "follows"
    __table_args__ = (
        UniqueConstraint("follower_id", "followee_id", name="uq_follows_pair"),
        Index("ix_follows_followee_id_id", "followee_id", "id"),  # a creator's followers, newest first
        Index("ix_follows_follower_id_id", "follower_id", "id"),  # whom a viewer follows
    )

    follower_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    followee_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FollowRequest(IdMixin, Base):
    """`requester` asked to follow the private account `target`; approving it makes a Follow."""

    __tablename__ = "follow_requests"
    __table_args__ = (
        UniqueConstraint("requester_id", "target_id", name="uq_follow_requests_pair"),
        Index("ix_follow_requests_target_id_id", "target_id", "id"),  # requests to approve, newest first
    )

    requester_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VideoLike(IdMixin, Base):
    __tablename__ = "video_likes"
    __table_args__ = (
        UniqueConstraint("user_id", "video_id", name="uq_video_likes_pair"),
        Index("ix_video_likes_user_id_id", "user_id", "id"),  # the viewer's liked list
        Index("ix_video_likes_video_id", "video_id"),
    )

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    video_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("videos.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Bookmark(IdMixin, Base):
    __tablename__ = "bookmarks"
    __table_args__ = (
        UniqueConstraint("user_id", "video_id", name="uq_bookmarks_pair"),
        Index("ix_bookmarks_user_id_id", "user_id", "id"),
        Index("ix_bookmarks_video_id", "video_id"),
    )

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    video_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("videos.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Comment(IdMixin, Base):
    """A comment on a video, or a reply in a comment's thread. Two levels only: a reply to a
    reply joins its thread (`thread_id` is the top comment) and names whom it answers."""

    __tablename__ = "comments"
    __table_args__ = (
        # Top comments of a video by "top" order and newest; replies of a thread oldest first.
        Index("ix_comments_video_top", "video_id", "thread_id", "top_score", "id"),
        Index("ix_comments_video_new", "video_id", "thread_id", "id"),
        Index("ix_comments_thread_id_id", "thread_id", "id"),
        Index("ix_comments_author_id", "author_id"),
    )

    video_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("videos.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    # The top comment of the thread for a reply (deleting it deletes the thread); 0 for a top
    # comment, so one composite index serves "top comments of a video" without NULL handling.
    thread_id: Mapped[int] = mapped_column(BigInteger, default=0)
    reply_to_user_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    text: Mapped[str] = mapped_column(Text)
    mentions: Mapped[list[str]] = mapped_column(JSON, default=list)
    hashtags: Mapped[list[str]] = mapped_column(JSON, default=list)
    like_count: Mapped[int] = mapped_column(BigInteger, default=0)
    reply_count: Mapped[int] = mapped_column(default=0)
    # Set when the video's author replied in this thread: the "top" order lifts such threads.
    author_replied: Mapped[bool] = mapped_column(default=False)
    # The "top" order's key, kept with the likes and author replies it is made of.
    top_score: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommentLike(IdMixin, Base):
    __tablename__ = "comment_likes"
    __table_args__ = (
        UniqueConstraint("user_id", "comment_id", name="uq_comment_likes_pair"),
        Index("ix_comment_likes_comment_id", "comment_id"),
    )

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    comment_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("comments.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Block(IdMixin, Base):
    """`blocker` blocked `blocked`: the blocked user no longer sees the blocker's profile or
    videos, and cannot follow, comment on or mention them."""

    __tablename__ = "blocks"
    __table_args__ = (
        UniqueConstraint("blocker_id", "blocked_id", name="uq_blocks_pair"),
        Index("ix_blocks_blocker_id_id", "blocker_id", "id"),
        Index("ix_blocks_blocked_id", "blocked_id"),
    )

    blocker_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    blocked_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
