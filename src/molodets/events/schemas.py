"""The shape of a batch of watch events (names as in DESIGN.md's core API)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EventTypeName = Literal[
    "impression",
    "play",
    "progress",
    "complete",
    "replay",
    "skip",
    "pause",
    "unmute",
    "like",
    "share",
    "follow",
    "comment",
    "profile_visit",
    "not_interested",
]
SourceName = Literal["for_you", "following", "profile", "hashtag", "search", "sound", "link"]


class EventIn(BaseModel):
    model_config = ConfigDict(extra="ignore")  # newer players may send more; older servers skip it

    type: EventTypeName
    video_id: str = Field(pattern=r"^\d{1,20}$")
    ts: int = Field(ge=0, description="When it happened on the device, epoch milliseconds.")
    watched_ms: int | None = Field(
        default=None, ge=0, le=2**31 - 1, description="Watched so far in this viewing, loops included."
    )
    loops: int | None = Field(default=None, ge=0, le=10_000)
    source: SourceName | None = None


class EventBatchIn(BaseModel):
    events: list[EventIn] = Field(min_length=1, max_length=100)


class IngestOut(BaseModel):
    accepted: int
    dropped: dict[str, int] = Field(
        description="Events refused, by reason: unknown_video, stale, future, impossible_watch."
    )
    written: bool = Field(
        description="Whether every accepted event of this viewer was stored when the answer left: "
        "with `wait=true` it is, unless the database took longer than a quarter of a second."
    )
