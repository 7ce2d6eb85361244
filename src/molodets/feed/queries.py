"""Read paths of the feeds: For You is the recommender's (recommender.py); Following is the
newest videos of the creators the viewer follows."""

from __future__ import annotations

from sqlalchemy import select, union_all
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.feed import recommender
from molodets.feed.recommender import ViewerRef
from molodets.pagination import Page, check_limit, decode_cursor, encode_cursor, paginate_newest_first
from molodets.social import service as social
from molodets.videos.models import Video, VideoStatus, Visibility

# Up to this many follows, the Following feed merges per-author index reads (one statement).
PER_AUTHOR_MERGE_MAX = 200


FOR_YOU_PAGE = 10


def for_you(
    session: Session, feed: recommender.ForYou, *, viewer: ViewerRef, cursor: str | None, limit: int | None
) -> Page[int]:
    size = FOR_YOU_PAGE if limit is None else check_limit(limit)
    return feed.page(session, viewer=viewer, cursor=cursor, limit=size)


def following(session: Session, *, viewer: User, cursor: str | None, limit: int | None) -> Page[Video]:
    """The newest ready videos (public and followers-only) of the creators the viewer follows.

    Read-time merge, in one of two plans (see docs/social.md): for a viewer who follows up to
    `PER_AUTHOR_MERGE_MAX` people, each one's newest videos are read from the author index and
    merged, so the cost follows the follows, never the catalogue (a viewer of three rarely
    posting creators would otherwise walk every video); for more, one keyset scan of the videos
    index filtered to the followed authors, which finds a page among many authors at once."""
    visible = (
        Video.status == VideoStatus.READY.value,
        Video.visibility.in_([Visibility.PUBLIC.value, Visibility.FOLLOWERS.value]),
    )
    authors = social.followee_id_list(session, viewer_id=viewer.id, at_most=PER_AUTHOR_MERGE_MAX + 1)
    if len(authors) > PER_AUTHOR_MERGE_MAX:
        statement = select(Video).where(
            Video.author_id.in_(social.followee_ids(viewer_id=viewer.id)), *visible
        )
        return paginate_newest_first(
            session, statement, model=Video, keys=[Video.id], cursor=cursor, limit=limit
        )
    size = check_limit(limit)
    if not authors:
        return Page(items=[], next_cursor=None)
    before = [Video.id < decode_cursor(cursor, arity=1)[0]] if cursor else []
    arms = [
        select(Video.id)
        .where(Video.author_id == author_id, *visible, *before)
        .order_by(Video.id.desc())
        .limit(size + 1)
        .subquery()
        for author_id in authors
    ]
    newest = union_all(*(select(arm.c.id) for arm in arms)).subquery()
    rows = list(
        session.scalars(
            select(Video).where(Video.id.in_(select(newest.c.id))).order_by(Video.id.desc()).limit(size + 1)
        )
    )
    items = rows[:size]
    next_cursor = encode_cursor([items[-1].id]) if len(rows) > size else None
    return Page(items=items, next_cursor=next_cursor)
