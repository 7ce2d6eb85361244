"""Read paths of the feeds. Until the recommender exists, For You is the newest public ready
videos; Following is the newest videos of the creators the viewer follows. The shapes (keyset
pages of `VideoOut`) are what later rankers fill in."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.pagination import Page, paginate_newest_first
from molodets.social import service as social
from molodets.videos import queries as videos
from molodets.videos.models import Video, VideoStatus, Visibility


def for_you(session: Session, *, viewer: User | None, cursor: str | None, limit: int | None) -> Page[Video]:
    hidden = social.hidden_author_ids(session, viewer=viewer)
    return videos.newest_public(session, cursor=cursor, limit=limit, hidden_authors=hidden)


def following(session: Session, *, viewer: User, cursor: str | None, limit: int | None) -> Page[Video]:
    """The newest ready videos (public and followers-only) of the creators the viewer follows.

    Read-time merge: one keyset scan of the videos index, filtered to the followed authors (a
    subquery over the viewer's follows). See docs/social.md for why, and for when a
    write-time fan-out would take over."""
    statement = select(Video).where(
        Video.author_id.in_(social.followee_ids(viewer_id=viewer.id)),
        Video.status == VideoStatus.READY.value,
        Video.visibility.in_([Visibility.PUBLIC.value, Visibility.FOLLOWERS.value]),
    )
    return paginate_newest_first(session, statement, model=Video, keys=[Video.id], cursor=cursor, limit=limit)
