"""Request and response shapes of the videos API (see DESIGN.md "Core API shape")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from molodets.accounts.avatars import avatar_urls
from molodets.accounts.models import User
from molodets.ids import ID_PATTERN, check_id_text
from molodets.storage import Storage
from molodets.videos.models import CommentAudience, Rendition, Video, Visibility

# Signed media URLs of non-public videos stay valid this long; the page asks again after that.
SIGNED_URL_SECONDS = 6 * 3600


def media_expires_in(video: Video, *, author_private: bool) -> int | None:
    """How long a media link of `video` lives: for ever (cacheable) for a public video of a public
    account, signed and expiring otherwise (a private account's videos are not for everyone)."""
    public = video.visibility == Visibility.PUBLIC.value and not author_private
    return None if public else SIGNED_URL_SECONDS


class VideoCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    upload_id: Annotated[str, Field(pattern=ID_PATTERN), AfterValidator(check_id_text)]
    caption: str = Field(default="", max_length=5000)
    visibility: Visibility = Visibility.PUBLIC
    comments_enabled: bool = True
    comment_audience: CommentAudience = CommentAudience.EVERYONE
    cover_time_ms: int | None = Field(default=None, ge=0, le=24 * 3600 * 1000)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")


class RenditionOut(BaseModel):
    name: str
    width: int
    height: int
    bitrate: int
    size_bytes: int
    url: str


class AuthorOut(BaseModel):
    id: str
    username: str
    display_name: str
    avatar_url: str | None


class CountsOut(BaseModel):
    views: int
    likes: int
    comments: int
    shares: int
    bookmarks: int


class ViewerStateOut(BaseModel):
    """What the viewer asking has done to the video and its author (absent for guests)."""

    liked: bool
    bookmarked: bool
    following_author: bool


class VideoOut(BaseModel):
    id: str
    status: str
    stage: str
    progress: int
    error_code: str | None
    error_message: str | None
    caption: str
    hashtags: list[str]
    mentions: list[str]
    visibility: str
    comments_enabled: bool
    comment_audience: str
    language: str | None
    # The moment the creator chose for the poster (None: the pipeline's default).
    cover_time_ms: int | None
    duration_ms: int | None
    width: int | None
    height: int | None
    renditions: list[RenditionOut]
    poster_url: str | None
    poster_webp_url: str | None
    preview_url: str | None
    placeholder: str | None
    author: AuthorOut
    counts: CountsOut
    created_at: datetime
    published_at: datetime | None
    viewer: ViewerStateOut | None = None

    @classmethod
    def of(
        cls,
        video: Video,
        author: User,
        renditions: list[Rendition],
        storage: Storage,
        state: ViewerStateOut | None = None,
    ) -> VideoOut:
        expires = media_expires_in(video, author_private=author.is_private)

        def url(key: str | None) -> str | None:
            return storage.url(key, expires_in=expires) if key else None

        avatars = avatar_urls(storage, author)
        return cls(
            id=str(video.id),
            status=video.status,
            stage=video.stage,
            progress=video.progress,
            error_code=video.error_code,
            error_message=video.error_detail,
            caption=video.caption,
            hashtags=video.hashtags,
            mentions=video.mentions,
            visibility=video.visibility,
            comments_enabled=video.comments_enabled,
            comment_audience=video.comment_audience,
            language=video.language,
            cover_time_ms=video.cover_time_ms,
            duration_ms=video.duration_ms,
            width=video.width,
            height=video.height,
            renditions=[
                RenditionOut(
                    name=item.name,
                    width=item.width,
                    height=item.height,
                    bitrate=item.bitrate,
                    size_bytes=item.size_bytes,
                    url=storage.url(item.key, expires_in=expires),
                )
                for item in renditions
            ],
            poster_url=url(video.poster_key),
            poster_webp_url=url(video.poster_webp_key),
            preview_url=url(video.preview_key),
            placeholder=video.placeholder,
            author=AuthorOut(
                id=str(author.id),
                username=author.username,
                display_name=author.display_name,
                avatar_url=avatars["256"] if avatars else None,
            ),
            counts=CountsOut(
                views=video.view_count,
                likes=video.like_count,
                comments=video.comment_count,
                shares=video.share_count,
                bookmarks=video.bookmark_count,
            ),
            created_at=video.created_at,
            published_at=video.published_at,
            viewer=state,
        )


class VideoListOut(BaseModel):
    items: list[VideoOut]
    next_cursor: str | None
