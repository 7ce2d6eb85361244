"""Job definitions: the `@job` and `@periodic` decorators, the context a job runs with, and the
process-wide registry that workers look jobs up in by name.

Definitions are global (made at import, like routes) while queues are per runtime: the payload
names the job (`module:qualname`), so any runtime in any process can run it after importing
the module, and tests can build as many runtimes as they like against one set of definitions.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import pkgutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVarTuple, Unpack, cast

from huey import crontab
from sqlalchemy.orm import Session
from structlog.typing import FilteringBoundLogger

from molodets.db import after_commit

if TYPE_CHECKING:
    from molodets.jobs.runtime import JobRuntime
    from molodets.runtime import Runtime

DEFAULT_QUEUE = "default"
# Long transcodes get their own huey instance and workers so they never starve short jobs.
MEDIA_QUEUE = "media"
QUEUES = (DEFAULT_QUEUE, MEDIA_QUEUE)

# Where `JobRuntime.bind` puts itself in every session's `info`: how `enqueue` finds the queues.
JOBS_INFO_KEY = "molodets.jobs"
MAX_BACKOFF_SECONDS = 3600.0

Ts = TypeVarTuple("Ts")


class PermanentJobError(Exception):
    """Raised by a job when retrying cannot help (bad input, gone for good): fail at once."""


class JobTimeout(Exception):  # noqa: N818 - reads as what happened, like TimeoutError
    """Raised by `JobContext.check_deadline` once a job has used up its `timeout_seconds`."""


@dataclass
class JobContext:
    """What a running job gets besides its arguments.

    `session` is the job's own transaction, committed when the job returns and rolled back if it
    raises; jobs it enqueues leave only after that commit. `attempt` is 0 on the first run, 1 on
    the first retry. `deadline` is a `time.monotonic()` value (or None): thread workers cannot
    kill a job, so long jobs pass `remaining()` on to their subprocesses.
    """

    session: Session
    runtime: Runtime
    job_id: str
    attempt: int
    log: FilteringBoundLogger
    job: str = ""
    queue: str = DEFAULT_QUEUE
    deadline: float | None = None

    def remaining(self) -> float | None:
        """Seconds left before the deadline (never negative), or None without a time limit."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def check_deadline(self) -> None:
        """Raise `JobTimeout` if the time limit has passed; call between steps of a long job."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise JobTimeout(f"{self.job} exceeded its time limit")


Schedule = Callable[[datetime], bool]


@dataclass(eq=False)
class Job(Generic[*Ts]):
    """A registered job. Call `enqueue` inside a transaction; call the object itself to run the
    function directly with a context you built (unit tests of one job)."""

    name: str
    fn: Callable[[JobContext, Unpack[Ts]], object]
    queue: str = DEFAULT_QUEUE
    retries: int = 3
    backoff_seconds: float = 5.0
    timeout_seconds: float | None = None
    schedule: Schedule | None = None
    _signature: inspect.Signature = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._signature = inspect.signature(self.fn)

    def __call__(self, ctx: JobContext, *args: *Ts) -> object:
        return self.fn(ctx, *args)

    def enqueue(
        self,
        session: Session,
        *args: *Ts,
        delay_seconds: float | None = None,
        priority: int | None = None,
    ) -> None:
        """Send the job once `session` commits; a rollback sends nothing."""
        self.check_args(args)
        jobs: JobRuntime | None = session.info.get(JOBS_INFO_KEY)
        if jobs is None:
            raise RuntimeError(
                f"cannot enqueue {self.name}: this session's Database has no JobRuntime bound "
                "(call JobRuntime.bind(runtime) when building the runtime)"
            )
        job_id = uuid.uuid4().hex
        plain: list[Any] = list(cast("tuple[Any, ...]", args))
        after_commit(
            session,
            lambda: jobs.send(self, job_id, plain, delay_seconds=delay_seconds, priority=priority),
        )

    def check_args(self, args: tuple[Any, ...]) -> None:
        """Refuse arguments that would not survive a trip through the queue unchanged.

        huey pickles, which would happily carry an ORM object or a datetime; we insist on JSON so
        a payload stays small, readable and independent of code versions, and so a mistake fails
        in tests at the enqueue call rather than later in a worker.
        """
        try:
            json.dumps(args, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{self.name}: job arguments must be JSON-serialisable: {exc}") from None
        try:
            self._signature.bind(None, *args)
        except TypeError as exc:
            raise TypeError(f"{self.name}: {exc}") from None


AnyJob = Job[*tuple[Any, ...]]
_REGISTRY: dict[str, AnyJob] = {}


def _register(job: AnyJob) -> None:
    existing = _REGISTRY.get(job.name)
    if existing is not None and existing.fn.__code__ is not job.fn.__code__:
        raise ValueError(f"two different jobs are named {job.name!r}")
    if job.queue not in QUEUES:
        raise ValueError(f"{job.name}: unknown queue {job.queue!r}; use one of {QUEUES}")
    _REGISTRY[job.name] = job


def _job_name(fn: Callable[..., object]) -> str:
    return f"{fn.__module__}:{fn.__qualname__}"


def job(
    *,
    queue: str = DEFAULT_QUEUE,
    retries: int = 3,
    backoff_seconds: float = 5.0,
    timeout_seconds: float | None = None,
) -> Callable[[Callable[[JobContext, Unpack[Ts]], object]], Job[*Ts]]:
    """Register `fn(ctx, *ids)` as a job. Retries wait `backoff_seconds * 2**attempt` (capped)."""
    if retries < 0 or backoff_seconds < 0:
        raise ValueError("retries and backoff_seconds must not be negative")

    def decorate(fn: Callable[[JobContext, Unpack[Ts]], object]) -> Job[*Ts]:
        definition = Job(
            name=_job_name(fn),
            fn=fn,
            queue=queue,
            retries=retries,
            backoff_seconds=backoff_seconds,
            timeout_seconds=timeout_seconds,
        )
        _register(definition)
        return definition

    return decorate


def _schedule_from(minutes: int | None, cron: str | None) -> Schedule:
    schedule: Schedule
    if cron is not None and minutes is None:
        fields = cron.split()
        if len(fields) != 5:
            raise ValueError(f"cron spec needs 5 fields (minute hour day month weekday): {cron!r}")
        schedule = crontab(*fields, strict=True)
    elif minutes is not None and cron is None:
        if minutes < 1:
            raise ValueError("minutes must be at least 1")
        if 60 % minutes == 0:
            schedule = crontab(minute=f"*/{minutes}")
        elif minutes % 60 == 0 and 24 % (minutes // 60) == 0:
            schedule = crontab(minute="0", hour=f"*/{minutes // 60}")
        else:
            raise ValueError(f"minutes={minutes} must divide an hour or be whole hours dividing a day")
    else:
        raise ValueError("give exactly one of minutes= or cron=")
    return schedule


def periodic(
    *,
    minutes: int | None = None,
    cron: str | None = None,
    queue: str = DEFAULT_QUEUE,
    retries: int = 0,
    backoff_seconds: float = 5.0,
    timeout_seconds: float | None = None,
) -> Callable[[Callable[[JobContext], object]], Job[()]]:
    """Register `fn(ctx)` to run every `minutes` or on a 5-field `cron` spec, evaluated in UTC.

    Retries default to 0: the next tick is the retry. The job can also be enqueued by hand.
    """
    schedule = _schedule_from(minutes, cron)

    def decorate(fn: Callable[[JobContext], object]) -> Job[()]:
        definition: Job[()] = Job(
            name=_job_name(fn),
            fn=fn,
            queue=queue,
            retries=retries,
            backoff_seconds=backoff_seconds,
            timeout_seconds=timeout_seconds,
            schedule=schedule,
        )
        _register(definition)
        return definition

    return decorate


def get_job(name: str) -> AnyJob:
    """The job called `name`, importing its module if this process has not yet (a worker that
    was started before a deploy added a job, or that never imported that domain)."""
    found = _REGISTRY.get(name)
    if found is None:
        importlib.import_module(name.partition(":")[0])
        found = _REGISTRY.get(name)
    if found is None:
        raise LookupError(f"no job named {name!r}")
    return found


def periodic_jobs(queue: str) -> list[AnyJob]:
    return [j for j in _REGISTRY.values() if j.schedule is not None and j.queue == queue]


def backoff_delay(backoff_seconds: float, attempt: int) -> float:
    """Seconds to wait before retrying after failed attempt number `attempt` (0-based)."""
    return float(min(backoff_seconds * 2 ** min(attempt, 32), MAX_BACKOFF_SECONDS))


def discover_jobs(package: str = "molodets") -> list[str]:
    """Import every `<package>.<domain>.tasks` module so its jobs (periodic ones above all) are
    registered; the scheduler can only tick jobs it has seen. Returns the modules imported."""
    root = importlib.import_module(package)
    imported = []
    for info in pkgutil.iter_modules(root.__path__, prefix=f"{package}."):
        name = f"{info.name}.tasks"
        if info.ispkg and importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
            imported.append(name)
    return imported
