"""Ready videos without running the media pipeline: rows as `publish_first` and the ladder leave
them (status ready, stage done, a poster, a placeholder and three renditions), for tests of what
is built on videos. The pipeline itself is tested in tests/videos with real clips."""

from __future__ import annotations

from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.db import utcnow
from molodets.feed import online
from molodets.videos.models import Rendition, Stage, Video, VideoStatus, Visibility
from molodets.videos.service import hashtags_and_mentions

LADDER = (("720p", 720, 1280, 1_800_000), ("480p", 480, 854, 900_000), ("360p", 360, 640, 500_000))


def make_ready_video(
    db: Session,
    author: User,
    *,
    caption: str = "",
    visibility: Visibility = Visibility.PUBLIC,
    status: VideoStatus = VideoStatus.READY,
    duration_ms: int = 3000,
    language: str | None = None,
) -> Video:
    video = Video(
        author_id=author.id,
        caption=caption,
        hashtags=hashtags_and_mentions(caption)[0],
        language=language,
        mentions=[],
        visibility=visibility.value,
        status=status.value,
        stage=Stage.DONE.value if status == VideoStatus.READY else Stage.QUEUED.value,
        progress=100 if status == VideoStatus.READY else 0,
        duration_ms=duration_ms,
        width=720,
        height=1280,
        published_at=utcnow() if status == VideoStatus.READY else None,
    )
    db.add(video)
    db.flush()
    prefix = f"videos/{video.id}/run1"
    video.media_prefix = prefix
    if status == VideoStatus.READY:
        video.poster_key = f"{prefix}/poster.jpg"
        video.poster_webp_key = f"{prefix}/poster.webp"
        video.placeholder = "#336699"
        for name, width, height, bitrate in LADDER:
            db.add(
                Rendition(
                    video_id=video.id,
                    name=name,
                    width=width,
                    height=height,
                    bitrate=bitrate,
                    size_bytes=bitrate * 3 // 8,
                    key=f"{prefix}/{name}.mp4",
                )
            )
    online.index_video(db, video)
    db.commit()
    return video
