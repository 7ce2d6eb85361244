"""The data set of benchmarks/social.py: generated users, follows, videos, renditions, comments
and comment likes, bulk-inserted into a freshly migrated database (executemany in big batches
on SQLite, COPY on PostgreSQL; one transaction per table), every counter equal to the rows it
counts.

The graph, from a fixed seed:

- `big_creator` is followed by `big_creator_followers` people (everyone but the sparse viewer by
  default: a pair is unique, so a creator can have at most `users - 1` followers);
- `heavy_viewer` follows 5,000 creators (the big creator and 4,999 others, by popularity);
- `big_fan` follows the big creator and nobody else: their feed is the big creator's videos;
- `sparse_viewer` follows three creators with one video each: the read-time merge's worst case;
- everyone else follows the big creator and, with the rest of the follows, creators drawn by a
  Zipf law over popularity. A fifth of the people post, videos drawn by a Zipf law too.

Ids follow `molodets.ids` (milliseconds, node, sequence), dated in the past, so ordering by id
is ordering by time and the server's own new ids sort after them."""

from __future__ import annotations

import hashlib
import itertools
import random
import secrets
import statistics
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, Engine, Table, insert

from molodets.accounts.models import ApiToken, User
from molodets.accounts.passwords import hash_password
from molodets.accounts.rules import check_username
from molodets.accounts.service import TOKEN_PREFIX
from molodets.ids import EPOCH_MS, MAX_NODE, MAX_SEQUENCE, NODE_BITS, SEQUENCE_BITS
from molodets.social.comments import AUTHOR_REPLY_BONUS, LIKE_WEIGHT
from molodets.social.models import Comment, CommentLike, Follow
from molodets.videos.models import Rendition, Stage, Video, VideoStatus, Visibility

DAY_MS = 86_400_000
CREATOR_SHARE = 0.2  # people who post at least sometimes
VIDEO_ZIPF = 0.5  # videos per creator by popularity rank: the big creator posts most
FOLLOW_ZIPF = 0.8  # followers per creator by popularity rank
HEAVY_FOLLOWS = 5_000
SPARSE_FOLLOWS = 3
SMALL_COMMENTED_VIDEOS, SMALL_COMMENTS = 20, 100
LADDER = (("720p", 720, 1280, 1_800_000), ("480p", 480, 854, 900_000), ("360p", 360, 640, 500_000))
BATCH = 20_000
PASSWORD = "benchmark password 2026"


@dataclass(frozen=True)
class Spec:
    users: int
    follows: int
    videos: int
    big_creator_followers: int
    comments: int
    like_users: int
    seed: int = 2026

    @staticmethod
    def max_big_creator_followers(users: int) -> int:
        """Everyone but the big creator and the sparse viewer: a follow pair is unique."""
        return users - 2


@dataclass(frozen=True)
class Viewer:
    label: str
    user_id: int
    username: str
    token: str
    follows: int


@dataclass
class DataSet:
    heavy: Viewer
    average: Viewer
    big_fan: Viewer
    sparse: Viewer
    like_tokens: list[str]
    big_creator: str
    big_creator_followers: int
    big_creator_videos: int
    big_video_id: int
    big_video_comments: int
    big_video_replies: int
    video_ids: list[int]
    notes: list[str] = field(default_factory=list)
    timings: list[tuple[str, int, float]] = field(default_factory=list)


class Ids:
    """Ids in the layout of `molodets.ids` for rows dated at given times: one node per call, so
    two calls never collide, and the sequence is the row's position (4,096 rows in one
    millisecond would be needed to repeat one)."""

    def __init__(self) -> None:
        self._nodes = itertools.count(MAX_NODE, -1)

    def at(self, times_ms: Sequence[int]) -> list[int]:
        node = next(self._nodes)
        shift = NODE_BITS + SEQUENCE_BITS
        return [
            ((ms - EPOCH_MS) << shift) | (node << SEQUENCE_BITS) | (position & MAX_SEQUENCE)
            for position, ms in enumerate(times_ms)
        ]


