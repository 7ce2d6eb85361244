"""Every domain's tables, imported in one place so Alembic sees the whole schema."""

from molodets.accounts.models import ApiToken, User, UserSession
from molodets.db import Base
from molodets.social.models import Block, Bookmark, Comment, CommentLike, Follow, VideoLike
from molodets.uploads.models import Upload
from molodets.videos.models import Rendition, Video

__all__ = [
    "ApiToken",
    "Base",
    "Block",
    "Bookmark",
    "Comment",
    "CommentLike",
    "Follow",
    "Rendition",
    "Upload",
    "User",
    "UserSession",
    "Video",
    "VideoLike",
]
