"""The processing pipeline as jobs on the media queue.

1. `publish_first`: probe, keep the original, poster, placeholder and one low rendition, then
   mark the video ready: it plays within seconds of the upload ending.
2. `finish_ladder`: the whole ladder in one ffmpeg run, the preview and the audio track; the
   ladder replaces the first rendition.

Jobs never hold a database transaction while ffmpeg runs (on SQLite that would be the only
write lock): they read in a short read session, work on files, then write in the job's own
transaction (`ctx.session`), committed when the job returns. Each processing run writes under a
fresh folder; whatever a crashed run left is swept when a later run succeeds, so no object is
orphaned. A job that dies with its worker is queued again by the `watchdog`.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.db import after_commit, transaction, utcnow
from molodets.jobs import MEDIA_QUEUE, JobContext, job, periodic
from molodets.media.derived import extract_audio, make_placeholder, make_poster, make_preview
from molodets.media.ffmpeg import ffmpeg_executable
from molodets.media.ladder import plan_ladder
from molodets.media.probe import probe_file
from molodets.media.transcode import transcode_first, transcode_ladder
from molodets.media.types import MediaRejected, ProbeResult, RenditionFile
from molodets.runtime import Runtime
from molodets.social import comments
from molodets.social import service as relations
from molodets.storage import IMMUTABLE
from molodets.uploads import service as uploads
from molodets.videos.models import Rendition, Stage, Video, VideoStatus, Visibility
from molodets.videos.schemas import SIGNED_URL_SECONDS
from molodets.videos.service import video_prefix

MAX_ATTEMPTS = 5
# How long the first rendition outlives the ladder that replaced it: as long as a signed media
# URL lives, so no page that was handed it finds it gone.
REPLACED_GRACE_SECONDS = SIGNED_URL_SECONDS
PROGRESS_INTERVAL_SECONDS = 1.0
TRANSIENT_CODES = frozenset({"probe_timeout", "probe_failed"})
# huey runs higher priorities first. Every first rendition goes before any ladder (it is what
# makes a clip playable), and among ladders the shorter clip goes first, so one long upload never
# holds back the short ones queued behind it.
FIRST_PRIORITY = 100


def ladder_priority(duration_ms: int | None) -> int:
    return max(10, 60 - (duration_ms or 600_000) // 10_000)


@dataclass(frozen=True)
class Snapshot:
    """What a job needs to know about a video, read before the heavy work starts."""

    id: int
    status: str
    stage: str
    upload_id: int | None
    original_key: str | None
    media_prefix: str | None
    cover_time_ms: int | None
    duration_ms: int | None


def _snapshot(runtime: Runtime, video_id: int) -> Snapshot | None:
    with runtime.db.read_sessions() as session:
        video = session.get(Video, video_id)
        if video is None:
            return None
        return Snapshot(
            id=video.id,
            status=video.status,
            stage=video.stage,
            upload_id=video.upload_id,
            original_key=video.original_key,
            media_prefix=video.media_prefix,
            cover_time_ms=video.cover_time_ms,
            duration_ms=video.duration_ms,
        )


def _set_progress(runtime: Runtime, video_id: int, *, stage: Stage, percent: int) -> None:
    """Progress is written in its own short transaction, so the creator sees it move."""
    with transaction(runtime.db.sessions) as session:
        session.execute(
            update(Video)
            .where(Video.id == video_id, Video.status != VideoStatus.FAILED.value)
            .values(stage=stage.value, progress=percent)
        )


def _progress_reporter(
    runtime: Runtime, video_id: int, stage: Stage, low: int, high: int
) -> Callable[[float], None]:
    last = 0.0

    def report(fraction: float) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_INTERVAL_SECONDS or fraction >= 1.0:
            last = now
            _set_progress(
                runtime, video_id, stage=stage, percent=low + round((high - low) * min(fraction, 1.0))
            )

    return report


@contextmanager
def _workdir(runtime: Runtime, video_id: int) -> Iterator[Path]:
    """A scratch folder per video: a run killed with its worker leaves its files here. The next
    run of the same video starts by clearing them; since that run may happen on another worker,
    every run also clears this disk's folders that no live run can still be writing."""
    root = runtime.settings.data_dir / "work"
    _clear_abandoned_workdirs(root, older_than=2 * _timeout(runtime.settings.video_max_seconds * 1000, 10))
    path = root / f"video-{video_id}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _clear_abandoned_workdirs(root: Path, *, older_than: float) -> None:
    """Remove scratch folders whose newest file is older than any stage may run (ffmpeg writes
    its output continuously, so a live run's folder is always fresh)."""
    cutoff = time.time() - older_than
    for folder in root.glob("video-*") if root.is_dir() else ():
        try:
            newest = max([folder.stat().st_mtime, *(f.stat().st_mtime for f in folder.iterdir())])
        except OSError:
            continue  # removed meanwhile by its own run
        if newest < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


