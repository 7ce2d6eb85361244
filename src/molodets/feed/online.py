"""Online learning: every batch of watch events updates the recommender's state in the
transaction that stores the events (events.service.write, run by the event writer off the
request path), so the viewer's very next page reflects what they just did.

Per batch: one read and one upsert of the viewers' profiles, of the videos' stats, and one
upsert of co-engagement pairs. On PostgreSQL the rows read are locked in key order, so two
processes' writers serialise on a shared viewer or video instead of losing an update; SQLite
writes one transaction at a time anyway."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from molodets.db import upsert_insert
from molodets.events.models import EventType
from molodets.feed.models import CoEngagement, CreatorStats, VideoStats, VideoTag, ViewerProfile
from molodets.feed.ranking import RankWeights, quality
from molodets.videos.models import Video

LONG_VIEW_MS = 18_000  # KuaiRand's "long view": more than 18 s, or the whole video
TREND_HALF_LIFE_HOURS = 12.0
TREND_EPOCH_MS = 1_767_225_600_000  # 2026-01-01: trend scores are decayed to this instant
PROFILE_HALF_LIFE_DAYS = 7.0  # tastes drift: older reactions count for less
RECENT_POSITIVES = 8
WATCH_MEMORY = 64  # per viewer: how much of their latest viewings was already counted
MAX_TAGS = 300
MAX_CREATORS = 300
TURNED_AWAY_DAYS = 30  # a creator the viewer said "not interested" to stays out of For You this long
MAX_TURNED_AWAY = 200
PAIR_WINDOW = 5  # a positive pairs with this many of the viewer's previous positives

# Engagement counted by trending, and the positive weight a reaction adds to a viewer's interest.
# Watching itself earns up to 1 more, in proportion to the time watched up to a long view: a
# viewer who gave up at 15 s liked it more than one who left at 4, and both less than a long
# view (in the simulator, 5 % more watch time than the long view's all or nothing: docs/feed.md).
_TREND_WEIGHT = {"long": 1.0, "complete": 0.5, "like": 2.0, "share": 3.0, "follow": 3.0}
_INTEREST = {"complete": 0.5, "like": 1.0, "share": 1.5, "follow": 1.5, "replay": 0.3}
_PAIR_WEIGHT = {"long": 1.0, "like": 1.0, "share": 1.5, "follow": 1.5}  # of co-engagement
_CREDIT_PRIOR = 0.15  # a hashtag's rate before any exposure, when a reaction's credit is shared
_SKIP_EXPOSURE = 0.5  # a skip counts as this much extra exposure with nothing gained
# "Not interested": exposure with nothing gained for the video's hashtags and its creator. The
# hashtags' share is also summed (state "h"), so that it lowers the hated hashtags against the
# viewer's baseline rather than the baseline itself; the creator leaves For You for a while
# (state "x", `turned_away`).
_HATE_EXPOSURE = {"t": 4.0, "c": 30.0}
NEW_VIDEO_QUALITY = 1.0  # a video no one has reacted to sits mid-table among its hashtag's
# The stats counters (columns of feed_video_stats and feed_creator_stats) by the ranker's names.
_RANK_NAMES = {
    "impressions": "impressions",
    "long_views": "long",
    "completes": "complete",
    "likes": "like",
    "shares": "share",
    "follows": "follow",
    "skips": "skip",
    "hates": "hate",
}
_COUNTERS = tuple(_RANK_NAMES)
# The ranker's inputs under its names, in the order of `counter_columns`: the counters, then
# watch time (kept per video only).
RANK_INPUTS = (*_RANK_NAMES.values(), "watch_ms")


def counter_columns(model: type[VideoStats] | type[CreatorStats]) -> list[Any]:
    """The columns of `RANK_INPUTS` in a stats table (a creator's have no watch time)."""
    names = (*_COUNTERS, "watch_ms") if model is VideoStats else _COUNTERS
    return [getattr(model, name) for name in names]


@dataclass
class _VideoDelta:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTERS, 0))
    watch_ms: int = 0
    trend: float = -math.inf  # log-sum of decayed engagement added by this batch


