"""Response shapes of the social API: each toggle answers with its new state and the count, so
a client can show both without another request."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from molodets.accounts.avatars import avatar_urls
from molodets.accounts.models import User
from molodets.ids import ID_PATTERN, check_id_text
from molodets.storage import Storage


class LikeStateOut(BaseModel):
    liked: bool
    likes: int


class BookmarkStateOut(BaseModel):
    bookmarked: bool
    bookmarks: int


class ShareOut(BaseModel):
    shares: int


class FollowStateOut(BaseModel):
    following: bool
    requested: bool  # a follow request to a private account waits for its owner's approval
    followers: int


class UserBriefOut(BaseModel):
    id: str
    username: str
    display_name: str
    avatar_url: str | None

    @classmethod
    def of(cls, user: User, storage: Storage) -> UserBriefOut:
        urls = avatar_urls(storage, user)
        return cls(
            id=str(user.id),
            username=user.username,
            display_name=user.display_name,
            avatar_url=urls["256"] if urls else None,
        )


class FollowItemOut(BaseModel):
    user: UserBriefOut
    followed_by_you: bool
    follows_you: bool


class FollowListOut(BaseModel):
    items: list[FollowItemOut]
    next_cursor: str | None


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=5000)  # the service applies the real limit with its own code
    parent_id: Annotated[str, Field(pattern=ID_PATTERN), AfterValidator(check_id_text)] | None = None


class CommentOut(BaseModel):
    id: str
    video_id: str
    thread_id: str | None  # the top comment, for a reply
    text: str
    hashtags: list[str]
    mentions: list[str]
    author: UserBriefOut
    reply_to: UserBriefOut | None
    by_video_author: bool
    pinned: bool
    likes: int
    replies: int
    liked_by_you: bool
    created_at: datetime


class CommentListOut(BaseModel):
    items: list[CommentOut]
    next_cursor: str | None


class CommentLikeStateOut(BaseModel):
    liked: bool
    likes: int
