"""Runs every policy on every seed's world, in parallel processes, and hands the traces to
metrics.py and report.py. One (policy, seed) pair is one task: the world is rebuilt from the
seed inside the task, so all policies of a seed meet the same users, sessions and uploads."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
import traceback
from collections import deque
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from molodets.feed.pages import FIRST_PAGE

from .policies import (
    AlsDailyPolicy,
    CoEngagementPolicy,
    OraclePolicy,
    Policy,
    PolicyUnavailableError,
    PopularityPolicy,
    RandomPolicy,
    Shown,
    TasteOraclePolicy,
)
from .real import MolodetsPolicy
from .real_stats import RealStats
from .world import DAY_S, Viewer, World, WorldSize

# Pages as the web player gets them: the first with the HTML (feed/pages.py), the next from the
# feed API (web/static/js/feed.js) when FETCH_AHEAD videos are left (web/static/js/player.js).
PAGE_SIZE = 10
FETCH_AHEAD = 4
POLICIES = (
    "random",
    "popularity",
    "coengagement",
    "als_daily",
    "oracle",
    "taste_oracle",
    "molodets",
    "molodets_daily",
)
REAL_POLICIES = ("molodets", "molodets_daily")
GATE = "gate"  # the uniform-random policy on a bigger world of the same seed: rare rates need the sample
GATE_MIN_USERS = 800
QUICK = WorldSize(users=40, videos=400, days=2, uploads_per_day=24)
FLAGS = ("valid", "long", "complete", "skip", "like", "follow", "share", "hate")


@dataclass
class Trace:
    """Everything one (policy, seed) run produced: one row per impression, plus page timings."""

    policy: str
    seed: int
    sessions: int = 0
    session: NDArray[np.int32] = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    user: NDArray[np.int32] = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    video: NDArray[np.int32] = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    at_s: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    watched_s: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    utility: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    flags: dict[str, NDArray[np.bool_]] = field(default_factory=dict)
    page_ms: list[float] = field(default_factory=list)
    repeats: int = 0
    empty_pages: int = 0
    seconds: float = 0.0
    error: str | None = None
    real: RealStats | None = None  # the real recommender's own figures


def make_policy(
    name: str, world: World, seed: int, viewers: dict[int, Viewer], workdir: Path, weights: dict[str, float]
) -> Policy:
    if name in ("random", GATE):
        return RandomPolicy(world, seed)
    if name == "popularity":
        return PopularityPolicy(world, seed)
    if name == "coengagement":
        return CoEngagementPolicy(world, seed)
    if name == "als_daily":
        return AlsDailyPolicy(world, seed)
    if name == "oracle":
        return OraclePolicy(world, seed, viewers)
    if name == "taste_oracle":
        return TasteOraclePolicy(world, seed, viewers)
    if name in REAL_POLICIES:
        return MolodetsPolicy(world, seed, workdir, realtime=name == "molodets", weights=weights)
    raise ValueError(f"unknown policy {name!r}")


def simulate(name: str, size: WorldSize, seed: int, workdir: Path, weights: dict[str, float]) -> Trace:
    """One policy through one seed's whole simulated period."""
    started = time.perf_counter()
    world = World(size, seed)
    viewers = {user: world.viewer(user) for user in range(size.users)}
    trace = Trace(policy=name, seed=seed, sessions=len(world.session_start))
    rows: dict[str, list[float]] = {
        key: [] for key in ("session", "user", "video", "at", "watched", "utility")
    }
    flags: dict[str, list[bool]] = {key: [] for key in FLAGS}
    policy = make_policy(name, world, seed, viewers, workdir, weights)
    try:
        next_upload = world.first_upload
        policy.publish(list(range(world.first_upload)), 0.0)
        day = 0
        policy.new_day(0, 0.0)

        def publish_until(now_s: float) -> None:
            nonlocal next_upload
            due = next_upload
            while due < world.video_count and world.published_s[due] <= now_s:
                due += 1
            if due > next_upload:
                policy.publish(list(range(next_upload, due)), now_s)
                next_upload = due

        for number, (start, user_value) in enumerate(
            zip(world.session_start, world.session_user, strict=True)
        ):
            user = int(user_value)
            while start >= (day + 1) * DAY_S:
                day += 1
                publish_until(day * DAY_S)
                policy.new_day(day, day * DAY_S)
            rng = np.random.default_rng([seed, 2, number])
            viewer = viewers[user]
            world.start_session(viewer, user, rng)
            now = float(start)
            publish_until(now)
            policy.start_session(user, now)
            # As the web player plays: the first page, then the next one asked for (after the
            # events so far are sent) when `FETCH_AHEAD` videos are left to play.
            queue: deque[int] = deque()
            shown: list[Shown] = []
            depth, limit = 0, FIRST_PAGE
            while True:
                if len(queue) <= FETCH_AHEAD and limit:
                    policy.observe(user, shown, now)
                    shown = []
                    publish_until(now)
                    tick = time.perf_counter()
                    page = policy.page(user, viewer.seen | set(queue), now, limit)
                    trace.page_ms.append((time.perf_counter() - tick) * 1000)
                    fresh = [v for v in dict.fromkeys(page) if v not in viewer.seen and v not in queue]
                    trace.repeats += len(page) - len(fresh)
                    queue.extend(fresh)
                    limit = PAGE_SIZE if fresh else 0  # nothing new: play out what is queued
                    if not fresh:
                        trace.empty_pages += 1
                if not queue:
                    break
                video = queue.popleft()
                response = world.respond(viewer, user, video)
                shown.append(Shown(video, response, now))
                for key, value in (
                    ("session", number),
                    ("user", user),
                    ("video", video),
                    ("at", now),
                    ("watched", response.watched_s),
                    ("utility", response.utility),
                ):
                    rows[key].append(value)
                for key in FLAGS:
                    flags[key].append(getattr(response, key))
                world.after(viewer, video, response)
                now += response.watched_s + world.behaviour.swipe_s
                depth += 1
                if not world.goes_on(viewer, user, depth, rng):
                    break
            policy.observe(user, shown, now)  # what the player sends as the viewer leaves
        stats = getattr(policy, "stats", None)
        if isinstance(stats, RealStats):
            trace.real = stats
    finally:
        policy.close()
    trace.session = np.array(rows["session"], dtype=np.int32)
    trace.user = np.array(rows["user"], dtype=np.int32)
    trace.video = np.array(rows["video"], dtype=np.int32)
    trace.at_s = np.array(rows["at"])
    trace.watched_s = np.array(rows["watched"])
    trace.utility = np.array(rows["utility"])
    trace.flags = {key: np.array(values, dtype=bool) for key, values in flags.items()}
    trace.seconds = time.perf_counter() - started
    return trace


