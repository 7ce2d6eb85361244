"""Demo content for a newcomer's first `make run`: a few creators and a dozen generated clips.

The command only creates the creators and queues one job per clip, so the server starts at once;
the jobs generate each clip and send it through the real upload and processing pipeline, and
the feed fills as each clip becomes ready.
"""

from __future__ import annotations

from sqlalchemy import func, select

from molodets.accounts import service
from molodets.accounts.models import User
from molodets.db import transaction
from molodets.demo_clips import DEMO_CLIPS, make_demo_clip
from molodets.jobs import DEFAULT_QUEUE, JobContext, job
from molodets.media.ffmpeg import ffmpeg_executable
from molodets.runtime import build_runtime
from molodets.settings import Settings
from molodets.uploads import service as uploads
from molodets.videos import service as videos

DEMO_PASSWORD = "molodets-demo-2026"  # noqa: S105 - documented demo login, printed to the operator

DEMO_CREATORS = (
    ("anna.travel", "Анна Путешественница", "Города, горы и поезда. 🚆", "ru"),
    ("chef.ivan", "Шеф Иван", "Готовлю за 60 секунд.", "ru"),
    ("dance.lab", "Dance Lab", "Short choreography every day.", "en"),
    ("cat.boris", "Кот Борис", "Официальный аккаунт кота.", "ru"),
)


@job(queue=DEFAULT_QUEUE, retries=2)
def make_demo_video(ctx: JobContext, index: int, username: str) -> None:
    """Generate demo clip `index` and publish it as `username`, like an upload from a phone.

    The clip is made before the job's first statement: on SQLite that statement takes the only
    write lock, and the other jobs (the other clips, the transcodes) waited on it for as long as
    ffmpeg ran, some past their 15-second busy timeout ("database is locked", then a retry)."""
    clip = DEMO_CLIPS[index]
    work = ctx.runtime.settings.data_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    path = make_demo_clip(
        clip, index, work / f"demo-{index}.mp4", ffmpeg=ffmpeg_executable(ctx.runtime.settings.ffmpeg_path)
    )
    author = service.get_user_by_username(ctx.session, username)
    if author is None:
        return
    upload = uploads.do_import_file(
        ctx.session, ctx.runtime.settings, user_id=author.id, source=path, filename=f"demo-{index}.mp4"
    )
    videos.do_create_video(ctx.session, author=author, upload_id=upload.id, caption=clip.caption)


def seed_demo(settings: Settings, *, only_if_empty: bool = False) -> str:
    runtime = build_runtime(settings)
    try:
        with transaction(runtime.db.sessions) as session:
            if only_if_empty and session.scalar(select(func.count()).select_from(User)):
                return "demo: accounts exist already; nothing seeded"
            created = []
            for username, display_name, bio, locale in DEMO_CREATORS:
                if service.get_user_by_username(session, username) is not None:
                    continue
                user = service.do_sign_up(
                    session,
                    username=username,
                    password=DEMO_PASSWORD,
                    display_name=display_name,
                    locale=locale,
                )
                service.do_update_profile(session, user=user, bio=bio)
                created.append(username)
            if created:
                for index in range(len(DEMO_CLIPS)):
                    make_demo_video.enqueue(session, index, DEMO_CREATORS[index % len(DEMO_CREATORS)][0])
    finally:
        runtime.close()
    if not created:
        return "demo: demo creators exist already"
    return (
        f"demo: created {', '.join('@' + name for name in created)} (password: {DEMO_PASSWORD}); "
        f"{len(DEMO_CLIPS)} clips are being made and will appear in the feed as each is ready"
    )
