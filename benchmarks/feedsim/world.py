"""The simulated world: creators, videos, users with ground-truth tastes, and how a user responds
to one video.

Everything a recommender may not see (topics, quality, tastes, patience) lives here; a policy
gets only what the real app would know: hashtags, creator, language, duration, publish time.
The constants in `Behaviour` were tuned so that uniform-random exposure reproduces KuaiRand's
random-exposure rates (the calibration gate in runner.py checks it on every run)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

DAY_S = 86_400.0
HOUR_S = 3_600.0
LANGUAGES = ("ru", "en")
GENERIC_TAGS = ("fyp", "рек")
# KuaiRand-Pure video durations (seconds) at these quantiles; the ends (3 s, 600 s) are ours.
DURATION_QUANTILES = (
    (0.0, 3.0),
    (0.05, 10.7),
    (0.10, 14.6),
    (0.25, 32.0),
    (0.50, 81.0),
    (0.75, 148.0),
    (0.90, 238.0),
    (0.95, 304.0),
    (0.99, 510.0),
    (1.0, 600.0),
)


@dataclass(frozen=True)
class WorldSize:
    """How big a world to build; the defaults keep all policies x 5 seeds under 10 minutes."""

    users: int = 200
    videos: int = 3_000  # the catalogue when the simulation starts
    days: int = 3
    uploads_per_day: int = 24
    topics: int = 24
    new_user_share: float = 0.35  # users who join after day 0 ("new that day")


@dataclass(frozen=True)
class Behaviour:
    """The response model's constants (see `World.respond`)."""

    general_appeal: float = 0.3  # what a video is worth to a user who has no taste for its topics
    affinity_power: float = 0.7
    quality_power: float = 0.8
    language_mismatch: float = 0.3  # utility factor for a video not in the user's language
    boredom: float = 0.9  # utility factor per same-topic video among the user's last `boredom_window`
    boredom_window: int = 5
    hook_bias: float = -2.5  # logit of getting past the first seconds at utility 0
    hook_slope: float = 7.0
    early_exit_max_s: float = 4.0  # an unhooked viewer leaves uniformly within this
    hook_s: float = 3.0  # a hooked viewer is past the skip threshold by definition
    watch_scale_s: float = 8.0  # Weibull scale of a hooked viewer's further watching at utility 0...
    watch_growth: float = 3.2  # ...times exp(growth * utility)
    watch_shape: float = 1.5  # above 1: most hooked viewers give a video some seconds, few stay long
    loop_rate: float = 0.4  # chance of watching again after completing, times utility
    like_rate: float = 0.1  # per long view, times (like_base + utility)
    like_base: float = 0.15
    follow_share: float = 0.15  # follows and shares, as shares of the like rate
    share_share: float = 0.2
    hate_rate: float = 0.005  # per skip, times (1 - utility)^2
    patience_mean: float = 7.0  # patience units at a session's start (a poor video costs about 1)
    patience_gain: float = 2.6  # patience regained per video, times its utility
    hate_cost: float = 3.0
    end_hazard: float = 0.025  # chance of leaving after any video, however good
    max_depth: int = 200
    swipe_s: float = 1.0
    drift: float = 0.03  # per session: log-normal noise on each topic's interest


@dataclass
class Response:
    """One impression's outcome, with KuaiRand's definitions."""

    watched_s: float  # loops included
    loops: int
    complete: bool
    skip: bool  # left within 3 s without completing
    valid: bool  # > 7 s, or the whole video when it is 7 s or shorter
    long: bool  # > 18 s, or complete
    like: bool
    follow: bool
    share: bool
    hate: bool
    utility: float  # true utility before boredom (what convergence is measured on)


@dataclass
class Viewer:
    """A user's mutable state: drifting tastes, what they saw, and the session in progress."""

    interest: NDArray[np.float64]
    seen: set[int] = field(default_factory=set)
    recent_topics: deque[int] = field(default_factory=lambda: deque(maxlen=5))
    patience: float = 0.0
    impressions: int = 0


