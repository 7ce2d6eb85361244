"""Named operations on videos: create from a finished upload, who may see what, delete."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.db import after_commit, utcnow
from molodets.errors import Problem
from molodets.feed import online
from molodets.ids import parse_id
from molodets.pagination import Page, paginate_newest_first
from molodets.social import privacy
from molodets.social import service as social
from molodets.storage import Storage
from molodets.uploads import service as uploads
from molodets.videos.models import CommentAudience, Rendition, Video, VideoStatus, Visibility

CAPTION_MAX = 2200
QUEUE_ALLOWANCE = timedelta(minutes=30)
MAX_HASHTAGS = 30
# Letters of any script, digits and underscores: #путешествия and #travel_2026 are both tags.
_HASHTAG_RE = re.compile(r"(?<![\w#])#(\w{1,100})", re.UNICODE)
_MENTION_RE = re.compile(r"(?<![\w@])@([a-z0-9._]{2,24})(?![\w])", re.IGNORECASE)


def video_prefix(video_id: int) -> str:
    return f"videos/{video_id}"


def parse_caption(raw: str) -> tuple[str, list[str], list[str]]:
    """The cleaned caption, its hashtags (case-folded, first spelling order) and mentions."""
    caption = unicodedata.normalize("NFC", raw).strip()
    if len(caption) > CAPTION_MAX:
        raise Problem(422, "caption_too_long", f"The caption must be at most {CAPTION_MAX} characters.")
    hashtags, mentions = hashtags_and_mentions(caption)
    if len(hashtags) > MAX_HASHTAGS:
        raise Problem(422, "too_many_hashtags", f"At most {MAX_HASHTAGS} hashtags.")
    return caption, hashtags, mentions


def hashtags_and_mentions(text: str) -> tuple[list[str], list[str]]:
    """#hashtags (case-folded, Unicode letters) and @mentions of `text`, each once, in order."""
    hashtags = list(dict.fromkeys(tag.casefold() for tag in _HASHTAG_RE.findall(text)))
    mentions = list(dict.fromkeys(name.lower().rstrip(".") for name in _MENTION_RE.findall(text)))
    return hashtags, mentions


def do_create_video(
    session: Session,
    *,
    author: User,
    upload_id: int,
    caption: str = "",
    visibility: Visibility = Visibility.PUBLIC,
    comments_enabled: bool = True,
    comment_audience: CommentAudience = CommentAudience.EVERYONE,
    cover_time_ms: int | None = None,
    language: str | None = None,
) -> Video:
    """Turn a finished upload into a video and queue its processing (sent after commit)."""
    from molodets.videos import tasks  # the task module imports this one

    clean_caption, hashtags, mentions = parse_caption(caption)
    if cover_time_ms is not None and cover_time_ms < 0:
        raise Problem(422, "invalid_cover_time", "The cover time must not be negative.")
    upload = uploads.get_completed_upload(session, upload_id=upload_id, user_id=author.id)
    video = Video(
        author_id=author.id,
        upload_id=upload.id,
        caption=clean_caption,
        hashtags=hashtags,
        mentions=mentions,
        visibility=visibility.value,
        comments_enabled=comments_enabled,
        comment_audience=comment_audience.value,
        cover_time_ms=cover_time_ms,
        language=language,
        source={"filename": upload.filename or "", "size_bytes": upload.length},
    )
    # If the job is lost before it starts (a worker killed), the watchdog sends it again then.
    video.stage_deadline = utcnow() + QUEUE_ALLOWANCE
    session.add(video)
    uploads.do_consume_upload(session, upload=upload)
    session.flush()
    online.index_video(session, video)  # findable by its hashtags once it is ready
    tasks.publish_first.enqueue(session, video.id, priority=tasks.FIRST_PRIORITY)
    return video


def parse_video_id(raw: str) -> int:
    """A video id from a URL; anything that cannot be one is a video that does not exist."""
    video_id = parse_id(raw)
    if video_id is None:
        raise Problem(404, "video_not_found", "No such video.")
    return video_id


