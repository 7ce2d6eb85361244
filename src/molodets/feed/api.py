"""Feed API: `GET /api/v1/feed/for-you` and `GET /api/v1/feed/following` (DESIGN "Core API
shape"). Both answer `{items: [VideoOut...], next_cursor}`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from molodets.accounts.auth import CurrentUser, Viewer, ViewerDep
from molodets.concurrency import LoopSemaphore
from molodets.events import guests
from molodets.feed import queries
from molodets.feed.recommender import ViewerRef
from molodets.http import DbSession, RuntimeDep
from molodets.videos.queries import page_out
from molodets.videos.schemas import VideoListOut
from molodets.web.templating import request_locale

router = APIRouter(prefix="/api/v1/feed", tags=["feed"])

# Building a For You page is Python work over a few hundred rows; the process runs Python on one
# core at a time. Eight builds at once in worker threads spent twice the CPU per page of one
# alone, handing the interpreter lock back and forth at every row SQLite returns
# (docs/load.md), so builds take turns on the event loop (before a thread or a connection),
# two at a time: a build that briefly waits (for the viewer's last events, for the disk) does
# not stall the rest.
RANKING_TURNS = LoopSemaphore(2)


async def _ranking_turn() -> AsyncIterator[None]:
    async with RANKING_TURNS():
        yield


# Declared first among a handler's parameters, so it is awaited before the database admission.
RankingTurn = Annotated[None, Depends(_ranking_turn, scope="function")]


def viewer_ref(request: Request, response: Response, viewer: Viewer) -> ViewerRef:
    """The recommender's view of who asks: their events' key (a guest gets their cookie here)
    and their language."""
    key = guests.viewer_key(request, response, viewer.user)
    return ViewerRef(key=key, user=viewer.user, language=request_locale(request, viewer.user))


@router.get("/for-you", response_model=VideoListOut)
def for_you(
    _turn: RankingTurn,
    request: Request,
    response: Response,
    viewer: ViewerDep,
    db: DbSession,
    runtime: RuntimeDep,
    cursor: str | None = None,
    limit: int | None = None,
) -> Response:
    """The For You feed (default 10 a page): ranked for this viewer from what they and everyone
    else watched, never a video this session already had (the cursor remembers) or that the
    viewer played in the last 30 days while there are others. `next_cursor` is null only when
    nothing is left; the player then starts again from the top."""
    ref = viewer_ref(request, response, viewer)
    runtime.events.settle(ref.key)  # what the player just reported shapes this page
    page = queries.for_you(db, runtime.for_you, viewer=ref, cursor=cursor, limit=limit)
    # Straight to JSON from the process's cards (the schema is `VideoListOut`, as documented).
    answer = Response(runtime.cards.page_json(db, page, viewer=viewer.user), media_type="application/json")
    for cookie in response.headers.getlist("set-cookie"):  # a new guest's
        answer.headers.append("set-cookie", cookie)
    return answer


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
