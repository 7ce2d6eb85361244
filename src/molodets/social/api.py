"""Social API: idempotent PUT/DELETE toggles (follow, like, bookmark), shares, the lists they
make (followers, following, liked, saved), and comments."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from molodets.accounts import service as accounts
from molodets.accounts.auth import CurrentUser, ViewerDep
from molodets.accounts.models import User
from molodets.errors import Problem
from molodets.http import DbSession, RuntimeDep, client_ip
from molodets.ids import parse_id
from molodets.ratelimit import rule
from molodets.social import comments, privacy, queries, service
from molodets.social.models import Comment
from molodets.social.schemas import (
    BookmarkStateOut,
    CommentIn,
    CommentLikeStateOut,
    CommentListOut,
    CommentOut,
    FollowListOut,
    FollowStateOut,
    LikeStateOut,
    ShareOut,
    UserBriefOut,
)
from molodets.storage import Storage
from molodets.videos import service as videos
from molodets.videos.models import Video
from molodets.videos.queries import page_out
from molodets.videos.schemas import VideoListOut

router = APIRouter(prefix="/api/v1", tags=["social"])

SHARES_PER_VIEWER = rule("share", "10/hour", message="This video was shared from here many times already.")


def _video(db: Session, raw_id: str, viewer: User | None) -> Video:
    return videos.get_visible_video(db, video_id=videos.parse_video_id(raw_id), viewer=viewer)


# --- likes, bookmarks, shares --------------------------------------------------------------------


@router.put("/videos/{video_id}/like", response_model=LikeStateOut)
def like(video_id: str, user: CurrentUser, db: DbSession) -> LikeStateOut:
    video = _video(db, video_id, user)
    service.do_like(db, user=user, video=video)
    return LikeStateOut(liked=True, likes=video.like_count)


@router.delete("/videos/{video_id}/like", response_model=LikeStateOut)
def unlike(video_id: str, user: CurrentUser, db: DbSession) -> LikeStateOut:
    video = _video(db, video_id, user)
    service.do_unlike(db, user=user, video=video)
    return LikeStateOut(liked=False, likes=video.like_count)


@router.put("/videos/{video_id}/bookmark", response_model=BookmarkStateOut)
def bookmark(video_id: str, user: CurrentUser, db: DbSession) -> BookmarkStateOut:
    video = _video(db, video_id, user)
    service.do_bookmark(db, user=user, video=video)
    return BookmarkStateOut(bookmarked=True, bookmarks=video.bookmark_count)


@router.delete("/videos/{video_id}/bookmark", response_model=BookmarkStateOut)
def unbookmark(video_id: str, user: CurrentUser, db: DbSession) -> BookmarkStateOut:
    video = _video(db, video_id, user)
    service.do_unbookmark(db, user=user, video=video)
    return BookmarkStateOut(bookmarked=False, bookmarks=video.bookmark_count)


@router.post("/videos/{video_id}/shares", response_model=ShareOut)
def share(video_id: str, request: Request, viewer: ViewerDep, db: DbSession, runtime: RuntimeDep) -> ShareOut:
    """Count a share (link copied or shared from the page); anonymous viewers share too."""
    video = _video(db, video_id, viewer.user)
    who = f"u{viewer.user.id}" if viewer.user is not None else f"ip{client_ip(request)}"
    runtime.limiter.hit(SHARES_PER_VIEWER, who, str(video.id))
    service.do_share(db, video=video)
    return ShareOut(shares=video.share_count)


@router.get("/users/{username}/liked", response_model=VideoListOut)
def liked_videos(
    username: str,
    viewer: ViewerDep,
    db: DbSession,
    runtime: RuntimeDep,
    cursor: str | None = None,
    limit: int | None = None,
) -> VideoListOut:
    owner = service.require_visible_user(db, username=username, viewer=viewer.user)
    privacy.check_account_visible(db, owner=owner, viewer=viewer.user)
    service.check_likes_visible(owner=owner, viewer=viewer.user)
    page = service.list_liked(db, user=owner, viewer=viewer.user, cursor=cursor, limit=limit)
    return page_out(db, runtime.storage, page, viewer=viewer.user)


@router.get("/me/bookmarks", response_model=VideoListOut)
def my_bookmarks(
    user: CurrentUser, db: DbSession, runtime: RuntimeDep, cursor: str | None = None, limit: int | None = None
) -> VideoListOut:
    page = service.list_bookmarks(db, user=user, cursor=cursor, limit=limit)
    return page_out(db, runtime.storage, page, viewer=user)


# --- blocks --------------------------------------------------------------------------------------


@router.put("/users/{username}/block", status_code=204)
def block(username: str, user: CurrentUser, db: DbSession) -> None:
    service.do_block(db, blocker=user, blocked=accounts.require_user_by_username(db, username))


@router.delete("/users/{username}/block", status_code=204)
def unblock(username: str, user: CurrentUser, db: DbSession) -> None:
    service.do_unblock(db, blocker=user, blocked=accounts.require_user_by_username(db, username))


@router.get("/me/blocks", response_model=FollowListOut)
def my_blocks(
    user: CurrentUser, db: DbSession, runtime: RuntimeDep, cursor: str | None = None, limit: int | None = None
) -> FollowListOut:
    """The people the user blocked, newest first (same shape as the follow lists)."""
    page = service.list_blocked(db, user=user, cursor=cursor, limit=limit)
    ids = [item.blocked_id for item in page.items]
    return _follow_list(db, runtime.storage, user, page.next_cursor, ids)


# --- follows -------------------------------------------------------------------------------------


@router.put("/users/{username}/follow", response_model=FollowStateOut)
def follow(username: str, user: CurrentUser, db: DbSession) -> FollowStateOut:
    """Follow; a private account is asked instead (`requested: true` until its owner approves)."""
    followee = accounts.require_user_by_username(db, username)
    state = privacy.do_follow_or_request(db, follower=user, followee=followee)
    return FollowStateOut(
        following=state.following, requested=state.requested, followers=followee.follower_count
    )


@router.delete("/users/{username}/follow", response_model=FollowStateOut)
def unfollow(username: str, user: CurrentUser, db: DbSession) -> FollowStateOut:
    """Unfollow, or withdraw a pending request."""
    followee = accounts.require_user_by_username(db, username)
    state = privacy.do_unfollow_or_withdraw(db, follower=user, followee=followee)
    return FollowStateOut(
        following=state.following, requested=state.requested, followers=followee.follower_count
    )


@router.get("/users/{username}/followers", response_model=FollowListOut)
def followers(
    username: str,
    viewer: ViewerDep,
    db: DbSession,
    runtime: RuntimeDep,
    cursor: str | None = None,
    limit: int | None = None,
) -> FollowListOut:
    user = service.require_visible_user(db, username=username, viewer=viewer.user)
    privacy.check_account_visible(db, owner=user, viewer=viewer.user)
    page = service.list_followers(db, user=user, cursor=cursor, limit=limit)
    return _follow_list(
        db, runtime.storage, viewer.user, page.next_cursor, [f.follower_id for f in page.items]
    )


@router.get("/users/{username}/following", response_model=FollowListOut)
def following(
    username: str,
    viewer: ViewerDep,
    db: DbSession,
    runtime: RuntimeDep,
    cursor: str | None = None,
    limit: int | None = None,
) -> FollowListOut:
    user = service.require_visible_user(db, username=username, viewer=viewer.user)
    privacy.check_account_visible(db, owner=user, viewer=viewer.user)
    page = service.list_following(db, user=user, cursor=cursor, limit=limit)
    return _follow_list(
        db, runtime.storage, viewer.user, page.next_cursor, [f.followee_id for f in page.items]
    )


# --- private accounts: follow requests, removing followers ---------------------------------------


@router.get("/me/follow-requests", response_model=FollowListOut)
def follow_requests(
    user: CurrentUser, db: DbSession, runtime: RuntimeDep, cursor: str | None = None, limit: int | None = None
) -> FollowListOut:
    """People asking to follow the user, newest first (same shape as the follow lists)."""
    page = privacy.list_requests(db, user=user, cursor=cursor, limit=limit)
    ids = [item.requester_id for item in page.items]
    return _follow_list(db, runtime.storage, user, page.next_cursor, ids)


@router.put("/me/follow-requests/{username}", status_code=204)
def approve_follow_request(username: str, user: CurrentUser, db: DbSession) -> None:
    """Approve: they follow the user from now on (`404 follow_request_not_found` if they never
    asked; approving again is fine)."""
    privacy.do_approve(db, owner=user, requester=accounts.require_user_by_username(db, username))


@router.delete("/me/follow-requests/{username}", status_code=204)
def decline_follow_request(username: str, user: CurrentUser, db: DbSession) -> None:
    privacy.do_decline(db, owner=user, requester=accounts.require_user_by_username(db, username))


@router.delete("/me/followers/{username}", status_code=204)
def remove_follower(username: str, user: CurrentUser, db: DbSession) -> None:
    privacy.do_remove_follower(db, owner=user, follower=accounts.require_user_by_username(db, username))


def _follow_list(
    db: Session, storage: Storage, viewer: User | None, next_cursor: str | None, user_ids: list[int]
) -> FollowListOut:
    return FollowListOut(items=queries.follow_items(db, storage, viewer, user_ids), next_cursor=next_cursor)


# --- comments ------------------------------------------------------------------------------------


@router.get("/videos/{video_id}/comments", response_model=CommentListOut)
def list_comments(
    video_id: str,
    viewer: ViewerDep,
    db: DbSession,
    runtime: RuntimeDep,
    sort: Literal["top", "newest"] = "top",
    cursor: str | None = None,
    limit: int | None = None,
) -> CommentListOut:
    """A video's comments; the pinned one comes first on the first page."""
    video = _video(db, video_id, viewer.user)
    page = comments.list_comments(db, video=video, sort=sort, cursor=cursor, limit=limit)
    items = page.items
    if cursor is None and video.pinned_comment_id is not None:
        pinned = db.get(Comment, video.pinned_comment_id)
        items = [pinned, *items] if pinned is not None else items
    return CommentListOut(
        items=_comments_out(db, runtime.storage, viewer.user, video, items), next_cursor=page.next_cursor
    )


