"""Every domain's tables, imported in one place so Alembic sees the whole schema."""

from molodets.accounts.models import ApiToken, User, UserSession
from molodets.db import Base
from molodets.events.models import ViewMark, WatchEvent
from molodets.feed.models import CoEngagement, CreatorStats, VideoStats, VideoTag, ViewerProfile
from molodets.notifications.models import Notification, NotificationActor
from molodets.social.models import Block, Bookmark, Comment, CommentLike, Follow, FollowRequest, VideoLike
from molodets.uploads.models import Upload
from molodets.videos.models import Rendition, Video

__all__ = [
    "ApiToken",
    "Base",
    "Block",
    "Bookmark",
    "CoEngagement",
    "Comment",
    "CommentLike",
    "CreatorStats",
    "Follow",
    "FollowRequest",
    "Notification",
    "NotificationActor",
    "Rendition",
    "Upload",
    "User",
    "UserSession",
    "Video",
    "VideoLike",
    "VideoStats",
    "VideoTag",
    "ViewMark",
    "ViewerProfile",
    "WatchEvent",
]
