"""Demo content goes through the real pipeline: a demo job makes a clip, uploads it and the
video ends ready with its hashtags."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from molodets.demo import DEMO_CREATORS, make_demo_video
from molodets.demo_clips import DEMO_CLIPS
from molodets.runtime import Runtime
from molodets.videos.models import Rendition, Video
from tests.factories.accounts import make_user


def test_a_demo_job_publishes_a_ready_video(db: Session, runtime: Runtime) -> None:
    username = DEMO_CREATORS[1][0]
    user = make_user(db, username=username)
    make_demo_video.enqueue(db, 4, username)
    db.commit()
    assert runtime.jobs.drain(include_scheduled=True) >= 3  # the demo job, publish_first, finish_ladder
    db.expire_all()
    video = db.scalar(select(Video).where(Video.author_id == user.id))
    assert video is not None
    assert (video.status, video.stage) == ("ready", "done")
    assert video.caption == DEMO_CLIPS[4].caption
    assert video.hashtags == ["рецепт", "еда"]
    assert (video.width, video.height) == (720, 1280)
    heights = sorted(r.height for r in db.scalars(select(Rendition).where(Rendition.video_id == video.id)))
    assert heights == [640, 854, 1280]