@dataclass(frozen=True)
class _Meta:
    author_id: int
    tags: tuple[str, ...]
    duration_ms: int


def index_video(session: Session, video: Video) -> None:
    """(Re)register a video's hashtags for candidate search; idempotent."""
    session.execute(delete(VideoTag).where(VideoTag.video_id == video.id))
    tags = list(dict.fromkeys(tag[:100] for tag in video.hashtags or []))
    stats = session.get(VideoStats, video.id)
    quality = stats.quality if stats is not None else NEW_VIDEO_QUALITY
    if tags:
        session.execute(
            insert(VideoTag), [{"tag": tag, "video_id": video.id, "quality": quality} for tag in tags]
        )


def forget_video(session: Session, video_id: int) -> None:
    """A deleted video leaves the recommender (pairs pointing to it are filtered when read)."""
    for model in (VideoTag, VideoStats, CoEngagement):
        session.execute(delete(model).where(model.video_id == video_id))


def adopt_profile(session: Session, *, guest: str, user: str, now_ms: int) -> None:
    """A guest who signs up or logs in keeps what their feed learned: the guest's profile joins
    the account's (counts added, recent positives appended)."""
    profiles = _load_profiles(session, sorted([guest, user]), now_ms)
    taken, kept = profiles[guest], profiles[user]
    if not taken:
        return
    for kind in ("t", "c"):
        merged = kept.setdefault(kind, {})
        for key, (exposure, positive) in taken.get(kind, {}).items():
            old = merged.get(key, [0.0, 0.0])
            merged[key] = [old[0] + exposure, old[1] + positive]
    kept["r"] = [*kept.get("r", []), *(v for v in taken.get("r", []) if v not in kept.get("r", []))]
    del kept["r"][:-RECENT_POSITIVES]
    kept["n"] = kept.get("n", 0) + taken.get("n", 0)
    session.execute(delete(ViewerProfile).where(ViewerProfile.viewer == guest))
    _save_profiles(session, {user: kept}, now_ms)


def learn(session: Session, rows: Sequence[dict[str, Any]], *, now_ms: int, weights: RankWeights) -> None:
    """Fold validated event rows (events.service.validate's) into the recommender's state."""
    if not rows:
        return
    video_ids = sorted({int(row["video_id"]) for row in rows})
    meta = {
        video_id: _Meta(author_id, tuple(hashtags or ()), duration or 0)
        for video_id, author_id, hashtags, duration in session.execute(
            select(Video.id, Video.author_id, Video.hashtags, Video.duration_ms).where(
                Video.id.in_(video_ids)
            )
        )
    }
    profiles = _load_profiles(session, sorted({str(row["viewer"]) for row in rows}), now_ms)
    deltas: dict[int, _VideoDelta] = {}
    pairs: dict[tuple[int, int], float] = {}
    for row in sorted(rows, key=lambda row: int(row["client_ts"])):
        video_id = int(row["video_id"])
        if video_id not in meta:
            continue
        delta = deltas.setdefault(video_id, _VideoDelta())
        _apply(row, meta[video_id], profiles[str(row["viewer"])], delta, pairs)
    _save_profiles(session, profiles, now_ms)
    _save_stats(session, deltas, meta, weights)
    _save_creator_stats(session, deltas, meta)
    _save_pairs(session, pairs)


