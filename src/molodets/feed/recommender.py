"""The For You feed: candidates from several sources, ranked by predicted value for this viewer,
re-ranked for variety, with a bounded share given to new videos still being explored.

1. Candidates (ids only, each source one indexed read): the newest public videos, trending
   (decayed engagement), strong (value estimate), the videos of the viewer's best hashtags,
   co-engagement neighbours of what they recently watched long, liked or shared, the videos
   nearest to the viewer's interest vector (vectors.py), and the newest of the creators they
   follow.
2. Filter: never what this session was served (the cursor carries it) nor what the viewer
   played in the last `SEEN_DAYS` (view marks); only ready public videos of public accounts,
   none of anyone blocked either way. Seen videos come back only when nothing unseen is left.
3. Rank (ranking.py): the videos' shrunk outcome rates with a Thompson sample of the long-view
   rate (so a new video's uncertainty buys it impressions until its audience has answered),
   times the viewer's lifts for the hashtags (also sampled: a new viewer sees a spread of
   topics that narrows as they react), the creator, the language, and the video's closeness
   to the viewer's interest vector.
4. Re-rank greedily: no creator twice in any 4 consecutive items (across pages), a penalty for
   repeating a hashtag within 5, at most `explore_share` of the page for exploring videos (and
   `first_hour_share` more while an upload in its first hour still lacks a first audience).

The model (stats, profiles, pairs) is read from the database, so every web process serves the
same feed, and an event written a moment ago shapes the next page. Steps 1-2 are reused for a
viewer's following pages (`SlateCache`, per process, at most `SLATE_SECONDS`): steps 3-4 are
redone for every page from the viewer's current profile, and the picks' visibility is checked
again, so only a new upload waits (up to a minute) to reach a feed already in progress."""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple, TypeGuard, TypeVar

import numpy as np
import orjson
from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    String,
    and_,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.db import id_set_value, in_id_param
from molodets.errors import Problem
from molodets.events.models import ViewMark
from molodets.feed import online, vectors
from molodets.feed.models import CoEngagement, CreatorStats, VideoStats, VideoTag, ViewerProfile
from molodets.feed.ranking import (
    DURATION_BUCKETS_S,
    PRIOR_IMPRESSIONS,
    RankWeights,
    creator_priors,
    duration_bucket,
    long_view_term,
    unfloored_value,
    value_floor,
)
from molodets.pagination import Page
from molodets.social import service as social
from molodets.videos.models import Video, VideoStatus, Visibility

SEEN_DAYS = 30  # a video the viewer played within this many days is not offered again
SESSION_MEMORY = 60  # ids of this session's latest served videos, carried in the cursor
NEWEST_LIMIT = 100
TRENDING_LIMIT = 100
STRONG_LIMIT = 100
TOP_TAGS = 5  # hashtags whose videos are fetched: the viewer's and popular ones, by Thompson draw
POPULAR_TAGS = 64
TAG_LIMIT = 40
PAIR_SEEDS = 5
PAIR_LIMIT = 30
PAIR_SATURATION = 3.0  # co-engagement weight at which the neighbour boost is full
FOLLOWED_AUTHORS = 30  # followed creators whose two newest videos are candidates
AUTHOR_ARMS_STEP = 10  # followed creators' reads come in statements of 10, 20 or 30 of them
FOLLOWED_LIMIT = 5000  # followed creators whose videos get the followed-creator lift
# A video younger than EXPLORE_HOURS with fewer than EXPLORE_IMPRESSIONS is still being explored:
# its first audience comes from the exploration slots, the least shown first.
EXPLORE_IMPRESSIONS = 20
EXPLORE_HOURS = 24
FIRST_HOUR_CLAIM = 10.0  # an upload in its first hour comes first for the exploration slots
CREATOR_GAP = 3  # a creator appears at most once in any CREATOR_GAP + 1 consecutive items
TOPIC_WINDOW = 5  # items of a page a hashtag's repeats are counted over (same_topic_penalty)
INTEREST_PRIOR = 0.15  # a viewer's positive reactions per exposure, before they have any
INTEREST_STRENGTH = 2.0
BASELINE_STRENGTH = 10.0  # pseudo-exposures behind INTEREST_PRIOR in a viewer's baseline
# A hashtag's prior is its catalogue share over the average, within 1/1.5..1.5x: wider, an unknown
# big topic's prior (baseline x 3) outdrew a topic the viewer had just watched to the end.
TAG_SHARE_RANGE = 1.5
MAX_INTEREST_PRIOR = 0.9
# Thompson draws of interest come from a posterior this many times sharper than the counts:
# exploration enough to find a new viewer's topics, without burying what they just showed
# (20 against 10: +2.4 % watch time in the simulator over ten seeds, docs/feed.md).
INTEREST_SHARPNESS = 20.0
CREATOR_STRENGTH = 3.0
SLATE_SECONDS = 60  # a viewer's candidates are reused for this long (SlateCache)
SLATE_REFILL = 3  # and while this many pages of unserved ones are left
SLATE_VIEWERS = 5_000  # slates kept per process (the least recently used go first)
# Per-process caches of catalogue-wide figures (quantiles, popular hashtags), on the page's clock.
CACHE_TTL_MS = 60_000
_MAX_CURSOR_LENGTH = 4096


@dataclass(frozen=True)
class ViewerRef:
    """Who is asking: `key` as in watch events ("u<id>" or "a<guest id>")."""

    key: str
    user: User | None = None
    language: str | None = None


