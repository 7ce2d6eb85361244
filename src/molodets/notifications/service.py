"""Recording notifications (inside the transaction of the action that caused them) and reading
the inbox.

`notify` joins the event to the recipient's open group for that key or opens one; a new actor
bumps the group's count and moves it to the top. Pages are pushed to the recipient's open pages
only after the transaction commits (a rolled-back like notifies no one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.db import after_commit, upsert_insert, utcnow
from molodets.errors import Problem
from molodets.ids import new_id
from molodets.notifications.models import Kind, Notification, NotificationActor
from molodets.pagination import Page, paginate_newest_first
from molodets.social.models import Comment
from molodets.videos.models import Video

# Kinds whose events of one key merge into one "X and N others ..." row while it is unread.
GROUPED_KINDS = frozenset({Kind.LIKE, Kind.COMMENT_LIKE, Kind.FOLLOW, Kind.FOLLOW_REQUEST})
# The unread badge counts up to this and then shows "99+": counting stays bounded.
UNREAD_CAP = 100
NOTIFIER_KEY = "notifier"
__all__ = ["Kind", "list_inbox", "mark_read", "notify", "unread_count"]
_PENDING_KEY = "molodets.notify_pending"


class Notifier(Protocol):
    """What pushes "something new" to a recipient's open pages (see realtime.py)."""

    def publish(self, user_id: int) -> None: ...


def notify(
    session: Session,
    *,
    recipient_id: int,
    actor: User,
    kind: Kind,
    video_id: int | None = None,
    comment_id: int | None = None,
) -> None:
    """Record that `actor` did `kind` to something of `recipient_id`'s. Nothing for one's own
    actions. Callers have already refused actions between people who blocked each other."""
    if recipient_id == actor.id:
        return
    key = _group_key(kind, video_id=video_id, comment_id=comment_id)
    group_id = _open_group(
        session, recipient_id=recipient_id, kind=kind, key=key, video_id=video_id, comment_id=comment_id
    )
    if _insert_actor(session, group_id=group_id, actor_id=actor.id):
        session.execute(
            update(Notification)
            .where(Notification.id == group_id)
            .values(
                actor_count=Notification.actor_count + 1,  # a new actor of this group, exactly one
                last_actor_id=actor.id,
                sort_id=new_id(),
                updated_at=utcnow(),
            ),
            execution_options={"synchronize_session": False},
        )
        _publish_after_commit(session, recipient_id)


def retract(session: Session, *, recipient_id: int, actor_id: int, kind: Kind) -> None:
    """Take back what `actor_id` did to `recipient_id` (a withdrawn follow request) from the
    recipient's unread group of `kind`: the group loses that actor, and goes when none is left.
    What the recipient has read stays as they read it."""
    group = session.scalar(
        select(Notification).where(
            Notification.recipient_id == recipient_id,
            Notification.group_key == _group_key(kind, video_id=None, comment_id=None),
            Notification.read_at.is_(None),
        )
    )
    if group is None:
        return
    removed = session.execute(
        delete(NotificationActor)
        .where(NotificationActor.notification_id == group.id, NotificationActor.actor_id == actor_id)
        .returning(NotificationActor.id)
    ).first()
    if removed is None:
        return
    latest = session.scalar(
        select(NotificationActor.actor_id)
        .where(NotificationActor.notification_id == group.id)
        .order_by(NotificationActor.id.desc())
        .limit(1)
    )
    if latest is None:
        session.delete(group)
        session.flush()
    else:
        session.execute(
            update(Notification)
            .where(Notification.id == group.id)
            .values(actor_count=Notification.actor_count - 1, last_actor_id=latest),
            execution_options={"synchronize_session": False},
        )
        session.expire(group)
    _publish_after_commit(session, recipient_id)


def _group_key(kind: Kind, *, video_id: int | None, comment_id: int | None) -> str:
    if kind is Kind.LIKE:
        return f"like:{video_id}"
    if kind is Kind.COMMENT_LIKE:
        return f"comment_like:{comment_id}"
    if kind in GROUPED_KINDS:
        return kind.value
    return f"{kind.value}:{new_id()}"  # never grouped


