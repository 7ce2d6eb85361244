"""The social layer at scale: Following feed and comments-page latency, and likes per second.

Generates a data set (default: 100,000 users, 1,000,000 follows, 200,000 ready public videos,
a video with 50,000 comments and 5,000 replies; see _social_data.py for the graph and its hard
cases) into a freshly migrated database, starts one real `molodets serve` on it (rate limits
off), warms it up, then measures over HTTP:

- `GET /api/v1/feed/following`, first page and page 11, for the viewer who follows 5,000
  creators, an average viewer, a follower of the big creator only, and a viewer of three
  creators with one video each (the read-time merge's worst case);
- `GET /api/v1/videos/{id}/comments` on the big video, `sort=top` and `sort=newest`, first page
  and a page halfway down;
- `PUT /api/v1/videos/{id}/like` by one user, then by N clients, each its own user, on videos
  spread over all; then every counter is checked against the rows it counts.

Each read is measured with one client (latency of a warm process) and then with N clients
(throughput, as a ratio of `GET /healthz` with the same N clients, the baseline of this run).
The query plan of the Following feed is printed too, and the load average around the
measurements: the machine may be shared.

SQLite by default (a file in a temporary directory). PostgreSQL with `--database-url` or when
`MOLODETS_DATABASE_URL` names one; the database must be empty, or give `--reset-postgres` to
drop and recreate its `public` schema first.
Run: `make bench` or `.venv/bin/python benchmarks/social.py [--users 100000] [--follows 1000000]
[--videos 200000] [--seconds 5] [--clients 8] [--database-url URL] [--reset-postgres]`.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from _server import running_server
from _social_data import DataSet, Spec, Viewer, generate
from http_requests import measure
from sqlalchemy import Engine, create_engine, event, func, make_url, select, text

from molodets.accounts.models import User
from molodets.db import Database, make_engine
from molodets.feed import queries as feed
from molodets.migrations import upgrade
from molodets.settings import load_settings
from molodets.social.counters import rebuild_counters
from molodets.social.models import VideoLike
from molodets.videos.models import Video

FEED = "/api/v1/feed/following"
LATER_PAGE = 11  # the page after ten of the app's default 20 items


@dataclass(frozen=True)
class Case:
    label: str
    path: str
    headers: dict[str, str]
    params: dict[str, str]

    def send(self, client: httpx.Client) -> httpx.Response:
        return client.get(self.path, params=self.params, headers=self.headers)


@dataclass(frozen=True)
class Row:
    label: str
    rate: float
    p50: float
    p99: float
    alone_p50: float | None = None
    alone_p99: float | None = None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--follows", type=int, default=1_000_000)
    parser.add_argument("--videos", type=int, default=200_000)
    parser.add_argument(
        "--big-creator-followers",
        type=int,
        help="followers of the big creator (default and most: everyone else but one, users - 2)",
    )
    parser.add_argument("--comments", type=int, default=50_000, help="top comments on the big video")
    parser.add_argument("--seconds", type=float, default=5.0, help="per figure and per client count")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--database-url", help="default: MOLODETS_DATABASE_URL if PostgreSQL, else SQLite")
    parser.add_argument(
        "--reset-postgres", action="store_true", help="DROP SCHEMA public CASCADE first (PostgreSQL only)"
    )
    args = parser.parse_args()
    most = Spec.max_big_creator_followers(args.users)
    big_followers = most if args.big_creator_followers is None else args.big_creator_followers
    if args.users < 1_000 or not 2 <= big_followers <= most:
        parser.error(f"--users at least 1000; --big-creator-followers from 2 to users - 2 ({most:,})")

    from_environment = os.environ.get("MOLODETS_DATABASE_URL", "")
    configured = args.database_url or (from_environment if from_environment.startswith("postgres") else None)
    with tempfile.TemporaryDirectory(prefix="molodets-bench-social-") as tmp:
        data_dir = Path(tmp)
        settings = load_settings(data_dir=data_dir, database_url=configured)
        url = settings.resolved_database_url
        is_sqlite = settings.is_sqlite
        print(
            f"Molodets social benchmark on {'SQLite' if is_sqlite else 'PostgreSQL'} "
            f"({make_url(url).render_as_string(hide_password=True)}), {os.cpu_count()} cores",
            flush=True,
        )
        if not is_sqlite and args.reset_postgres:
            reset_schema(url)
        upgrade(settings)
        engine = make_engine(url)
        with engine.connect() as connection:
            present = connection.scalar(select(func.count()).select_from(User))
        if present:
            raise SystemExit(
                f"the database already has {present:,} users; the benchmark needs an empty one"
                + ("" if is_sqlite else " (--reset-postgres drops and recreates its public schema)")
            )

        spec = Spec(
            users=args.users,
            follows=args.follows,
            videos=args.videos,
            big_creator_followers=big_followers,
            comments=args.comments,
            like_users=args.clients + 2,
        )
        started = time.perf_counter()
        data = generate(engine, spec)
        generated = time.perf_counter() - started
        if not is_sqlite:
            vacuum_analyze(url)
        engine.dispose()
        print_data_set(spec, data, generated, analyzed=not is_sqlite)
        print_feed_plan(url, data.heavy, others=[data.average, data.big_fan, data.sparse])

        log = data_dir / "server.log"
        load_before = os.getloadavg()[0]
        try:
            # The server's own settings, on our database (running_server drops the shell's MOLODETS_*).
            database = {"MOLODETS_DATABASE_URL": url}
            with running_server(data_dir, log=log, env_overrides=database) as base:
                rows, likes = run(base, data, seconds=args.seconds, clients=args.clients)
        except BaseException:
            if log.exists():
                print(log.read_text()[-3000:], file=sys.stderr)
            raise
        load_after = os.getloadavg()[0]
        counters = check_counters(url, likes)

    print_results(rows, seconds=args.seconds, clients=args.clients, load=(load_before, load_after))
    print(counters)


def run(base: str, data: DataSet, *, seconds: float, clients: int) -> tuple[list[Row], int]:
    """Warm up, walk to the later pages, measure every read, then the likes."""
    comments = f"/api/v1/videos/{data.big_video_id}/comments"
    reader = bearer(data.average)
    cases: list[Case] = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for viewer in (data.heavy, data.average, data.big_fan, data.sparse):
            who = f"{viewer.label} ({viewer.follows:,} follows)"
            cases.append(Case(f"feed p1, {who}", FEED, bearer(viewer), {}))
            later = cursor_after(client, FEED, bearer(viewer), pages=LATER_PAGE - 1, limit=20)
            if later is not None:
                cases.append(Case(f"feed p{LATER_PAGE}, {who}", FEED, bearer(viewer), {"cursor": later}))
        half = data.big_video_comments // 2
        for sort in ("top", "newest"):
            cases.append(Case(f"comments p1, sort={sort}", comments, reader, {"sort": sort}))
            deep = cursor_after(client, comments, reader, pages=half // 100, limit=100, sort=sort)
            if deep is not None:
                cases.append(
                    Case(
                        f"comments after #{half:,}, sort={sort}",
                        comments,
                        reader,
                        {"sort": sort, "cursor": deep},
                    )
                )
        # Warm: every path's code, queries and pages, before anything is timed.
        for case in cases:
            for _ in range(10):
                case.send(client).raise_for_status()

    def healthz(client: httpx.Client) -> httpx.Response:
        return client.get("/healthz")

    print(f"measuring: {len(cases) + 2} paths, about {(2 * len(cases) + 3) * seconds:.0f} s", flush=True)
    rows = [Row(*measure("GET /healthz (baseline)", healthz, base=base, seconds=seconds, clients=clients))]
    for case in cases:
        _, _, alone_p50, alone_p99 = measure(case.label, case.send, base=base, seconds=seconds, clients=1)
        _, rate, p50, p99 = measure(case.label, case.send, base=base, seconds=seconds, clients=clients)
        rows.append(Row(case.label, rate, p50, p99, alone_p50, alone_p99))
    like_row, likes = measure_likes(base, data, seconds=seconds, clients=clients)
    rows.append(like_row)
    return rows, likes


def measure_likes(base: str, data: DataSet, *, seconds: float, clients: int) -> tuple[Row, int]:
    """Each client thread is one user, liking videos in one shuffled order over all of them, so
    no (user, video) pair repeats: every like is a new row and two counter updates. One user
    warms the write path, one measures alone, then `clients` users at once."""
    users = iter([bearer_of(token) for token in data.like_tokens])  # next() on it is atomic
    order = list(data.video_ids)
    random.Random(2026).shuffle(order)
    videos = itertools.cycle([f"/api/v1/videos/{video_id}/like" for video_id in order])
    mine = threading.local()
    answered = itertools.count()

    def like(client: httpx.Client) -> httpx.Response:
        headers: dict[str, str] | None = getattr(mine, "headers", None)
        if headers is None:
            headers = mine.headers = next(users)
        response = client.put(next(videos), headers=headers)
        if response.status_code == 200:
            next(answered)
        return response

    with httpx.Client(base_url=base, timeout=60) as client:
        for _ in range(20):
            like(client).raise_for_status()
    label = "PUT like (each client its own user)"
    _, _, alone_p50, alone_p99 = measure(label, like, base=base, seconds=seconds, clients=1)
    _, rate, p50, p99 = measure(label, like, base=base, seconds=seconds, clients=clients)
    return Row(label, rate, p50, p99, alone_p50, alone_p99), next(answered)


def bearer(viewer: Viewer) -> dict[str, str]:
    return bearer_of(viewer.token)


def bearer_of(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def cursor_after(
    client: httpx.Client,
    path: str,
    headers: dict[str, str],
    *,
    pages: int,
    limit: int,
    sort: str | None = None,
) -> str | None:
    """The cursor that `pages` pages of `limit` items end on; None if the list ends before."""
    cursor: str | None = None
    for _ in range(pages):
        params = (
            {"limit": str(limit)} | ({"sort": sort} if sort else {}) | ({"cursor": cursor} if cursor else {})
        )
        response = client.get(path, params=params, headers=headers)
        response.raise_for_status()
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return None
    return cursor


# --- the database ---------------------------------------------------------------------------------


def reset_schema(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    print(
        f"--reset-postgres: dropped and recreated the public schema of {make_url(url).database}", flush=True
    )


def vacuum_analyze(url: str) -> None:
    """What autovacuum does within a minute of a bulk load: statistics for the planner and a
    visibility map for index-only scans. Measuring before it would measure the load."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("VACUUM (ANALYZE)"))
    engine.dispose()


