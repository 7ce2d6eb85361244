"""Follows, blocks, likes, bookmarks and shares: idempotent toggles that keep their counters exact.

Every toggle is one statement that the database makes idempotent (insert-if-absent on the
unique pair, delete-if-present), and the counters move only when that statement changed a row,
in the same transaction. So two racing likes by one viewer count once, and 200 viewers liking
at once leave exactly 200: the counter update is an increment in SQL, never read-modify-write
in Python."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    CursorResult,
    Select,
    SQLColumnExpression,
    bindparam,
    delete,
    exists,
    false,
    literal,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.orm.util import identity_key

from molodets.accounts import service as accounts
from molodets.accounts.models import User
from molodets.db import id_set_value, in_id_param, upsert_insert
from molodets.errors import Problem
from molodets.ids import new_id
from molodets.notifications import service as notifications
from molodets.pagination import Page, paginate_newest_first
from molodets.social.models import Block, Bookmark, CommentLike, Follow, FollowRequest, VideoLike
from molodets.videos.models import Video, VideoStatus, Visibility

Relation = (
    type[Follow] | type[VideoLike] | type[Bookmark] | type[CommentLike] | type[Block] | type[FollowRequest]
)


# --- follows -------------------------------------------------------------------------------------


def do_follow(session: Session, *, follower: User, followee: User) -> bool:
    """Follow `followee` at once; True if this made a new follow, False if it already existed.
    Private accounts are asked instead: callers acting for a viewer go through
    `privacy.do_follow_or_request`."""
    if follower.id == followee.id:
        raise Problem(422, "cannot_follow_self", "You cannot follow yourself.")
    check_not_blocked(session, actor=follower, other_id=followee.id)
    created = add_follow(session, follower_id=follower.id, followee_id=followee.id)
    if created:
        notifications.notify(
            session, recipient_id=followee.id, actor=follower, kind=notifications.Kind.FOLLOW
        )
    return created


def add_follow(session: Session, *, follower_id: int, followee_id: int) -> bool:
    """The follow row and both counters, without checks or notification (also what approving a
    follow request does); True if the follow is new."""
    created = insert_once(session, Follow, follower_id=follower_id, followee_id=followee_id)
    if created:
        add_to(session, User.follower_count, followee_id, 1)
        add_to(session, User.following_count, follower_id, 1)
    return created


def do_unfollow(session: Session, *, follower: User, followee: User) -> bool:
    removed = delete_once(session, Follow, follower_id=follower.id, followee_id=followee.id)
    if removed:
        add_to(session, User.follower_count, followee.id, -1)
        add_to(session, User.following_count, follower.id, -1)
    return removed


def is_following(session: Session, *, follower_id: int, followee_id: int) -> bool:
    found = session.scalar(
        select(Follow.id).where(Follow.follower_id == follower_id, Follow.followee_id == followee_id)
    )
    return found is not None


def followee_ids(*, viewer_id: int) -> Select[Any]:
    """A subquery of the ids of the people `viewer_id` follows, for other domains' reads."""
    return select(Follow.followee_id).where(Follow.follower_id == viewer_id)


def followee_id_list(session: Session, *, viewer_id: int, at_most: int) -> list[int]:
    """Up to `at_most` ids of the people `viewer_id` follows (one index range)."""
    return list(session.scalars(followee_ids(viewer_id=viewer_id).limit(at_most)))


def list_followers(session: Session, *, user: User, cursor: str | None, limit: int | None) -> Page[Follow]:
    statement = select(Follow).where(Follow.followee_id == user.id)
    return paginate_newest_first(
        session, statement, model=Follow, keys=[Follow.id], cursor=cursor, limit=limit
    )


def list_following(session: Session, *, user: User, cursor: str | None, limit: int | None) -> Page[Follow]:
    statement = select(Follow).where(Follow.follower_id == user.id)
    return paginate_newest_first(
        session, statement, model=Follow, keys=[Follow.id], cursor=cursor, limit=limit
    )


