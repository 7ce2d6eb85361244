"""The load test's world: real media files made with the bundled ffmpeg, and a catalogue of ready
videos whose renditions point at them, bulk-inserted into a freshly migrated database.

The catalogue is benchmarks/recommender.py's generator (users, creators by a Zipf law, ready
public videos over 30 days with hashtags, recommender stats, viewer profiles, view marks,
co-engagement, follows), so the For You page ranks real candidates. On top of it: each video's
media prefix, poster and three renditions (720p/480p/360p), API tokens for the signed-in
viewers, and the files. Every video's keys are its own (`videos/<id>/run1/...`, as the pipeline
writes them), so the media route's per-video visibility check runs; the bytes are hard links to
the few files made here, so thousands of videos cost a few megabytes."""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _social_data import Ids, bulk_insert, when
from PIL import Image
from recommender import generate
from sqlalchemy import Table, text

from molodets.accounts.models import ApiToken
from molodets.accounts.service import TOKEN_PREFIX
from molodets.db import Database
from molodets.media.ffmpeg import ffmpeg_executable
from molodets.videos.models import Rendition

# (name, width, height, video kbit/s) of the seeded renditions: the pipeline's rungs for a
# 720x1280 source, at bitrates near what it produces.
LADDER = (("720p", 720, 1280, 1800), ("480p", 480, 854, 900), ("360p", 360, 640, 500))
QUICK_LADDER = (("360p", 360, 640, 500),)
PLACEHOLDER = "#336699"


@dataclass(frozen=True)
class Spec:
    """How big a world: `users` people (a tenth of them post), `videos` ready videos, API tokens
    for `signed_in` of the people, `guests` cookie-only viewers, media clips `seconds` long."""

    users: int
    videos: int
    signed_in: int
    guests: int
    seconds: float
    quick: bool = False
    seed: int = 11

    @staticmethod
    def full() -> Spec:
        return Spec(users=3_000, videos=5_000, signed_in=1_000, guests=1_000, seconds=4.0)

    @staticmethod
    def tiny() -> Spec:
        return Spec(users=60, videos=300, signed_in=40, guests=40, seconds=2.0, quick=True)

    @property
    def ladder(self) -> tuple[tuple[str, int, int, int], ...]:
        return QUICK_LADDER if self.quick else LADDER


@dataclass(frozen=True)
class MediaFiles:
    """The files every seeded video's keys are hard links to, and a creator's upload."""

    renditions: dict[str, Path]  # rendition name -> mp4
    poster: Path
    poster_webp: Path
    upload: Path  # a small phone-like clip (portrait, with sound) that creators upload


@dataclass
class Catalogue:
    tokens: list[str]  # Bearer tokens of signed-in viewers (any of them may upload)
    guests: list[str]  # values of the `molodets_guest` cookie, one per guest viewer
    video_ids: list[int]
    users: int
    timings: list[tuple[str, float]] = field(default_factory=list)


