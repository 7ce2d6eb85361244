"""Predicted value of showing a video: what its audience did so far, shrunk towards priors so a
video seen by five people is not judged on five coin flips, corrected for duration (watch time
is read as a quantile within the video's duration bucket, so a long clip does not win for being
long), then scaled by how this viewer reacts to its hashtags, its creator and its language.

The weights live in `RankWeights` (settings: `MOLODETS_FEED_WEIGHTS`, JSON) and were tuned in
the simulator (benchmarks/feedsim, docs/feed.md)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

# Prior rates per impression (about what a random exposure gets) and their strength in
# pseudo-impressions: a new video starts here and moves as its audience answers.
PRIORS = {
    "long": 0.10,
    "complete": 0.04,
    "like": 0.01,
    "share": 0.002,
    "follow": 0.002,
    "skip": 0.40,
    "hate": 0.005,
}
PRIOR_IMPRESSIONS = 20.0
# Duration buckets (seconds) inside which watch time is compared.
DURATION_BUCKETS_S = (15, 30, 60, 120, 240)


@dataclass(frozen=True)
class RankWeights:
    """How much each predicted outcome is worth; positives are lifts over the prior rate."""

    watch: float = 1.0  # watch-time quantile within the duration bucket (0.5 = the bucket's median)
    long_view: float = 1.0
    complete: float = 0.5
    like: float = 0.3
    share: float = 0.2
    follow: float = 0.2
    skip: float = 0.5
    hate: float = 1.0
    audience: float = 1.0  # exponent on the value for an average viewer (what everyone did)
    interest: float = 3.0  # exponent on the viewer's lift for the video's hashtags
    creator: float = 1.0  # exponent on the viewer's lift for the creator
    # Factor when the video's language is not the viewer's. Far below what such a video is worth
    # to them (about 0.3 in the simulator), because the hashtag lift it competes with is raised to
    # the power `interest`: at 0.3, a video of a liked topic in another language beat the viewer's
    # own language, and 9 % of impressions were in the other one (0.05: +2.9 % watch time over ten
    # seeds, docs/feed.md).
    language_mismatch: float = 0.05
    neighbour: float = 1.0  # boost for co-engagement neighbours of the viewer's recent positives
    similarity: float = 1.0  # value x exp(this x cosine of the video and the viewer's interest vector)
    followed_creator: float = 1.3  # factor for creators the viewer follows
    explore_share: float = 0.1  # at most this share of a page goes to videos still being explored
    first_hour_share: float = 0.3  # and up to this share to uploads in their first hour, while any wait
    # Factor per earlier item of the same hashtag among the page's last `TOPIC_WINDOW` (5). Strong
    # for the same reason as `language_mismatch`: the lift it counters is cubed. 0.85 over the
    # last 4 against 0.5 over the last 5: +8.7 % watch time in the simulator, better on each of
    # ten seeds (docs/feed.md).
    same_topic_penalty: float = 0.5

    @classmethod
    def from_mapping(cls, values: dict[str, float]) -> RankWeights:
        known = {field.name for field in fields(cls)}
        return cls(**{name: float(value) for name, value in values.items() if name in known})


def shrunk(
    count: NDArray[np.float64], impressions: NDArray[np.float64], prior: float | NDArray[np.float64]
) -> NDArray[np.float64]:
    """The rate of `count` per impression, shrunk towards `prior`. A count above the impressions
    (a client that sends no impression before a complete) counts as one per impression: a rate
    is never above 1."""
    return (np.minimum(count, impressions) + prior * PRIOR_IMPRESSIONS) / (impressions + PRIOR_IMPRESSIONS)


def creator_priors(counts: dict[str, NDArray[np.float64]]) -> dict[str, NDArray[np.float64]]:
    """Each creator's outcome rates, shrunk towards the global priors: the prior of a video of
    theirs. A creator's videos resemble each other, and a creator is seen far more often than
    any one of their videos, so a new video starts from what its creator's audience did."""
    return {name: shrunk(counts[name], counts["impressions"], prior) for name, prior in PRIORS.items()}


def base_value(
    counts: dict[str, NDArray[np.float64]],
    *,
    weights: RankWeights,
    watch_quantile: NDArray[np.float64],
    priors: dict[str, NDArray[np.float64]] | None = None,
) -> NDArray[np.float64]:
    """Value per impression of each video for an average viewer. `counts` holds arrays of
    impressions, long, complete, like, share, follow, skip, hate; `priors` the rates each is
    shrunk towards (its creator's; the global `PRIORS` by default). The recommender adds its own
    Thompson draw of the long-view rate to `unfloored_value` instead."""
    long_prior = priors["long"] if priors is not None else PRIORS["long"]
    long_rate = shrunk(counts["long"], counts["impressions"], long_prior)
    value = unfloored_value(counts, weights=weights, watch_quantile=watch_quantile, priors=priors)
    return np.maximum(value + long_view_term(long_rate, weights), value_floor(weights))


def unfloored_value(
    counts: dict[str, NDArray[np.float64]],
    *,
    weights: RankWeights,
    watch_quantile: NDArray[np.float64],
    priors: dict[str, NDArray[np.float64]] | None = None,
) -> NDArray[np.float64]:
    """`base_value` but the long-view term (`long_view_term`) and the floor (`value_floor`):
    the part that does not change between Thompson draws of the long-view rate."""
    n = counts["impressions"]
    rate = {
        name: shrunk(counts[name], n, priors[name] if priors is not None else prior) / prior
        for name, prior in PRIORS.items()
        if name != "long"
    }
    positive = (
        weights.watch * watch_quantile / 0.5
        + weights.complete * rate["complete"]
        + weights.like * rate["like"]
        + weights.share * rate["share"]
        + weights.follow * rate["follow"]
    )
    negative = weights.skip * rate["skip"] + weights.hate * rate["hate"]
    value: NDArray[np.float64] = (positive - negative + weights.skip + weights.hate) / _scale(weights)
    return value


def long_view_term(long_rate: NDArray[np.float64], weights: RankWeights) -> NDArray[np.float64]:
    term: NDArray[np.float64] = weights.long_view * long_rate / PRIORS["long"] / _scale(weights)
    return term


def value_floor(weights: RankWeights) -> float:
    return 0.01 / _scale(weights)


def _scale(weights: RankWeights) -> float:
    w = weights
    return w.watch + w.long_view + w.complete + w.like + w.share + w.follow


def quality(stats: dict[str, float], weights: RankWeights) -> float:
    """One video's value for an average viewer, watch time at the median: stored with its
    counters so the "strong videos" source can read the best from an index."""
    counts = {name: np.float64(stats[name]) for name in (*PRIORS, "impressions")}
    # Scalars through the same formula: the event writer calls this for every video of a batch,
    # and one-element arrays cost ten times as much.
    return float(base_value(counts, weights=weights, watch_quantile=np.float64(0.5)))  # type: ignore[arg-type]


def duration_bucket(duration_ms: int) -> int:
    seconds = duration_ms / 1000
    return sum(1 for edge in DURATION_BUCKETS_S if seconds >= edge)