def public_authors(author_id: SQLColumnExpression[int]) -> ColumnElement[bool]:
    """SQL: the author at `author_id` (a column of the outer query) is not a private account. A
    correlated NOT EXISTS that the partial index of private accounts answers (the bare column,
    so both databases match the index's predicate), so a feed filters in its own statement."""
    return ~exists().where(User.id == author_id, User.is_private)


def visible_authors(author_id: SQLColumnExpression[int], *, viewer: User | None) -> ColumnElement[bool]:
    """SQL: the viewer may see the videos of the author at `author_id`: a public account, or a
    private one that is the viewer or that the viewer follows (moderators see all). The same
    rule as `privacy.can_see_account`, for whole lists."""
    if viewer is None:
        return public_authors(author_id)
    if viewer.is_moderator:
        return true()
    return or_(
        public_authors(author_id), author_id == viewer.id, author_id.in_(followee_ids(viewer_id=viewer.id))
    )


def relations(session: Session, *, viewer: User | None, user_ids: list[int]) -> tuple[set[int], set[int]]:
    """Of `user_ids`: those the viewer follows, and those who follow the viewer ("follows you").
    Two queries whatever the number of users."""
    if viewer is None or not user_ids:
        return set(), set()
    following = session.scalars(
        select(Follow.followee_id).where(Follow.follower_id == viewer.id, Follow.followee_id.in_(user_ids))
    )
    followers = session.scalars(
        select(Follow.follower_id).where(Follow.followee_id == viewer.id, Follow.follower_id.in_(user_ids))
    )
    return set(following), set(followers)


# --- blocks --------------------------------------------------------------------------------------


def do_block(session: Session, *, blocker: User, blocked: User) -> bool:
    """Block `blocked`; follows and follow requests between the two end, both ways."""
    if blocker.id == blocked.id:
        raise Problem(422, "cannot_block_self", "You cannot block yourself.")
    created = insert_once(session, Block, blocker_id=blocker.id, blocked_id=blocked.id)
    do_unfollow(session, follower=blocker, followee=blocked)
    do_unfollow(session, follower=blocked, followee=blocker)
    delete_once(session, FollowRequest, requester_id=blocker.id, target_id=blocked.id)
    delete_once(session, FollowRequest, requester_id=blocked.id, target_id=blocker.id)
    return created


def do_unblock(session: Session, *, blocker: User, blocked: User) -> bool:
    return delete_once(session, Block, blocker_id=blocker.id, blocked_id=blocked.id)


def require_visible_user(session: Session, *, username: str, viewer: User | None) -> User:
    """The profile at `username`, unless it blocked the viewer: then it does not exist for them."""
    user = accounts.require_user_by_username(session, username)
    if viewer is not None and is_blocked_by(session, viewer_id=viewer.id, owner_id=user.id):
        raise Problem(404, "user_not_found", "No such user.")
    return user


def is_blocked_by(session: Session, *, viewer_id: int, owner_id: int) -> bool:
    """Whether `owner` blocked `viewer`: then the viewer sees nothing of the owner's."""
    found = session.scalar(
        select(Block.id).where(Block.blocker_id == owner_id, Block.blocked_id == viewer_id)
    )
    return found is not None


def check_not_blocked(session: Session, *, actor: User, other_id: int) -> None:
    """Refuse an action between two people when either blocked the other."""
    found = session.scalar(
        select(Block.id).where(
            ((Block.blocker_id == other_id) & (Block.blocked_id == actor.id))
            | ((Block.blocker_id == actor.id) & (Block.blocked_id == other_id))
        )
    )
    if found is not None:
        raise Problem(403, "user_blocked", "You cannot do this: one of you blocked the other.")


def hidden_author_ids(session: Session, *, viewer: User | None) -> set[int]:
    """Authors whose videos the viewer must not be shown: those who blocked the viewer, and
    those the viewer blocked. For feeds to exclude in SQL (read on the connection, skipping the
    ORM: a feed page has no pending changes to flush first)."""
    if viewer is None:
        return set()
    pairs = session.connection().execute(_BLOCKS_OF, {"viewer": viewer.id})
    return {blocked if blocker == viewer.id else blocker for blocker, blocked in pairs}