def _ffmpeg(*args: str) -> None:
    command = [ffmpeg_executable(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    done = subprocess.run(command, capture_output=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"ffmpeg failed: {done.stderr.decode(errors='replace')[-500:]}")


def _clip(path: Path, *, width: int, height: int, seconds: float, kbps: int) -> Path:
    """A moving test picture with a tone, H.264/AAC, moov atom first (as the pipeline writes)."""
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=30:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", f"{kbps}k", "-maxrate", f"{kbps}k",
        "-bufsize", f"{2 * kbps}k", "-g", "60", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", "-shortest", str(path),
    )  # fmt: skip
    return path


def make_media(folder: Path, spec: Spec) -> MediaFiles:
    folder.mkdir(parents=True, exist_ok=True)
    renditions = {
        name: _clip(folder / f"{name}.mp4", width=width, height=height, seconds=spec.seconds, kbps=kbps)
        for name, width, height, kbps in spec.ladder
    }
    poster = folder / "poster.jpg"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=720x1280:rate=1", "-frames:v", "1", "-q:v", "4", str(poster))
    poster_webp = folder / "poster.webp"
    with Image.open(poster) as image:
        image.save(poster_webp, "WEBP", quality=75)
    upload = _clip(
        folder / "upload.mp4", width=480, height=854, seconds=2.0 if spec.quick else 3.0, kbps=1200
    )
    return MediaFiles(renditions=renditions, poster=poster, poster_webp=poster_webp, upload=upload)


def _table(model: type[Any]) -> Table:
    found = model.__table__
    assert isinstance(found, Table)
    return found


def seed(database_url: str, media: MediaFiles, spec: Spec, *, media_sources: int | None = None) -> Catalogue:
    """Fill a freshly migrated database (SQLite or PostgreSQL); returns who may ask for what.
    The media files are placed separately (`link_media`, or a Storage's `put_file`). With
    `media_sources`, video n's renditions are the objects of video n % media_sources (the first
    ones), so only theirs need storing."""
    rng = random.Random(spec.seed)
    database = Database(database_url)
    timings: list[tuple[str, float]] = []
    started = time.perf_counter()
    user_ids, video_ids = generate(database, users=spec.users, videos=spec.videos, seed=spec.seed)
    timings.append((f"{spec.users:,} users, {spec.videos:,} videos with recommender state", elapsed(started)))
    started = time.perf_counter()
    engine = database.engine
    with engine.begin() as connection:
        # The pipeline's layout: everything of a video under videos/<id>/run<n>/ (media_prefix).
        connection.execute(
            text(
                "UPDATE videos SET media_prefix = 'videos/' || id || '/run1', "
                "poster_key = 'videos/' || id || '/run1/poster.jpg', "
                "poster_webp_key = 'videos/' || id || '/run1/poster.webp', "
                "placeholder = :placeholder, fps = 30.0"
            ),
            {"placeholder": PLACEHOLDER},
        )
    sizes = {name: path.stat().st_size for name, path in media.renditions.items()}
    ids = Ids()
    now = int(time.time() * 1000)

    def rendition_rows() -> Iterator[dict[str, Any]]:
        # One millisecond per row: the sequence field of an id repeats after 4,096 rows.
        count = len(video_ids) * len(spec.ladder)
        rendition_ids = ids.at([now - 3_600_000 + n for n in range(count)])
        position = 0
        for index, vid in enumerate(video_ids):
            source = video_ids[index % media_sources] if media_sources else vid
            for name, width, height, kbps in spec.ladder:
                yield {
                    "id": rendition_ids[position],
                    "video_id": vid,
                    "name": name,
                    "width": width,
                    "height": height,
                    "bitrate": kbps * 1000,
                    "size_bytes": sizes[name],
                    "key": f"{media_prefix(source)}/{name}.mp4",
                }
                position += 1

    bulk_insert(engine, _table(Rendition), rendition_rows())
    signed_in = rng.sample(user_ids, min(spec.signed_in, len(user_ids)))
    tokens = [TOKEN_PREFIX + secrets.token_urlsafe(32) for _ in signed_in]
    token_ids = ids.at([now - 7_200_000 + n for n in range(len(tokens))])
    bulk_insert(
        engine,
        _table(ApiToken),
        (
            # As accounts.service.do_create_token stores it: the secret's SHA-256 and its prefix.
            {
                "id": row_id,
                "token_hash": hashlib.sha256(secret.encode()).hexdigest(),
                "user_id": user_id,
                "name": "load test",
                "prefix": secret[:12],
                "created_at": when(now),
            }
            for row_id, user_id, secret in zip(token_ids, signed_in, tokens, strict=True)
        ),
    )
    with engine.begin() as connection:  # as the hourly refresh_planner_statistics does
        if engine.dialect.name == "sqlite":
            connection.execute(text("PRAGMA analysis_limit=1000"))
        connection.execute(text("ANALYZE"))
    timings.append(("media columns, renditions, tokens, ANALYZE", elapsed(started)))
    database.dispose()
    guests = [secrets.token_urlsafe(16) for _ in range(spec.guests)]
    return Catalogue(
        tokens=tokens,
        guests=guests,
        video_ids=video_ids,
        users=spec.users,
        timings=timings,
    )


def elapsed(started: float) -> float:
    return time.perf_counter() - started


def media_prefix(video_id: int) -> str:
    return f"videos/{video_id}/run1"


def media_objects(video_ids: list[int], media: MediaFiles, spec: Spec) -> Iterator[tuple[str, Path, str]]:
    """(key, file, content type) of every object the catalogue refers to."""
    for vid in video_ids:
        prefix = media_prefix(vid)
        for name, _, _, _ in spec.ladder:
            yield f"{prefix}/{name}.mp4", media.renditions[name], "video/mp4"
        yield f"{prefix}/poster.jpg", media.poster, "image/jpeg"
        yield f"{prefix}/poster.webp", media.poster_webp, "image/webp"


def link_media(root: Path, objects: Iterator[tuple[str, Path, str]]) -> int:
    """Local storage: hard links into the store's folder (LocalStorage derives the content type
    from the name when an object has no sidecar)."""
    count = 0
    for key, source, _ in objects:
        target = root.joinpath(*key.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)
        count += 1
    return count