def can_view(session: Session, video: Video, viewer: User | None) -> bool:
    """Its author (and staff) see a video in any state; others see it once it is ready: public
    ones for everyone, followers-only ones for the author's followers, private ones never; and
    nothing to someone the author blocked. A private account's videos, whatever their own
    visibility, only to its approved followers."""
    if viewer is not None and (viewer.id == video.author_id or viewer.is_moderator):
        return True
    if video.status != VideoStatus.READY.value or video.visibility == Visibility.PRIVATE.value:
        return False
    if viewer is not None and social.is_blocked_by(session, viewer_id=viewer.id, owner_id=video.author_id):
        return False
    author = session.get(User, video.author_id)  # loaded with the video by `get_visible_video`
    private_author = author is not None and author.is_private
    needs_follow = video.visibility == Visibility.FOLLOWERS.value or private_author
    if not needs_follow:
        return video.visibility == Visibility.PUBLIC.value
    return viewer is not None and social.is_following(
        session, follower_id=viewer.id, followee_id=video.author_id
    )


def get_visible_video(session: Session, *, video_id: int, viewer: User | None) -> Video:
    # The author comes in the same query: whether their account is private decides too.
    row = session.execute(
        select(Video, User).join(User, User.id == Video.author_id).where(Video.id == video_id)
    ).first()
    if row is None or not can_view(session, row[0], viewer):
        raise Problem(404, "video_not_found", "No such video.")
    video: Video = row[0]
    return video


def add_views(session: Session, views: Mapping[int, int]) -> None:
    """Add counted views to their videos' counters (one statement, run once per video)."""
    if views:
        videos = Video.__table__.c
        session.execute(
            update(Video.__table__)  # type: ignore[arg-type]  # a mapped class's Table
            .where(videos.id == bindparam("video_id"))
            .values(view_count=videos.view_count + bindparam("views")),
            [{"video_id": video_id, "views": count} for video_id, count in views.items()],
        )


def renditions_of(session: Session, video_ids: list[int]) -> dict[int, list[Rendition]]:
    found: dict[int, list[Rendition]] = {video_id: [] for video_id in video_ids}
    if video_ids:
        rows = session.scalars(
            select(Rendition).where(Rendition.video_id.in_(video_ids)).order_by(Rendition.height.desc())
        )
        for rendition in rows:
            found[rendition.video_id].append(rendition)
    return found


def list_user_videos(
    session: Session, *, author: User, viewer: User | None, cursor: str | None, limit: int | None
) -> Page[Video]:
    """The author's videos, newest first, as the viewer may see them; `403 account_private` for
    a private account the viewer does not follow."""
    statement = select(Video).where(Video.author_id == author.id)
    if viewer is None or (viewer.id != author.id and not viewer.is_moderator):
        following = viewer is not None and social.is_following(
            session, follower_id=viewer.id, followee_id=author.id
        )
        privacy.check_account_visible(session, owner=author, viewer=viewer, following=following)
        shown = [Visibility.PUBLIC.value]
        if following:
            shown.append(Visibility.FOLLOWERS.value)
        statement = statement.where(Video.status == VideoStatus.READY.value, Video.visibility.in_(shown))
    return paginate_newest_first(session, statement, model=Video, keys=[Video.id], cursor=cursor, limit=limit)


def do_delete_video(session: Session, storage: Storage, *, video: Video, actor: User) -> None:
    """Delete a video and, once that is committed, every object derived from it."""
    if actor.id != video.author_id and not actor.is_moderator:
        raise Problem(404, "video_not_found", "No such video.")
    prefix = video_prefix(video.id)
    social.on_video_deleted(session, video=video)
    online.forget_video(session, video.id)
    session.delete(video)
    session.flush()
    after_commit(session, lambda: storage.delete_prefix(prefix))
