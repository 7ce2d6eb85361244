"""Serving media from the local storage folder (embedded mode; with S3 the store or a CDN serves).

HTTP Range (single and multiple ranges, `If-Range`, 416) and validators come from Starlette's
FileResponse. Every key we write is content-addressed or per processing run, so public
responses are cacheable forever. Objects of videos that are not public are served only with a
valid signature from `Storage.url(key, expires_in=...)`, and never cached by shared caches.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import FileResponse, Response

from molodets.accounts.models import User
from molodets.errors import Problem
from molodets.http import RuntimeDep
from molodets.ids import parse_id
from molodets.storage import IMMUTABLE, LocalStorage, ObjectNotFound, is_valid_key
from molodets.videos.models import Video, Visibility

router = APIRouter(include_in_schema=False)


def _video_id_of(key: str) -> int | None:
    parts = key.split("/", 2)
    return parse_id(parts[1]) if len(parts) >= 2 and parts[0] == "videos" else None


def _is_public(runtime: RuntimeDep, video_id: int) -> bool:
    """A public video of a public account: its objects are served without a signature."""
    with runtime.db.statement_reads() as session:
        row = session.execute(
            select(Video.visibility, User.is_private)
            .join(User, User.id == Video.author_id)
            .where(Video.id == video_id)
        ).first()
        return row is not None and row.visibility == Visibility.PUBLIC.value and not row.is_private


@router.api_route("/media/{key:path}", methods=["GET", "HEAD"])
def serve_media(
    key: str, request: Request, runtime: RuntimeDep, expires: str | None = None, signature: str | None = None
) -> Response:
    storage = runtime.storage
    not_found = Problem(404, "not_found", "No such file.")
    if not isinstance(storage, LocalStorage) or not is_valid_key(key):
        raise not_found
    signed = bool(expires and signature and storage.verify_url(key, expires, signature))
    if expires and signature and not signed:
        raise Problem(403, "media_link_expired", "This media link has expired; reload the page.")
    video_id = _video_id_of(key)
    if not signed and video_id is not None and not _is_public(runtime, video_id):
        raise not_found
    try:
        path, info = storage.served_file(key)
    except ObjectNotFound:
        raise not_found from None
    # A signed response is for one viewer until its link expires; shared caches must not keep it.
    cache = f"private, max-age={max(0, int(expires or 0) - int(time.time()))}" if signed else IMMUTABLE
    return FileResponse(path, media_type=info.content_type, headers={"Cache-Control": cache})
