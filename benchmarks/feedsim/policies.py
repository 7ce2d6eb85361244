"""Baseline policies, in memory and numpy-fast: what the real recommender must beat (random,
popularity, item co-engagement, a daily ALS model) and what bounds it (an oracle that knows
every user's true utility, and one that knows their tastes but not the videos' quality).

Every policy sees the same thing the real app would: which videos exist and when they were
published, and the impressions it served with their outcomes. Only the oracles read the
world's hidden truth."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from .world import Response, Viewer, World

RECENT_POSITIVES = 10
ALS_FACTORS = 32


@dataclass(frozen=True)
class Shown:
    """One impression as the policy learns of it."""

    video: int
    response: Response
    at_s: float  # simulated seconds when it was shown


class PolicyUnavailableError(RuntimeError):
    """The policy cannot run here (the real recommender is missing or broken); said once, plainly."""


class Policy(Protocol):
    name: str

    def publish(self, videos: list[int], now_s: float) -> None:
        """These videos are now public."""

    def new_day(self, day: int, now_s: float) -> None:
        """A simulated day begins (daily models retrain here)."""

    def start_session(self, user: int, now_s: float) -> None:
        """The user opens the app."""

    def page(self, user: int, seen: set[int], now_s: float, limit: int) -> list[int]:
        """The next page for the user; `seen` is what they were shown or have queued (never to
        repeat)."""

    def observe(self, user: int, shown: list[Shown], now_s: float) -> None:
        """The outcome of the videos played since the last call (the player sends its events
        before it asks for a page, and as the viewer leaves)."""

    def close(self) -> None:
        """Release files and connections."""


def positive_weight(response: Response) -> float:
    """How strongly an impression says "more like this" (0 for none)."""
    return (
        float(response.long)
        + 0.5 * float(response.complete)
        + 2.0 * float(response.like)
        + 3.0 * float(response.share or response.follow)
    )


class _Base:
    """Shared bookkeeping: the published catalogue and global long-view counts."""

    name = "base"

    def __init__(self, world: World, seed: int) -> None:
        self.world = world
        self.rng = np.random.default_rng([seed, 3])
        self.published = np.zeros(world.video_count, dtype=bool)
        self.long_views = np.zeros(world.video_count)
        # A fixed tiny jitter breaks popularity ties the same way every time.
        self.jitter = self.rng.random(world.video_count) * 1e-6

    def publish(self, videos: list[int], now_s: float) -> None:
        self.published[videos] = True

    def new_day(self, day: int, now_s: float) -> None:
        return None

    def start_session(self, user: int, now_s: float) -> None:
        return None

    def observe(self, user: int, shown: list[Shown], now_s: float) -> None:
        for item in shown:
            if item.response.long:
                self.long_views[item.video] += 1

    def close(self) -> None:
        return None

    def _available(self, seen: set[int]) -> NDArray[np.bool_]:
        mask = self.published.copy()
        if seen:
            mask[list(seen)] = False
        return mask

    @staticmethod
    def _top(scores: NDArray[np.float64], mask: NDArray[np.bool_], limit: int) -> list[int]:
        """Indices of the `limit` best scores among `mask`, best first."""
        candidates = np.flatnonzero(mask)
        if len(candidates) <= limit:
            return [int(v) for v in candidates[np.argsort(-scores[candidates])]]
        part = candidates[np.argpartition(-scores[candidates], limit)[:limit]]
        return [int(v) for v in part[np.argsort(-scores[part])]]


class RandomPolicy(_Base):
    """Uniform over the published catalogue: the calibration reference."""

    name = "random"

    def page(self, user: int, seen: set[int], now_s: float, limit: int) -> list[int]:
        candidates = np.flatnonzero(self._available(seen))
        count = min(limit, len(candidates))
        return [int(v) for v in self.rng.choice(candidates, size=count, replace=False)]


class PopularityPolicy(_Base):
    """The most long-viewed videos so far, for everyone alike."""

    name = "popularity"

    def page(self, user: int, seen: set[int], now_s: float, limit: int) -> list[int]:
        return self._top(self.long_views + self.jitter, self._available(seen), limit)


class CoEngagementPolicy(_Base):
    """Item-item co-occurrence of positive engagements: neighbours of the user's recent
    positives, then popularity to fill the page."""

    name = "coengagement"

    def __init__(self, world: World, seed: int) -> None:
        super().__init__(world, seed)
        self.pairs: defaultdict[int, defaultdict[int, float]] = defaultdict(lambda: defaultdict(float))
        self.recent: defaultdict[int, list[int]] = defaultdict(list)

    def observe(self, user: int, shown: list[Shown], now_s: float) -> None:
        super().observe(user, shown, now_s)
        recent = self.recent[user]
        for item in shown:
            weight = positive_weight(item.response)
            if weight <= 0:
                continue
            for other in recent[-RECENT_POSITIVES:]:
                self.pairs[item.video][other] += weight
                self.pairs[other][item.video] += weight
            recent.append(item.video)
            del recent[:-RECENT_POSITIVES]

    def page(self, user: int, seen: set[int], now_s: float, limit: int) -> list[int]:
        mask = self._available(seen)
        scores = np.zeros(self.world.video_count)
        for positive in self.recent.get(user, []):
            for neighbour, weight in self.pairs.get(positive, {}).items():
                scores[neighbour] += weight
        picked = self._top(scores, mask & (scores > 0), limit)
        if len(picked) < limit:
            mask[picked] = False
            picked += self._top(self.long_views + self.jitter, mask, limit - len(picked))
        return picked


class AlsDailyPolicy(_Base):
    """`implicit`'s ALS retrained at the start of each simulated day on every interaction so
    far; users and videos it has not trained on get yesterday's popularity."""

    name = "als_daily"

    def __init__(self, world: World, seed: int) -> None:
        super().__init__(world, seed)
        self.seed = seed
        self.interactions: defaultdict[tuple[int, int], float] = defaultdict(float)
        self.user_factors: dict[int, NDArray[np.float32]] = {}
        self.item_factors: NDArray[np.float32] | None = None
        self.trained_items = np.zeros(world.video_count, dtype=bool)
        self.snapshot = np.zeros(world.video_count)  # popularity as of the last training

    def observe(self, user: int, shown: list[Shown], now_s: float) -> None:
        super().observe(user, shown, now_s)
        for item in shown:
            weight = positive_weight(item.response)
            if weight > 0:
                self.interactions[(user, item.video)] += weight

    def new_day(self, day: int, now_s: float) -> None:
        self.snapshot = self.long_views.copy()
        if not self.interactions:
            return
        from scipy.sparse import csr_matrix

        keys = np.array(list(self.interactions.keys()))
        values = np.array(list(self.interactions.values()), dtype=np.float32)
        users = np.unique(keys[:, 0])
        row_of = {int(u): i for i, u in enumerate(users)}
        rows = np.array([row_of[int(u)] for u in keys[:, 0]])
        matrix = csr_matrix((values, (rows, keys[:, 1])), shape=(len(users), self.world.video_count))
        # implicit warns (and slows down) when BLAS threads fight its own; __init__.py sets it.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        from implicit.cpu.als import AlternatingLeastSquares

        # A new model each day: refitting one keeps yesterday's factor shapes, which breaks
        # (NaN factors) once new users arrive.
        model = AlternatingLeastSquares(
            factors=ALS_FACTORS,
            regularization=0.05,
            alpha=5.0,
            iterations=12,
            num_threads=1,
            random_state=self.seed + day,
        )
        model.fit(matrix, show_progress=False)
        self.user_factors = {int(u): model.user_factors[i] for i, u in enumerate(users)}
        self.item_factors = model.item_factors
        self.trained_items = np.asarray(matrix.getnnz(axis=0) > 0)

    def page(self, user: int, seen: set[int], now_s: float, limit: int) -> list[int]:
        mask = self._available(seen)
        factors = self.user_factors.get(user)
        picked: list[int] = []
        if factors is not None and self.item_factors is not None:
            scores = (self.item_factors @ factors).astype(np.float64)
            picked = self._top(scores, mask & self.trained_items, limit)
        if len(picked) < limit:
            mask[picked] = False
            picked += self._top(self.snapshot + self.jitter, mask, limit - len(picked))
        return picked