def _apply(
    row: dict[str, Any],
    meta: _Meta,
    state: dict[str, Any],
    delta: _VideoDelta,
    pairs: dict[tuple[int, int], float],
) -> None:
    kind = EventType(int(row["type"]))
    video_id = int(row["video_id"])
    ts = int(row["client_ts"])
    reactions: list[str] = []
    if kind is EventType.IMPRESSION:
        delta.counts["impressions"] += 1
        state["n"] = state.get("n", 0) + 1  # impressions so far: how new the viewer is
        _expose(state, meta, 1.0)
    elif kind is EventType.SKIP:
        delta.counts["skips"] += 1
        _expose(state, meta, _SKIP_EXPOSURE)
    elif kind is EventType.NOT_INTERESTED:
        delta.counts["hates"] += 1
        _expose(state, meta, _HATE_EXPOSURE["t"], creator=_HATE_EXPOSURE["c"])
        state["h"] = state.get("h", 0.0) + _HATE_EXPOSURE["t"] * len(meta.tags)
        _turn_away(state, meta.author_id, ts)
    elif kind is EventType.LIKE:
        delta.counts["likes"] += 1
        reactions.append("like")
    elif kind is EventType.SHARE:
        delta.counts["shares"] += 1
        reactions.append("share")
    elif kind is EventType.FOLLOW:
        delta.counts["follows"] += 1
        reactions.append("follow")
    elif kind is EventType.REPLAY:
        reactions.append("replay")
    if kind is EventType.COMPLETE and _first(state, f"c{video_id}"):
        delta.counts["completes"] += 1
        reactions.append("complete")
    watched = row.get("watched_ms")
    if watched is not None or kind is EventType.COMPLETE:
        # Watch time arrives as "watched so far" in several events of one viewing: count the
        # growth only, and the long view once.
        counted = state.setdefault("w", {})
        key = str(video_id)
        before = int(counted.get(key, 0))
        now_watched = max(int(watched or 0), before)
        if kind is EventType.COMPLETE:
            now_watched = max(now_watched, meta.duration_ms)
        delta.watch_ms += now_watched - before
        credit = min(now_watched, LONG_VIEW_MS) - min(before, LONG_VIEW_MS)
        if credit > 0:
            _reward(state, meta, credit / LONG_VIEW_MS)
        counted.pop(key, None)
        counted[key] = now_watched
        while len(counted) > WATCH_MEMORY:
            counted.pop(next(iter(counted)))
        long_now = now_watched > LONG_VIEW_MS or (kind is EventType.COMPLETE)
        if long_now and _first(state, f"l{video_id}"):
            delta.counts["long_views"] += 1
            reactions.append("long")
    for reaction in reactions:
        if reaction in _INTEREST:
            _reward(state, meta, _INTEREST[reaction])
        if reaction in _TREND_WEIGHT:
            delta.trend = _logaddexp(delta.trend, _trend_term(_TREND_WEIGHT[reaction], ts))
    strong = [_PAIR_WEIGHT[reaction] for reaction in reactions if reaction in _PAIR_WEIGHT]
    if strong:
        _pair(state, video_id, pairs, weight=max(strong))


def _first(state: dict[str, Any], mark: str) -> bool:
    """True the first time `mark` is seen among the viewer's recent marks (once per viewing)."""
    marks: list[str] = state.setdefault("m", [])
    if mark in marks:
        return False
    marks.append(mark)
    del marks[: -2 * WATCH_MEMORY]
    return True


def _expose(state: dict[str, Any], meta: _Meta, amount: float, *, creator: float | None = None) -> None:
    tags = state.setdefault("t", {})
    for tag in meta.tags:
        tags.setdefault(tag, [0.0, 0.0])[0] += amount
    creators = state.setdefault("c", {})
    creators.setdefault(str(meta.author_id), [0.0, 0.0])[0] += amount if creator is None else creator


def _turn_away(state: dict[str, Any], author_id: int, ts_ms: int) -> None:
    """Remember when the viewer last turned a creator away (the latest `MAX_TURNED_AWAY`)."""
    turned: dict[str, int] = state.setdefault("x", {})
    turned.pop(str(author_id), None)
    turned[str(author_id)] = ts_ms
    while len(turned) > MAX_TURNED_AWAY:
        turned.pop(next(iter(turned)))


