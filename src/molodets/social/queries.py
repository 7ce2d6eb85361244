"""Read shapes of the social domain shared by the API and the pages."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.social import service
from molodets.social.schemas import FollowItemOut, UserBriefOut
from molodets.storage import Storage


def follow_items(
    db: Session, storage: Storage, viewer: User | None, user_ids: list[int]
) -> list[FollowItemOut]:
    """The people of a list page, in its order, with the viewer's relations to them: one query
    for the people and two for the relations, whatever their number."""
    if not user_ids:
        return []
    users = {user.id: user for user in db.scalars(select(User).where(User.id.in_(user_ids)))}
    followed, follows_viewer = service.relations(db, viewer=viewer, user_ids=user_ids)
    return [
        FollowItemOut(
            user=UserBriefOut.of(users[user_id], storage),
            followed_by_you=user_id in followed,
            follows_you=user_id in follows_viewer,
        )
        for user_id in user_ids
        if user_id in users
    ]