class _Candidate(NamedTuple):
    """A visible candidate with what ranking reads of it (one row of `_visible`'s statement)."""

    id: int
    author_id: int
    tags: tuple[str, ...]
    language: str | None
    duration_ms: int
    published_ms: float  # -inf when the video has no publishing time (older than any window)
    seen: bool  # played by this viewer in the last SEEN_DAYS
    counters: tuple[float, ...]  # online.RANK_INPUTS
    creator: tuple[float, ...]  # its creator's, RANK_INPUTS but watch time


@dataclass(frozen=True)
class _Slate:
    """A viewer's candidates and everything ranking reads of them that does not change from
    page to page, in arrays (one row per candidate, ordered by id). What does change is applied
    per page: the Thompson draws (long-view rate, interests), the viewer's interest, creator and
    follow lifts, what this session was already served, and what is young or in its first hour."""

    built_ms: int
    seeds: tuple[int, ...]  # the recent positives whose co-engagement neighbours it holds
    ids: np.ndarray  # ascending, so a video's row is found by bisection
    authors: np.ndarray
    creators: np.ndarray  # the distinct authors, ascending
    creator_of_row: np.ndarray  # each row's author as an index into `creators`
    followed: np.ndarray  # whether the viewer followed each row's author when the slate was read
    tags: np.ndarray  # of tuples of hashtags (objects)
    tag_names: list[str]
    tag_index: np.ndarray  # rows x most hashtags of a candidate: index into tag_names, -1 for none
    published_ms: np.ndarray
    seen: np.ndarray
    impressions: np.ndarray
    other_value: np.ndarray  # the average viewer's value but the long-view term (ranking.unfloored_value)
    long_alpha: np.ndarray  # the Beta posterior of the long-view rate
    long_beta: np.ndarray
    mismatch: np.ndarray  # not in the viewer's language
    pair_boost: np.ndarray  # 1 + the co-engagement boost, times the lift of the viewer's vector

    def open_rows(self, avoid: Collection[int]) -> np.ndarray:
        """Which candidates are not among `avoid`."""
        rows = np.ones(len(self.ids), dtype=bool)
        rows[_find(self.ids, np.fromiter(avoid, dtype=np.int64, count=len(avoid)))[0]] = False
        return rows

    def welcome(self, turned_away: list[int]) -> np.ndarray:
        """Which candidates are not by a creator the viewer turned away (`online.turned_away`)."""
        return ~np.isin(self.authors, turned_away)

    def unserved(self, avoid: Collection[int], turned_away: list[int]) -> int:
        """How many unseen candidates are not among `avoid` nor by a creator turned away."""
        return int((~self.seen & self.welcome(turned_away) & self.open_rows(avoid)).sum())


class SlateCache:
    """Each viewer's latest slate, per process: the pages of a session after its first are ranked
    from it without reading candidates again (the candidate reads and the visible filter are
    most of a page's cost, docs/load.md). A slate is dropped after `SLATE_SECONDS` (so a new
    upload reaches every feed within that), when the viewer's recent positives change (their
    co-engagement neighbours are read afresh), and when fewer than `SLATE_REFILL` pages of it are
    left. What the viewer did a moment ago still shapes the next page: the ranking is redone for
    every page from their current interests. Visibility is checked again for each page's picks."""

    def __init__(self, capacity: int = SLATE_VIEWERS) -> None:
        self._capacity = capacity
        self._slates: OrderedDict[tuple[str, str | None], _Slate] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, viewer: ViewerRef, now_ms: int, seeds: tuple[int, ...]) -> _Slate | None:
        key = (viewer.key, viewer.language)
        with self._lock:
            slate = self._slates.get(key)
            if slate is None:
                return None
            # A slate built after `now` (a replay of the past) may hold what was not yet published.
            if not slate.built_ms <= now_ms < slate.built_ms + SLATE_SECONDS * 1000 or slate.seeds != seeds:
                del self._slates[key]
                return None
            self._slates.move_to_end(key)
            return slate

    def put(self, viewer: ViewerRef, slate: _Slate) -> None:
        with self._lock:
            self._slates[(viewer.key, viewer.language)] = slate
            self._slates.move_to_end((viewer.key, viewer.language))
            # The least recently used go first; so do expired ones, so memory follows the viewers
            # active lately, not the most there ever were.
            expired_before = slate.built_ms - SLATE_SECONDS * 1000
            while (
                len(self._slates) > self._capacity
                or next(iter(self._slates.values())).built_ms < expired_before
            ):
                self._slates.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._slates.clear()

    def __len__(self) -> int:
        return len(self._slates)


class ForYou:
    """The process's For You: the ranking weights from settings and the viewers' slates."""

    def __init__(self, weights: RankWeights) -> None:
        self.weights = weights
        self.slates = SlateCache()

    def page(
        self,
        session: Session,
        *,
        viewer: ViewerRef,
        cursor: str | None,
        limit: int,
        exclude: Collection[int] = (),
    ) -> Page[int]:
        return build_page(
            session,
            viewer=viewer,
            cursor=cursor,
            limit=limit,
            exclude=exclude,
            weights=self.weights,
            slates=self.slates,
        )