def durations_from_quantiles(uniform: NDArray[np.float64]) -> NDArray[np.float64]:
    """Inverse CDF of the KuaiRand-Pure durations, interpolated in log space."""
    probabilities = np.array([p for p, _ in DURATION_QUANTILES])
    logs = np.log(np.array([s for _, s in DURATION_QUANTILES]))
    return np.asarray(np.exp(np.interp(uniform, probabilities, logs)))


class World:
    """One seed's world. Built deterministically from (size, seed), so every policy of that seed
    meets the same users, videos, sessions and uploads."""

    def __init__(self, size: WorldSize, seed: int, behaviour: Behaviour | None = None) -> None:
        self.size = size
        self.seed = seed
        self.behaviour = behaviour or Behaviour()
        rng = np.random.default_rng([seed, 0])
        topics = size.topics
        # Some topics are far more popular than others, on both sides of the market. The shape is
        # fixed (Zipf-like) and only which topic is which changes with the seed: a random shape
        # moved the random-exposure rates by ±20 % from one seed to the next.
        shape = 1.0 / np.arange(1, topics + 1) ** 0.8
        self.topic_popularity = rng.permutation(shape / shape.sum())
        self._build_creators(rng)
        self._build_videos(rng)
        self._build_users(rng)
        self._build_sessions(rng)

    # --- construction -------------------------------------------------------------------------

    def _build_creators(self, rng: np.random.Generator) -> None:
        count = max(20, (self.size.videos + self.size.uploads_per_day * self.size.days) // 8)
        self.creator_count = count
        # Zipf-like sizes, flattened so the biggest creator holds a few percent of the catalogue.
        weights = 1.0 / np.arange(1, count + 1) ** 0.7
        self.creator_weight = rng.permutation(weights / weights.sum())
        self.creator_topic = rng.choice(self.size.topics, size=count, p=self.topic_popularity)
        self.creator_language = rng.choice(2, size=count, p=[0.7, 0.3])
        self.creator_skill = rng.beta(2.0, 2.5, size=count)

    def _build_videos(self, rng: np.random.Generator) -> None:
        size = self.size
        initial = size.videos
        uploads = size.uploads_per_day * size.days
        total = initial + uploads
        self.video_count = total
        self.creator = rng.choice(self.creator_count, size=total, p=self.creator_weight)
        main = self.creator_topic[self.creator]
        off_topic = rng.random(total) < 0.2
        primary = np.where(off_topic, rng.choice(size.topics, size=total, p=self.topic_popularity), main)
        secondary = rng.choice(size.topics, size=total, p=self.topic_popularity)
        has_secondary = (rng.random(total) < 0.3) & (secondary != primary)
        self.primary_topic = primary
        self.secondary_topic = np.where(has_secondary, secondary, -1)
        self.topic_weights = np.zeros((total, size.topics))
        self.topic_weights[np.arange(total), primary] = np.where(has_secondary, 0.7, 1.0)
        rows = np.flatnonzero(has_secondary)
        self.topic_weights[rows, secondary[rows]] = 0.3
        skill = self.creator_skill[self.creator]
        # Half the creator's skill, half the video's own luck: with all of it from the creator,
        # the few biggest creators' skill draws moved the whole catalogue's quality per seed.
        own = rng.beta(2.0, 2.5, size=total)
        self.quality = np.clip(0.5 * skill + 0.5 * own + rng.normal(0.0, 0.05, size=total), 0.02, 1.0)
        # A creator speaks one language; now and then a video is in the other one.
        switched = rng.random(total) < 0.05
        self.language = np.where(
            switched, 1 - self.creator_language[self.creator], self.creator_language[self.creator]
        )
        self.duration_s = np.round(durations_from_quantiles(rng.random(total)), 1)
        # The catalogue was published over the month before the start; uploads arrive evenly
        # (at random minutes) through each simulated day.
        self.published_s = np.empty(total)
        self.published_s[:initial] = -rng.random(initial) * 30 * DAY_S
        upload_days = np.repeat(np.arange(size.days), size.uploads_per_day)
        self.published_s[initial:] = np.sort(upload_days * DAY_S + rng.random(uploads) * DAY_S)
        self.first_upload = initial
        self.hashtags = [self._hashtags(rng, index) for index in range(total)]
        # About 70 % vertical, as in KuaiRand-Pure (its own stream: the rest of the world stays put).
        self.vertical = np.random.default_rng([self.seed, 4]).random(total) < 0.7

    def _hashtags(self, rng: np.random.Generator, index: int) -> list[str]:
        draw = rng.random()
        topics = [f"topic{self.primary_topic[index]:02d}"]
        if self.secondary_topic[index] >= 0:
            topics.append(f"topic{self.secondary_topic[index]:02d}")
        if draw < 0.75:
            return topics
        if draw < 0.9:
            return [GENERIC_TAGS[int(rng.integers(len(GENERIC_TAGS)))]]
        return []

    def _build_users(self, rng: np.random.Generator) -> None:
        size = self.size
        count = size.users
        interest = np.zeros((count, size.topics))
        for user in range(count):
            dominant = rng.choice([1, 2, 3, 4], p=[0.3, 0.35, 0.2, 0.15])
            chosen = rng.choice(size.topics, size=dominant, replace=False, p=self.topic_popularity)
            interest[user, chosen] = rng.dirichlet(np.ones(dominant)) * 0.9
            interest[user] += rng.dirichlet(np.full(size.topics, 0.3)) * 0.1
        self.interest = interest
        self.user_language = rng.choice(2, size=count, p=[0.7, 0.3])
        self.activity = np.clip(rng.lognormal(np.log(2.0), 0.5, size=count), 0.5, 10.0)  # sessions a day
        self.patience = rng.lognormal(np.log(self.behaviour.patience_mean), 0.3, size=count)
        new = rng.random(count) < size.new_user_share if size.days > 1 else np.zeros(count, dtype=bool)
        # New users arrive during days 1.. and leave at least a few hours to be measured.
        latest = max(size.days * DAY_S - 4 * HOUR_S, DAY_S + HOUR_S)
        self.joined_s = np.where(new, DAY_S + rng.random(count) * (latest - DAY_S), 0.0)
        self.is_new = new

    def _build_sessions(self, rng: np.random.Generator) -> None:
        """Session starts per user: a Poisson process at the user's activity rate from their
        arrival on; a new user's first session starts when they join."""
        horizon = self.size.days * DAY_S
        starts: list[tuple[float, int]] = []
        for user in range(self.size.users):
            rate = self.activity[user] / DAY_S
            t = self.joined_s[user]
            if self.is_new[user]:
                starts.append((t, user))
            while True:
                t += rng.exponential(1.0 / rate)
                if t >= horizon:
                    break
                starts.append((t, user))
        starts.sort()
        self.session_start = np.array([t for t, _ in starts])
        self.session_user = np.array([user for _, user in starts], dtype=np.int64)

    def session_index_of_first(self, user: int) -> int:
        """The index (in session order) of the user's first session."""
        return int(np.flatnonzero(self.session_user == user)[0])

    # --- the truth ----------------------------------------------------------------------------

    def viewer(self, user: int) -> Viewer:
        return Viewer(
            interest=self.interest[user].copy(),
            recent_topics=deque(maxlen=self.behaviour.boredom_window),
        )

    def utilities(self, viewer: Viewer, user: int, videos: NDArray[np.int64]) -> NDArray[np.float64]:
        """True utility in [0, 1] of each video for this user now (before boredom)."""
        return self.tastes(viewer, user, videos) * self.quality[videos] ** self.behaviour.quality_power

    def tastes(self, viewer: Viewer, user: int, videos: NDArray[np.int64]) -> NDArray[np.float64]:
        """The share of each video's quality this user gets from it now: their taste for its
        topics and language (utility is this times quality^`quality_power`)."""
        b = self.behaviour
        affinity = self.topic_weights[videos] @ viewer.interest / viewer.interest.max()
        language = np.where(self.language[videos] == self.user_language[user], 1.0, b.language_mismatch)
        appeal = b.general_appeal + (1.0 - b.general_appeal) * affinity**b.affinity_power
        return np.asarray(appeal * language)

    def boredom_factor(self, viewer: Viewer, videos: NDArray[np.int64]) -> NDArray[np.float64]:
        """How much recent same-topic videos dull each candidate (1 = not at all)."""
        if not viewer.recent_topics:
            return np.ones(len(videos))
        recent = np.array(viewer.recent_topics)
        repeats = (self.primary_topic[videos][:, None] == recent[None, :]).sum(axis=1)
        return np.asarray(self.behaviour.boredom**repeats)

    def drift(self, viewer: Viewer, rng: np.random.Generator) -> None:
        """Tastes drift a little between sessions, keeping their shape."""
        viewer.interest *= np.exp(rng.normal(0.0, self.behaviour.drift, size=viewer.interest.shape))
        viewer.interest /= viewer.interest.sum()

    def respond(self, viewer: Viewer, user: int, video: int) -> Response:
        """How `user` watches `video` now. The draws come from (seed, user, video), so the same
        user meets the same video the same way under every policy (common random numbers)."""
        b = self.behaviour
        draws = np.random.default_rng([self.seed, 1, user, video]).random(9)
        videos = np.array([video])
        utility = float(self.utilities(viewer, user, videos)[0])
        felt = utility * float(self.boredom_factor(viewer, videos)[0])
        duration = float(self.duration_s[video])
        hooked = draws[0] < 1.0 / (1.0 + np.exp(-(b.hook_bias + b.hook_slope * felt)))
        if hooked:
            scale = b.watch_scale_s * np.exp(b.watch_growth * felt)
            watched = b.hook_s + scale * (-np.log(1.0 - draws[1])) ** (1.0 / b.watch_shape)
        else:
            watched = 0.3 + draws[1] * (b.early_exit_max_s - 0.3)
        complete = watched >= duration
        watched = min(watched, duration)
        loops = 0
        if complete and draws[2] < b.loop_rate * felt:
            loops = 1 + int(draws[3] * 3 * felt)
            watched += loops * duration
        skip = watched < 3.0 and not complete
        valid = complete if duration <= 7.0 else watched > 7.0
        long = watched > 18.0 or complete
        taste = b.like_rate * (b.like_base + felt)
        like = long and draws[4] < taste
        follow = long and draws[5] < taste * b.follow_share
        share = long and draws[6] < taste * b.share_share
        hate = skip and draws[7] < b.hate_rate * (1.0 - felt) ** 2
        return Response(
            watched_s=float(watched),
            loops=loops,
            complete=bool(complete),
            skip=bool(skip),
            valid=bool(valid),
            long=bool(long),
            like=bool(like),
            follow=bool(follow),
            share=bool(share),
            hate=bool(hate),
            utility=utility,
        )

    def after(self, viewer: Viewer, video: int, response: Response) -> None:
        """Update boredom and patience after an impression."""
        b = self.behaviour
        felt = response.utility * float(self.boredom_factor(viewer, np.array([video]))[0])
        viewer.recent_topics.append(int(self.primary_topic[video]))
        viewer.patience += b.patience_gain * felt - 1.0 - (b.hate_cost if response.hate else 0.0)
        viewer.seen.add(video)
        viewer.impressions += 1

    def start_session(self, viewer: Viewer, user: int, rng: np.random.Generator) -> None:
        self.drift(viewer, rng)
        viewer.recent_topics.clear()
        viewer.patience = float(self.patience[user])

    def goes_on(self, viewer: Viewer, user: int, depth: int, rng: np.random.Generator) -> bool:
        """Whether the session continues after `depth` videos: patience left, no sudden exit,
        under the cap. Good videos refill patience up to twice the user's usual stock."""
        viewer.patience = min(viewer.patience, 2.0 * float(self.patience[user]))
        b = self.behaviour
        return viewer.patience > 0 and depth < b.max_depth and rng.random() >= b.end_hazard