def print_feed_plan(url: str, viewer: Viewer, *, others: list[Viewer]) -> None:
    """The plan of the Following feed's page query for `viewer`, and the query's own time (in
    this process, no HTTP) for each viewer's first page."""
    database = Database(url)
    statements: list[tuple[str, object]] = []

    def capture(_conn: object, _cursor: object, statement: str, parameters: object, *_: object) -> None:
        statements.append((statement, parameters))

    with database.read_sessions() as session:
        for position, who in enumerate([viewer, *others]):
            user = session.scalars(select(User).where(User.username == who.username)).one()
            event.listen(database.engine, "before_cursor_execute", capture)
            feed.following(session, viewer=user, cursor=None, limit=None)
            event.remove(database.engine, "before_cursor_execute", capture)
            timings = []
            for _ in range(20):
                started = time.perf_counter()
                feed.following(session, viewer=user, cursor=None, limit=None)
                timings.append(time.perf_counter() - started)
            timings.sort()
            if position == 0:
                statement, parameters = statements[-1]
                print(f"the Following feed's page query for @{who.username} ({who.follows:,} follows):")
                shown = re.sub(r"^SELECT .*? FROM", "SELECT videos.* FROM", " ".join(statement.split()))
                print(f"  {shown}")
                print(f"  parameters: {parameters}")
                print("  plan:")
                for line in explain(database.engine, statement, parameters):
                    print(f"    {line}")
            print(
                f"  first page, the query alone in-process, {who.label} ({who.follows:,} follows): "
                f"p50 {timings[len(timings) // 2] * 1000:.1f} ms, max {timings[-1] * 1000:.1f} ms",
                flush=True,
            )
    database.dispose()


