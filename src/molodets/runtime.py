"""The process's shared services, built once from settings and handed to the web app, the job
consumers and the commands. Nothing here is global: tests build as many runtimes as they need."""

from __future__ import annotations

from dataclasses import dataclass

from molodets.db import Database
from molodets.events.sink import EventSink
from molodets.feed.ranking import RankWeights
from molodets.feed.recommender import ForYou
from molodets.jobs import JobRuntime
from molodets.notifications.realtime import LocalHub, build_hub
from molodets.notifications.service import NOTIFIER_KEY
from molodets.ratelimit import RateLimiter
from molodets.settings import Settings
from molodets.storage import Storage, open_storage
from molodets.videos.cards import CardCache


@dataclass
class Runtime:
    settings: Settings
    db: Database
    storage: Storage
    jobs: JobRuntime
    limiter: RateLimiter
    notifier: LocalHub
    events: EventSink
    for_you: ForYou
    cards: CardCache

    def close(self) -> None:
        self.events.close()
        self.notifier.close()
        self.jobs.close()
        self.limiter.close()
        self.db.dispose()


def build_runtime(settings: Settings) -> Runtime:
    db = Database(settings.resolved_database_url)
    jobs = JobRuntime(settings)
    weights = RankWeights.from_mapping(settings.feed_weights)
    storage = open_storage(settings)
    runtime = Runtime(
        settings=settings,
        db=db,
        storage=storage,
        jobs=jobs,
        limiter=RateLimiter(settings),
        notifier=build_hub(settings),
        events=EventSink(db, weights=weights),
        for_you=ForYou(weights),
        cards=CardCache(storage),
    )
    db.session_info[NOTIFIER_KEY] = runtime.notifier
    jobs.bind(runtime)
    return runtime