def _source_file(runtime: Runtime, snapshot: Snapshot, workdir: Path) -> Path:
    """The file to process: the upload while it is still there, else the kept original."""
    if snapshot.upload_id is not None:
        path = uploads.upload_path(runtime.settings, snapshot.upload_id)
        if path.exists():
            return path
    if snapshot.original_key:
        local = runtime.storage.local_path(snapshot.original_key)
        if local is not None:
            return local
        target = workdir / "original"
        with runtime.storage.open(snapshot.original_key) as remote, target.open("wb") as out:
            shutil.copyfileobj(remote, out, 1024 * 1024)
        return target
    raise MediaRejected("source_missing", "The uploaded file is no longer available; upload it again.")


def _put(runtime: Runtime, key: str, path: Path, content_type: str) -> str:
    runtime.storage.put_file(key, path, content_type=content_type, cache_control=IMMUTABLE)
    return key


def _fail(ctx: JobContext, video_id: int, code: str, detail: str) -> None:
    ctx.log.warning("video_failed", video_id=video_id, code=code, detail=detail)
    video = ctx.session.get(Video, video_id)
    if video is not None:
        video.status = VideoStatus.FAILED.value
        video.error_code = code
        video.error_detail = detail[:500]
        video.stage_deadline = None


def _handle_failure(ctx: JobContext, video_id: int, retries: int, error: Exception) -> None:
    """A verdict on the file fails the video at once. Anything else (a probe that timed out or
    crashed may be the machine's load, not the file) is retried until the last attempt, which
    fails the video with a readable reason; raising is what makes the job retry."""
    if isinstance(error, MediaRejected) and error.code not in TRANSIENT_CODES:
        _fail(ctx, video_id, error.code, error.detail)
        return
    if ctx.attempt < retries:
        raise error
    if isinstance(error, MediaRejected):
        _fail(ctx, video_id, error.code, error.detail)
    else:
        _fail(ctx, video_id, "processing_failed", f"Processing failed: {error}")


def _sweep(runtime: Runtime, video_id: int, keep: set[str | None]) -> None:
    """Delete every object of the video that the committed row does not point at: what an
    earlier, crashed run left, and what the ladder replaced."""
    for key in list(runtime.storage.list(video_prefix(video_id))):
        if key not in keep:
            runtime.storage.delete(key)


def _stage_deadline(duration_ms: int | None, factor: float) -> timedelta:
    seconds = (duration_ms or 60_000) / 1000
    return timedelta(seconds=120 + factor * seconds)


def _timeout(duration_ms: int, factor: float) -> float:
    return 60 + factor * duration_ms / 1000


@job(queue=MEDIA_QUEUE, retries=3, backoff_seconds=10)
def publish_first(ctx: JobContext, video_id: int) -> None:
    runtime = ctx.runtime
    snapshot = _snapshot(runtime, video_id)
    if snapshot is None or snapshot.status != VideoStatus.PROCESSING.value:
        return  # deleted, failed, or published by an earlier run: nothing to do
    try:
        _set_progress(runtime, video_id, stage=Stage.PROBING, percent=1)
        with _workdir(runtime, video_id) as workdir:
            source = _source_file(runtime, snapshot, workdir)
            probe = probe_file(source, max_seconds=runtime.settings.video_max_seconds)
            results = _publish_files(runtime, snapshot, source, probe, workdir)
    except Exception as error:  # noqa: BLE001 - sorted out by _handle_failure
        _handle_failure(ctx, video_id, publish_first.retries, error)
        return
    video = ctx.session.get(Video, video_id)
    if video is None:
        after_commit(ctx.session, lambda: runtime.storage.delete_prefix(video_prefix(video_id)))
        return
    prefix, poster, poster_webp, placeholder, first = results
    video.media_prefix = prefix
    video.poster_key, video.poster_webp_key, video.placeholder = poster, poster_webp, placeholder
    video.duration_ms = probe.duration_ms
    video.width, video.height = probe.video.display_width, probe.video.display_height
    video.fps = round(probe.video.fps, 3)
    video.source = {**video.source, **_probe_summary(probe)}
    ctx.session.execute(delete(Rendition).where(Rendition.video_id == video_id))
    first_key = f"{prefix}/first.mp4"
    ctx.session.add(_rendition(video_id, first, first_key))
    video.status = VideoStatus.READY.value
    video.stage = Stage.LADDER.value
    video.progress = 30
    video.published_at = utcnow()
    video.stage_deadline = utcnow() + _stage_deadline(probe.duration_ms, 10)
    finish_ladder.enqueue(ctx.session, video_id, priority=ladder_priority(probe.duration_ms))
    _notify_mentions(ctx.session, video)
    keep = {video.original_key, poster, poster_webp, first_key}
    after_commit(ctx.session, lambda: _sweep(runtime, video_id, keep))