def _task(job: tuple[str, WorldSize, int, str, dict[str, float]]) -> Trace:
    """A pool worker's unit; a failure becomes the trace's `error`, never a lost run."""
    name, size, seed, workdir, weights = job
    started = time.perf_counter()
    try:
        return simulate(name, size, seed, Path(workdir), weights)
    except PolicyUnavailableError as exc:
        return Trace(policy=name, seed=seed, error=str(exc), seconds=time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 - the real recommender is being written; report, go on
        last = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{Path(last.filename).name}:{last.lineno}"
        return Trace(
            policy=name,
            seed=seed,
            error=f"{type(exc).__name__} at {where}: {exc}"[:500],
            seconds=time.perf_counter() - started,
        )


def run_all(
    policies: list[str],
    size: WorldSize,
    seeds: list[int],
    jobs: int,
    workdir: Path,
    weights: dict[str, float] | None = None,
) -> list[Trace]:
    """All tasks, the slow real recommender first so the pool's two lanes end together."""
    weights = weights or {}
    tasks = [(name, size, seed, str(workdir), weights) for name in policies for seed in seeds]
    # The gate's world keeps this run's constants but is never smaller than the default one: a
    # tiny catalogue's few creators would make its rates the luck of one draw.
    gate_size = replace(
        size, users=max(size.users * 4, GATE_MIN_USERS), videos=max(size.videos, WorldSize().videos)
    )
    tasks += [(GATE, gate_size, seed, str(workdir), weights) for seed in seeds]
    tasks.sort(key=lambda task: task[0] not in REAL_POLICIES)
    traces: list[Trace] = []
    # fork: workers inherit the imported modules (and work when run as a plain script).
    context = multiprocessing.get_context("fork")
    with context.Pool(processes=jobs, maxtasksperchild=1) as pool:
        for trace in pool.imap_unordered(_task, tasks):
            status = f"error: {trace.error}" if trace.error else f"{len(trace.video):,} impressions"
            print(f"  {trace.policy:<15} seed {trace.seed}  {trace.seconds:6.1f} s  {status}", flush=True)
            traces.append(trace)
    return traces


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    default = WorldSize()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.feedsim",
        description="Simulated users watch the For You feed of each policy; prints a table and saves a plot.",
    )
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (default 5)")
    parser.add_argument("--users", type=int, default=default.users)
    parser.add_argument("--videos", type=int, default=default.videos, help="catalogue at the start")
    parser.add_argument("--days", type=int, default=default.days, help="simulated days")
    parser.add_argument("--uploads-per-day", type=int, default=default.uploads_per_day)
    parser.add_argument("--topics", type=int, default=default.topics, choices=range(20, 33), metavar="20..32")
    parser.add_argument(
        "--policies", default=",".join(POLICIES), help="comma-separated; the calibration gate always runs"
    )
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="parallel processes")
    parser.add_argument("--plot", type=Path, default=Path("var/feedsim.png"), help="where to save the plot")
    parser.add_argument("--quick", action="store_true", help="1 seed, a tiny world: a smoke test")
    parser.add_argument(
        "--db-dir", type=Path, help="keep the real recommender's SQLite files here (default: a temp dir)"
    )
    parser.add_argument(
        "--weights",
        default="{}",
        help="ranking weights to change, as MOLODETS_FEED_WEIGHTS: '{\"interest\": 4}'",
    )
    args = parser.parse_args(argv)
    try:
        args.weight_values = {name: float(value) for name, value in json.loads(args.weights).items()}
    except (ValueError, TypeError, AttributeError):
        parser.error(f"--weights: not a JSON object of numbers: {args.weights}")
    from molodets.feed.ranking import RankWeights

    unknown_weights = sorted(set(args.weight_values) - {weight.name for weight in fields(RankWeights)})
    if unknown_weights:
        parser.error(f"--weights: unknown names: {', '.join(unknown_weights)}")
    names = [name.strip() for name in args.policies.split(",") if name.strip()]
    unknown = sorted(set(names) - set(POLICIES))
    if unknown:
        parser.error(f"unknown policies: {', '.join(unknown)} (known: {', '.join(POLICIES)})")
    args.policy_names = [name for name in POLICIES if name in names]
    return args