@router.get("/comments/{comment_id}/replies", response_model=CommentListOut)
def list_replies(
    comment_id: str,
    viewer: ViewerDep,
    db: DbSession,
    runtime: RuntimeDep,
    cursor: str | None = None,
    limit: int | None = None,
) -> CommentListOut:
    thread, video = _comment(db, comment_id, viewer.user)
    page = comments.list_replies(db, thread=thread, cursor=cursor, limit=limit)
    return CommentListOut(
        items=_comments_out(db, runtime.storage, viewer.user, video, page.items), next_cursor=page.next_cursor
    )


@router.post("/videos/{video_id}/comments", status_code=201, response_model=CommentOut)
def add_comment(
    video_id: str, body: CommentIn, user: CurrentUser, db: DbSession, runtime: RuntimeDep
) -> CommentOut:
    video = _video(db, video_id, user)
    parent_id = int(body.parent_id) if body.parent_id is not None else None
    comment = comments.do_comment(db, video=video, author=user, text=body.text, parent_id=parent_id)
    return _comments_out(db, runtime.storage, user, video, [comment])[0]


@router.delete("/comments/{comment_id}", status_code=204)
def delete_comment(comment_id: str, user: CurrentUser, db: DbSession) -> None:
    comment, video = _comment(db, comment_id, user)
    comments.do_delete_comment(db, comment=comment, video=video, actor=user)


