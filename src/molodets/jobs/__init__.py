"""The job seam: define jobs with `@job`/`@periodic`, enqueue them after commit, run them with
huey (SQLite in the embedded mode, Redis at scale) behind `JobRuntime`.

    @job(queue=MEDIA_QUEUE, retries=3, timeout_seconds=900)
    def transcode(ctx: JobContext, video_id: int) -> None: ...

    transcode.enqueue(session, video.id)   # sent only when `session` commits
"""

from molodets.jobs.registry import (
    DEFAULT_QUEUE,
    MEDIA_QUEUE,
    QUEUES,
    Job,
    JobContext,
    JobTimeout,
    PermanentJobError,
    backoff_delay,
    discover_jobs,
    get_job,
    job,
    periodic,
)
from molodets.jobs.runtime import JobRuntime, JobsUnavailable

__all__ = [
    "DEFAULT_QUEUE",
    "MEDIA_QUEUE",
    "QUEUES",
    "Job",
    "JobContext",
    "JobRuntime",
    "JobTimeout",
    "JobsUnavailable",
    "PermanentJobError",
    "backoff_delay",
    "discover_jobs",
    "get_job",
    "job",
    "periodic",
]
