"""Feed API: `GET /api/v1/feed/for-you` and `GET /api/v1/feed/following` (DESIGN "Core API
shape"). Both answer `{items: [VideoOut...], next_cursor}`."""

from __future__ import annotations

from fastapi import APIRouter

from molodets.accounts.auth import CurrentUser, ViewerDep
from molodets.feed import queries
from molodets.http import DbSession, RuntimeDep
from molodets.videos.queries import page_out
from molodets.videos.schemas import VideoListOut

router = APIRouter(prefix="/api/v1/feed", tags=["feed"])


@router.get("/for-you", response_model=VideoListOut)
def for_you(
    viewer: ViewerDep, db: DbSession, runtime: RuntimeDep, cursor: str | None = None, limit: int | None = None
) -> VideoListOut:
    """The For You feed. Until the recommender lands: the newest public ready videos (none of
    people blocked either way). When `next_cursor` is null the feed has run out; the player
    then starts again from the top."""
    page = queries.for_you(db, viewer=viewer.user, cursor=cursor, limit=limit)
    return page_out(db, runtime.storage, page, viewer=viewer.user)


@router.get("/following", response_model=VideoListOut)
def following(
    user: CurrentUser,
    db: DbSession,
    runtime: RuntimeDep,
    cursor: str | None = None,
    limit: int | None = None,
) -> VideoListOut:
    """The Following feed: the newest videos of the creators the viewer follows; needs a
    logged-in viewer (401 `unauthenticated` otherwise)."""
    page = queries.following(db, viewer=user, cursor=cursor, limit=limit)
    return page_out(db, runtime.storage, page, viewer=user)
