"""Prometheus metrics for job runs, registered once on the default registry at import.

Module level because prometheus_client refuses to register a name twice, and every runtime in a
process (tests build many) should add to the same series that `/metrics` exposes.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

JOBS_TOTAL = Counter(
    "molodets_jobs_total",
    "Job runs by outcome: success, retry (failed, will run again) or failed (gave up).",
    ["job", "queue", "outcome"],
)

JOB_SECONDS = Histogram(
    "molodets_job_seconds",
    "Wall time of one job run, including its commit.",
    ["job", "queue"],
    # Short jobs take milliseconds; transcodes take minutes.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)


def observe(job: str, queue: str, outcome: str, seconds: float) -> None:
    JOBS_TOTAL.labels(job=job, queue=queue, outcome=outcome).inc()
    JOB_SECONDS.labels(job=job, queue=queue).observe(seconds)