def when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def zipf_weights(count: int, exponent: float) -> list[float]:
    return list(itertools.accumulate(1 / (rank + 1) ** exponent for rank in range(count)))


def generate(engine: Engine, spec: Spec) -> DataSet:
    """Build the graph in memory from `spec.seed`, then insert it table by table."""
    rng = random.Random(spec.seed)
    ids = Ids()
    now = int(time.time() * 1000)
    n = spec.users
    big, heavy, sparse, fan = 0, 1, 2, 3
    rare = [4, 5, 6]  # the sparse viewer's creators, one video each
    ordinary = range(7, n)
    names = {big: "big_creator", heavy: "heavy_viewer", sparse: "sparse_viewer", fan: "big_fan"}
    names.update({user: f"rare_creator{number}" for number, user in enumerate(rare, 1)})
    for name in names.values():
        if check_username(name) != name:
            raise ValueError(f"not a valid username: {name}")

    # Who posts, ranked by popularity: the big creator first.
    creators = [big, *rng.sample(ordinary, int(len(ordinary) * CREATOR_SHARE))]
    heavy_count = min(HEAVY_FOLLOWS, len(creators))
    like_users = rng.sample(ordinary, spec.like_users)

    pairs: list[tuple[int, int]] = []  # (follower, followee) as user numbers
    seen: set[int] = set()
    following, followers = [0] * n, [0] * n

    def follow(follower: int, followee: int) -> None:
        key = follower * n + followee
        if follower != followee and key not in seen:
            seen.add(key)
            pairs.append((follower, followee))
            following[follower] += 1
            followers[followee] += 1

    others = [user for user in range(n) if user not in (big, heavy, sparse, fan)]
    for follower in [heavy, fan, *rng.sample(others, spec.big_creator_followers - 2)]:
        follow(follower, big)
    by_popularity = zipf_weights(len(creators), FOLLOW_ZIPF)
    while following[heavy] < heavy_count:
        for followee in rng.choices(creators, cum_weights=by_popularity, k=heavy_count - following[heavy]):
            follow(heavy, followee)
    for creator in rare:
        follow(sparse, creator)
    if len(pairs) > spec.follows:
        raise SystemExit(f"--follows must be at least {len(pairs):,} for these hard cases")
    drawn = 0
    while len(pairs) < spec.follows:
        wanted = min(spec.follows - len(pairs), 100_000)
        for follower, followee in zip(
            rng.choices(ordinary, k=wanted),
            rng.choices(creators, cum_weights=by_popularity, k=wanted),
            strict=True,
        ):
            follow(follower, followee)
        drawn += wanted
        if drawn > 20 * spec.follows:
            raise SystemExit(f"{spec.follows:,} distinct follows do not fit {n:,} people; lower --follows")
    seen.clear()
    rng.shuffle(pairs)
    follow_times = sorted(rng.randrange(now - 180 * DAY_MS, now - 60_000) for _ in pairs)

    # Videos: dated over the last half year, authors by popularity; the rare creators one each.
    authors = rng.choices(creators, cum_weights=zipf_weights(len(creators), VIDEO_ZIPF), k=spec.videos - 3)
    authors += rare
    rng.shuffle(authors)
    video_times = sorted(rng.randrange(now - 180 * DAY_MS, now - 3_600_000) for _ in authors)
    video_ids = ids.at(video_times)
    posted = [0] * n
    for author in authors:
        posted[author] += 1

    # Comments: the big creator's newest video gets the many; a few others get some.
    user_times = sorted(rng.randrange(now - 400 * DAY_MS, now - 200 * DAY_MS) for _ in range(n))
    user_ids = ids.at(user_times)
    big_index = max(index for index, author in enumerate(authors) if author == big)
    small = rng.sample([index for index in range(len(authors)) if index != big_index], SMALL_COMMENTED_VIDEOS)
    plan = [(big_index, spec.comments, spec.comments // 10, min(2_000, n // 2))]
    plan += [(index, SMALL_COMMENTS, SMALL_COMMENTS // 10, 20) for index in small]
    comments: list[dict[str, Any]] = []
    liked: list[tuple[int, int, int]] = []  # (time, user number, comment id)
    on_video: dict[int, tuple[int, int | None]] = {}  # video index: (comments, pinned id)
    for index, top, replies, likes_head in plan:
        made, pinned = _comments(
            rng,
            ids,
            video_id=video_ids[index],
            video_author=user_ids[authors[index]],
            users=user_ids,
            since=video_times[index] + 1_000,
            until=now - 1_000,
            counts=(top, replies, likes_head),
            liked=liked,
        )
        comments += made
        on_video[index] = (len(made), pinned if index == big_index else None)
    liked.sort()
    like_ids = ids.at([at for at, _, _ in liked])

    median = int(statistics.median(following[user] for user in ordinary))
    average = next(user for user in ordinary if following[user] == median and user not in like_users)
    tokens = {
        user: TOKEN_PREFIX + secrets.token_urlsafe(32) for user in [heavy, average, fan, sparse, *like_users]
    }
    password_hash = hash_password(PASSWORD)

    def user_rows() -> Iterator[dict[str, Any]]:
        for user in range(n):
            created = when(user_times[user])
            yield {
                "id": user_ids[user],
                "username": names.get(user, f"user{user}"),
                "display_name": names.get(user, f"User {user}").replace("_", " ").title(),
                "password_hash": password_hash,
                "follower_count": followers[user],
                "following_count": following[user],
                "like_count": 0,
                "created_at": created,
                "updated_at": created,
                "password_changed_at": created,
            }

    def follow_rows() -> Iterator[dict[str, Any]]:
        for row_id, at, (follower, followee) in zip(ids.at(follow_times), follow_times, pairs, strict=True):
            yield {
                "id": row_id,
                "follower_id": user_ids[follower],
                "followee_id": user_ids[followee],
                "created_at": when(at),
            }

    def video_rows() -> Iterator[dict[str, Any]]:
        for index, (video_id, at, author) in enumerate(zip(video_ids, video_times, authors, strict=True)):
            created = when(at)
            prefix = f"videos/{video_id}/run1"
            count, pinned = on_video.get(index, (0, None))
            yield {
                "id": video_id,
                "author_id": user_ids[author],
                "caption": f"video {index}",
                "hashtags": [],
                "mentions": [],
                "visibility": Visibility.PUBLIC.value,
                "status": VideoStatus.READY.value,
                "stage": Stage.DONE.value,
                "progress": 100,
                "published_at": created,
                "duration_ms": 3_000 + index % 57_000,
                "width": 720,
                "height": 1280,
                "fps": 30.0,
                "media_prefix": prefix,
                "poster_key": f"{prefix}/poster.jpg",
                "poster_webp_key": f"{prefix}/poster.webp",
                "placeholder": "#336699",
                "comment_count": count,
                "pinned_comment_id": pinned,
                "created_at": created,
                "updated_at": created,
            }

    def rendition_rows() -> Iterator[dict[str, Any]]:
        rendition_ids = ids.at([at for at in video_times for _ in LADDER])
        for position, video_id in enumerate(video_ids):
            for rung, (name, width, height, bitrate) in enumerate(LADDER):
                yield {
                    "id": rendition_ids[position * len(LADDER) + rung],
                    "video_id": video_id,
                    "name": name,
                    "width": width,
                    "height": height,
                    "bitrate": bitrate,
                    "size_bytes": bitrate * 3 // 8,
                    "key": f"videos/{video_id}/run1/{name}.mp4",
                }

    def comment_like_rows() -> Iterator[dict[str, Any]]:
        for row_id, (at, user, comment_id) in zip(like_ids, liked, strict=True):
            yield {"id": row_id, "user_id": user_ids[user], "comment_id": comment_id, "created_at": when(at)}

    def token_rows() -> Iterator[dict[str, Any]]:
        token_ids = ids.at([now] * len(tokens))
        for row_id, (user, secret) in zip(token_ids, tokens.items(), strict=True):
            # As accounts.service.do_create_token stores it: the secret's SHA-256 and its prefix.
            yield {
                "id": row_id,
                "token_hash": hashlib.sha256(secret.encode()).hexdigest(),
                "user_id": user_ids[user],
                "name": "benchmark",
                "prefix": secret[:12],
                "created_at": when(now),
            }

    data = DataSet(
        heavy=_viewer("heavy viewer", heavy, names, tokens, following),
        average=_viewer("average viewer", average, names, tokens, following),
        big_fan=_viewer("big creator's fan", fan, names, tokens, following),
        sparse=_viewer("sparse viewer", sparse, names, tokens, following),
        like_tokens=[tokens[user] for user in like_users],
        big_creator=names[big],
        big_creator_followers=followers[big],
        big_creator_videos=posted[big],
        big_video_id=video_ids[big_index],
        big_video_comments=spec.comments,
        big_video_replies=spec.comments // 10,
        video_ids=video_ids,
    )
    tables: list[tuple[Table, Iterable[dict[str, Any]]]] = [
        (_table(User), user_rows()),
        (_table(Follow), follow_rows()),
        (_table(Video), video_rows()),
        (_table(Rendition), rendition_rows()),
        (_table(Comment), comments),
        (_table(CommentLike), comment_like_rows()),
        (_table(ApiToken), token_rows()),
    ]
    for table, rows in tables:
        started = time.perf_counter()
        count = bulk_insert(engine, table, rows)
        data.timings.append((table.name, count, time.perf_counter() - started))

    posting = sorted(posted[creator] for creator in creators)
    counts = sorted(followers[creator] for creator in creators if creator != big)
    data.notes += [
        f"{len(creators):,} creators ({CREATOR_SHARE:.0%} of people) post; videos per creator "
        f"p50 {_quantile(posting, 0.5)}, p99 {_quantile(posting, 0.99)}, max {posting[-1]:,} "
        f"(the big creator: {posted[big]:,})",
        f"followers per creator besides the big creator: p50 {_quantile(counts, 0.5)}, "
        f"p99 {_quantile(counts, 0.99)}, max {counts[-1]:,}; people follow a median of {median} "
        f"(the big creator among them)",
    ]
    return data


def _comments(
    rng: random.Random,
    ids: Ids,
    *,
    video_id: int,
    video_author: int,
    users: list[int],
    since: int,
    until: int,
    counts: tuple[int, int, int],
    liked: list[tuple[int, int, int]],
) -> tuple[list[dict[str, Any]], int]:
    """`top` comments and `replies` on one video, as the service would have left them: likes by
    a Zipf law (the most liked has `likes_head`, appended to `liked` as rows to make), replies
    mostly in the most liked threads, a twentieth of them by the video's author (which lifts
    the thread in the "top" order). Returns the rows and the most liked comment's id."""
    top, replies, likes_head = counts
    like_rank = list(range(top))
    rng.shuffle(like_rank)
    top_times = sorted(rng.randrange(since, until - 60_000) for _ in range(top))
    entries = [(at, -1, position) for position, at in enumerate(top_times)]
    by_likes = sorted(range(top), key=like_rank.__getitem__)
    for reply, thread in enumerate(rng.choices(by_likes, cum_weights=zipf_weights(top, 1.0), k=replies)):
        entries.append((rng.randrange(top_times[thread] + 1, until), thread, reply))
    entries.sort()
    entry_ids = ids.at([at for at, _, _ in entries])
    top_ids = [0] * top
    for row_id, (_, thread, position) in zip(entry_ids, entries, strict=True):
        if thread < 0:
            top_ids[position] = row_id
    reply_counts, answered = [0] * top, [False] * top
    rows: list[dict[str, Any]] = []
    for row_id, (at, thread, _) in zip(entry_ids, entries, strict=True):
        if thread < 0:
            continue
        by_author = rng.random() < 0.05
        reply_counts[thread] += 1
        answered[thread] = answered[thread] or by_author
        rows.append(
            _comment_row(
                row_id, video_id, video_author if by_author else rng.choice(users), at, top_ids[thread]
            )
        )
    for position, at in enumerate(top_times):
        likes = likes_head // (like_rank[position] + 1)
        row = _comment_row(top_ids[position], video_id, rng.choice(users), at, 0)
        row.update(
            like_count=likes,
            reply_count=reply_counts[position],
            author_replied=answered[position],
            top_score=likes * LIKE_WEIGHT + (AUTHOR_REPLY_BONUS if answered[position] else 0),
        )
        rows.append(row)
        liked += [
            (rng.randrange(at + 1, until), user, top_ids[position])
            for user in rng.sample(range(len(users)), likes)
        ]
    rows.sort(key=lambda row: int(row["id"]))
    return rows, top_ids[by_likes[0]]


def _comment_row(row_id: int, video_id: int, author_id: int, at: int, thread_id: int) -> dict[str, Any]:
    return {
        "id": row_id,
        "video_id": video_id,
        "author_id": author_id,
        "thread_id": thread_id,
        "reply_to_user_id": None,
        "text": f"comment {row_id % 100_000} on this video",
        "mentions": [],
        "hashtags": [],
        "like_count": 0,
        "reply_count": 0,
        "author_replied": False,
        "top_score": 0,
        "created_at": when(at),
    }


def _viewer(
    label: str, user: int, names: dict[int, str], tokens: dict[int, str], following: list[int]
) -> Viewer:
    username = names.get(user, f"user{user}")
    return Viewer(label=label, user_id=user, username=username, token=tokens[user], follows=following[user])


def _quantile(ordered: Sequence[int], share: float) -> int:
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


# --- bulk insert ---------------------------------------------------------------------------------


def bulk_insert(engine: Engine, table: Table, rows: Iterable[dict[str, Any]]) -> int:
    """Insert `rows` (dicts with the same keys) in one transaction: COPY on PostgreSQL,
    executemany in batches elsewhere. Columns the rows leave out take their default, computed
    once: the same value for every row, which is what these defaults are here."""
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return 0
    everything = itertools.chain([first], iterator)
    defaults = _defaults(table, first)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            return _copy(connection, table, everything, list(first), defaults)
        # The indexes of a million random pairs outgrow SQLite's 2 MB page cache at once.
        connection.exec_driver_sql("PRAGMA cache_size=-262144")
        count = 0
        statement = insert(table)
        while batch := list(itertools.islice(everything, BATCH)):
            connection.execute(statement, [{**defaults, **row} for row in batch])
            count += len(batch)
        return count


def _defaults(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if column.key in row or default is None:
            continue  # given, or NULL / the server's default
        argument = getattr(default, "arg", None)
        values[column.key] = argument(None) if callable(argument) else argument
    return values


def _copy(
    connection: Connection,
    table: Table,
    rows: Iterable[dict[str, Any]],
    keys: list[str],
    defaults: dict[str, Any],
) -> int:
    """COPY in text form: psycopg writes ints, strings, booleans and datetimes; JSON goes as text."""
    json_columns = {column.key for column in table.columns if isinstance(column.type, JSON)}
    as_json = [key in json_columns for key in keys]
    fixed = [
        orjson.dumps(value).decode() if name in json_columns else value for name, value in defaults.items()
    ]
    columns = ", ".join(f'"{name}"' for name in [*keys, *defaults])
    raw = connection.connection.driver_connection
    assert raw is not None
    count = 0
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            values = [
                orjson.dumps(row[key]).decode() if json else row[key]
                for key, json in zip(keys, as_json, strict=True)
            ]
            copy.write_row([*values, *fixed])
            count += 1
    return count