def build_page(
    session: Session,
    *,
    viewer: ViewerRef,
    cursor: str | None = None,
    limit: int = 10,
    now_ms: int | None = None,
    weights: RankWeights | None = None,
    exclude: Collection[int] = (),
    rng: np.random.Generator | None = None,
    slates: SlateCache | None = None,
) -> Page[int]:
    """One page of For You: the videos' ids. `next_cursor` is null once nothing is left to show
    (the player then starts again); `exclude` lets a caller hold back more ids. With `slates`, the viewer's
    candidates are reused from page to page while they last (`SlateCache`)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    weights = weights or RankWeights()
    rng = rng or np.random.default_rng()
    served, recent_creators = decode_cursor(cursor)
    profile = _profile(session, viewer.key, now_ms)
    avoid = {*served, *exclude}
    interest = _InterestDraws(profile, rng, _popular_tags(session, now_ms))
    seeds = tuple(profile.get("r", [])[-PAIR_SEEDS:])
    slate = slates.get(viewer, now_ms, seeds) if slates is not None else None
    hidden = social.hidden_author_ids(session, viewer=viewer.user)  # read once a page, never kept
    if slate is not None and cursor is None:
        # A new session: the cursor that kept the last one's videos out is gone, so what the
        # viewer played since the slate was read is looked up (one statement, not a new slate).
        slate = replace(slate, seen=_played(session, viewer, slate.ids))
    turned_away = online.turned_away(profile, now_ms)
    if slate is not None and slate.unserved(avoid, turned_away) < SLATE_REFILL * limit:
        slate = None
    for attempt in range(2):
        if slate is None:
            slate = _build_slate(session, viewer, profile, interest, avoid, hidden, seeds, now_ms, weights)
        chosen = _choose(
            slate, profile, interest, avoid, turned_away, recent_creators, limit, weights, rng, now_ms
        )
        author_of = dict(zip(slate.ids[chosen].tolist(), slate.authors[chosen].tolist(), strict=True))
        items = _still_visible(session, list(author_of), hidden, now_ms)
        if len(items) == len(chosen) or attempt:
            if slates is not None:
                slates.put(viewer, slate)
            break
        slate = None  # one was removed, made private or blocked since the slate was read: read afresh
    if len(chosen) < limit:  # everything there is has been served
        return Page(items=items, next_cursor=None)
    creators = [*recent_creators, *(author_of[video_id] for video_id in items)][-CREATOR_GAP:]
    return Page(items=items, next_cursor=encode_cursor([*served, *items], creators))


def _build_slate(
    session: Session,
    viewer: ViewerRef,
    profile: dict[str, Any],
    interest: _InterestDraws,
    avoid: Collection[int],
    hidden: set[int],
    seeds: tuple[int, ...],
    now_ms: int,
    weights: RankWeights,
) -> _Slate:
    """Read the viewer's candidates and what ranking needs of them (`_candidate_ids`, `_visible`)."""
    followed = (
        social.followee_id_list(session, viewer_id=viewer.user.id, at_most=FOLLOWED_LIMIT)
        if viewer.user is not None
        else []
    )
    pool, neighbours = _candidate_ids(session, viewer, profile, interest, avoid, followed[:FOLLOWED_AUTHORS])
    # A viewer without positives has no vector: the model is not even looked up for them.
    model = vectors.current(session) if seeds else None
    taste = model.viewer_vector(list(seeds)) if model is not None else None
    if model is not None and taste is not None:
        nearest = model.nearest(taste, 2 * vectors.NEAREST_LIMIT, leave_out=[*seeds])
        pool.update(nearest[~_played(session, viewer, nearest)][: vectors.NEAREST_LIMIT].tolist())
    candidates = _visible(session, pool - set(avoid), viewer, hidden, now_ms)
    table = np.array([candidate.counters for candidate in candidates], dtype=np.float64).reshape(
        len(candidates), len(online.RANK_INPUTS)
    )
    counts = {name: table[:, column] for column, name in enumerate(online.RANK_INPUTS)}
    impressions = counts["impressions"]
    mean_watch = counts["watch_ms"] / np.maximum(impressions, 1)
    durations = np.array([candidate.duration_ms for candidate in candidates], dtype=np.float64)
    quantile = _watch_quantiles(session, durations, mean_watch, now_ms)
    watch_quantile = (quantile * impressions + 0.5 * PRIOR_IMPRESSIONS) / (impressions + PRIOR_IMPRESSIONS)
    by_author = np.array([candidate.creator for candidate in candidates], dtype=np.float64).reshape(
        len(candidates), len(online.RANK_INPUTS) - 1
    )
    priors = creator_priors({name: by_author[:, i] for i, name in enumerate(online.RANK_INPUTS[:-1])})
    prior = priors["long"] * PRIOR_IMPRESSIONS
    # The value is linear in the long-view rate: the rest is computed once, the Thompson draw of
    # that rate is made for each page.
    without_long = unfloored_value(counts, weights=weights, watch_quantile=watch_quantile, priors=priors)
    tag_names: dict[str, int] = {}
    tag_rows = [[tag_names.setdefault(tag, len(tag_names)) for tag in c.tags] for c in candidates]
    tag_index = np.full(
        (len(candidates), max((len(tags) for tags in tag_rows), default=0)), -1, dtype=np.int32
    )
    for row, indices in enumerate(tag_rows):
        tag_index[row, : len(indices)] = indices
    language = viewer.language
    tags = np.empty(len(candidates), dtype=object)
    tags[:] = [candidate.tags for candidate in candidates]
    authors = np.array([candidate.author_id for candidate in candidates], dtype=np.int64)
    creators, creator_of_row = np.unique(authors, return_inverse=True)
    ids = np.array([candidate.id for candidate in candidates], dtype=np.int64)
    pair_boost = 1 + weights.neighbour * np.minimum(
        np.array([neighbours.get(c.id, 0.0) for c in candidates]) / PAIR_SATURATION, 1.0
    )
    if model is not None and taste is not None:
        pair_boost *= np.exp(weights.similarity * model.similarity(taste, ids))
    return _Slate(
        built_ms=now_ms,
        seeds=seeds,
        ids=ids,
        authors=authors,
        creators=creators,
        creator_of_row=creator_of_row.astype(np.int32),
        followed=np.isin(authors, followed),
        tags=tags,
        tag_names=list(tag_names),
        tag_index=tag_index,
        published_ms=np.array([candidate.published_ms for candidate in candidates], dtype=np.float64),
        seen=np.array([candidate.seen for candidate in candidates], dtype=bool),
        impressions=impressions,
        other_value=without_long,
        long_alpha=counts["long"] + prior,
        long_beta=np.maximum(impressions - counts["long"], 0) + PRIOR_IMPRESSIONS - prior,
        mismatch=np.array(
            [bool(language) and c.language is not None and c.language != language for c in candidates],
            dtype=bool,
        ),
        pair_boost=pair_boost,
    )


