"""The process's shared services, built once from settings and handed to the web app, the job
consumers and the commands. Nothing here is global: tests build as many runtimes as they need."""

from __future__ import annotations

from dataclasses import dataclass

from molodets.db import Database
from molodets.events.sink import EventSink
from molodets.feed.ranking import RankWeights
from molodets.jobs import JobRuntime
from molodets.notifications.realtime import LocalHub, build_hub
from molodets.notifications.service import NOTIFIER_KEY
from molodets.ratelimit import RateLimiter
from molodets.settings import Settings
from molodets.storage import Storage, open_storage


@dataclass
class Runtime:
    settings: Settings
    db: Database
    storage: Storage
    jobs: JobRuntime
    limiter: RateLimiter
    notifier: LocalHub
    events: EventSink

    def close(self) -> None:
        self.events.close()
        self.notifier.close()
        self.jobs.close()
        self.limiter.close()
        self.db.dispose()


def build_runtime(settings: Settings) -> Runtime:
    db = Database(settings.resolved_database_url)
    jobs = JobRuntime(settings)
    runtime = Runtime(
        settings=settings,
        db=db,
        storage=open_storage(settings),
        jobs=jobs,
        limiter=RateLimiter(settings),
        notifier=build_hub(settings),
        events=EventSink(db, weights=RankWeights.from_mapping(settings.feed_weights)),
    )
    db.session_info[NOTIFIER_KEY] = runtime.notifier
    jobs.bind(runtime)
    return runtime