def main(argv: list[str] | None = None) -> int:
    from .metrics import summarise
    from .report import plot, print_report

    # BLAS threads would fight the worker processes for the two cores.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    args = parse_args(argv)
    if args.quick:
        size, seeds = QUICK, [0]
    else:
        size = WorldSize(
            users=args.users,
            videos=args.videos,
            days=args.days,
            uploads_per_day=args.uploads_per_day,
            topics=args.topics,
        )
        seeds = list(range(args.seeds))
    print(
        f"feedsim: {size.users} users, {size.videos} videos (+{size.uploads_per_day}/day), {size.days} days, "
        f"{size.topics} topics; seeds {seeds}; policies {', '.join(args.policy_names)}",
        flush=True,
    )
    started = time.perf_counter()
    if args.db_dir:
        args.db_dir.mkdir(parents=True, exist_ok=True)
        traces = run_all(
            args.policy_names, size, seeds, max(1, args.jobs), args.db_dir.resolve(), args.weight_values
        )
    else:
        with tempfile.TemporaryDirectory(prefix="feedsim-") as workdir:
            traces = run_all(
                args.policy_names, size, seeds, max(1, args.jobs), Path(workdir), args.weight_values
            )
    summary = summarise(traces, size, seeds)
    print_report(summary, stream=sys.stdout)
    plot(summary, args.plot)
    print(f"\nplot: {args.plot}    total {time.perf_counter() - started:.0f} s")
    return 0 if summary.gate_passed else 1