def _open_group(
    session: Session,
    *,
    recipient_id: int,
    kind: Kind,
    key: str,
    video_id: int | None,
    comment_id: int | None,
) -> int:
    """The id of the recipient's unread group for `key`, made if there is none. The partial
    unique index decides between racing events, as for the social toggles."""
    values: dict[str, Any] = {
        "id": new_id(),
        "recipient_id": recipient_id,
        "kind": kind.value,
        "group_key": key,
        "actor_count": 0,
        "video_id": video_id,
        "comment_id": comment_id,
        "sort_id": new_id(),
        "created_at": utcnow(),
        "updated_at": utcnow(),
    }
    insert = upsert_insert(session)
    open_only = Notification.read_at.is_(None)
    statement = (
        insert(Notification)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["recipient_id", "group_key"], index_where=open_only)
        .returning(Notification.id)
    )
    created = session.execute(statement).scalar()
    if created is not None:
        return int(created)
    existing = session.scalar(
        select(Notification.id).where(
            Notification.recipient_id == recipient_id, Notification.group_key == key, open_only
        )
    )
    assert existing is not None  # the conflicting row, committed before our insert gave way
    return int(existing)


def _insert_actor(session: Session, *, group_id: int, actor_id: int) -> bool:
    insert = upsert_insert(session)
    statement = (
        insert(NotificationActor)
        .values(id=new_id(), notification_id=group_id, actor_id=actor_id)
        .on_conflict_do_nothing(index_elements=["notification_id", "actor_id"])
        .returning(NotificationActor.id)
    )
    return session.execute(statement).first() is not None


def _publish_after_commit(session: Session, recipient_id: int) -> None:
    notifier: Notifier | None = session.info.get(NOTIFIER_KEY)
    if notifier is None:
        return
    pending: set[int] | None = session.info.get(_PENDING_KEY)
    if pending is None:
        pending = session.info[_PENDING_KEY] = set()

        def publish() -> None:
            for user_id in session.info.pop(_PENDING_KEY, set()):
                notifier.publish(user_id)

        after_commit(session, publish)
    pending.add(recipient_id)


# --- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxPage:
    items: list[Notification]
    actors: dict[int, User]
    # Each with its author's username (for its page's URL) and whether the account is private
    # (its media links are then signed).
    videos: dict[int, tuple[Video, str, bool]]
    comment_texts: dict[int, str]
    next_cursor: str | None


def list_inbox(session: Session, *, user: User, cursor: str | None, limit: int | None) -> InboxPage:
    """A page of the user's notifications, the latest activity first, with what they point at.
    Four queries whatever the page size."""
    statement = select(Notification).where(Notification.recipient_id == user.id, Notification.actor_count > 0)
    page: Page[Notification] = paginate_newest_first(
        session, statement, model=Notification, keys=[Notification.sort_id], cursor=cursor, limit=limit
    )
    actor_ids = {item.last_actor_id for item in page.items if item.last_actor_id is not None}
    video_ids = {item.video_id for item in page.items if item.video_id is not None}
    comment_ids = {item.comment_id for item in page.items if item.comment_id is not None}
    actors: dict[int, User] = {}
    videos: dict[int, tuple[Video, str, bool]] = {}
    comment_texts: dict[int, str] = {}
    if actor_ids:
        actors = {actor.id: actor for actor in session.scalars(select(User).where(User.id.in_(actor_ids)))}
    if video_ids:
        rows = session.execute(
            select(Video, User.username, User.is_private)
            .join(User, User.id == Video.author_id)
            .where(Video.id.in_(video_ids))
        )
        videos = {video.id: (video, username, private) for video, username, private in rows}
    if comment_ids:
        texts = session.execute(select(Comment.id, Comment.text).where(Comment.id.in_(comment_ids)))
        comment_texts = {row.id: row.text for row in texts}
    return InboxPage(
        items=page.items,
        actors=actors,
        videos=videos,
        comment_texts=comment_texts,
        next_cursor=page.next_cursor,
    )


def unread_count(session: Session, *, user_id: int) -> int:
    """Unread groups, counted up to `UNREAD_CAP` (the partial unique index answers it)."""
    unread = (
        select(Notification.id)
        .where(Notification.recipient_id == user_id, Notification.read_at.is_(None))
        .where(Notification.actor_count > 0)
        .limit(UNREAD_CAP)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(unread)) or 0)


def mark_read(session: Session, *, user: User, up_to: int | None = None) -> None:
    """Mark the user's unread notifications read: all, or those up to the notification `up_to`
    (the newest a page showed), so what came in since stays unread. The next event of a read
    group starts a new group."""
    statement = update(Notification).where(
        Notification.recipient_id == user.id, Notification.read_at.is_(None)
    )
    if up_to is not None:
        position = session.scalar(
            select(Notification.sort_id).where(Notification.id == up_to, Notification.recipient_id == user.id)
        )
        if position is None:
            raise Problem(404, "notification_not_found", "No such notification.")
        statement = statement.where(Notification.sort_id <= position)
    session.execute(statement.values(read_at=utcnow()), execution_options={"synchronize_session": False})
    _publish_after_commit(session, user.id)