def turned_away(profile: dict[str, Any], now_ms: int) -> list[int]:
    """The creators the viewer said "not interested" to within `TURNED_AWAY_DAYS`."""
    since = now_ms - TURNED_AWAY_DAYS * 86_400_000
    return [int(author) for author, ts in profile.get("x", {}).items() if ts > since]


def _reward(state: dict[str, Any], meta: _Meta, amount: float) -> None:
    tags = state.setdefault("t", {})
    counts = [tags.setdefault(tag, [0.0, 0.0]) for tag in meta.tags]
    # A video with several hashtags was liked for one of them, most likely the one the viewer
    # already likes: each takes a share of the credit by its current rate, not all of it.
    rates = [(positive + _CREDIT_PRIOR) / (exposure + 1.0) for exposure, positive in counts]
    total = sum(rates)
    for count, rate in zip(counts, rates, strict=True):
        count[1] += amount * len(counts) * rate / total
    state.setdefault("c", {}).setdefault(str(meta.author_id), [0.0, 0.0])[1] += amount


def _pair(
    state: dict[str, Any], video_id: int, pairs: dict[tuple[int, int], float], *, weight: float
) -> None:
    recent: list[int] = state.setdefault("r", [])
    if video_id in recent:
        return
    for other in recent[-PAIR_WINDOW:]:
        pairs[(other, video_id)] = pairs.get((other, video_id), 0.0) + weight
        pairs[(video_id, other)] = pairs.get((video_id, other), 0.0) + weight
    recent.append(video_id)
    del recent[:-RECENT_POSITIVES]


def _trend_term(weight: float, ts_ms: int) -> float:
    hours = (ts_ms - TREND_EPOCH_MS) / 3_600_000
    return math.log(weight) + hours * math.log(2) / TREND_HALF_LIFE_HOURS


def _logaddexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    high, low = max(a, b), min(a, b)
    return high + math.log1p(math.exp(low - high))


# The upserts below run on the connection (Core executemany): the ORM's bulk path spent more
# time collecting parameters than the database spent writing them.


def _locked(session: Session, statement: Any) -> Any:
    return statement.with_for_update() if session.get_bind().dialect.name == "postgresql" else statement


def _load_profiles(session: Session, viewers: list[str], now_ms: int) -> dict[str, dict[str, Any]]:
    statement = _locked(
        session,
        select(ViewerProfile.viewer, ViewerProfile.state, ViewerProfile.updated_ms)
        .where(ViewerProfile.viewer.in_(viewers))
        .order_by(ViewerProfile.viewer),
    )
    profiles: dict[str, dict[str, Any]] = {viewer: {} for viewer in viewers}
    for viewer, state, updated_ms in session.execute(statement):
        profiles[viewer] = decayed(state, since_ms=updated_ms, now_ms=now_ms)
    for state in profiles.values():
        state["w"] = OrderedDict(state.get("w", {}))
    return profiles


def decayed(state: dict[str, Any], *, since_ms: int, now_ms: int) -> dict[str, Any]:
    """The profile as of `now_ms`: interest counts halve every `PROFILE_HALF_LIFE_DAYS`."""
    days = max(now_ms - since_ms, 0) / 86_400_000
    if days <= 0.01:
        return state
    factor = 0.5 ** (days / PROFILE_HALF_LIFE_DAYS)
    if "h" in state:
        state["h"] *= factor
    for kind in ("t", "c"):
        state[kind] = {
            key: [exposure * factor, positive * factor]
            for key, (exposure, positive) in state.get(kind, {}).items()
        }
    return state


