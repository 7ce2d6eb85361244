"""huey consumers that can live inside another program.

huey's own `Consumer.start()` installs SIGINT/SIGTERM/SIGHUP handlers, which would steal them
from uvicorn in `molodets serve` (and fails outside the main thread). Here the embedding program
owns signals: `serve` stops consumers from its shutdown hook, `molodets worker` from
`run_until_signalled`. The scheduler's periodic check is also ours, so that several workers
with the scheduler on enqueue each periodic job once per minute, not once per worker.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from types import FrameType
from typing import Any

import structlog
from huey.consumer import Consumer, Scheduler

log = structlog.get_logger("molodets.jobs")

# Idle workers poll SQLite with growing pauses; capped so a job enqueued into a quiet queue
# starts within about this many seconds (huey's default cap is 10 s). Redis blocks instead.
POLL_INITIAL_DELAY = 0.05
POLL_MAX_DELAY = 1.0
HEALTH_CHECK_SECONDS = 10.0

Tick = Callable[[datetime | None], int]


class PeriodicScheduler(Scheduler):  # type: ignore[misc]  # huey is untyped
    """huey's scheduler (moves delayed and retrying jobs into the queue every second), with the
    once-a-minute periodic check replaced by `tick`, which enqueues our periodic jobs."""

    def __init__(self, tick: Tick, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._tick = tick

    def enqueue_periodic_tasks(self, now: datetime | None) -> None:
        try:
            self._tick(now)
        except Exception:
            # The scheduler thread must survive a storage hiccup; the next minute tries again.
            log.exception("jobs_periodic_tick_failed")


class EmbeddedConsumer(Consumer):  # type: ignore[misc]  # huey is untyped
    """A thread-worker consumer that leaves signal handling to its host."""

    def __init__(self, huey: Any, tick: Tick, **options: Any) -> None:
        # Set before super().__init__, which creates the scheduler.
        self._tick = tick
        super().__init__(huey, worker_type="thread", **options)

    def _create_scheduler(self) -> PeriodicScheduler:
        return PeriodicScheduler(
            self._tick,
            huey=self.huey,
            stop_flag=self.stop_flag,
            interval=self.scheduler_interval,
            periodic=self.periodic,
        )

    def _set_signal_handlers(self) -> None:
        """Deliberately nothing: the host process owns its signals."""


def start_consumer(huey: Any, tick: Tick, *, workers: int, periodic: bool) -> EmbeddedConsumer:
    consumer = EmbeddedConsumer(
        huey,
        tick,
        workers=workers,
        periodic=periodic,
        initial_delay=POLL_INITIAL_DELAY,
        max_delay=POLL_MAX_DELAY,
        scheduler_interval=1,
    )
    consumer.start()
    return consumer


def stop_consumers(consumers: Iterable[EmbeddedConsumer], timeout: float | None) -> None:
    """Let running jobs finish (up to `timeout` seconds in all, None = as long as they take).

    Every stop flag is set first so all queues wind down together. Thread workers cannot be
    killed: a job still running at the deadline is abandoned to the process exit; jobs are
    idempotent, so whoever runs it next redoes the work cleanly.
    """
    consumers = list(consumers)
    for consumer in consumers:
        consumer.stop_flag.set()
    deadline = None if timeout is None else time.monotonic() + timeout
    for consumer in consumers:
        consumer.shutdown_timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        consumer.stop(graceful=True)


def run_until_signalled(start: Callable[[], list[EmbeddedConsumer]], stop: Callable[[], None]) -> None:
    """Start consumers and block the main thread until SIGTERM or SIGINT, then stop gracefully,
    restarting dead worker threads meanwhile.

    After the first signal the default handlers come back, so a second Ctrl-C (or SIGTERM)
    during the graceful stop ends the process at once.
    """
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("jobs_worker_stopping", signal=signal.Signals(signum).name)
        stopping.set()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        consumers = start()
        while not stopping.wait(HEALTH_CHECK_SECONDS):
            for consumer in consumers:
                consumer.check_worker_health()
    finally:
        try:
            stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
