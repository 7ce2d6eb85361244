"""Response shapes of the notifications API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from molodets.social.schemas import UserBriefOut


class NotificationVideoOut(BaseModel):
    id: str
    poster_url: str | None
    page_url: str = Field(description="The video's page, `/@author/video/<id>`.")


class NotificationOut(BaseModel):
    id: str
    kind: str = Field(
        description="like, comment_like, comment, reply, mention, follow, follow_request, follow_accepted"
    )
    text: str = Field(description="The sentence in the reader's language (plain text, not markup).")
    actor: UserBriefOut | None = Field(description="The latest actor; None if their account is gone.")
    actor_count: int = Field(description="How many people this group is about (1 for a single event).")
    video: NotificationVideoOut | None
    comment_id: str | None
    read: bool
    updated_at: datetime


class NotificationListOut(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None
    unread_count: int = Field(description="Unread notifications, counted up to 100 (show 99+).")


class UnreadOut(BaseModel):
    unread_count: int


class MarkReadIn(BaseModel):
    up_to: str | None = Field(
        default=None,
        pattern=r"^\d{1,20}$",
        description="The id of the newest notification the reader saw: it and those before it are "
        "marked read, not those that arrived since. By default, everything.",
    )