def _choose(
    slate: _Slate,
    profile: dict[str, Any],
    interest: _InterestDraws,
    avoid: Collection[int],
    turned_away: list[int],
    recent_creators: list[int],
    limit: int,
    weights: RankWeights,
    rng: np.random.Generator,
    now_ms: int,
) -> list[int]:
    """The rows of the slate that make this page: the best of what the viewer has not played
    lately, then (when that runs out) the best of what they have, and only when all that runs
    out the creators they turned away lately."""
    if not len(slate.ids):
        return []
    values, exploring, urgent, claims = _values(slate, profile, interest, weights, rng, now_ms)
    open_rows = slate.open_rows(avoid)
    welcome = slate.welcome(turned_away)
    chosen: list[int] = []
    none = np.zeros(len(slate.ids), dtype=bool)
    # Which rows, the creators to keep a gap from, and whether exploration takes slots.
    passes: list[tuple[np.ndarray, list[int], bool]] = [
        (~slate.seen & welcome, recent_creators, True),
        (slate.seen & welcome, [], False),
        (~welcome, [], False),
    ]
    for wanted, creators, explore in passes:
        rows = np.flatnonzero(wanted & open_rows)
        if not len(rows) or len(chosen) >= limit:
            continue
        picked = _rerank(
            slate.authors[rows].tolist(),
            slate.tags[rows].tolist(),
            values[rows],
            (exploring if explore else none)[rows],
            (urgent if explore else none)[rows],
            claims[rows],
            limit - len(chosen),
            weights,
            creators,
        )
        chosen += rows[picked].tolist()
    return chosen


def _played(session: Session, viewer: ViewerRef, ids: np.ndarray) -> np.ndarray:
    """Which of `ids` the viewer has played (view marks), in their order."""
    dialect = session.get_bind().dialect.name
    params = {"viewer": viewer.key, "ids": id_set_value(dialect, ids.tolist())}
    played = session.connection().execute(_played_statement(dialect), params).scalars().all()
    return np.isin(ids, np.array(played, dtype=np.int64))


@lru_cache(maxsize=4)
def _played_statement(dialect: str) -> Select[int]:
    return select(ViewMark.video_id).where(
        ViewMark.viewer == bindparam("viewer"), in_id_param(dialect, ViewMark.video_id, "ids")
    )


def _find(ascending: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where those of `wanted` that `ascending` holds are in it, and which of `wanted` those are."""
    if not len(ascending):
        return np.zeros(0, dtype=np.intp), np.zeros(len(wanted), dtype=bool)
    positions = np.minimum(np.searchsorted(ascending, wanted), len(ascending) - 1)
    hit = ascending[positions] == wanted
    return positions[hit], hit


def _still_visible(session: Session, wanted: list[int], hidden: set[int], now_ms: int) -> list[int]:
    """Those of the picked videos, in order, that are still visible to the viewer now: a slate
    may be a minute old, and a video removed, made private or blocked since is never shown."""
    if not wanted:
        return []
    dialect = session.get_bind().dialect.name
    params = {"wanted": id_set_value(dialect, wanted), "now": _instant(now_ms)}
    found = session.connection().execute(_still_visible_statement(dialect), params)
    visible = {video_id for video_id, author_id in found if author_id not in hidden}
    return [video_id for video_id in wanted if video_id in visible]


@lru_cache(maxsize=4)
def _still_visible_statement(dialect: str) -> Select[int, int]:
    """`_still_visible`'s statement, built once (bound parameters: `wanted`, `now`)."""
    return select(Video.id, Video.author_id).where(*_showable(dialect, "wanted"))


def encode_cursor(served: list[int], creators: list[int]) -> str:
    payload = orjson.dumps({"s": served[-SESSION_MEMORY:], "c": creators[-CREATOR_GAP:]})
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str | None) -> tuple[list[int], list[int]]:
    """This session's served ids and latest creators; 400 `invalid_cursor` for anything else."""
    if not cursor:
        return [], []
    invalid = Problem(400, "invalid_cursor", "The cursor is invalid; start again from the first page.")
    if len(cursor) > _MAX_CURSOR_LENGTH:
        raise invalid
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise invalid from None
    if not isinstance(value, dict):
        raise invalid
    served, creators = value.get("s"), value.get("c")
    if not (_id_list(served) and _id_list(creators)):
        raise invalid
    return served[-SESSION_MEMORY:], creators[-CREATOR_GAP:]