# Built once (every feed page runs it).
_BLOCKS_OF = select(Block.blocker_id, Block.blocked_id).where(
    (Block.blocked_id == bindparam("viewer")) | (Block.blocker_id == bindparam("viewer"))
)


def mentionable(session: Session, *, author: User, usernames: list[str]) -> list[str]:
    """The mentions `author` may make: people who blocked them are left out (their name stays
    plain text, with no link and no notification)."""
    if not usernames:
        return usernames
    blockers = set(
        session.scalars(
            select(User.username)
            .join(Block, Block.blocker_id == User.id)
            .where(Block.blocked_id == author.id, User.username.in_(usernames))
        )
    )
    return [name for name in usernames if name not in blockers]


def list_blocked(session: Session, *, user: User, cursor: str | None, limit: int | None) -> Page[Block]:
    statement = select(Block).where(Block.blocker_id == user.id)
    return paginate_newest_first(session, statement, model=Block, keys=[Block.id], cursor=cursor, limit=limit)


# --- likes, bookmarks, shares ------------------------------------------------------------------


def do_like(session: Session, *, user: User, video: Video) -> bool:
    created = insert_once(session, VideoLike, user_id=user.id, video_id=video.id)
    if created:
        add_to(session, Video.like_count, video.id, 1)
        add_to(session, User.like_count, video.author_id, 1)
        notifications.notify(
            session, recipient_id=video.author_id, actor=user, kind=notifications.Kind.LIKE, video_id=video.id
        )
    return created


def do_unlike(session: Session, *, user: User, video: Video) -> bool:
    removed = delete_once(session, VideoLike, user_id=user.id, video_id=video.id)
    if removed:
        add_to(session, Video.like_count, video.id, -1)
        add_to(session, User.like_count, video.author_id, -1)
    return removed


def do_bookmark(session: Session, *, user: User, video: Video) -> bool:
    created = insert_once(session, Bookmark, user_id=user.id, video_id=video.id)
    if created:
        add_to(session, Video.bookmark_count, video.id, 1)
    return created


def do_unbookmark(session: Session, *, user: User, video: Video) -> bool:
    removed = delete_once(session, Bookmark, user_id=user.id, video_id=video.id)
    if removed:
        add_to(session, Video.bookmark_count, video.id, -1)
    return removed


def do_share(session: Session, *, video: Video) -> None:
    """Count one share (a copied link or the system share sheet). Not a toggle: every share
    counts; the API rate-limits them per viewer so the counter cannot be pumped."""
    add_to(session, Video.share_count, video.id, 1)


def on_video_deleted(session: Session, *, video: Video) -> None:
    """The author's total likes lose the deleted video's likes (its like rows go with it)."""
    add_to(session, User.like_count, video.author_id, -video.like_count)


def check_likes_visible(*, owner: User, viewer: User | None) -> None:
    if not owner.likes_public and (viewer is None or (viewer.id != owner.id and not viewer.is_moderator)):
        raise Problem(403, "likes_private", "This user keeps their liked videos private.")


def list_liked(
    session: Session, *, user: User, viewer: User | None, cursor: str | None, limit: int | None
) -> Page[Video]:
    """The videos the user liked, the newest like first: those everyone may watch (a like on a
    video that has since gone private or been deleted does not show), and the viewer's own;
    videos of private accounts only when the viewer may see that account's videos."""
    return _page_of_playable(session, VideoLike, user=user, viewer=viewer, cursor=cursor, limit=limit)


def list_bookmarks(session: Session, *, user: User, cursor: str | None, limit: int | None) -> Page[Video]:
    """The user's own saved videos (private to them), the newest save first."""
    return _page_of_playable(session, Bookmark, user=user, viewer=user, cursor=cursor, limit=limit)


