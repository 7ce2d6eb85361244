"""Private accounts and follow requests.

A private account approves each follower: following it makes a `FollowRequest` (one row per
pair, so asking twice is one request) that its owner approves or declines. Only approved
followers, the owner and moderators see a private account's videos (whatever their own
visibility) and its lists of followers and following; everyone still sees its header.

Approving is gated by deleting the request row: of two racing approvals (or an approval racing
a withdrawal) only the one whose DELETE removed the row goes on to make the follow, so approving
twice is one follow and the counters stay exact. Switching the account to public approves every
pending request in the same transaction, as Instagram does."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.db import upsert_insert, utcnow
from molodets.errors import Problem
from molodets.ids import new_id
from molodets.notifications import service as notifications
from molodets.pagination import Page, paginate_newest_first
from molodets.social import service
from molodets.social.models import Follow, FollowRequest

# Follows are inserted this many at a time when an account goes public (bound parameters per
# statement stay far below SQLite's limit).
APPROVE_BATCH = 500
# The owner's profile shows "99+" past this: counting stays bounded.
REQUESTS_COUNT_CAP = 100


@dataclass(frozen=True)
class FollowState:
    """The viewer's relation to an account, as the follow button shows it."""

    following: bool
    requested: bool


# --- who sees what -------------------------------------------------------------------------------


def can_see_account(
    session: Session, *, owner: User, viewer: User | None, following: bool | None = None
) -> bool:
    """Whether `viewer` may see the videos and lists of `owner`: anyone for a public account;
    for a private one its owner, moderators and approved followers. `following` saves the
    query when the caller already knows."""
    if not owner.is_private:
        return True
    if viewer is None:
        return False
    if viewer.id == owner.id or viewer.is_moderator:
        return True
    if following is None:
        following = service.is_following(session, follower_id=viewer.id, followee_id=owner.id)
    return following


def check_account_visible(
    session: Session, *, owner: User, viewer: User | None, following: bool | None = None
) -> None:
    if not can_see_account(session, owner=owner, viewer=viewer, following=following):
        raise Problem(
            403, "account_private", "This account is private: only the followers it approved see this."
        )


def follow_state(session: Session, *, viewer: User, user: User) -> FollowState:
    """Whether `viewer` follows `user`, or has asked to (two small queries)."""
    following = service.is_following(session, follower_id=viewer.id, followee_id=user.id)
    requested = not following and has_requested(session, requester_id=viewer.id, target_id=user.id)
    return FollowState(following=following, requested=requested)


def has_requested(session: Session, *, requester_id: int, target_id: int) -> bool:
    found = session.scalar(
        select(FollowRequest.id).where(
            FollowRequest.requester_id == requester_id, FollowRequest.target_id == target_id
        )
    )
    return found is not None


# --- following, asking, withdrawing ---------------------------------------------------------------


def do_follow_or_request(session: Session, *, follower: User, followee: User) -> FollowState:
    """Follow a public account; ask to follow a private one the follower does not follow yet
    (idempotent: asking again leaves one request and notifies once)."""
    if follower.id == followee.id:
        raise Problem(422, "cannot_follow_self", "You cannot follow yourself.")
    service.check_not_blocked(session, actor=follower, other_id=followee.id)
    if followee.is_private and not service.is_following(
        session, follower_id=follower.id, followee_id=followee.id
    ):
        if service.insert_once(session, FollowRequest, requester_id=follower.id, target_id=followee.id):
            notifications.notify(
                session, recipient_id=followee.id, actor=follower, kind=notifications.Kind.FOLLOW_REQUEST
            )
        return FollowState(following=False, requested=True)
    service.do_follow(session, follower=follower, followee=followee)
    # A request left from when the account was private (it went public meanwhile) is moot now.
    service.delete_once(session, FollowRequest, requester_id=follower.id, target_id=followee.id)
    return FollowState(following=True, requested=False)


