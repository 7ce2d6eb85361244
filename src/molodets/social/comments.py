"""Comments: two levels (a comment and its thread of replies), likes on comments, one pinned
comment per video, deletion by the comment's or the video's author, and who may comment.

Counters (the video's comments, a thread's replies, a comment's likes) move in SQL in the same
transaction as the rows, like every counter of the social domain. The "top" order is a stored
score (likes, and a bonus once the video's author replied in the thread), kept with the counts
it is made of, so the order is an index scan, never a sort of all comments."""

from __future__ import annotations

import unicodedata
from typing import Any, cast

from sqlalchemy import CursorResult, case, delete, select, update
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.errors import Problem
from molodets.notifications import service as notifications
from molodets.pagination import Page, paginate
from molodets.social import service as relations
from molodets.social.models import Comment, CommentLike
from molodets.videos.models import CommentAudience, Video
from molodets.videos.service import hashtags_and_mentions

COMMENT_MAX = 500
LIKE_WEIGHT = 10
AUTHOR_REPLY_BONUS = 50
MENTION_NOTIFY_MAX = 20


def check_can_comment(session: Session, *, video: Video, user: User) -> None:
    if user.id == video.author_id:
        return
    relations.check_not_blocked(session, actor=user, other_id=video.author_id)
    if not video.comments_enabled:
        raise Problem(403, "comments_off", "Comments are turned off for this video.")
    followers_only = video.comment_audience == CommentAudience.FOLLOWERS.value
    if followers_only and not relations.is_following(
        session, follower_id=user.id, followee_id=video.author_id
    ):
        raise Problem(403, "comments_followers_only", "Only the author's followers can comment here.")


def do_comment(
    session: Session, *, video: Video, author: User, text: str, parent_id: int | None = None
) -> Comment:
    """Add a comment, or a reply when `parent_id` is given. A reply to a reply joins the same
    thread and mentions the person it answers."""
    check_can_comment(session, video=video, user=author)
    clean = _clean_text(text)
    thread_id, reply_to, answered_id = 0, None, video.author_id
    if parent_id is not None:
        parent = session.get(Comment, parent_id)
        if parent is None or parent.video_id != video.id:
            raise Problem(404, "comment_not_found", "The comment you are replying to no longer exists.")
        thread_id = parent.thread_id or parent.id
        answered_id = parent.author_id
        if parent.thread_id:  # answering a reply: say whom, as the thread is flat
            reply_to = session.get(User, parent.author_id)
            if reply_to is not None and f"@{reply_to.username}" not in clean.lower():
                clean = _clean_text(f"@{reply_to.username} {clean}")
    hashtags, mentions = hashtags_and_mentions(clean)
    mentions = relations.mentionable(session, author=author, usernames=mentions)
    comment = Comment(
        video_id=video.id,
        author_id=author.id,
        thread_id=thread_id,
        reply_to_user_id=reply_to.id if reply_to is not None else None,
        text=clean,
        mentions=mentions,
        hashtags=hashtags,
    )
    session.add(comment)
    session.flush()
    relations.add_to(session, Video.comment_count, video.id, 1)
    if thread_id:
        values: dict[Any, Any] = {Comment.reply_count: Comment.reply_count + 1}
        if author.id == video.author_id:
            values[Comment.author_replied] = True
            values[Comment.top_score] = Comment.like_count * LIKE_WEIGHT + AUTHOR_REPLY_BONUS
        _update_comment(session, thread_id, values)
    kind = notifications.Kind.REPLY if parent_id is not None else notifications.Kind.COMMENT
    notifications.notify(
        session, recipient_id=answered_id, actor=author, kind=kind, video_id=video.id, comment_id=comment.id
    )
    notify_mentions(
        session,
        author=author,
        usernames=mentions,
        video_id=video.id,
        comment_id=comment.id,
        already=frozenset({answered_id}),
    )
    return comment


def notify_mentions(
    session: Session,
    *,
    author: User,
    usernames: list[str],
    video_id: int,
    comment_id: int | None = None,
    already: frozenset[int] = frozenset(),
) -> None:
    """Tell the people a caption or a comment mentions (those `mentionable` left in), except
    those already told of it in another way. At most `MENTION_NOTIFY_MAX` per text."""
    if not usernames:
        return
    names = usernames[:MENTION_NOTIFY_MAX]
    for user_id in session.scalars(select(User.id).where(User.username.in_(names))):
        if user_id not in already:
            notifications.notify(
                session,
                recipient_id=user_id,
                actor=author,
                kind=notifications.Kind.MENTION,
                video_id=video_id,
                comment_id=comment_id,
            )


