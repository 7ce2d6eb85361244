"""What the load test runs against: a target is a base URL and the ids of its server processes
(whose CPU and memory are sampled from /proc, their children included), started here.

- embedded: one `molodets serve` (SQLite, local media, jobs in the same process) over a fresh data
  dir seeded with the catalogue of _load_data.py, rate limits on as in production;
- cluster: `molodets.cluster.Cluster` (moto S3, two `molodets web` behind nginx, two workers over
  PostgreSQL + Redis)."""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _load_data import Catalogue, MediaFiles, Spec, link_media, media_objects, seed
from _server import running_server_process
from sqlalchemy import create_engine, text

from molodets.storage import open_storage

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Target:
    mode: str
    base_url: str
    pids: Callable[[], list[int]]  # the app's processes (web, workers): their memory is the RSS shown
    cpu_pids: Callable[[], list[int]]  # all the target's processes: their CPU (children too) is counted
    description: str
    database_url: str
    logs: list[Path] = field(default_factory=list)

    def stored_events(self) -> int:
        """Rows in `watch_events` (the catalogue has none: all come from the run)."""
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return int(connection.execute(text("SELECT count(*) FROM watch_events")).scalar_one())
        finally:
            engine.dispose()


# --- CPU and memory from /proc ----------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(parent pid, own CPU ticks, CPU ticks of reaped children) of a live process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the name may hold spaces and parentheses
    # fields[0] is the state (field 3 of proc(5)): ppid is 4, utime..cstime are 14..17.
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def _rss_bytes(pid: int) -> int:
    try:
        resident = Path(f"/proc/{pid}/statm").read_text().split()[1]
    except (OSError, IndexError):
        return 0
    return int(resident) * PAGE_SIZE