def explain(engine: Engine, statement: str, parameters: object) -> list[str]:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()  # type: ignore[arg-type]
            depth: dict[int, int] = {0: 0}
            lines = []
            for node, parent, _, detail in rows:
                depth[node] = depth.get(parent, 0) + 1
                lines.append("  " * (depth[node] - 1) + str(detail))
            return lines
        rows = connection.exec_driver_sql(
            f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {statement}",
            parameters,  # type: ignore[arg-type]
        ).all()
        return [str(row[0]) for row in rows]


def check_counters(url: str, likes: int) -> str:
    """Like rows against the likes answered 200 and against the counters; then the whole of
    `molodets counters rebuild` in a transaction rolled back, which counts the wrong rows."""
    database = Database(url)
    with database.sessions() as session:
        rows = session.scalar(select(func.count()).select_from(VideoLike)) or 0
        on_videos = session.scalar(select(func.coalesce(func.sum(Video.like_count), 0))) or 0
        on_users = session.scalar(select(func.coalesce(func.sum(User.like_count), 0))) or 0
        report = rebuild_counters(session)
        session.rollback()
    database.dispose()
    exact = rows == on_videos == on_users and report.videos_fixed == report.users_fixed == 0
    verdict = "exact" if exact else "MISMATCH"
    return (
        f"like counters: {verdict} ({likes:,} likes answered 200 during the run and the warm-up, "
        f"{rows:,} like rows, sum of videos.like_count {on_videos:,}, of users.like_count {on_users:,}; "
        f"`molodets counters rebuild` would fix {report.videos_fixed} videos and {report.users_fixed} users)"
    )


