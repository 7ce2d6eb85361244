"""One run of one job: its own transaction, its log lines and metrics, and the decision to retry.

Kept apart from the queues so the rules of a run read in one place: success commits; an
exception rolls the job's writes back and either schedules the next attempt after
`backoff_seconds * 2**attempt` (capped) or, for `PermanentJobError` or the last attempt, fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog
from structlog.typing import FilteringBoundLogger

from molodets.db import transaction
from molodets.jobs import metrics
from molodets.jobs.registry import AnyJob, JobContext, PermanentJobError, backoff_delay, get_job

if TYPE_CHECKING:
    from molodets.runtime import Runtime

log = structlog.get_logger("molodets.jobs")

# Schedules attempt `attempt + 1` of the job after `delay` seconds.
Retry = Callable[[AnyJob, float], None]


def run_job(
    runtime: Runtime,
    *,
    queue: str,
    job_id: str,
    job_name: str,
    args: list[Any],
    attempt: int,
    retry: Retry,
) -> None:
    """Run one attempt of a job. Never raises for the job's own errors: they are logged,
    counted and retried here, so huey sees every run as complete."""
    bound: FilteringBoundLogger = log.bind(
        job=job_name, job_id=job_id, args=args, attempt=attempt, queue=queue
    )
    started = time.monotonic()
    try:
        job = get_job(job_name)
    except (ImportError, LookupError):
        # A message from a newer deploy, or a job renamed away: retrying cannot help.
        bound.exception("job_unknown")
        metrics.observe(job_name, queue, "failed", 0.0)
        return
    deadline = started + job.timeout_seconds if job.timeout_seconds else None
    bound.info("job_started")
    try:
        with transaction(runtime.db.sessions) as session:
            ctx = JobContext(
                session=session,
                runtime=runtime,
                job_id=job_id,
                attempt=attempt,
                log=bound,
                job=job.name,
                queue=queue,
                deadline=deadline,
            )
            job.fn(ctx, *args)
    except Exception as exc:  # noqa: BLE001 - a job may raise anything; all of it is retried or failed
        _failed(job, queue, attempt, exc, time.monotonic() - started, bound, retry)
        return
    duration = time.monotonic() - started
    if deadline is not None and started + duration > deadline:
        # Thread workers cannot stop a job; a job that ignores ctx.deadline shows up here.
        bound.warning("job_overran", timeout_seconds=job.timeout_seconds)
    bound.info("job_finished", duration_ms=round(duration * 1000, 1))
    metrics.observe(job.name, queue, "success", duration)


def _failed(
    job: AnyJob,
    queue: str,
    attempt: int,
    exc: Exception,
    duration: float,
    bound: FilteringBoundLogger,
    retry: Retry,
) -> None:
    duration_ms = round(duration * 1000, 1)
    permanent = isinstance(exc, PermanentJobError)
    if not permanent and attempt < job.retries:
        delay = backoff_delay(job.backoff_seconds, attempt)
        try:
            retry(job, delay)
        except Exception:  # noqa: BLE001 - storage errors vary by backend; logged with traceback
            bound.exception("job_retry_lost", duration_ms=duration_ms)
        else:
            bound.warning("job_retry", exc_info=exc, retry_in_s=delay, duration_ms=duration_ms)
            metrics.observe(job.name, queue, "retry", duration)
            return
    else:
        bound.error("job_failed", exc_info=exc, permanent=permanent, duration_ms=duration_ms)
    metrics.observe(job.name, queue, "failed", duration)
