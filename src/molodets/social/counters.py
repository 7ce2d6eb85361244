"""Recompute every counter from the rows it counts: the repair for counters that drifted (a bug,
a restore of part of the data, a manual fix in the database). `molodets counters rebuild`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.social.models import Bookmark, Comment, Follow, VideoLike
from molodets.videos.models import Video


@dataclass(frozen=True)
class RebuildReport:
    videos_fixed: int
    users_fixed: int


def rebuild_counters(session: Session) -> RebuildReport:
    """Set each counter to its true value; report how many rows were wrong. Two UPDATEs with
    correlated subqueries, so the database does the work in one pass per table."""
    likes = select(func.count()).where(VideoLike.video_id == Video.id).scalar_subquery()
    saves = select(func.count()).where(Bookmark.video_id == Video.id).scalar_subquery()
    comments = select(func.count()).where(Comment.video_id == Video.id).scalar_subquery()
    videos = session.execute(
        update(Video)
        .where(
            (Video.like_count != likes) | (Video.bookmark_count != saves) | (Video.comment_count != comments)
        )
        .values(like_count=likes, bookmark_count=saves, comment_count=comments),
        execution_options={"synchronize_session": False},
    )
    followers = select(func.count()).where(Follow.followee_id == User.id).scalar_subquery()
    following = select(func.count()).where(Follow.follower_id == User.id).scalar_subquery()
    # After the videos: a user's likes are the sum of their videos' (now true) like counts.
    received = (
        select(func.coalesce(func.sum(Video.like_count), 0))
        .where(Video.author_id == User.id)
        .scalar_subquery()
    )
    users = session.execute(
        update(User)
        .where(
            (User.follower_count != followers)
            | (User.following_count != following)
            | (User.like_count != received)
        )
        .values(follower_count=followers, following_count=following, like_count=received),
        execution_options={"synchronize_session": False},
    )
    session.expire_all()
    return RebuildReport(
        videos_fixed=cast(CursorResult[Any], videos).rowcount,
        users_fixed=cast(CursorResult[Any], users).rowcount,
    )
