"""Feed API: `GET /api/v1/feed/for-you` and `GET /api/v1/feed/following` (DESIGN "Core API
shape"). Both answer `{items: [VideoOut...], next_cursor}`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from molodets.accounts.auth import CurrentUser, Viewer, authenticate_safe_request
from molodets.concurrency import LoopSemaphore
from molodets.events import guests
from molodets.feed import queries
from molodets.feed.recommender import ViewerRef
from molodets.http import DbSession, RuntimeDep, get_runtime
from molodets.runtime import Runtime
from molodets.videos.queries import page_out
from molodets.videos.schemas import VideoListOut
from molodets.web.templating import request_locale

router = APIRouter(prefix="/api/v1/feed", tags=["feed"])

# Building a For You page is Python work over a few hundred rows; the process runs Python on one
# core at a time. Builds take turns on the event loop (before a thread or a connection): two at
# once spent 29 % more CPU a page than one at a time on SQLite, handing the interpreter lock back
# and forth at every row SQLite returns (docs/load.md). On PostgreSQL a build also waits for the
# network, so two overlap there. What a build may wait for otherwise (the viewer's last events)
# is waited for out of turn.
LOCAL_TURNS = LoopSemaphore(1)
NETWORK_TURNS = LoopSemaphore(2)


def ranking_turn(runtime: Runtime) -> asyncio.Semaphore:
    return (LOCAL_TURNS if runtime.db.is_sqlite else NETWORK_TURNS)()


async def _ranking_turn(request: Request) -> AsyncIterator[None]:
    async with ranking_turn(get_runtime(request)):
        yield


# For pages that rank: declared first among a handler's parameters, so it is awaited before the
# database admission.
RankingTurn = Annotated[None, Depends(_ranking_turn, scope="function")]


def viewer_ref(request: Request, response: Response, viewer: Viewer) -> ViewerRef:
    """The recommender's view of who asks: their events' key (a guest gets their cookie here)
    and their language."""
    key = guests.viewer_key(request, response, viewer.user)
    return ViewerRef(key=key, user=viewer.user, language=request_locale(request, viewer.user))


@router.get("/for-you", response_model=VideoListOut)
async def for_you(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    cursor: str | None = None,
    limit: int | None = None,
) -> Response:
    """The For You feed (default 10 a page): ranked for this viewer from what they and everyone
    else watched, never a video this session already had (the cursor remembers) or that the
    viewer played in the last 30 days while there are others. `next_cursor` is null only when
    nothing is left; the player then starts again from the top. A signed-in viewer's token or
    session cookie is read as by every endpoint (401 for an invalid token)."""

    async def in_turn(settled: bool) -> bytes | str:
        async with ranking_turn(runtime), runtime.db.request_admission():
            # One hop to a worker thread: the viewer, the page and its JSON in one read session.
            return await run_in_threadpool(_page_json, request, response, runtime, cursor, limit, settled)

    body = await in_turn(settled=False)
    if isinstance(body, str):
        # What the player just reported shapes this page: wait for it, but not in a turn.
        await runtime.events.settled(body)
        body = await in_turn(settled=True)
    assert isinstance(body, bytes)
    # Straight to JSON from the process's cards (the schema is `VideoListOut`, as documented).
    answer = Response(body, media_type="application/json")
    for cookie in response.headers.getlist("set-cookie"):  # a new guest's
        answer.headers.append("set-cookie", cookie)
    return answer


def _page_json(
    request: Request,
    response: Response,
    runtime: Runtime,
    cursor: str | None,
    limit: int | None,
    settled: bool,
) -> bytes | str:
    """The page's JSON, or (unless `settled`) the viewer's key while their last events wait to be
    written."""
    with runtime.db.statement_reads() as session:
        viewer = viewer_ref(request, response, authenticate_safe_request(session, request))
        if not settled and runtime.events.unwritten(viewer.key):
            return viewer.key
        page = queries.for_you(session, runtime.for_you, viewer=viewer, cursor=cursor, limit=limit)
        return runtime.cards.page_json(session, page, viewer=viewer.user)


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
