"""Notifications API: the inbox, its unread count, marking read, and the live stream (SSE)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from molodets.accounts.auth import CurrentUser, DetachedViewerDep
from molodets.accounts.models import User
from molodets.errors import Problem
from molodets.http import DbSession, RuntimeDep
from molodets.notifications import service
from molodets.notifications.render import describe
from molodets.notifications.schemas import (
    MarkReadIn,
    NotificationListOut,
    NotificationOut,
    NotificationVideoOut,
    UnreadOut,
)
from molodets.runtime import Runtime
from molodets.social.schemas import UserBriefOut
from molodets.storage import Storage
from molodets.videos.schemas import media_expires_in
from molodets.web.templating import request_locale

router = APIRouter(prefix="/api/v1", tags=["notifications"])

# A comment line this often keeps proxies from closing an idle stream.
HEARTBEAT_SECONDS = 15.0
# A stream ends after this long and the browser reconnects (EventSource does by itself), so
# long-lived connections spread again over the web processes after one restarts.
STREAM_MAX_SECONDS = 600.0
# Streams one account may hold open in one web process: tabs and devices, with room to spare.
# Each holds a connection and a task, so a script opening thousands would exhaust the process.
STREAMS_PER_USER = 10


@router.get("/notifications", response_model=NotificationListOut)
def list_notifications(
    request: Request,
    user: CurrentUser,
    db: DbSession,
    runtime: RuntimeDep,
    cursor: str | None = None,
    limit: int | None = Query(default=None, ge=1, le=50),
) -> NotificationListOut:
    """The inbox, the latest activity first. Reading it does not mark it read."""
    page = service.list_inbox(db, user=user, cursor=cursor, limit=limit)
    locale = request_locale(request, user)
    return NotificationListOut(
        items=inbox_items(page, runtime.storage, locale),
        next_cursor=page.next_cursor,
        unread_count=service.unread_count(db, user_id=user.id),
    )


@router.get("/notifications/unread-count", response_model=UnreadOut)
def unread_count(user: CurrentUser, db: DbSession) -> UnreadOut:
    return UnreadOut(unread_count=service.unread_count(db, user_id=user.id))


@router.post("/notifications/read", status_code=204)
def mark_read(body: MarkReadIn, user: CurrentUser, db: DbSession) -> None:
    service.mark_read(db, user=user, up_to=int(body.up_to) if body.up_to else None)


@router.get(
    "/notifications/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def stream(request: Request, viewer: DetachedViewerDep, runtime: RuntimeDep) -> StreamingResponse:
    """Server-Sent Events: at once and after every change, a `notifications` event with
    `{"unread_count": n, "latest": notification | null}`; a comment line as a heartbeat. At most
    `STREAMS_PER_USER` open at once per account and web process (429 `too_many_streams`)."""
    user = viewer.user
    if user is None:
        raise Problem(401, "unauthenticated", "Log in first.", headers={"WWW-Authenticate": "Bearer"})
    if runtime.notifier.open_streams(user.id) >= STREAMS_PER_USER:
        # A status other than 200 makes EventSource give up instead of reconnecting.
        raise Problem(
            429,
            "too_many_streams",
            f"This account already has {STREAMS_PER_USER} live notification streams open; "
            "close a tab or another device and reload.",
        )
    locale = request_locale(request, user)
    return StreamingResponse(
        _events(runtime, user, locale),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _events(runtime: Runtime, user: User, locale: str) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STREAM_MAX_SECONDS
    async with runtime.notifier.subscribe(user.id) as pings:
        yield "retry: 3000\n\n"
        yield await run_in_threadpool(_snapshot, runtime, user, locale)
        while (left := deadline - loop.time()) > 0:
            try:
                ping = await asyncio.wait_for(pings.get(), timeout=min(HEARTBEAT_SECONDS, left))
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            while ping is not None and not pings.empty():  # a burst of pings: one snapshot
                ping = pings.get_nowait()
            if ping is None:  # the server is shutting down
                return
            yield await run_in_threadpool(_snapshot, runtime, user, locale)


def _snapshot(runtime: Runtime, user: User, locale: str) -> str:
    with runtime.db.statement_reads() as session:
        page = service.list_inbox(session, user=user, cursor=None, limit=1)
        unread = service.unread_count(session, user_id=user.id)
    items = inbox_items(page, runtime.storage, locale)
    latest = items[0].model_dump(mode="json") if items else None
    data = json.dumps({"unread_count": unread, "latest": latest}, ensure_ascii=False)
    return f"event: notifications\ndata: {data}\n\n"


def inbox_items(page: service.InboxPage, storage: Storage, locale: str) -> list[NotificationOut]:
    items = []
    for item in page.items:
        actor = page.actors.get(item.last_actor_id) if item.last_actor_id is not None else None
        comment_text = page.comment_texts.get(item.comment_id) if item.comment_id is not None else None
        video_out = None
        if item.video_id is not None and item.video_id in page.videos:
            video, author_username, author_private = page.videos[item.video_id]
            expires = media_expires_in(video, author_private=author_private)
            video_out = NotificationVideoOut(
                id=str(video.id),
                poster_url=storage.url(video.poster_key, expires_in=expires) if video.poster_key else None,
                page_url=f"/@{author_username}/video/{video.id}",
            )
        items.append(
            NotificationOut(
                id=str(item.id),
                kind=item.kind,
                text=describe(
                    kind=item.kind,
                    actor_name=actor.display_name if actor is not None else None,
                    actor_count=item.actor_count,
                    comment_text=comment_text,
                    locale=locale,
                ),
                actor=UserBriefOut.of(actor, storage) if actor is not None else None,
                actor_count=item.actor_count,
                video=video_out,
                comment_id=str(item.comment_id) if item.comment_id is not None else None,
                read=item.read_at is not None,
                updated_at=item.updated_at,
            )
        )
    return items