def _notify_mentions(session: Session, video: Video) -> None:
    """Once a public video is out, the people its caption mentions hear of it (not those who
    blocked its author). A private or followers-only video, or any video of a private account,
    tells no one: they could not open it."""
    if video.visibility != Visibility.PUBLIC.value or not video.mentions:
        return
    author = session.get(User, video.author_id)
    if author is None or author.is_private:
        return
    usernames = relations.mentionable(session, author=author, usernames=video.mentions)
    comments.notify_mentions(session, author=author, usernames=usernames, video_id=video.id)


def _publish_files(
    runtime: Runtime, snapshot: Snapshot, source: Path, probe: ProbeResult, workdir: Path
) -> tuple[str, str, str, str, RenditionFile]:
    ffmpeg = ffmpeg_executable(runtime.settings.ffmpeg_path)
    prefix = f"{video_prefix(snapshot.id)}/{secrets.token_hex(8)}"
    _set_progress(runtime, snapshot.id, stage=Stage.FIRST_RENDITION, percent=5)
    cover = (
        snapshot.cover_time_ms if snapshot.cover_time_ms is not None else min(1000, probe.duration_ms // 2)
    )
    # The poster is made beside the first rendition, not before it: time to playable is the
    # longer of the two, not their sum.
    with ThreadPoolExecutor(max_workers=1) as pool:
        posters = pool.submit(
            make_poster, source, probe, min(cover, max(probe.duration_ms - 100, 0)), workdir, ffmpeg=ffmpeg
        )
        first = transcode_first(
            source,
            probe,
            workdir,
            ffmpeg=ffmpeg,
            on_progress=_progress_reporter(runtime, snapshot.id, Stage.FIRST_RENDITION, 5, 30),
            timeout=_timeout(probe.duration_ms, 4),
        )
        jpeg, webp = posters.result()
    placeholder = make_placeholder(jpeg)
    poster = _put(runtime, f"{prefix}/poster.jpg", jpeg, "image/jpeg")
    poster_webp = _put(runtime, f"{prefix}/poster.webp", webp, "image/webp")
    _put(runtime, f"{prefix}/first.mp4", first.path, "video/mp4")
    return prefix, poster, poster_webp, placeholder, first


@job(queue=MEDIA_QUEUE, retries=3, backoff_seconds=10)
def finish_ladder(ctx: JobContext, video_id: int) -> None:
    runtime = ctx.runtime
    snapshot = _snapshot(runtime, video_id)
    if snapshot is None or snapshot.stage != Stage.LADDER.value or snapshot.media_prefix is None:
        return
    prefix = snapshot.media_prefix
    ffmpeg = ffmpeg_executable(runtime.settings.ffmpeg_path)
    try:
        with _workdir(runtime, video_id) as workdir:
            source = _source_file(runtime, snapshot, workdir)
            probe = probe_file(source, max_seconds=runtime.settings.video_max_seconds)
            # Kept after publishing, not before: copying a big original must not delay playback.
            original_key = snapshot.original_key
            if runtime.settings.keep_originals and original_key is None:
                original_key = _put(
                    runtime, f"{video_prefix(video_id)}/original", source, "application/octet-stream"
                )
            ladder = transcode_ladder(
                source,
                probe,
                plan_ladder(probe),
                workdir,
                ffmpeg=ffmpeg,
                on_progress=_progress_reporter(runtime, video_id, Stage.LADDER, 30, 95),
                timeout=_timeout(probe.duration_ms, 10),
            )
            keys = [
                _put(runtime, f"{prefix}/{item.spec.name}.mp4", item.path, "video/mp4") for item in ladder
            ]
            preview = _put(
                runtime,
                f"{prefix}/preview.mp4",
                make_preview(source, probe, workdir, ffmpeg=ffmpeg),
                "video/mp4",
            )
            audio_path = extract_audio(source, probe, workdir, ffmpeg=ffmpeg)
            audio = _put(runtime, f"{prefix}/audio.m4a", audio_path, "audio/mp4") if audio_path else None
    except Exception as error:  # noqa: BLE001 - sorted out by _handle_failure
        _handle_failure(ctx, video_id, finish_ladder.retries, error)
        return
    video = ctx.session.get(Video, video_id)
    if video is None or video.media_prefix != prefix:
        return  # deleted, or re-processed meanwhile; the sweep of that run removes ours
    ctx.session.execute(delete(Rendition).where(Rendition.video_id == video_id))
    for item, key in zip(ladder, keys, strict=True):
        ctx.session.add(_rendition(video_id, item, key))
    video.preview_key, video.audio_key, video.original_key = preview, audio, original_key
    video.stage, video.progress, video.stage_deadline = Stage.DONE.value, 100, None
    keep = {video.original_key, video.poster_key, video.poster_webp_key, preview, audio, *keys}
    upload_id = video.upload_id
    # Pages rendered before this commit still hold the first rendition's URL: it goes later.
    first = f"{prefix}/first.mp4"

    def clean_up() -> None:
        _sweep(runtime, video_id, keep | {first})
        if upload_id is not None:
            uploads.discard_upload_file(runtime.settings, upload_id)

    after_commit(ctx.session, clean_up)
    sweep_replaced.enqueue(ctx.session, video_id, delay_seconds=REPLACED_GRACE_SECONDS)


@job(queue=MEDIA_QUEUE, retries=3, backoff_seconds=60)
def sweep_replaced(ctx: JobContext, video_id: int) -> None:
    """Delete what the finished ladder replaced (the first rendition), once pages that were
    given its URL have had time to play it."""
    video = ctx.session.get(Video, video_id)
    if video is None or video.stage != Stage.DONE.value:
        return  # deleted (its own sweep ran), or being processed again (that run sweeps)
    renditions = ctx.session.scalars(select(Rendition.key).where(Rendition.video_id == video_id))
    keep = {video.original_key, video.poster_key, video.poster_webp_key, video.preview_key, video.audio_key}
    keep |= set(renditions)
    runtime = ctx.runtime
    after_commit(ctx.session, lambda: _sweep(runtime, video_id, keep))


def _rendition(video_id: int, item: RenditionFile, key: str) -> Rendition:
    return Rendition(
        video_id=video_id,
        name=f"{min(item.width, item.height)}p",
        width=item.width,
        height=item.height,
        bitrate=item.bitrate,
        size_bytes=item.size_bytes,
        key=key,
    )


def _probe_summary(probe: ProbeResult) -> dict[str, object]:
    return {
        "container": probe.container,
        "video_codec": probe.video.codec,
        "audio_codec": probe.audio.codec if probe.audio else None,
        "rotation": probe.video.rotation,
        "mirrored": probe.video.mirrored,
        "bitrate": probe.bitrate,
        "size_bytes": probe.size_bytes,
    }


@periodic(minutes=2)
def watchdog(ctx: JobContext) -> None:
    """Queue again what is stuck: a worker killed mid-transcode loses its job, not the video."""
    now = utcnow()
    stuck = ctx.session.scalars(
        select(Video).where(
            Video.status != VideoStatus.FAILED.value,
            Video.stage != Stage.DONE.value,
            Video.stage_deadline < now,
        )
    )
    for video in stuck:
        video.attempts += 1
        if video.attempts > MAX_ATTEMPTS:
            _fail(ctx, video.id, "processing_stuck", "Processing kept stopping; upload the video again.")
            continue
        ctx.log.warning("video_requeued", video_id=video.id, stage=video.stage, attempts=video.attempts)
        video.stage_deadline = now + _stage_deadline(video.duration_ms, 10)
        if video.stage == Stage.LADDER.value:
            finish_ladder.enqueue(ctx.session, video.id, priority=ladder_priority(video.duration_ms))
        else:
            publish_first.enqueue(ctx.session, video.id, priority=FIRST_PRIORITY)