class OraclePolicy(_Base):
    """Knows each user's true utility now (their tastes and every video's hidden quality); fills
    the page greedily with the best unseen videos, discounting a topic already shown in the last
    few items just as the user's boredom does."""

    name = "oracle"
    SHORTLIST = 60

    def __init__(self, world: World, seed: int, viewers: dict[int, Viewer]) -> None:
        super().__init__(world, seed)
        self.viewers = viewers

    def page(self, user: int, seen: set[int], now_s: float, limit: int) -> list[int]:
        viewer = self.viewers[user]
        videos = np.flatnonzero(self._available(seen))
        return self._fill(viewer, videos, self._values(viewer, user, videos), limit)

    def _values(self, viewer: Viewer, user: int, videos: NDArray[np.int64]) -> NDArray[np.float64]:
        return self.world.utilities(viewer, user, videos)

    def _fill(
        self, viewer: Viewer, videos: NDArray[np.int64], utility: NDArray[np.float64], limit: int
    ) -> list[int]:
        order = np.argsort(-utility)[: self.SHORTLIST]
        shortlist, values = videos[order], utility[order]
        topics = self.world.primary_topic[shortlist]
        recent = list(viewer.recent_topics)
        window = self.world.behaviour.boredom_window
        picked: list[int] = []
        free = np.ones(len(shortlist), dtype=bool)
        for _ in range(min(limit, len(shortlist))):
            last = np.array(recent[-window:]) if recent else np.empty(0, dtype=np.int64)
            repeats = (topics[:, None] == last[None, :]).sum(axis=1) if len(last) else 0
            felt = np.where(free, values * self.world.behaviour.boredom**repeats, -1.0)
            best = int(np.argmax(felt))
            free[best] = False
            picked.append(int(shortlist[best]))
            recent.append(int(topics[best]))
        return picked


