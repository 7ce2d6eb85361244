"""Read paths over videos shared by the feeds, profiles and sections: the newest public videos,
and pages of videos turned into API shapes in a fixed number of queries (authors and
renditions are loaded for a whole page at once, never per video)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.pagination import Page, encode_cursor, paginate_newest_first
from molodets.social import service as social
from molodets.storage import Storage
from molodets.videos import service
from molodets.videos.models import Video, VideoStatus, Visibility
from molodets.videos.schemas import VideoListOut, VideoOut, ViewerStateOut


def newest_public(
    session: Session,
    *,
    cursor: str | None,
    limit: int | None,
    author_id: int | None = None,
    hidden_authors: Collection[int] = (),
) -> Page[Video]:
    """Public ready videos of public accounts, newest first (optionally of one author, never of
    `hidden_authors`: people who blocked the viewer or whom the viewer blocked), one keyset page.
    Private accounts' videos are left out for everyone, in the same statement: their followers
    find them in the Following feed."""
    statement = select(Video).where(
        Video.status == VideoStatus.READY.value,
        Video.visibility == Visibility.PUBLIC.value,
        social.public_authors(Video.author_id),
    )
    if author_id is not None:
        statement = statement.where(Video.author_id == author_id)
    if hidden_authors:
        statement = statement.where(Video.author_id.not_in(hidden_authors))
    return paginate_newest_first(session, statement, model=Video, keys=[Video.id], cursor=cursor, limit=limit)


def cursor_after(video: Video) -> str:
    """The cursor of the page that follows `video` in a newest-first list (a profile's older
    videos, when the player was opened on one of them)."""
    return encode_cursor([video.id])


def authors_of(session: Session, videos: list[Video]) -> dict[int, User]:
    """The authors of `videos` in one query (none when there are no videos)."""
    wanted = {video.author_id for video in videos}
    if not wanted:
        return {}
    return {user.id: user for user in session.scalars(select(User).where(User.id.in_(wanted)))}


def video_outs(
    session: Session,
    storage: Storage,
    videos: list[Video],
    authors: dict[int, User] | None = None,
    *,
    viewer: User | None = None,
) -> list[VideoOut]:
    """The API shape of each video: one query for the authors (unless given), one for the
    renditions, and for a logged-in viewer three for their likes, saves and follows, whatever
    the number of videos."""
    if authors is None:
        authors = authors_of(session, videos)
    renditions = service.renditions_of(session, [video.id for video in videos])
    states = viewer_states(session, viewer, [(video.id, video.author_id) for video in videos])
    return [
        VideoOut.of(video, authors[video.author_id], renditions[video.id], storage, states.get(video.id))
        for video in videos
    ]


def page_out(session: Session, storage: Storage, page: Page[Video], *, viewer: User | None) -> VideoListOut:
    items = video_outs(session, storage, page.items, viewer=viewer)
    return VideoListOut(items=items, next_cursor=page.next_cursor)


def viewer_states(
    session: Session, viewer: User | None, videos: list[tuple[int, int]]
) -> dict[int, ViewerStateOut]:
    """Whether the viewer liked, saved, and follows the author of each (video id, author id)."""
    if viewer is None or not videos:
        return {}
    liked, saved, followed = social.page_states(
        session,
        viewer=viewer,
        video_ids=[video_id for video_id, _ in videos],
        author_ids=[author_id for _, author_id in videos],
    )
    return {
        video_id: ViewerStateOut(
            liked=video_id in liked, bookmarked=video_id in saved, following_author=author_id in followed
        )
        for video_id, author_id in videos
    }


def by_ids(session: Session, video_ids: list[int]) -> list[Video]:
    """The videos of `video_ids` that exist, in that order (one query)."""
    found = {video.id: video for video in session.scalars(select(Video).where(Video.id.in_(video_ids)))}
    return [found[video_id] for video_id in video_ids if video_id in found]