def _id_list(value: object) -> TypeGuard[list[int]]:
    return isinstance(value, list) and all(type(item) is int and 0 < item < 2**63 for item in value)


_PROFILE = select(ViewerProfile.state, ViewerProfile.updated_ms).where(
    ViewerProfile.viewer == bindparam("viewer")
)


def _profile(session: Session, key: str, now_ms: int) -> dict[str, Any]:
    row = session.connection().execute(_PROFILE, {"viewer": key}).first()
    if row is None:
        return {}
    return online.decayed(dict(row.state), since_ms=row.updated_ms, now_ms=now_ms)


def _candidate_ids(
    session: Session,
    viewer: ViewerRef,
    profile: dict[str, Any],
    interest: _InterestDraws,
    avoid: Collection[int],
    authors: list[int],
) -> tuple[set[int], dict[int, float]]:
    """Candidate ids, and the co-engagement weight of those that neighbour the viewer's
    recent positives, from one statement (`_candidate_statement`)."""
    dialect = session.get_bind().dialect.name
    # Every viewer's statement has the same few shapes (padded with values that match nothing),
    # so the database driver's and SQLAlchemy's statement caches hold a handful of them.
    tags = _padded(interest.best(TOP_TAGS), TOP_TAGS, "")
    seeds = _padded(profile.get("r", [])[-PAIR_SEEDS:], PAIR_SEEDS, 0)
    authors = _padded(authors, -(-len(authors) // AUTHOR_ARMS_STEP) * AUTHOR_ARMS_STEP, 0)
    params: dict[str, Any] = {
        "viewer": viewer.key,
        **{f"tag{n}": tag for n, tag in enumerate(tags)},
        **{f"seed{n}": seed for n, seed in enumerate(seeds)},
        **{f"author{n}": author for n, author in enumerate(authors)},
    }
    if avoid:
        params["avoid"] = id_set_value(dialect, avoid)
    statement = _candidate_statement(dialect, len(tags), len(seeds), len(authors), bool(avoid))
    pool: set[int] = set()
    neighbours: dict[int, float] = {}
    for video_id, pair_weight in session.connection().execute(statement, params):
        pool.add(video_id)
        if pair_weight:
            neighbours[video_id] = neighbours.get(video_id, 0.0) + pair_weight
    return pool, neighbours


def _padded(values: list[Any], size: int, filler: Any) -> list[Any]:
    return [*values, *([filler] * (size - len(values)))]


@lru_cache(maxsize=32)
def _candidate_statement(
    dialect: str, tags: int, seeds: int, authors: int, avoiding: bool
) -> CompoundSelect[Any]:
    """Every source's indexed read, as one UNION ALL of (video id, co-engagement weight) built
    once per shape (bound parameters: `viewer`, `tag<n>`, `seed<n>`, `author<n>`, `avoid`). The
    ranked sources skip, in SQL, what the viewer played lately and what this session already
    had: a heavy viewer would otherwise get back the same top of each list, all seen, and run
    dry."""

    def new_to_viewer(video_id: Any) -> ColumnElement[bool]:
        played = exists().where(ViewMark.viewer == bindparam("viewer"), ViewMark.video_id == video_id)
        return and_(~played, ~in_id_param(dialect, video_id, "avoid")) if avoiding else ~played

    def arm(statement: Select[Any], weight: Any = None) -> Select[Any]:
        # Each source is its own subquery: a compound SELECT allows no LIMIT on its parts.
        ranked = statement.add_columns((weight if weight is not None else literal(0.0)).label("pair"))
        return select(ranked.subquery())

    public = (Video.status == VideoStatus.READY.value, Video.visibility == Visibility.PUBLIC.value)
    arms = [arm(select(Video.id).where(*public).order_by(Video.id.desc()).limit(NEWEST_LIMIT))]
    for order, size in ((VideoStats.trend, TRENDING_LIMIT), (VideoStats.quality, STRONG_LIMIT)):
        ranked = select(VideoStats.video_id).where(new_to_viewer(VideoStats.video_id))
        arms.append(arm(ranked.order_by(order.desc()).limit(size)))
    for n in range(tags):
        of_tag = select(VideoTag.video_id).where(
            VideoTag.tag == bindparam(f"tag{n}"), new_to_viewer(VideoTag.video_id)
        )
        arms.append(arm(of_tag.order_by(VideoTag.quality.desc()).limit(TAG_LIMIT)))
        arms.append(arm(of_tag.order_by(VideoTag.video_id.desc()).limit(TAG_LIMIT // 2)))
    for n in range(seeds):
        pairs = select(CoEngagement.neighbour_id).where(CoEngagement.video_id == bindparam(f"seed{n}"))
        arms.append(arm(pairs.order_by(CoEngagement.weight.desc()).limit(PAIR_LIMIT), CoEngagement.weight))
    # The newest few of each followed creator, ordered as the (author_id, id) index is, so the
    # database walks that index, not the newest-videos one (which the public filter suggests).
    arms += [
        arm(
            select(Video.id)
            .where(Video.author_id == bindparam(f"author{n}"), *public)
            .order_by(Video.author_id.desc(), Video.id.desc())
            .limit(2)
        )
        for n in range(authors)
    ]
    return union_all(*arms)


_Figures = TypeVar("_Figures")
_popular_tags_cache: dict[str, tuple[int, dict[str, int]]] = {}


def _cached(cache: dict[str, tuple[int, _Figures]], session: Session, now_ms: int) -> _Figures | None:
    """Figures read less than `CACHE_TTL_MS` before `now_ms`, the page's own clock: the
    simulator's clock in a simulation, so its results do not depend on the machine's speed."""
    cached = cache.get(str(session.get_bind().engine.url))
    if cached is not None and 0 <= now_ms - cached[0] < CACHE_TTL_MS:
        return cached[1]
    return None


def _popular_tags(session: Session, now_ms: int) -> dict[str, int]:
    """The catalogue's most used hashtags and their numbers of videos (read at most once a
    minute per process): the topics a viewer can be offered before they have shown any taste."""
    popular = _cached(_popular_tags_cache, session, now_ms)
    if popular is None:
        count = func.count().label("uses")
        found = session.execute(
            select(VideoTag.tag, count).group_by(VideoTag.tag).order_by(count.desc()).limit(POPULAR_TAGS)
        )
        popular = {tag: int(uses) for tag, uses in found}
        _popular_tags_cache[str(session.get_bind().engine.url)] = (now_ms, popular)
    return popular


def _visible(
    session: Session, pool: set[int], viewer: ViewerRef, hidden: set[int], now_ms: int
) -> list[_Candidate]:
    """The candidates that are ready public videos of public accounts that nobody between the
    viewer and the author blocked, with what ranking needs of them (the video's and creator's
    counters, whether the viewer played it lately), in one statement. Ordered by id, so the
    ranker's random draws follow the same order for the same candidates."""
    if not pool:
        return []
    dialect = session.get_bind().dialect.name
    params = {"viewer": viewer.key, "pool": id_set_value(dialect, pool), "now": _instant(now_ms)}
    if hidden:
        params["hidden"] = id_set_value(dialect, hidden)
    split = 7 + len(online.RANK_INPUTS)
    return [
        _Candidate(
            row[0],
            row[1],
            _tags(row[2]),
            row[3],
            row[4] or 0,
            row[5].timestamp() * 1000 if row[5] is not None else -np.inf,
            bool(row[6]),
            row[7:split],
            row[split:],
        )
        for row in session.connection().execute(_visible_statement(dialect, bool(hidden)), params)
    ]


def _showable(dialect: str, ids: str) -> tuple[ColumnElement[bool], ...]:
    """What For You may show of the videos in the bound id set `ids` as of the bound `now`:
    ready, public, published, of a public account (blocks are the caller's: they are per viewer)."""
    return (
        in_id_param(dialect, Video.id, ids),
        Video.status == VideoStatus.READY.value,
        Video.visibility == Visibility.PUBLIC.value,
        or_(Video.published_at.is_(None), Video.published_at <= bindparam("now")),
        social.public_authors(Video.author_id),
    )


@lru_cache(maxsize=8)
def _visible_statement(dialect: str, hiding: bool) -> Select[Any]:
    """`_visible`'s statement, built once (bound parameters: `viewer`, `pool`, `now`, `hidden`).
    A video is visible from its publishing time on: the page is built as of `now`, which a
    replay of past traffic (the simulator) sets."""
    played = exists().where(ViewMark.viewer == bindparam("viewer"), ViewMark.video_id == Video.id)
    counters = (*online.counter_columns(VideoStats), *online.counter_columns(CreatorStats))
    statement = (
        select(
            Video.id,
            Video.author_id,
            type_coerce(Video.hashtags, String),
            Video.language,
            Video.duration_ms,
            Video.published_at,
            played,
            *(func.coalesce(column, 0) for column in counters),
        )
        .outerjoin(VideoStats, VideoStats.video_id == Video.id)
        .outerjoin(CreatorStats, CreatorStats.author_id == Video.author_id)
        .where(*_showable(dialect, "pool"))
        .order_by(Video.id)
    )
    return statement.where(~in_id_param(dialect, Video.author_id, "hidden")) if hiding else statement


def _instant(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@lru_cache(maxsize=4096)
def _decoded_tags(raw: str) -> tuple[str, ...]:
    return tuple(orjson.loads(raw) or ())


def _tags(raw: str | list[str] | None) -> tuple[str, ...]:
    """A video's hashtags from the raw JSON column: the same few combinations recur across the
    catalogue, so each is decoded once (PostgreSQL's driver hands over a list already)."""
    if raw is None:
        return ()
    return _decoded_tags(raw) if isinstance(raw, str) else tuple(raw)


def _values(
    slate: _Slate,
    profile: dict[str, Any],
    interest: _InterestDraws,
    weights: RankWeights,
    rng: np.random.Generator,
    now_ms: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Predicted value per impression of each candidate for this viewer, which are still being
    explored, which of those are in their first hour, and their claim on an exploration slot
    (value over impressions so far, ten times that in a video's first hour: the newest and least
    shown first, the better match among equals)."""
    long_rate = rng.beta(slate.long_alpha, slate.long_beta)
    value = np.maximum(slate.other_value + long_view_term(long_rate, weights), value_floor(weights))
    value **= weights.audience
    value *= interest.lifts(slate) ** weights.interest
    value *= _creator_lifts(slate, profile) ** weights.creator
    value *= slate.pair_boost
    value *= np.where(slate.mismatch, weights.language_mismatch, 1.0)
    value[slate.followed] *= weights.followed_creator
    young = slate.published_ms > now_ms - EXPLORE_HOURS * 3_600_000
    exploring = young & (slate.impressions < EXPLORE_IMPRESSIONS)
    first_hour = slate.published_ms > now_ms - 3_600_000
    claims = value / (1 + slate.impressions) * np.where(first_hour, FIRST_HOUR_CLAIM, 1.0)
    return value, exploring, exploring & first_hour, claims


class _InterestDraws:
    """One Thompson draw per hashtag per page of the viewer's positive rate on it, from their
    (exposure, positive) counts: an unknown hashtag may draw high, a known one draws near what
    the viewer did with it. The same draws pick the hashtags to fetch candidates for and lift
    each candidate, so the page explores topics as a bandit does, not at random.

    Rates are read against the viewer's own average over all hashtags (their baseline): a
    hashtag they react to as they react to anything is neutral, like one they never met, so
    an unknown topic competes with a known mediocre one instead of losing to it. A hashtag's
    prior follows its share of the catalogue: creators make more of what more viewers want,
    so a viewer nobody knows yet is first offered the big topics."""

    def __init__(self, profile: dict[str, Any], rng: np.random.Generator, popular: dict[str, int]) -> None:
        self._counts: dict[str, list[float]] = profile.get("t", {})
        self._rng = rng
        self._draws: dict[str, float] = {}
        self._popular = popular
        # "Not interested" lowers the hashtags it was said to, not the baseline.
        exposure = max(sum(counts[0] for counts in self._counts.values()) - profile.get("h", 0.0), 0.0)
        positive = sum(min(counts[1], counts[0] + 1.0) for counts in self._counts.values())
        self._baseline = (positive + BASELINE_STRENGTH * INTEREST_PRIOR) / (exposure + BASELINE_STRENGTH)
        average = sum(popular.values()) / len(popular) if popular else 1.0
        low, high = 1 / TAG_SHARE_RANGE, TAG_SHARE_RANGE
        self._shares = {tag: min(max(uses / average, low), high) for tag, uses in popular.items()}
        # A hashtag outside the popular ones is a small topic.
        self._rare_share = 1 / TAG_SHARE_RANGE if popular else 1.0

    def draws(self, tags: list[str]) -> list[float]:
        """The page's draw for each of `tags` (those not drawn yet on this page in one call)."""
        new = [tag for tag in dict.fromkeys(tags) if tag not in self._draws]
        if new:
            alphas, betas = [], []
            for tag in new:
                exposure, positive = self._counts.get(tag, (0.0, 0.0))
                positive = min(positive, exposure + 1.0)
                prior = min(self._baseline * self._shares.get(tag, self._rare_share), MAX_INTEREST_PRIOR)
                alphas.append(positive + INTEREST_STRENGTH * prior)
                betas.append(max(exposure - positive, 0.0) + INTEREST_STRENGTH * (1 - prior))
            sharp = INTEREST_SHARPNESS
            drawn = self._rng.beta(sharp * np.array(alphas), sharp * np.array(betas))
            self._draws.update(zip(new, drawn.tolist(), strict=True))
        return [self._draws[tag] for tag in tags]

    def best(self, count: int) -> list[str]:
        """The `count` hashtags among the viewer's and the popular ones that draw highest."""
        # In a fixed order (not a set's, which changes with each process's string hashing): the
        # same generator gives the same draws to the same hashtags, and a simulation repeats.
        pool = list(dict.fromkeys([*self._counts, *self._popular]))
        drawn = dict(zip(pool, self.draws(pool), strict=True))
        return sorted(pool, key=lambda tag: -drawn[tag])[:count]

    def lifts(self, slate: _Slate) -> np.ndarray:
        """Each candidate's mean draw over its hashtags, over the baseline (1 for none)."""
        if not slate.tag_names:
            return np.ones(len(slate.ids))
        draws = np.array([*self.draws(slate.tag_names), 0.0])  # index -1: no hashtag
        present = slate.tag_index >= 0
        tagged = present.sum(axis=1)
        mean = draws[slate.tag_index].sum(axis=1) / np.maximum(tagged, 1)
        return np.clip(np.where(tagged > 0, mean / self._baseline, 1.0), 0.05, 6.0)


def _creator_lifts(slate: _Slate, profile: dict[str, Any]) -> np.ndarray:
    """Each row's lift for its creator, from the viewer's (exposure, positive) counts of them."""
    known = [(int(author), counts) for author, counts in profile.get("c", {}).items() if any(counts)]
    lifts = np.ones(len(slate.creators))
    if known:
        counts = np.array([counts for _, counts in known], dtype=np.float64)
        rate = (counts[:, 1] + CREATOR_STRENGTH * INTEREST_PRIOR) / (counts[:, 0] + CREATOR_STRENGTH)
        positions, hit = _find(slate.creators, np.array([author for author, _ in known], dtype=np.int64))
        lifts[positions] = rate[hit] / INTEREST_PRIOR
    by_row: np.ndarray = np.clip(lifts, 0.05, 4.0)[slate.creator_of_row]
    return by_row


def _rerank(
    authors: list[int],
    tags: list[tuple[str, ...]],
    values: np.ndarray,
    exploring: np.ndarray,
    urgent: np.ndarray,
    claims: np.ndarray,
    limit: int,
    weights: RankWeights,
    recent_creators: list[int],
) -> list[int]:
    """Greedy: each slot takes the best remaining item, its value lowered for each recent item
    of the same hashtag, keeping the creator gap. Every `1 / explore_share`-th slot goes to the
    video still being explored with the best claim (a fair first audience for each upload) and
    no other slot may take one (the cost of exploring stays bounded). While an `urgent` one (an
    upload in its first hour) is left, that slot and every `1 / first_hour_share`-th go to the
    urgent ones, so an upload's first audience gathers within the hour. Rules relax rather than
    leave the page short: first the exploration rule, then the creator gap. Returns the indices
    of the picks, in page order."""
    order: list[int] = np.argsort(-values, kind="stable").tolist()
    claim_order: list[int] = np.argsort(-claims, kind="stable").tolist()
    # Plain lists: the loops below read single items, which numpy answers far slower.
    value_list, claim_list = values.tolist(), claims.tolist()
    exploring_list, urgent_list = exploring.tolist(), urgent.tolist()
    creators: deque[int] = deque(recent_creators[-CREATOR_GAP:], maxlen=CREATOR_GAP)
    topics: deque[tuple[str, ...]] = deque(maxlen=TOPIC_WINDOW)
    explore_every = _every(weights.explore_share)
    first_hour_every = _every(weights.first_hour_share)
    waiting = set(np.flatnonzero(urgent).tolist())
    picked: list[int] = []
    taken: set[int] = set()
    while len(picked) < limit:
        slot = len(picked)
        explore_slot, pool = bool(explore_every) and slot % explore_every == 1, exploring_list
        if (explore_slot or (first_hour_every and slot % first_hour_every == 1)) and waiting - taken:
            explore_slot, pool = True, urgent_list
        best = -1
        for keep_gap, explore_rule in ((True, True), (True, False), (False, False)):
            by_claim = explore_slot and explore_rule
            best = _best(
                claim_order if by_claim else order,
                claim_list if by_claim else value_list,
                authors,
                tags,
                taken,
                creators if keep_gap else (),
                topics,
                weights,
                wanted=(explore_slot if explore_rule else None),
                exploring=pool if by_claim else exploring_list,
            )
            if best >= 0:
                break
        if best < 0:
            break
        taken.add(best)
        picked.append(best)
        creators.append(authors[best])
        topics.append(tags[best])
    return picked


def _every(share: float) -> int:
    """Which slots a share of the page is: every n-th (0 for none)."""
    return max(2, round(1 / share)) if share > 0 else 0


def _best(
    order: list[int],
    values: list[float],
    authors: list[int],
    tags: list[tuple[str, ...]],
    taken: set[int],
    creators: Collection[int],
    topics: Collection[tuple[str, ...]],
    weights: RankWeights,
    *,
    wanted: bool | None,
    exploring: list[bool],
) -> int:
    """The index of the best eligible candidate (-1 if none); `wanted` True takes only
    exploring ones, False none of them, None either."""
    best, best_value = -1, -1.0
    for index in order:
        if values[index] <= best_value:
            break  # sorted: nothing further can beat the best penalised value
        if index in taken or authors[index] in creators:
            continue
        if wanted is not None and exploring[index] != wanted:
            continue
        mine = set(tags[index])
        repeats = sum(1 for recent in topics if not mine.isdisjoint(recent))
        value = values[index] * weights.same_topic_penalty**repeats
        if value > best_value:
            best, best_value = index, value
    return best


_quantile_cache: dict[str, tuple[int, dict[int, np.ndarray]]] = {}


def forget_catalogue_figures() -> None:
    """Drop the per-process caches of catalogue-wide figures (tests, which empty the catalogue
    between them: the next page would otherwise rank with the figures of the last one's)."""
    _popular_tags_cache.clear()
    _quantile_cache.clear()


_QUANTILE_POINTS = np.linspace(0, 1, 21)
_BUCKET_EDGES_MS = np.array(DURATION_BUCKETS_S, dtype=np.float64) * 1000  # as duration_bucket


def _watch_quantiles(
    session: Session, durations_ms: np.ndarray, mean_watch: np.ndarray, now_ms: int
) -> np.ndarray:
    """Where each candidate's mean watch time per impression falls among videos of its duration
    bucket (0..1). The buckets' distributions are read at most once a minute per process."""
    references = _cached(_quantile_cache, session, now_ms)
    if references is None:
        rows = session.execute(
            select(VideoStats.duration_ms, VideoStats.watch_ms, VideoStats.impressions)
            .where(VideoStats.impressions >= PRIOR_IMPRESSIONS)
            .order_by(VideoStats.trend.desc())
            .limit(20_000)
        ).all()
        by_bucket: dict[int, list[float]] = {}
        for duration, watch, impressions in rows:
            by_bucket.setdefault(duration_bucket(duration), []).append(watch / impressions)
        references = {
            bucket: np.quantile(np.array(means), _QUANTILE_POINTS)
            for bucket, means in by_bucket.items()
            if len(means) >= 10
        }
        _quantile_cache[str(session.get_bind().engine.url)] = (now_ms, references)
    buckets = np.searchsorted(_BUCKET_EDGES_MS, durations_ms, side="right")
    result = np.full(len(durations_ms), 0.5)
    for bucket, reference in references.items():
        members = buckets == bucket
        if members.any():
            result[members] = np.interp(mean_watch[members], reference, _QUANTILE_POINTS)
    return result