@router.put("/comments/{comment_id}/like", response_model=CommentLikeStateOut)
def like_comment(comment_id: str, user: CurrentUser, db: DbSession) -> CommentLikeStateOut:
    comment, _ = _comment(db, comment_id, user)
    comments.do_like_comment(db, user=user, comment=comment)
    return CommentLikeStateOut(liked=True, likes=comment.like_count)


@router.delete("/comments/{comment_id}/like", response_model=CommentLikeStateOut)
def unlike_comment(comment_id: str, user: CurrentUser, db: DbSession) -> CommentLikeStateOut:
    comment, _ = _comment(db, comment_id, user)
    comments.do_unlike_comment(db, user=user, comment=comment)
    return CommentLikeStateOut(liked=False, likes=comment.like_count)


@router.put("/comments/{comment_id}/pin", status_code=204)
def pin_comment(comment_id: str, user: CurrentUser, db: DbSession) -> None:
    comment, video = _comment(db, comment_id, user)
    comments.do_pin(db, comment=comment, video=video, actor=user)


@router.delete("/comments/{comment_id}/pin", status_code=204)
def unpin_comment(comment_id: str, user: CurrentUser, db: DbSession) -> None:
    _, video = _comment(db, comment_id, user)
    comments.do_unpin(db, video=video, actor=user)


def _comment(db: Session, raw_id: str, viewer: User | None) -> tuple[Comment, Video]:
    """The comment and its video, if the viewer may see the video; 404 otherwise."""
    comment_id = parse_id(raw_id)
    if comment_id is None:
        raise Problem(404, "comment_not_found", "No such comment.")
    comment = comments.get_comment(db, comment_id=comment_id)
    video = videos.get_visible_video(db, video_id=comment.video_id, viewer=viewer)
    return comment, video


def _comments_out(
    db: Session, storage: Storage, viewer: User | None, video: Video, items: list[Comment]
) -> list[CommentOut]:
    """Two queries for any number of comments: their people, and which the viewer liked."""
    people_ids = {c.author_id for c in items} | {c.reply_to_user_id for c in items if c.reply_to_user_id}
    people = {u.id: u for u in db.scalars(select(User).where(User.id.in_(people_ids)))} if people_ids else {}
    liked = comments.liked_comments(db, viewer=viewer, comment_ids=[c.id for c in items])
    out = []
    for comment in items:
        reply_to = people.get(comment.reply_to_user_id) if comment.reply_to_user_id else None
        out.append(
            CommentOut(
                id=str(comment.id),
                video_id=str(comment.video_id),
                thread_id=str(comment.thread_id) if comment.thread_id else None,
                text=comment.text,
                hashtags=comment.hashtags,
                mentions=comment.mentions,
                author=UserBriefOut.of(people[comment.author_id], storage),
                reply_to=UserBriefOut.of(reply_to, storage) if reply_to is not None else None,
                by_video_author=comment.author_id == video.author_id,
                pinned=comment.id == video.pinned_comment_id,
                likes=comment.like_count,
                replies=comment.reply_count,
                liked_by_you=comment.id in liked,
                created_at=comment.created_at,
            )
        )
    return out