class TasteOraclePolicy(OraclePolicy):
    """Knows each user's true tastes (their topics and language, and how much of a video's
    quality they get from them) but not the videos' hidden quality, which it estimates from the
    long views it served, as every other policy must: the bound on what knowing tastes alone
    is worth. Each video's long views per unit of taste it was shown to, a Gamma posterior
    shrunk towards its creator's (shrunk towards everyone's), sampled once per page, so an
    unknown video gets its chance as in a bandit."""

    name = "taste_oracle"
    VIDEO_STRENGTH = 3.0  # units of taste behind a video's prior (its creator's rate)
    CREATOR_STRENGTH = 5.0  # and behind a creator's (everyone's rate)

    def __init__(self, world: World, seed: int, viewers: dict[int, Viewer]) -> None:
        super().__init__(world, seed, viewers)
        self.video_long = np.zeros(world.video_count)
        self.video_taste = np.zeros(world.video_count)
        self.creator_long = np.zeros(world.creator_count)
        self.creator_taste = np.zeros(world.creator_count)

    def observe(self, user: int, shown: list[Shown], now_s: float) -> None:
        super().observe(user, shown, now_s)
        videos = np.array([item.video for item in shown], dtype=np.int64)
        if not len(videos):
            return
        # The taste at the moment of watching: the response said as much about the video as
        # the user's taste for it allowed.
        taste = self.world.tastes(self.viewers[user], user, videos)
        long = np.array([float(item.response.long) for item in shown])
        creators = self.world.creator[videos]
        np.add.at(self.video_long, videos, long)
        np.add.at(self.video_taste, videos, taste)
        np.add.at(self.creator_long, creators, long)
        np.add.at(self.creator_taste, creators, taste)

    def _values(self, viewer: Viewer, user: int, videos: NDArray[np.int64]) -> NDArray[np.float64]:
        overall = (self.creator_long.sum() + 1.0) / (self.creator_taste.sum() + 1.0)
        creators = self.world.creator[videos]
        creator_rate = (self.creator_long[creators] + self.CREATOR_STRENGTH * overall) / (
            self.creator_taste[creators] + self.CREATOR_STRENGTH
        )
        shape = self.video_long[videos] + self.VIDEO_STRENGTH * creator_rate
        rate = self.video_taste[videos] + self.VIDEO_STRENGTH
        quality = self.rng.gamma(shape, 1.0 / rate)
        return np.asarray(self.world.tastes(viewer, user, videos) * quality)
