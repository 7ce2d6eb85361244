"""Sustained ingest of watch events: events per second and latency of `POST /api/v1/events`.

Starts a real `molodets serve` over a fresh database seeded with viewers (each with an API token)
and ready videos, then has `--clients` threads post batches of `--batch` events (a player's
realistic mix: impressions, plays, progress, completes, skips) as fast as the server answers,
each viewer from its own token, for `--seconds`. In the same run, `GET /healthz` with the same
clients is the baseline (the framework's ceiling).

Prints events/s, batches/s, p50/p99 latency, and the views the server counted against the plays
sent (a view counts once per viewer, video and day). Goal: ≥ 20,000 events/s, p99 < 50 ms.

Run: `.venv/bin/python benchmarks/events.py` (SQLite), or on PostgreSQL + Redis:
`.venv/bin/python benchmarks/events.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_events
--redis-url redis://127.0.0.1:6379/3` (the database is emptied first); add `--web-workers 2` for the
scale-out web process with one worker per core, as that mode is deployed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
from _server import running_server
from sqlalchemy import create_engine, func, select, text

from molodets.accounts import service as accounts
from molodets.db import Database, utcnow
from molodets.videos.models import Stage, Video, VideoStatus, Visibility

PASSWORD = "benchmark password 2026"
MIX = ["impression"] * 3 + ["play"] * 2 + ["progress"] * 3 + ["complete", "skip"]


def seed(database_url: str, *, viewers: int, videos: int) -> tuple[list[str], list[int]]:
    """Viewers with tokens and ready videos, written straight through the service layer."""
    db = Database(database_url)
    tokens: list[str] = []
    with db.sessions() as session:
        creator = accounts.do_sign_up(session, username="bench_author", password=PASSWORD)
        for n in range(viewers):
            viewer = accounts.do_sign_up(session, username=f"viewer{n}", password=PASSWORD)
            session.flush()
            tokens.append(accounts.do_create_token(session, user=viewer, name="bench")[1])
        rows = [
            Video(
                author_id=creator.id,
                caption=f"video {n}",
                hashtags=[],
                mentions=[],
                visibility=Visibility.PUBLIC.value,
                status=VideoStatus.READY.value,
                stage=Stage.DONE.value,
                progress=100,
                duration_ms=random.randint(8_000, 120_000),
                width=720,
                height=1280,
                published_at=utcnow(),
            )
            for n in range(videos)
        ]
        session.add_all(rows)
        session.commit()
        video_ids = [video.id for video in rows]
    db.dispose()
    return tokens, video_ids


def batches_for(video_ids: list[int], *, count: int, size: int) -> list[bytes]:
    """Pre-serialised bodies (the client's own JSON work stays out of the measurement)."""
    now = int(time.time() * 1000)
    bodies = []
    for _ in range(count):
        events = []
        for _ in range(size):
            kind = random.choice(MIX)
            event: dict[str, object] = {
                "type": kind,
                "video_id": str(random.choice(video_ids)),
                "ts": now - random.randint(0, 60_000),
                "source": "for_you",
            }
            if kind in {"progress", "complete", "skip"}:
                event["watched_ms"] = random.randint(200, 8_000)
            events.append(event)
        bodies.append(json.dumps({"events": events}).encode())
    return bodies


def run(
    base: str,
    *,
    clients: int,
    seconds: float,
    request: tuple[str, str],
    bodies: list[bytes],
    tokens: list[str],
) -> tuple[int, float, list[float], int]:
    method, path = request
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker(index: int) -> None:
        nonlocal failures
        mine: list[float] = []
        failed = 0
        headers = {"Content-Type": "application/json"}
        with httpx.Client(base_url=base, timeout=30) as client:
            n = index
            while time.perf_counter() < stop_at:
                body = bodies[n % len(bodies)] if bodies else None
                token = tokens[n % len(tokens)] if tokens else None
                auth = {"Authorization": f"Bearer {token}"} if token else {}
                started = time.perf_counter()
                response = client.request(method, path, content=body, headers=headers | auth)
                mine.append(time.perf_counter() - started)
                failed += response.status_code >= 400
                n += clients
        with lock:
            latencies.extend(mine)
            failures += failed

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies), time.perf_counter() - began, latencies, failures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--videos", type=int, default=2000)
    parser.add_argument("--database-url", help="PostgreSQL URL (its public schema is emptied first)")
    parser.add_argument("--redis-url")
    parser.add_argument(
        "--web-workers",
        type=int,
        default=1,
        help="web processes: above 1, the scale-out `molodets web --workers N` (PostgreSQL + Redis only)",
    )
    args = parser.parse_args()
    if args.web_workers > 1 and not (args.database_url and args.redis_url):
        parser.error("--web-workers above 1 needs --database-url and --redis-url (scale-out mode)")

    with tempfile.TemporaryDirectory(prefix="molodets-bench-") as tmp:
        data_dir = Path(tmp)
        database_url = args.database_url or f"sqlite:///{data_dir / 'molodets.sqlite3'}"
        overrides = {"MOLODETS_DATABASE_URL": database_url}
        if args.redis_url:
            overrides["MOLODETS_REDIS_URL"] = args.redis_url
        if args.database_url:
            engine = create_engine(args.database_url)
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            engine.dispose()
        seeded: dict[str, object] = {}

        def prepare() -> None:
            seeded["tokens"], seeded["videos"] = seed(database_url, viewers=args.viewers, videos=args.videos)

        with running_server(
            data_dir, env_overrides=overrides, prepare=prepare, web_workers=args.web_workers
        ) as base:
            tokens, video_ids = seeded["tokens"], seeded["videos"]
            assert isinstance(tokens, list)
            assert isinstance(video_ids, list)
            bodies = batches_for(video_ids, count=500, size=args.batch)
            run(
                base,
                clients=args.clients,
                seconds=1.0,
                request=("POST", "/api/v1/events"),
                bodies=bodies,
                tokens=tokens,
            )
            hello = run(
                base,
                clients=args.clients,
                seconds=args.seconds,
                request=("GET", "/healthz"),
                bodies=[],
                tokens=[],
            )
            ingest = run(
                base,
                clients=args.clients,
                seconds=args.seconds,
                request=("POST", "/api/v1/events"),
                bodies=bodies,
                tokens=tokens,
            )
        engine = create_engine(database_url)
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT count(*) FROM watch_events")).scalar_one()
            views = connection.execute(select(func.sum(Video.view_count))).scalar_one()
        engine.dispose()

    mode = "PostgreSQL + Redis" if args.database_url else "SQLite (embedded)"
    server = "one `molodets serve`"
    if args.web_workers > 1:
        server = f"`molodets web --workers {args.web_workers}`"
    print(f"POST /api/v1/events on {server}, {mode}, {args.clients} clients, {args.batch} events a batch,")
    print(
        f"{args.viewers} viewers, {args.videos} videos, {args.seconds:g} s per measurement, "
        f"{os.cpu_count()} cores"
    )
    print(f"{'measurement':28} {'req/s':>9} {'events/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, (count, elapsed, latencies, failures), per in (
        ("GET /healthz (baseline)", hello, 0),
        ("POST /api/v1/events", ingest, args.batch),
    ):
        quantiles = statistics.quantiles(latencies, n=100)
        rate = count / elapsed
        events = f"{rate * per:10.0f}" if per else f"{'':>10}"
        print(
            f"{name:28} {rate:9.0f} {events} {quantiles[49] * 1000:8.1f} {quantiles[98] * 1000:8.1f} "
            f"{failures:7d}"
        )
    ingest_rate = ingest[0] / ingest[1]
    print(f"ingest requests vs baseline: {ingest_rate / (hello[0] / hello[1]):.2f}x")
    print(f"events stored (warm-up included): {stored:,}; views counted: {views:,}")
    goal = ingest_rate * args.batch >= 20_000 and statistics.quantiles(ingest[2], n=100)[98] < 0.050
    print(f"goal (>= 20,000 events/s, p99 < 50 ms): {'met' if goal else 'NOT met'}")


if __name__ == "__main__":
    main()