def do_unfollow_or_withdraw(session: Session, *, follower: User, followee: User) -> FollowState:
    """Unfollow, and withdraw a pending request (and the unread notice of it); idempotent."""
    if service.delete_once(session, FollowRequest, requester_id=follower.id, target_id=followee.id):
        notifications.retract(
            session, recipient_id=followee.id, actor_id=follower.id, kind=notifications.Kind.FOLLOW_REQUEST
        )
    service.do_unfollow(session, follower=follower, followee=followee)
    return FollowState(following=False, requested=False)


# --- the owner's side ------------------------------------------------------------------------------


def list_requests(
    session: Session, *, user: User, cursor: str | None, limit: int | None
) -> Page[FollowRequest]:
    """Pending requests to follow `user`, newest first (a keyset page over their index)."""
    statement = select(FollowRequest).where(FollowRequest.target_id == user.id)
    return paginate_newest_first(
        session, statement, model=FollowRequest, keys=[FollowRequest.id], cursor=cursor, limit=limit
    )


def count_requests(session: Session, *, user: User) -> int:
    """Pending requests to `user`, counted up to `REQUESTS_COUNT_CAP`."""
    pending = (
        select(FollowRequest.id)
        .where(FollowRequest.target_id == user.id)
        .limit(REQUESTS_COUNT_CAP)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(pending)) or 0)


def do_approve(session: Session, *, owner: User, requester: User) -> bool:
    """Approve `requester`'s request: they follow `owner` from now on and are told so. Approving
    an already approved request changes nothing; True if this made the follow."""
    if not service.delete_once(session, FollowRequest, requester_id=requester.id, target_id=owner.id):
        if service.is_following(session, follower_id=requester.id, followee_id=owner.id):
            return False
        raise Problem(404, "follow_request_not_found", "This person has not asked to follow you.")
    created = service.add_follow(session, follower_id=requester.id, followee_id=owner.id)
    if created:
        notifications.notify(
            session, recipient_id=requester.id, actor=owner, kind=notifications.Kind.FOLLOW_ACCEPTED
        )
    return created


def do_decline(session: Session, *, owner: User, requester: User) -> bool:
    """Decline a request (the requester is not told); idempotent."""
    return service.delete_once(session, FollowRequest, requester_id=requester.id, target_id=owner.id)


def do_remove_follower(session: Session, *, owner: User, follower: User) -> bool:
    """The owner removes a follower (and any request of theirs); idempotent."""
    service.delete_once(session, FollowRequest, requester_id=follower.id, target_id=owner.id)
    return service.do_unfollow(session, follower=follower, followee=owner)


def do_set_private(session: Session, *, user: User, private: bool) -> int:
    """Make the account private or public. Going public approves every pending request (each
    requester follows and is told); returns how many follows that made."""
    user.is_private = private
    session.flush()
    if private:
        return 0
    return _approve_all(session, owner=user)


def _approve_all(session: Session, *, owner: User) -> int:
    # DELETE ... RETURNING claims the requests: one racing approval or withdrawal loses its row
    # to exactly one of the two statements.
    claimed = list(
        session.scalars(
            sql_delete(FollowRequest)
            .where(FollowRequest.target_id == owner.id)
            .returning(FollowRequest.requester_id),
            execution_options={"synchronize_session": False},
        )
    )
    insert = upsert_insert(session)
    created: list[int] = []
    for start in range(0, len(claimed), APPROVE_BATCH):
        chunk = claimed[start : start + APPROVE_BATCH]
        rows = [
            {"id": new_id(), "follower_id": requester_id, "followee_id": owner.id, "created_at": utcnow()}
            for requester_id in chunk
        ]
        statement = (
            insert(Follow)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["follower_id", "followee_id"])
            .returning(Follow.follower_id)
        )
        followers = list(session.scalars(statement))
        created.extend(followers)
        if followers:
            session.execute(
                update(User)
                .where(User.id.in_(followers))
                .values({User.following_count: User.following_count + 1}),
                execution_options={"synchronize_session": False},
            )
    service.add_to(session, User.follower_count, owner.id, len(created))
    for requester_id in created:
        service.expire_row(session, User, requester_id)
        notifications.notify(
            session, recipient_id=requester_id, actor=owner, kind=notifications.Kind.FOLLOW_ACCEPTED
        )
    return len(created)
