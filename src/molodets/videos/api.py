"""Videos API: create from an upload, read (with processing progress), list a profile, delete."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from molodets.accounts.auth import CurrentUser, DetachedViewerDep, ViewerDep
from molodets.errors import Problem
from molodets.http import DbSession, RuntimeDep
from molodets.social import service as social
from molodets.videos import queries, service
from molodets.videos.schemas import VideoCreateIn, VideoListOut, VideoOut

router = APIRouter(prefix="/api/v1", tags=["videos"])

# Progress is read from the database, so any web process can stream any worker's progress.
PROGRESS_POLL_SECONDS = 0.5
PROGRESS_STREAM_SECONDS = 30 * 60


@router.post("/videos", status_code=201, response_model=VideoOut)
def create_video(body: VideoCreateIn, user: CurrentUser, db: DbSession, runtime: RuntimeDep) -> VideoOut:
    video = service.do_create_video(
        db,
        author=user,
        upload_id=int(body.upload_id),
        caption=body.caption,
        visibility=body.visibility,
        comments_enabled=body.comments_enabled,
        comment_audience=body.comment_audience,
        cover_time_ms=body.cover_time_ms,
        language=body.language,
    )
    return queries.video_outs(db, runtime.storage, [video], {user.id: user}, viewer=user)[0]


@router.get("/videos/{video_id}", response_model=VideoOut)
def get_video(video_id: str, viewer: ViewerDep, db: DbSession, runtime: RuntimeDep) -> VideoOut:
    video = service.get_visible_video(db, video_id=service.parse_video_id(video_id), viewer=viewer.user)
    return queries.video_outs(db, runtime.storage, [video], viewer=viewer.user)[0]


@router.get("/videos/{video_id}/progress", response_class=StreamingResponse)
async def follow_progress(video_id: str, viewer: DetachedViewerDep, runtime: RuntimeDep) -> StreamingResponse:
    """Server-sent events with the video's status, stage and progress as they change, until it is
    done or failed: how the creator's page shows processing without polling the API."""
    wanted = service.parse_video_id(video_id)
    user = viewer.user

    def current() -> dict[str, object]:
        with runtime.db.statement_reads() as session:
            video = service.get_visible_video(session, video_id=wanted, viewer=user)
            if user is None or user.id != video.author_id:
                raise Problem(404, "video_not_found", "No such video.")
            return {
                "status": video.status,
                "stage": video.stage,
                "progress": video.progress,
                "error_code": video.error_code,
            }

    first = await run_in_threadpool(current)  # a 404 before the stream starts

    async def events() -> AsyncIterator[bytes]:
        state, last, deadline = first, None, time.monotonic() + PROGRESS_STREAM_SECONDS
        while True:
            if state != last:
                yield b"data: " + orjson.dumps(state) + b"\n\n"
                last = state
            if state["stage"] == "done" or state["status"] == "failed" or time.monotonic() > deadline:
                return
            await asyncio.sleep(PROGRESS_POLL_SECONDS)
            state = await run_in_threadpool(current)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@router.delete("/videos/{video_id}", status_code=204)
def delete_video(video_id: str, user: CurrentUser, db: DbSession, runtime: RuntimeDep) -> None:
    video = service.get_visible_video(db, video_id=service.parse_video_id(video_id), viewer=user)
    service.do_delete_video(db, runtime.storage, video=video, actor=user)


@router.get("/users/{username}/videos", response_model=VideoListOut)
def list_user_videos(
    username: str,
    viewer: ViewerDep,
    db: DbSession,
    runtime: RuntimeDep,
    cursor: str | None = None,
    limit: int | None = None,
) -> VideoListOut:
    author = social.require_visible_user(db, username=username, viewer=viewer.user)
    page = service.list_user_videos(db, author=author, viewer=viewer.user, cursor=cursor, limit=limit)
    items = queries.video_outs(db, runtime.storage, page.items, {author.id: author}, viewer=viewer.user)
    return VideoListOut(items=items, next_cursor=page.next_cursor)
