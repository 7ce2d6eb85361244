"""For You page time at catalogue scale: how long the recommender takes to build a 10-video page.

Generates, into a freshly migrated database (bulk inserts, fixed seed): 100,000 users (10,000
of them creators, by a Zipf law), 100,000 ready public videos over the last 30 days with 1-2 of
32 topic hashtags and a language, their recommender stats (impressions by popularity, outcome
rates by a hidden quality, decayed trend), 100,000 viewer profiles (interests in 5-15 hashtags
and 10-30 creators, recent positives), co-engagement pairs, each viewer's recent plays (view
marks, 20 each) and follows (10 each on average). Then it builds pages in this process through
`recommender.build_page`, as the API does, for:

- a logged-in viewer with history, first page and the page after it (cursor);
- a new guest (no profile: the cold start);
and prints p50 / p95 / p99 / max, against a baseline measured in the same run: the newest
public videos page (one indexed read, what For You was before the recommender).
Goal (issue 6): p95 <= 50 ms for the 10-video page.

SQLite by default (a file in a temporary directory); PostgreSQL with `--database-url` (empty
database, or `--reset-postgres`).
Run: `.venv/bin/python benchmarks/recommender.py [--videos 100000] [--users 100000] [--pages 300]`.
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _social_data import Ids, bulk_insert, when
from sqlalchemy import Table, text

from molodets.accounts.models import User
from molodets.db import Database
from molodets.events.models import ViewMark
from molodets.feed import online, vectors
from molodets.feed.models import CoEngagement, VideoStats, VideoTag, ViewerProfile
from molodets.feed.ranking import RankWeights, quality
from molodets.feed.recommender import ViewerRef, build_page
from molodets.migrations import upgrade
from molodets.settings import load_settings
from molodets.social.models import Follow
from molodets.videos import queries as videos_queries
from molodets.videos.models import Stage, Video, VideoStatus, Visibility

DAY_MS = 86_400_000
TOPICS = [f"topic{n:02d}" for n in range(32)]
# KuaiRand-Pure durations (seconds) at these quantiles: the catalogue's lengths.
DURATION_QUANTILES = (
    (0.0, 5.0),
    (0.05, 10.7),
    (0.1, 14.6),
    (0.25, 32),
    (0.5, 81),
    (0.75, 148),
    (0.9, 238),
    (0.95, 304),
    (0.99, 510),
    (1.0, 600),
)


def table(model: type[Any]) -> Table:
    found = model.__table__
    assert isinstance(found, Table)
    return found


def duration_ms(rng: random.Random) -> int:
    u = rng.random()
    for (q0, s0), (q1, s1) in itertools.pairwise(DURATION_QUANTILES):
        if u <= q1:
            share = (u - q0) / (q1 - q0)
            return int(1000 * math.exp(math.log(s0) + share * (math.log(s1) - math.log(s0))))
    return 600_000


def chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def generate(database: Database, *, users: int, videos: int, seed: int) -> tuple[list[int], list[int]]:
    """Fill the database; returns the user ids and the video ids."""
    rng = random.Random(seed)
    ids = Ids()
    now = int(time.time() * 1000)
    engine = database.engine
    user_ids = ids.at([now - 60 * DAY_MS + n for n in range(users)])
    bulk_insert(
        engine,
        table(User),
        (
            {
                "id": uid,
                "username": f"u{n}",
                "display_name": f"User {n}",
                "password_hash": "!",
                "created_at": when(now),
                "updated_at": when(now),
                "password_changed_at": when(now),
            }
            for n, uid in enumerate(user_ids)
        ),
    )
    creators = user_ids[: max(users // 10, 1)]
    creator_topic = {creator: rng.choice(TOPICS) for creator in creators}
    weights = list(np.cumsum([1 / (rank + 1) ** 0.8 for rank in range(len(creators))]))
    times = sorted(now - rng.randrange(30 * DAY_MS) for _ in range(videos))
    video_ids = ids.at(times)
    authors = rng.choices(creators, cum_weights=weights, k=videos)
    tags = [
        list(dict.fromkeys([creator_topic[author], *([rng.choice(TOPICS)] if rng.random() < 0.4 else [])]))
        for author in authors
    ]
    durations = [duration_ms(rng) for _ in range(videos)]
    bulk_insert(
        engine,
        table(Video),
        (
            {
                "id": vid,
                "author_id": author,
                "caption": " ".join(f"#{t}" for t in tag),
                "hashtags": tag,
                "mentions": [],
                "visibility": Visibility.PUBLIC.value,
                "status": VideoStatus.READY.value,
                "stage": Stage.DONE.value,
                "progress": 100,
                "duration_ms": dur,
                "width": 720,
                "height": 1280,
                "language": "ru" if rng.random() < 0.7 else "en",
                "published_at": when(at),
                "created_at": when(at),
                "updated_at": when(at),
                "source": {},
            }
            for vid, author, tag, dur, at in zip(video_ids, authors, tags, durations, times, strict=True)
        ),
    )
    rank_weights = RankWeights()

    def stats_rows() -> Iterator[dict[str, Any]]:
        for vid, dur, at in zip(video_ids, durations, times, strict=True):
            shown = int(rng.paretovariate(1.2) * 20)
            q = rng.betavariate(2, 5)
            long_views = int(shown * q * 0.5)
            row = {
                "video_id": vid,
                "duration_ms": dur,
                "impressions": shown,
                "long_views": long_views,
                "completes": int(long_views * 0.4),
                "skips": int(shown * (0.6 - q * 0.5)),
                "likes": int(shown * q * 0.05),
                "shares": int(shown * q * 0.005),
                "follows": int(shown * q * 0.004),
                "hates": int(shown * 0.004),
                "watch_ms": int(shown * min(dur, 30_000) * q),
                "trend": math.log(max(long_views, 1))
                + (at - online.TREND_EPOCH_MS) / 3_600_000 * math.log(2) / online.TREND_HALF_LIFE_HOURS,
            }
            row["quality"] = quality(online.rates_input(row), rank_weights)
            yield row

    stats = list(stats_rows())
    bulk_insert(engine, table(VideoStats), stats)
    quality_of = {row["video_id"]: row["quality"] for row in stats}
    bulk_insert(
        engine,
        table(VideoTag),
        (
            {"tag": tag, "video_id": vid, "quality": quality_of[vid]}
            for vid, tag_list in zip(video_ids, tags, strict=True)
            for tag in tag_list
        ),
    )
    bulk_insert(
        engine,
        table(CoEngagement),
        (
            {"video_id": vid, "neighbour_id": neighbour, "weight": rng.random() * 5}
            for vid in video_ids
            for neighbour in set(rng.sample(video_ids, 5)) - {vid}
        ),
    )
    recent_videos = video_ids[-20_000:]
    bulk_insert(
        engine,
        table(ViewerProfile),
        (
            {
                "viewer": f"u{uid}",
                "updated_ms": now - rng.randrange(DAY_MS),
                "state": {
                    "t": {
                        t: [e := rng.uniform(1, 40), e * rng.uniform(0, 0.6)]
                        for t in rng.sample(TOPICS, rng.randint(5, 15))
                    },
                    "c": {
                        str(c): [e := rng.uniform(1, 10), e * rng.uniform(0, 0.6)]
                        for c in rng.sample(creators, min(len(creators), rng.randint(10, 30)))
                    },
                    "r": rng.sample(recent_videos, 8),
                    "w": {str(v): rng.randrange(60_000) for v in rng.sample(recent_videos, 20)},
                    "m": [f"l{v}" for v in rng.sample(recent_videos, 20)],
                    "n": rng.randint(20, 2000),
                },
            }
            for uid in user_ids
        ),
    )
    today = now // DAY_MS
    mark_ids = ids.at([now - DAY_MS + n for n in range(users * 20)])
    bulk_insert(
        engine,
        table(ViewMark),
        (
            {"id": row_id, "viewer": f"u{uid}", "video_id": vid, "day": today - rng.randrange(30)}
            for uid, row_ids in zip(user_ids, chunks(mark_ids, 20), strict=True)
            for row_id, vid in zip(row_ids, rng.sample(recent_videos, 20), strict=True)
        ),
    )
    follow_ids = iter(ids.at([now - 2 * DAY_MS + n for n in range(users * 20)]))
    bulk_insert(
        engine,
        table(Follow),
        (
            {"id": next(follow_ids), "follower_id": uid, "followee_id": followee, "created_at": when(now)}
            for uid in user_ids
            for followee in set(rng.choices(creators, cum_weights=weights, k=rng.randint(0, 20))) - {uid}
        ),
    )
    return user_ids, video_ids


def timed(label: str, runs: int, build: Callable[[int], object]) -> list[float]:
    times = []
    for n in range(runs):
        start = time.perf_counter()
        build(n)
        times.append((time.perf_counter() - start) * 1000)
    ordered = sorted(times)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    print(f"{label:<44}{statistics.median(times):>8.1f}{p(0.95):>8.1f}{p(0.99):>8.1f}{max(times):>8.1f}")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url")
    parser.add_argument("--reset-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="molodets-recbench-") as workdir:
        url = args.database_url or f"sqlite:///{Path(workdir) / 'bench.sqlite3'}"
        database = Database(url)
        if args.reset_postgres and database.engine.dialect.name == "postgresql":
            with database.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(load_settings(data_dir=Path(workdir), database_url=url))
        started = time.perf_counter()
        user_ids, _ = generate(database, users=args.users, videos=args.videos, seed=args.seed)
        print(
            f"{database.engine.dialect.name}: generated {args.users:,} users and {args.videos:,} videos "
            f"with history in {time.perf_counter() - started:.0f} s"
        )
        with database.engine.begin() as connection:  # as the hourly refresh_planner_statistics does
            if database.engine.dialect.name == "sqlite":
                connection.execute(text("PRAGMA analysis_limit=1000"))
            connection.execute(text("ANALYZE"))
        started = time.perf_counter()
        with database.sessions() as session:  # as the periodic feed.tasks.train_video_vectors does
            embedded = vectors.train(session, now_ms=int(time.time() * 1000))
            session.commit()
        print(f"video vectors: {embedded or 0:,} videos embedded in {time.perf_counter() - started:.1f} s")
        rng = random.Random(args.seed + 1)
        with database.read_sessions() as session:
            users = {
                user.id: user for user in session.query(User).filter(User.id.in_(rng.sample(user_ids, 200)))
            }
            viewers = list(users.values())
            numpy_rng = np.random.default_rng(args.seed)
            build = lambda viewer, cursor=None: build_page(  # noqa: E731
                session,
                viewer=ViewerRef(key=f"u{viewer.id}", user=viewer, language="ru"),
                cursor=cursor,
                limit=10,
                rng=numpy_rng,
            )
            for viewer in viewers[:20]:
                build(viewer)  # warm up: caches, the quantile table
            print(f"\n{'10-video page (ms)':<44}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}")
            baseline = timed(
                "baseline: newest public (one index read)",
                args.pages,
                lambda n: videos_queries.newest_public(session, cursor=None, limit=10),
            )
            first = timed(
                "For You, viewer with history, page 1", args.pages, lambda n: build(viewers[n % len(viewers)])
            )
            cursors = [build(viewer).next_cursor for viewer in viewers]
            timed(
                "For You, viewer with history, page 2",
                args.pages,
                lambda n: build(viewers[n % len(viewers)], cursors[n % len(viewers)]),
            )
            timed(
                "For You, new guest (cold start)",
                args.pages,
                lambda n: build_page(
                    session, viewer=ViewerRef(key=f"anew{n}", language="en"), limit=10, rng=numpy_rng
                ),
            )
            ordered = sorted(first)
            p95 = ordered[int(0.95 * len(ordered))]
            print(
                f"\nFor You page 1 p95 {p95:.1f} ms (goal <= 50: {'met' if p95 <= 50 else 'missed'}); "
                f"{statistics.median(first) / statistics.median(baseline):.1f}x the baseline's median"
            )
        database.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
