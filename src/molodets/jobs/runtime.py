"""`JobRuntime`: the process's job queues (one huey instance per queue), sending after commit,
the periodic tick, and the consumer threads that hand messages to `execution.run_job`.

Every queue carries one generic huey task, `run(job_name, args, attempt)`. Retries are ours, not
huey's: a failed run is re-scheduled as a new message with `attempt + 1`, which is how the job
sees its attempt number and how the backoff gets its cap. Results are not stored: jobs write
what they produce to the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import structlog
from huey import PriorityRedisHuey, SqliteHuey
from redis import ConnectionPool

from molodets.jobs import metrics
from molodets.jobs.consumers import EmbeddedConsumer, run_until_signalled, start_consumer, stop_consumers
from molodets.jobs.execution import run_job
from molodets.jobs.registry import (
    DEFAULT_QUEUE,
    JOBS_INFO_KEY,
    MEDIA_QUEUE,
    QUEUES,
    AnyJob,
    discover_jobs,
    periodic_jobs,
)
from molodets.settings import Settings

if TYPE_CHECKING:
    from molodets.runtime import Runtime

log = structlog.get_logger("molodets.jobs")

SQLITE_BUSY_SECONDS = 15  # same patience as the application database
GRACEFUL_STOP_SECONDS = 30.0
DRAIN_LIMIT = 1000


class JobsUnavailable(Exception):  # noqa: N818 - reads as a state, like the /readyz answer
    """The job storage (the SQLite file or Redis) cannot be reached."""


def _utcnow() -> datetime:
    # huey (utc=True) keeps naive UTC datetimes in its messages and schedule.
    return datetime.now(UTC).replace(tzinfo=None)


class JobRuntime:
    """The job queues of one process. Build one per runtime; `bind` it before use."""

    def __init__(self, settings: Settings, *, prefix: str | None = None) -> None:
        self.settings = settings
        prefix = prefix or settings.redis_prefix
        self.prefix = prefix
        self._runtime: Runtime | None = None
        self._pool: ConnectionPool | None = None
        self._consumers: list[EmbeddedConsumer] = []
        self._hueys: dict[str, Any] = {}
        self._runners: dict[str, Any] = {}
        for queue in QUEUES:
            huey = self._make_huey(f"{prefix}:{queue}")
            self._hueys[queue] = huey
            self._runners[queue] = huey.task(context=True, name="run")(self._runner(queue))

    def _make_huey(self, name: str) -> Any:
        if self.settings.redis_url is None:
            # One file for all queues: huey's SQLite tables carry a `queue` column keyed by name.
            path = self.settings.huey_sqlite_path
            path.parent.mkdir(parents=True, exist_ok=True)
            return SqliteHuey(name=name, filename=str(path), results=False, timeout=SQLITE_BUSY_SECONDS)
        if self._pool is None:
            # socket_timeout must exceed the 1 s blocking pop; connect timeout keeps /readyz quick.
            self._pool = ConnectionPool.from_url(
                self.settings.redis_url, socket_connect_timeout=5, socket_timeout=30
            )
        # The priority variant (a sorted set, Redis >= 5) because enqueue takes a priority.
        # clean_name=False keeps the "molodets:" in the key names.
        return PriorityRedisHuey(
            name=name, results=False, connection_pool=self._pool, clean_name=False, read_timeout=1
        )

    def _runner(self, queue: str) -> Callable[..., None]:
        """The one huey task per queue; `task` is huey's message, passed in by `context=True`."""

        def run(job_name: str, args: list[Any], attempt: int, task: Any) -> None:
            def retry(job: AnyJob, delay: float) -> None:
                self.send(
                    job, task.id, args, delay_seconds=delay, priority=task.priority, attempt=attempt + 1
                )

            run_job(
                self._require_runtime(),
                queue=queue,
                job_id=task.id,
                job_name=job_name,
                args=args,
                attempt=attempt,
                retry=retry,
            )

        return run

    # --- wiring -------------------------------------------------------------------------------

    def bind(self, runtime: Runtime) -> None:
        """Give jobs their runtime, and let any session of its database find these queues."""
        self._runtime = runtime
        runtime.db.session_info[JOBS_INFO_KEY] = self
        metrics.report_queue_depth(self)

    def _require_runtime(self) -> Runtime:
        if self._runtime is None:
            raise RuntimeError("JobRuntime.bind(runtime) must be called before jobs can run")
        return self._runtime

    # --- sending ------------------------------------------------------------------------------

    def send(
        self,
        job: AnyJob,
        job_id: str,
        args: list[Any],
        *,
        delay_seconds: float | None = None,
        priority: int | None = None,
        attempt: int = 0,
    ) -> None:
        """Put a job on its queue now. Application code calls `Job.enqueue`, which calls this
        after its transaction commits."""
        runner = self._runners[job.queue]
        task = runner.s(job.name, args, attempt, id=job_id, priority=priority)
        if delay_seconds:
            task.eta = _utcnow() + timedelta(seconds=delay_seconds)
            self._hueys[job.queue].add_schedule(task)
        else:
            self._hueys[job.queue].enqueue(task)
        log.info("job_enqueued", job=job.name, job_id=job_id, args=args, queue=job.queue, attempt=attempt)

    def tick_periodic(self, now: datetime | None = None) -> int:
        """Enqueue the periodic jobs due at `now` (naive UTC) on every queue; what the scheduler
        does once a minute. Returns how many were sent."""
        return sum(self._tick(queue, now) for queue in QUEUES)

    def _tick(self, queue: str, now: datetime | None) -> int:
        now = now or _utcnow()
        huey = self._hueys[queue]
        sent = 0
        for job in periodic_jobs(queue):
            # One key per job and minute: the first scheduler to claim it sends the job, so
            # several workers running the scheduler do not multiply periodic runs.
            huey.delete(_periodic_key(job.name, now - timedelta(minutes=2)))
            if (
                job.schedule is not None
                and job.schedule(now)
                and huey.put_if_empty(_periodic_key(job.name, now), "1")
            ):
                self.send(job, uuid.uuid4().hex, [])
                sent += 1
        return sent

    # --- consumers ----------------------------------------------------------------------------

    def start_consumers(
        self,
        workers: int | None = None,
        *,
        media_workers: int = 1,
        discover: bool = True,
        scheduler: bool = True,
    ) -> None:
        """Run worker threads for every queue plus the scheduler inside this process (`serve`).

        The media queue gets its own workers (one by default: ffmpeg already uses every core),
        so a transcode never holds up a short default job.
        """
        counts = {DEFAULT_QUEUE: workers or self.settings.job_workers, MEDIA_QUEUE: media_workers}
        self._start(counts, periodic=scheduler, discover=discover)

    def _start(self, counts: dict[str, int], *, periodic: bool, discover: bool) -> list[EmbeddedConsumer]:
        self._require_runtime()
        if self._consumers:
            raise RuntimeError("job consumers are already running in this process")
        if discover:
            # Periodic jobs are known only once their modules are imported.
            discover_jobs()
        for queue, count in counts.items():
            tick = partial(self._tick, queue)
            self._consumers.append(start_consumer(self._hueys[queue], tick, workers=count, periodic=periodic))
        log.info("jobs_consumers_started", workers=counts, periodic=periodic, backend=self.backend)
        return self._consumers

    def stop_consumers(self, timeout: float | None = GRACEFUL_STOP_SECONDS) -> None:
        """Stop taking jobs and wait for running ones (up to `timeout` s, None = no limit)."""
        consumers, self._consumers = self._consumers, []
        if consumers:
            stop_consumers(consumers, timeout)
            log.info("jobs_consumers_stopped")

    def run_worker(
        self, queues: Sequence[str], workers: int, scheduler: bool, *, discover: bool = True
    ) -> None:
        """`molodets worker`: consume `queues` with `workers` threads each until SIGTERM/SIGINT,
        then finish running jobs. Without `scheduler`, periodic jobs are not enqueued here, but
        delayed and retrying jobs are still moved onto the queue (safe to do from every worker)."""
        unknown = set(queues) - set(QUEUES)
        if unknown or not queues:
            raise ValueError(f"queues must be some of {QUEUES}, got {list(queues)}")
        counts = dict.fromkeys(queues, workers)
        run_until_signalled(
            lambda: self._start(counts, periodic=scheduler, discover=discover),
            lambda: self.stop_consumers(timeout=None),
        )

    # --- inspection and lifecycle -------------------------------------------------------------

    @property
    def backend(self) -> str:
        return "sqlite" if self.settings.redis_url is None else "redis"

    def pending_count(self, queue: str) -> int:
        return int(self._hueys[queue].pending_count())

    def scheduled_count(self, queue: str) -> int:
        return int(self._hueys[queue].scheduled_count())

    def pending(self, queue: str, *, scheduled: bool = False) -> list[tuple[str, list[Any]]]:
        """(job name, args) of the messages waiting on `queue`, or of its delayed ones: lets a
        test assert what a request enqueued without running it."""
        huey = self._hueys[queue]
        tasks = huey.scheduled() if scheduled else huey.pending()
        return [(task.args[0], task.args[1]) for task in tasks]

    def check(self) -> None:
        """Raise `JobsUnavailable` unless every queue's storage answers (for /readyz)."""
        for queue, huey in self._hueys.items():
            try:
                huey.storage.queue_size()
            except Exception as exc:
                raise JobsUnavailable(f"job queue {queue!r} is unreachable: {exc}") from exc

    def drain(self, queues: Sequence[str] = QUEUES, *, include_scheduled: bool = False) -> int:
        """Run queued jobs in this thread until the queues are empty; returns how many ran.

        For tests of other domains: the same pickle round trip, transaction and retry handling
        as a worker, without threads. With `include_scheduled`, delayed jobs and retries run too,
        at once.
        """
        self._require_runtime()
        ran = 0
        while ran < DRAIN_LIMIT:
            progressed = False
            for queue in queues:
                huey = self._hueys[queue]
                when = _utcnow() + timedelta(days=36500) if include_scheduled else None
                if include_scheduled:
                    for task in huey.read_schedule(when):
                        huey.enqueue(task)
                # Check first: a Redis dequeue on an empty queue blocks for a second.
                task = huey.dequeue() if huey.pending_count() else None
                if task is not None:
                    huey.execute(task, when)
                    ran += 1
                    progressed = True
            if not progressed:
                return ran
        raise RuntimeError(f"drain ran {DRAIN_LIMIT} jobs without emptying the queues")

    def close(self) -> None:
        self.stop_consumers()
        for huey in self._hueys.values():
            huey.storage.close()
        if self._pool is not None:
            self._pool.disconnect()


def _periodic_key(name: str, when: datetime) -> str:
    return f"molodets.periodic:{name}:{when:%Y-%m-%dT%H:%M}"