def _process_tree(roots: list[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            found = _stat(int(entry.name))
            if found is not None:
                children.setdefault(found[0], []).append(int(entry.name))
    tree: set[int] = set()
    stack = [pid for pid in roots if Path(f"/proc/{pid}").exists()]
    while stack:
        pid = stack.pop()
        if pid not in tree:
            tree.add(pid)
            stack.extend(children.get(pid, []))
    return tree


def _children(parent: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None and stat[0] == parent:
            found.append(int(entry.name))
    return found


@dataclass(frozen=True)
class Sample:
    at: float  # time.monotonic()
    cpu_seconds: float  # of the whole tree since its processes started, reaped children included
    rss: int  # the server processes themselves (what a leak would grow)
    tree_rss: int  # with their live children (ffmpeg runs, probes)


def sample(roots: list[int], cpu_roots: list[int] | None = None) -> Sample:
    """CPU of `cpu_roots` (default `roots`) and their descendants; RSS of `roots`, and with
    their descendants."""
    tree = _process_tree(roots)
    cpu_tree = tree if cpu_roots is None else _process_tree(cpu_roots)
    ticks = 0
    for pid in cpu_tree:
        found = _stat(pid)
        if found is not None:
            # A live child's time is its own; once reaped it moves into its parent's cutime.
            ticks += found[1] + found[2]
    return Sample(
        at=time.monotonic(),
        cpu_seconds=ticks / CLOCK_TICKS,
        rss=sum(_rss_bytes(pid) for pid in roots),
        tree_rss=sum(_rss_bytes(pid) for pid in tree),
    )


class Sampler:
    """Samples the target every `interval` seconds on a thread (a /proc walk: well under 1 ms of
    CPU each), so phases can be cut out of the series afterwards."""

    def __init__(self, target: Target, interval: float = 1.0) -> None:
        self._target = target
        self.interval = interval
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load-sampler", daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self._take())
            self._stop.wait(self.interval)

    def _take(self) -> Sample:
        return sample(self._target.pids(), self._target.cpu_pids())

    def now(self) -> Sample:
        taken = self._take()
        self.samples.append(taken)
        return taken

    def between(self, start: float, end: float) -> list[Sample]:
        return [item for item in self.samples if start <= item.at <= end]


# --- embedded ---------------------------------------------------------------------------------


@contextmanager
def embedded(
    workdir: Path, media: MediaFiles, spec: Spec, *, log: Path, processes: int = 1
) -> Iterator[tuple[Target, Catalogue]]:
    """Migrate a fresh data dir, seed it, start `molodets serve [--workers N]`, and stop it
    (SIGINT) at the end."""
    data_dir = workdir / "data"
    database_url = f"sqlite:///{data_dir / 'molodets.sqlite3'}"
    seeded: list[Catalogue] = []

    def prepare() -> None:
        catalogue = seed(database_url, media, spec)
        started = time.perf_counter()
        linked = link_media(data_dir / "media", media_objects(catalogue.video_ids, media, spec))
        catalogue.timings.append((f"{linked:,} media objects (hard links)", time.perf_counter() - started))
        seeded.append(catalogue)

    # Rate limits as in production (the other benchmarks turn them off): the load spreads over
    # many viewers, so only a client gone wrong would trip one, and the limiter's cost counts.
    overrides = {"MOLODETS_RATE_LIMITS": "on"}
    with running_server_process(
        data_dir, log=log, env_overrides=overrides, prepare=prepare, serve_workers=processes
    ) as (base, process):
        # The web processes (and multiprocessing's resource tracker) started with the server;
        # what the jobs start later (ffmpeg, probes) counts as its children.
        app = [process.pid, *_children(process.pid)] if processes > 1 else [process.pid]
        description = "one `molodets serve` (SQLite, local media, job consumers in process)"
        if processes > 1:
            description = (
                f"`molodets serve --workers {processes}` ({processes} web processes, job consumers in "
                "their supervisor; SQLite, local media)"
            )
        target = Target(
            mode="embedded",
            base_url=base,
            pids=lambda: app,
            cpu_pids=lambda: [process.pid],
            description=description,
            database_url=database_url,
            logs=[log],
        )
        yield target, seeded[0]


# --- cluster ----------------------------------------------------------------------------------

CLUSTER_MISSING = "cluster mode needs molodets.cluster"
# In S3 mode media is served by the store (presigned URLs), not by the app, so the videos can
# share the objects of a few: seeding uploads those few instead of every video's files.
CLUSTER_MEDIA_SOURCES = 100


def load_cluster_module() -> Any:
    try:
        return importlib.import_module("molodets.cluster")
    except ModuleNotFoundError as error:
        if error.name == "molodets.cluster":
            raise SystemExit(f"{CLUSTER_MISSING} (src/molodets/cluster.py is not there)") from None
        raise


@contextmanager
def cluster(workdir: Path, media: MediaFiles, spec: Spec, *, log: Path) -> Iterator[tuple[Target, Catalogue]]:
    """Start a `molodets.cluster.Cluster` (moto S3, two web processes behind nginx, two workers,
    on the machine's PostgreSQL and Redis), seed its database and bucket, yield it."""
    module = load_cluster_module()
    config = module.ClusterConfig(
        data_dir=workdir / "cluster",
        # Our own database and Redis prefix: a cluster of someone else's on this machine is left be.
        database_name="molodets_load",
        redis_prefix="molodets-load",
        env={"MOLODETS_LOG_LEVEL": "WARNING", "MOLODETS_RATE_LIMITS": "on"},
        drop_on_stop=True,
    )
    report = lambda line: print(f"  cluster: {line}", flush=True)  # noqa: E731
    try:
        running = module.Cluster(config, report=report).start()
    except module.ClusterError as error:
        raise SystemExit(f"the cluster did not start: {error}") from None
    try:
        catalogue = seed(running.database_url, media, spec, media_sources=CLUSTER_MEDIA_SOURCES)
        storage = open_storage(running.settings(workdir / "seeder"))
        started = time.perf_counter()
        objects = list(media_objects(catalogue.video_ids[:CLUSTER_MEDIA_SOURCES], media, spec))
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda item: storage.put_file(item[0], item[1], content_type=item[2]), objects))
        catalogue.timings.append((f"{len(objects):,} media objects (to S3)", time.perf_counter() - started))
        names = list(running.processes)
        app = [name for name in names if name.startswith(("web", "worker"))]
        target = Target(
            mode="cluster",
            base_url=running.front_url.rstrip("/"),
            pids=lambda: [pid for name in app if (pid := running.pid(name)) is not None],
            cpu_pids=lambda: [pid for name in names if (pid := running.pid(name)) is not None],
            description=(
                f"{', '.join(names)} (nginx front, moto S3; PostgreSQL and Redis are the machine's: "
                "their CPU and memory are not counted)"
            ),
            database_url=running.database_url,
            logs=[running.log_path(name) for name in names],
        )
        yield target, catalogue
    finally:
        running.stop()
