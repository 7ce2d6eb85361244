"""Prometheus metrics for job runs, registered once on the default registry at import.

Module level because prometheus_client refuses to register a name twice, and every runtime in a
process (tests build many) should add to the same series that `/metrics` exposes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from molodets.jobs.registry import QUEUES

if TYPE_CHECKING:
    from molodets.jobs.runtime import JobRuntime

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


class QueueDepth(Collector):
    """Jobs waiting per queue, read from the queue storage at scrape time: the figure that says
    when to add workers (docs/operations.md). Every process sharing the queues reports the same
    number, so any one of them may be scraped for it."""

    def __init__(self) -> None:
        self.jobs: JobRuntime | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.jobs is None:
            return
        pending = GaugeMetricFamily(
            "molodets_jobs_pending", "Jobs waiting to run (not counting delayed ones).", labels=["queue"]
        )
        delayed = GaugeMetricFamily("molodets_jobs_delayed", "Jobs scheduled for later.", labels=["queue"])
        try:
            for queue in QUEUES:
                pending.add_metric([queue], self.jobs.pending_count(queue))
                delayed.add_metric([queue], self.jobs.scheduled_count(queue))
        except Exception:  # noqa: BLE001 - a scrape must answer while the queue storage is down
            return
        yield pending
        yield delayed


QUEUE_DEPTH = QueueDepth()
REGISTRY.register(QUEUE_DEPTH)


def report_queue_depth(jobs: JobRuntime) -> None:
    """Expose `jobs`' queues on this process's metrics (the latest runtime built wins)."""
    QUEUE_DEPTH.jobs = jobs
