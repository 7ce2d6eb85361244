"""The real recommender as a policy: Molodets' own `build_page` and event writer on a fresh,
migrated SQLite file, on simulated time.

`molodets` writes each page's events as soon as the page is watched (what the player's batches
do); `molodets_daily` holds them back and writes the whole day's at the next midnight: the same
model, updated daily. The daily variant passes what the user has already seen as `exclude`,
as a client that remembers its history would, since its recommender cannot know."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from alembic import command

try:
    from molodets.accounts.models import User
    from molodets.db import Database
    from molodets.events import service as events
    from molodets.events.schemas import EventIn
    from molodets.feed import online, vectors
    from molodets.feed.ranking import RankWeights
    from molodets.feed.recommender import SlateCache, ViewerRef, build_page
    from molodets.feed.tasks import VECTOR_MINUTES
    from molodets.logging import configure_logging
    from molodets.migrations import alembic_config
    from molodets.social import service as social
    from molodets.videos.models import Stage, Video, VideoStatus, Visibility
except ImportError as exc:  # the recommender is being written: the baselines still run
    MISSING: str | None = f"the real recommender is not importable yet ({exc})"
else:
    MISSING = None

from .policies import PolicyUnavailableError, Shown
from .real_stats import RealStats
from .world import LANGUAGES, World

EPOCH = datetime(2026, 11, 1, tzinfo=UTC)  # simulated time 0
EPOCH_MS = int(EPOCH.timestamp() * 1000)
NO_PASSWORD = "!"  # no password hash matches it: simulated accounts cannot log in
WRITE_CHUNK = 2_000  # rows per transaction when a day's held-back events are written


def sim_ms(seconds: float) -> int:
    return EPOCH_MS + int(seconds * 1000)


class MolodetsPolicy:
    """Drives `molodets.feed.recommender.build_page` and `molodets.events.service.write`."""

    def __init__(
        self,
        world: World,
        seed: int,
        workdir: Path,
        *,
        realtime: bool,
        weights: dict[str, float] | None = None,
    ) -> None:
        if MISSING:
            raise PolicyUnavailableError(MISSING)
        configure_logging(level="WARNING")  # what the recommender logs would bury the progress lines
        self.name = "molodets" if realtime else "molodets_daily"
        self.world = world
        self.realtime = realtime
        self.rng = np.random.default_rng([seed, 7])
        self.weights = RankWeights.from_mapping(weights or {})
        self.slates = SlateCache()  # as a web process keeps them, on simulated time
        self.stats = RealStats()
        path = workdir / f"{self.name}-{seed}.sqlite3"
        url = f"sqlite:///{path}"
        command.upgrade(alembic_config(url), "head")
        self.db = Database(url)
        self.video_id: dict[int, int] = {}  # simulator index -> database id
        self.video_index: dict[int, int] = {}
        self.durations: dict[str, int] = {}
        self.cursor: dict[int, str | None] = {}
        # The daily variant's held-back rows, validated when they happened (as the ingest would).
        self.pending: list[dict[str, object]] = []
        self.pending_follows: list[tuple[int, int]] = []
        self.vectors_due_s = 0.0  # the periodic job that relearns the video vectors, on simulated time
        self._create_accounts()

    def _create_accounts(self) -> None:
        world = self.world
        with self.db.sessions() as session:
            creators = [
                User(
                    username=f"sim_c{n}",
                    display_name=f"Creator {n}",
                    password_hash=NO_PASSWORD,
                    locale=LANGUAGES[int(world.creator_language[n])],
                )
                for n in range(world.creator_count)
            ]
            viewers = [
                User(
                    username=f"sim_u{n}",
                    display_name=f"Viewer {n}",
                    password_hash=NO_PASSWORD,
                    locale=LANGUAGES[int(world.user_language[n])],
                )
                for n in range(world.size.users)
            ]
            session.add_all(creators + viewers)
            session.commit()
            self.creator_ids = [creator.id for creator in creators]
            self.user_ids = [viewer.id for viewer in viewers]

    def publish(self, videos: list[int], now_s: float) -> None:
        world = self.world
        with self.db.sessions() as session:
            rows = []
            for index in videos:
                tags = world.hashtags[index]
                rows.append(
                    Video(
                        author_id=self.creator_ids[int(world.creator[index])],
                        caption=" ".join(f"#{tag}" for tag in tags) or "видео",
                        hashtags=tags,
                        mentions=[],
                        language=LANGUAGES[int(world.language[index])],
                        status=VideoStatus.READY.value,
                        stage=Stage.DONE.value,
                        progress=100,
                        visibility=Visibility.PUBLIC.value,
                        duration_ms=int(world.duration_s[index] * 1000),
                        width=720 if world.vertical[index] else 1280,
                        height=1280 if world.vertical[index] else 720,
                        published_at=EPOCH + timedelta(seconds=float(world.published_s[index])),
                    )
                )
            session.add_all(rows)
            session.flush()
            for index, row in zip(videos, rows, strict=True):
                online.index_video(session, row)
                self.video_id[index] = row.id
                self.video_index[row.id] = index
                self.durations[str(row.id)] = row.duration_ms
            session.commit()

    def new_day(self, day: int, now_s: float) -> None:
        if not self.realtime:
            self._train_vectors(now_s)  # the daily model's vectors are as old as its events
        if self.realtime or not self.pending:
            return
        rows, self.pending = self.pending, []
        follows, self.pending_follows = self.pending_follows, []
        # A session begun before midnight may run past it: write as of its last event.
        now_s = max(now_s, (max(int(str(row["client_ts"])) for row in rows) - EPOCH_MS) / 1000)
        rows.sort(key=lambda row: int(str(row["client_ts"])))
        for start in range(0, len(rows), WRITE_CHUNK):
            self._write(rows[start : start + WRITE_CHUNK], follows if start == 0 else [], now_s)

    def start_session(self, user: int, now_s: float) -> None:
        self.cursor[user] = None

    def page(self, user: int, seen: set[int], now_s: float, limit: int) -> list[int]:
        exclude = [self.video_id[v] for v in seen] if not self.realtime else []
        with self.db.read_sessions() as session:
            account = session.get(User, self.user_ids[user])
            viewer = ViewerRef(
                key=f"u{self.user_ids[user]}",
                user=account,
                language=LANGUAGES[int(self.world.user_language[user])],
            )
            result = build_page(
                session,
                viewer=viewer,
                cursor=self.cursor.get(user),
                limit=limit,
                now_ms=sim_ms(now_s),
                exclude=exclude,
                rng=self.rng,
                slates=self.slates,
                weights=self.weights,
            )
            ids = result.items
        self.cursor[user] = result.next_cursor
        if len(ids) < limit:
            self.stats.short_pages += 1
        return [self.video_index[video_id] for video_id in ids if video_id in self.video_index]

    def observe(self, user: int, shown: list[Shown], now_s: float) -> None:
        if not shown:
            return
        if not self.realtime:
            self.pending += self._rows(user, shown, now_s)
            self.pending_follows += self._follows(user, shown)
            return
        self._write(self._rows(user, shown, now_s), self._follows(user, shown), now_s)
        if now_s >= self.vectors_due_s:  # here, not in page(): the page times leave the job out
            self._train_vectors(now_s)
            self.vectors_due_s = now_s + VECTOR_MINUTES * 60

    def _train_vectors(self, now_s: float) -> None:
        started = time.perf_counter()
        with self.db.sessions() as session:
            vectors.train(session, now_ms=sim_ms(now_s))
            session.commit()
        self.stats.training_ms.append((time.perf_counter() - started) * 1000)

    def close(self) -> None:
        self.db.dispose()

    # --- events -------------------------------------------------------------------------------

    def _events(self, shown: list[Shown]) -> list[EventIn]:
        """What a real player sends for these impressions (final progress only)."""
        batch: list[EventIn] = []
        for item in shown:
            response = item.response
            video_id = str(self.video_id[item.video])
            start = sim_ms(item.at_s)
            end = sim_ms(item.at_s + response.watched_s)
            first_end = sim_ms(item.at_s + min(response.watched_s, float(self.world.duration_s[item.video])))

            def add(kind: str, at: int, video_id: str = video_id, **values: int) -> None:
                batch.append(EventIn(type=kind, video_id=video_id, ts=at, source="for_you", **values))

            add("impression", start)
            add("play", start)
            watched_ms = int(response.watched_s * 1000)
            if response.skip:
                add("skip", end, watched_ms=watched_ms)
            else:
                if response.complete:
                    add("complete", first_end)
                if response.loops:
                    add("replay", first_end)
                add("progress", end, watched_ms=watched_ms, loops=response.loops)
            for kind, happened in (
                ("like", response.like),
                ("share", response.share),
                ("follow", response.follow),
                ("not_interested", response.hate),
            ):
                if happened:
                    add(kind, end)
        return batch

    def _rows(self, user: int, shown: list[Shown], now_s: float) -> list[dict[str, object]]:
        """The batch validated as the ingest endpoint would, at the time it is sent."""
        result, rows = events.validate(
            self._events(shown),
            durations=self.durations,
            now_ms=sim_ms(now_s),
            viewer=f"u{self.user_ids[user]}",
        )
        for reason, count in result.dropped.items():
            self.stats.dropped[reason] = self.stats.dropped.get(reason, 0) + count
        return list(rows)

    def _follows(self, user: int, shown: list[Shown]) -> list[tuple[int, int]]:
        """A follow from the feed is also a real follow (the followed-creators source reads it)."""
        return [
            (self.user_ids[user], self.creator_ids[int(self.world.creator[item.video])])
            for item in shown
            if item.response.follow
        ]

    def _write(self, rows: list[dict[str, object]], follows: list[tuple[int, int]], now_s: float) -> None:
        started = time.perf_counter()
        with self.db.sessions() as session:
            events.write(session, rows, now_ms=sim_ms(now_s), weights=self.weights)
            for follower_id, followee_id in follows:
                social.add_follow(session, follower_id=follower_id, followee_id=followee_id)
            session.commit()
        self.stats.write_ms.append((time.perf_counter() - started) * 1000)