# --- output ---------------------------------------------------------------------------------------


def print_data_set(spec: Spec, data: DataSet, seconds: float, *, analyzed: bool) -> None:
    needed = 1_000_000
    print(
        f"data set: {spec.users:,} users, {spec.follows:,} follows, {spec.videos:,} ready public videos, "
        f"{data.big_video_comments + data.big_video_replies:,} comments on one video",
    )
    print(
        f"  @{data.big_creator}: {data.big_creator_followers:,} followers, "
        f"{data.big_creator_videos:,} videos (--big-creator-followers: at most users - 2 = "
        f"{Spec.max_big_creator_followers(spec.users):,}, as a pair follows once;"
    )
    print(f"  the issue's {needed:,} needs --users {needed + 2:,} and --follows above {needed + 5_000:,})")
    print(
        f"  the big video ({data.big_video_id}, @{data.big_creator}'s newest): "
        f"{data.big_video_comments:,} comments and {data.big_video_replies:,} replies, one pinned"
    )
    for note in data.notes:
        print(f"  {note}")
    print(f"generated and inserted in {seconds:.1f} s:")
    for table, count, took in data.timings:
        print(f"  {table:14} {count:>10,} rows {took:6.1f} s")
    if analyzed:
        print("then VACUUM (ANALYZE), as autovacuum would soon after a bulk load")
    print(flush=True)


def print_results(rows: list[Row], *, seconds: float, clients: int, load: tuple[float, float]) -> None:
    baseline = rows[0].rate
    print()
    print(
        f"each figure: {seconds:g} s with 1 client, then {seconds:g} s with {clients} clients (ms, req/s); "
        f"the clients are threads of this process. Load average before {load[0]:.1f}, after {load[1]:.1f} "
        f"on {os.cpu_count()} cores: the machine is shared, so a disturbed run shows"
    )
    print(f"{'':56} {'1 client':>15}   {f'{clients} clients':>26}")
    print(f"{'path':56} {'p50':>7} {'p99':>7}   {'p50':>8} {'p99':>8} {'req/s':>8}   {'vs baseline':>11}")
    for row in rows:
        alone = (
            f"{row.alone_p50:7.1f} {row.alone_p99:7.1f}"
            if row.alone_p50 is not None and row.alone_p99 is not None
            else f"{'-':>7} {'-':>7}"
        )
        concurrent = f"{row.p50:8.1f} {row.p99:8.1f} {row.rate:8.0f}"
        print(f"{row.label:56} {alone}   {concurrent}   {row.rate / baseline:10.2f}x")


if __name__ == "__main__":
    main()