def get_comment(session: Session, *, comment_id: int) -> Comment:
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise Problem(404, "comment_not_found", "No such comment.")
    return comment


def do_delete_comment(session: Session, *, comment: Comment, video: Video, actor: User) -> None:
    """Delete a comment (its author, the video's author, or staff). A top comment takes its
    whole thread with it; the counters lose what was deleted."""
    if actor.id not in (comment.author_id, video.author_id) and not actor.is_moderator:
        raise Problem(403, "not_your_comment", "Only its author or the video's author can delete a comment.")
    removed = 1
    if comment.thread_id:
        _update_comment(session, comment.thread_id, {Comment.reply_count: Comment.reply_count - 1})
    else:
        replies = cast(
            CursorResult[Any], session.execute(delete(Comment).where(Comment.thread_id == comment.id))
        )
        removed += replies.rowcount
        if video.pinned_comment_id == comment.id:
            video.pinned_comment_id = None
    session.delete(comment)
    relations.add_to(session, Video.comment_count, video.id, -removed)
    session.flush()


def do_pin(session: Session, *, comment: Comment, video: Video, actor: User) -> None:
    if actor.id != video.author_id:
        raise Problem(403, "not_video_author", "Only the video's author can pin a comment.")
    if comment.thread_id:
        raise Problem(422, "cannot_pin_reply", "Only a comment, not a reply, can be pinned.")
    video.pinned_comment_id = comment.id
    session.flush()


def do_unpin(session: Session, *, video: Video, actor: User) -> None:
    if actor.id != video.author_id:
        raise Problem(403, "not_video_author", "Only the video's author can pin a comment.")
    video.pinned_comment_id = None
    session.flush()


def do_like_comment(session: Session, *, user: User, comment: Comment) -> bool:
    created = relations.insert_once(session, CommentLike, user_id=user.id, comment_id=comment.id)
    if created:
        _bump_likes(session, comment.id, 1)
        notifications.notify(
            session,
            recipient_id=comment.author_id,
            actor=user,
            kind=notifications.Kind.COMMENT_LIKE,
            video_id=comment.video_id,
            comment_id=comment.id,
        )
    return created


def do_unlike_comment(session: Session, *, user: User, comment: Comment) -> bool:
    removed = relations.delete_once(session, CommentLike, user_id=user.id, comment_id=comment.id)
    if removed:
        _bump_likes(session, comment.id, -1)
    return removed


def list_comments(
    session: Session, *, video: Video, sort: str, cursor: str | None, limit: int | None
) -> Page[Comment]:
    """Top comments of a video: by "top" (score, then newest) or "newest". The pinned comment
    is not in these pages: the caller shows it first."""
    statement = select(Comment).where(Comment.video_id == video.id, Comment.thread_id == 0)
    if video.pinned_comment_id is not None:
        statement = statement.where(Comment.id != video.pinned_comment_id)
    keys = [Comment.top_score, Comment.id] if sort == "top" else [Comment.id]
    return paginate(session, statement, model=Comment, keys=keys, cursor=cursor, limit=limit, descending=True)


def list_replies(
    session: Session, *, thread: Comment, cursor: str | None, limit: int | None
) -> Page[Comment]:
    """A thread's replies in the order they were written."""
    statement = select(Comment).where(Comment.thread_id == thread.id)
    return paginate(
        session, statement, model=Comment, keys=[Comment.id], cursor=cursor, limit=limit, descending=False
    )


def liked_comments(session: Session, *, viewer: User | None, comment_ids: list[int]) -> set[int]:
    if viewer is None or not comment_ids:
        return set()
    return set(
        session.scalars(
            select(CommentLike.comment_id).where(
                CommentLike.user_id == viewer.id, CommentLike.comment_id.in_(comment_ids)
            )
        )
    )


def _clean_text(text: str) -> str:
    clean = unicodedata.normalize("NFC", text).strip()
    if not clean:
        raise Problem(422, "comment_empty", "Write something first.")
    if len(clean) > COMMENT_MAX:
        raise Problem(422, "comment_too_long", f"A comment can be at most {COMMENT_MAX} characters.")
    return clean


def _bump_likes(session: Session, comment_id: int, delta: int) -> None:
    likes = Comment.like_count + delta
    bonus = case((Comment.author_replied, AUTHOR_REPLY_BONUS), else_=0)
    _update_comment(
        session, comment_id, {Comment.like_count: likes, Comment.top_score: likes * LIKE_WEIGHT + bonus}
    )


def _update_comment(session: Session, comment_id: int, values: dict[Any, Any]) -> None:
    session.execute(
        update(Comment).where(Comment.id == comment_id).values(values),
        execution_options={"synchronize_session": False},
    )
    relations.expire_row(session, Comment, comment_id)