def page_states(
    session: Session, *, viewer: User, video_ids: list[int], author_ids: list[int]
) -> tuple[set[int], set[int], set[int]]:
    """Of a page of videos: those the viewer liked, those they saved, and of `author_ids` those
    they follow, in one statement built once."""
    dialect = session.get_bind().dialect.name
    params = {
        "viewer": viewer.id,
        "videos": id_set_value(dialect, video_ids),
        "authors": id_set_value(dialect, author_ids),
    }
    found: tuple[set[int], set[int], set[int]] = (set(), set(), set())
    for kind, item in session.execute(_page_states_statement(dialect), params):
        found[kind].add(item)
    return found


@lru_cache(maxsize=4)
def _page_states_statement(dialect: str) -> CompoundSelect[Any]:
    viewer = bindparam("viewer", type_=BigInteger)
    return union_all(
        select(literal(0), VideoLike.video_id).where(
            VideoLike.user_id == viewer, in_id_param(dialect, VideoLike.video_id, "videos")
        ),
        select(literal(1), Bookmark.video_id).where(
            Bookmark.user_id == viewer, in_id_param(dialect, Bookmark.video_id, "videos")
        ),
        select(literal(2), Follow.followee_id).where(
            Follow.follower_id == viewer, in_id_param(dialect, Follow.followee_id, "authors")
        ),
    )


# --- shared with the rest of the domain ----------------------------------------------------------


def _page_of_playable(
    session: Session,
    model: type[VideoLike] | type[Bookmark],
    *,
    user: User,
    viewer: User | None,
    cursor: str | None,
    limit: int | None,
) -> Page[Video]:
    """A keyset page of the user's likes or saves, as the videos they point at (two queries)."""
    statement: Select[Any] = (
        select(model)
        .join(Video, Video.id == model.video_id)
        .where(model.user_id == user.id, Video.status == VideoStatus.READY.value)
        .where(
            (Video.visibility == Visibility.PUBLIC.value)
            | (Video.author_id == viewer.id if viewer is not None else false())
        )
        .where(visible_authors(Video.author_id, viewer=viewer))
    )
    rows = paginate_newest_first(session, statement, model=model, keys=[model.id], cursor=cursor, limit=limit)
    ids = [row.video_id for row in rows.items]
    found = (
        {video.id: video for video in session.scalars(select(Video).where(Video.id.in_(ids)))} if ids else {}
    )
    return Page(items=[found[video_id] for video_id in ids], next_cursor=rows.next_cursor)


def insert_once(session: Session, model: Relation, **pair: int) -> bool:
    """Insert the relation unless its pair exists; True if a row was inserted. The database
    decides (ON CONFLICT DO NOTHING on the unique pair), so concurrent requests cannot both win."""
    insert = upsert_insert(session)
    statement = (
        insert(model)
        .values(id=new_id(), **pair)
        .on_conflict_do_nothing(index_elements=list(pair))
        .returning(model.id)
    )
    # RETURNING rather than the row count, which psycopg does not report for this statement.
    return session.execute(statement).first() is not None


def delete_once(session: Session, model: Relation, **pair: int) -> bool:
    conditions = [getattr(model, column) == value for column, value in pair.items()]
    result = cast(CursorResult[Any], session.execute(delete(model).where(*conditions)))
    return result.rowcount == 1


def add_to(session: Session, column: InstrumentedAttribute[int], row_id: int, delta: int) -> None:
    """`column += delta` in SQL for one row (of users or videos): exact under concurrency."""
    if delta == 0:
        return
    table = cast(type[Any], column.class_)
    session.execute(
        update(table).where(table.id == row_id).values({column: column + delta}),
        execution_options={"synchronize_session": False},
    )
    expire_row(session, table, row_id)


def expire_row(session: Session, model: type[Any], row_id: int) -> None:
    """A loaded copy of the row is stale after an UPDATE in SQL; its next read fetches it."""
    instance = session.identity_map.get(identity_key(model, row_id))
    if instance is not None:
        session.expire(instance)