def _save_profiles(session: Session, profiles: dict[str, dict[str, Any]], now_ms: int) -> None:
    for state in profiles.values():
        for kind, limit in (("t", MAX_TAGS), ("c", MAX_CREATORS)):
            entries = state.get(kind, {})
            if len(entries) > limit:  # keep what was seen most
                state[kind] = dict(sorted(entries.items(), key=lambda item: -item[1][0])[:limit])
        state["w"] = dict(state.get("w", {}))
    insert_ = upsert_insert(session)
    statement = insert_(ViewerProfile)
    statement = statement.on_conflict_do_update(
        index_elements=["viewer"],
        set_={"state": statement.excluded.state, "updated_ms": statement.excluded.updated_ms},
    )
    session.connection().execute(
        statement,
        [
            {"viewer": viewer, "state": state, "updated_ms": now_ms}
            for viewer, state in sorted(profiles.items())
        ],
    )


def _save_stats(
    session: Session, deltas: dict[int, _VideoDelta], meta: dict[int, _Meta], weights: RankWeights
) -> None:
    if not deltas:
        return
    ids = sorted(deltas)
    current = {
        stats.video_id: stats
        for stats in session.scalars(
            _locked(
                session, select(VideoStats).where(VideoStats.video_id.in_(ids)).order_by(VideoStats.video_id)
            )
        )
    }
    values = []
    for video_id in ids:
        delta = deltas[video_id]
        old = current.get(video_id)
        row: dict[str, Any] = {
            "video_id": video_id,
            "duration_ms": meta[video_id].duration_ms,
            **{name: (getattr(old, name) if old else 0) + delta.counts[name] for name in _COUNTERS},
            "watch_ms": (old.watch_ms if old else 0) + delta.watch_ms,
            "trend": _logaddexp(old.trend if old else -math.inf, delta.trend)
            if delta.trend > -math.inf
            else (old.trend if old else -1e9),
        }
        row["quality"] = quality(rates_input(row), weights)
        values.append(row)
    for video_id in current:  # the session must not hand back stale objects later
        session.expire(current[video_id])
    insert_ = upsert_insert(session)
    statement = insert_(VideoStats)
    statement = statement.on_conflict_do_update(
        index_elements=["video_id"],
        set_={name: statement.excluded[name] for name in values[0] if name != "video_id"},
    )
    session.connection().execute(statement, values)
    session.connection().execute(  # Core executemany: one prepared UPDATE, many rows
        update(VideoTag).where(VideoTag.video_id == bindparam("vid")).values(quality=bindparam("q")),
        [{"vid": row["video_id"], "q": row["quality"]} for row in values],
    )


def _save_creator_stats(session: Session, deltas: dict[int, _VideoDelta], meta: dict[int, _Meta]) -> None:
    by_author: dict[int, dict[str, int]] = {}
    for video_id, delta in deltas.items():
        totals = by_author.setdefault(meta[video_id].author_id, dict.fromkeys(_COUNTERS, 0))
        for name in _COUNTERS:
            totals[name] += delta.counts[name]
    if not by_author:
        return
    statement = upsert_insert(session)(CreatorStats)
    statement = statement.on_conflict_do_update(
        index_elements=["author_id"],
        set_={name: getattr(CreatorStats, name) + statement.excluded[name] for name in _COUNTERS},
    )
    session.connection().execute(
        statement, [{"author_id": author, **totals} for author, totals in sorted(by_author.items())]
    )


def rates_input(row: dict[str, Any]) -> dict[str, float]:
    """A stats row's counters under the ranker's names."""
    return {name: row[column] for column, name in _RANK_NAMES.items()}


def _save_pairs(session: Session, pairs: dict[tuple[int, int], float]) -> None:
    if not pairs:
        return
    insert_ = upsert_insert(session)
    statement = insert_(CoEngagement)
    statement = statement.on_conflict_do_update(
        index_elements=["video_id", "neighbour_id"],
        set_={"weight": CoEngagement.weight + statement.excluded.weight},
    )
    session.connection().execute(
        statement,
        [{"video_id": a, "neighbour_id": b, "weight": w} for (a, b), w in sorted(pairs.items())],
    )
