"""Upload API: tus 1.0 (core, creation, creation-with-upload, termination, expiration,
checksum) at /api/v1/uploads, a plain multipart upload, and a JSON status for the owner.

No handler here holds a database transaction while bytes arrive: the viewer is loaded in a
short read-only session, and rows are read and written in short transactions of their own
before and after streaming (on SQLite a held write transaction would block every writer).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Header, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from molodets.accounts.auth import CSRF_HEADER, SESSION_COOKIE, get_detached_viewer
from molodets.accounts.models import User
from molodets.db import transaction
from molodets.errors import Problem
from molodets.http import RuntimeDep
from molodets.ids import new_id, parse_id
from molodets.runtime import Runtime
from molodets.uploads import service, tus
from molodets.uploads.models import Upload
from molodets.uploads.parts import LockBusy, create_part, open_locked, part_path, remove_part
from molodets.uploads.schemas import UploadOut
from molodets.uploads.simple import SIMPLE_UPLOAD_OPENAPI, receive_simple_upload
from molodets.uploads.writing import check_free_space, locked_problem, write_chunk

_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class TusRoute(APIRoute):
    """Puts `Tus-Resumable` on every answer of a tus route, errors included: refusals from
    dependencies (authentication, CSRF, the version check) happen outside the handler body."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def with_tus_headers(request: Request) -> Response:
            try:
                response = await handler(request)
            except Problem as exc:
                exc.headers.update(tus.tus_headers())
                raise
            except StarletteHTTPException as exc:
                exc.headers = {**(exc.headers or {}), **tus.tus_headers()}
                raise
            response.headers.update(tus.tus_headers())
            return response

        return with_tus_headers


async def require_uploader(request: Request) -> User:
    """The authenticated user, loaded without holding a transaction through the upload.

    A cookie request without the X-CSRF-Token header is refused here, before the shared CSRF
    check would fall back to parsing a form field: that parse would read (and spool to disk)
    a whole multipart body with no size limit. Uploads take the header only.
    """
    if (
        request.method not in {"GET", "HEAD", "OPTIONS"}
        and SESSION_COOKIE in request.cookies
        and "authorization" not in request.headers
        and CSRF_HEADER not in request.headers
        and request.headers.get("content-type", "").lower().startswith(_FORM_TYPES)
    ):
        raise Problem(403, "csrf_missing", "The CSRF token is missing; send it in X-CSRF-Token.")
    viewer = await get_detached_viewer(request)
    if viewer.user is None:
        raise Problem(401, "unauthenticated", "Log in first.", headers={"WWW-Authenticate": "Bearer"})
    return viewer.user


async def require_tus_version(tus_resumable: Annotated[str | None, Header()] = None) -> None:
    tus.check_tus_resumable(tus_resumable)


Uploader = Annotated[User, Depends(require_uploader)]
OptionalHeader = Annotated[str | None, Header()]

# Both carry the full prefix (the outer `router` has none), so each route's own path, which
# metrics label requests with, is the full path.
plain_router = APIRouter(prefix="/api/v1", tags=["uploads"])
tus_router = APIRouter(
    prefix="/api/v1", tags=["uploads"], route_class=TusRoute, dependencies=[Depends(require_tus_version)]
)
router = APIRouter()


def _parse_id(raw: str) -> int:
    number = parse_id(raw)
    if number is None:
        raise service.not_found()
    return number


def _location(request: Request, runtime: Runtime, upload_id: int) -> str:
    base = runtime.settings.public_base_url or str(request.base_url).rstrip("/")
    return f"{base}/api/v1/uploads/{upload_id}"


def _expiry_headers(upload: Upload) -> dict[str, str]:
    return {} if upload.is_complete else {"Upload-Expires": tus.http_date(upload.expires_at)}


async def _load(runtime: Runtime, upload_id: str, user: User) -> Upload:
    number = _parse_id(upload_id)

    def load() -> Upload:
        with runtime.db.statement_reads() as session:
            return service.get_owned_upload(session, upload_id=number, user_id=user.id)

    return await run_in_threadpool(load)


# --- tus ------------------------------------------------------------------------------------


@plain_router.options("/uploads", status_code=204, response_class=Response)
@plain_router.options(
    "/uploads/{upload_id}", status_code=204, response_class=Response, include_in_schema=False
)
def tus_options(runtime: RuntimeDep) -> Response:
    """What this tus server supports (no authentication: clients ask before they log in)."""
    return Response(
        status_code=204,
        headers={
            "Tus-Version": tus.TUS_VERSION,
            "Tus-Extension": tus.TUS_EXTENSIONS,
            "Tus-Max-Size": str(runtime.settings.upload_max_bytes),
            "Tus-Checksum-Algorithm": ",".join(tus.CHECKSUM_ALGORITHMS),
        },
    )


@tus_router.post("/uploads", status_code=201, response_class=Response)
async def tus_create(
    request: Request,
    runtime: RuntimeDep,
    user: Uploader,
    upload_length: OptionalHeader = None,
    upload_defer_length: OptionalHeader = None,
    upload_metadata: OptionalHeader = None,
    upload_checksum: OptionalHeader = None,
    content_type: OptionalHeader = None,
    content_length: OptionalHeader = None,
) -> Response:
    """tus creation: 201 with `Location`. With `Content-Type: application/offset+octet-stream`
    the body is the first chunk (creation-with-upload) and `Upload-Offset` says what was kept."""
    settings = runtime.settings
    length = tus.parse_upload_length(upload_length, deferred=upload_defer_length)
    service.check_upload_length(settings, length)  # 413 before a byte is stored
    metadata = tus.parse_metadata(upload_metadata)
    with_data = tus.is_offset_stream(content_type)
    checksum = tus.parse_checksum(upload_checksum) if with_data else None
    declared = tus.parse_content_length(content_length)
    if with_data and declared is not None and declared > length:
        raise Problem(413, "upload_length_exceeded", "The first chunk is longer than Upload-Length.")
    await to_thread.run_sync(check_free_space, settings.resolved_upload_dir, length)

    upload_id = new_id()
    path = part_path(settings.resolved_upload_dir, upload_id)
    await to_thread.run_sync(create_part, path)

    def create() -> Upload:
        with transaction(runtime.db.sessions) as session:
            return service.do_create_upload(
                session, settings, user_id=user.id, length=length, metadata=metadata, upload_id=upload_id
            )

    try:
        upload = await run_in_threadpool(create)
    except BaseException:
        remove_part(path)
        raise
    headers = {"Location": _location(request, runtime, upload.id)}
    if with_data and length > 0:
        # A refused first chunk (bad checksum, out of space) still leaves a valid upload: the
        # client learns its Location and the offset kept, and goes on with PATCH.
        result = await write_chunk(
            request, runtime, upload_id=upload.id, length=length, expected_offset=0, checksum=checksum
        )
        upload = result.upload
        headers["Upload-Offset"] = str(result.offset)
    elif with_data:
        headers["Upload-Offset"] = "0"
    return Response(status_code=201, headers={**headers, **_expiry_headers(upload)})


@tus_router.head("/uploads/{upload_id}", response_class=Response)
async def tus_head(upload_id: str, runtime: RuntimeDep, user: Uploader) -> Response:
    """tus core: where the upload stands. The part file is the record; a PATCH in progress
    is waited for briefly, then the last committed offset is reported."""
    upload = await _load(runtime, upload_id, user)
    service.check_not_expired(upload)
    path = service.upload_path(runtime.settings, upload)
    try:
        part = await open_locked(path, shared=True)
    except FileNotFoundError:
        raise service.not_found() from None
    except LockBusy:
        offset = upload.offset
    else:
        try:
            offset = part.size()
        finally:
            part.close()
    headers = {
        "Upload-Offset": str(offset),
        "Upload-Length": str(upload.length),
        "Cache-Control": "no-store",
        **_expiry_headers(upload),
    }
    if upload.meta:
        headers["Upload-Metadata"] = tus.encode_metadata(upload.meta)
    return Response(status_code=200, headers=headers)


@tus_router.patch("/uploads/{upload_id}", status_code=204, response_class=Response)
async def tus_patch(
    request: Request,
    upload_id: str,
    runtime: RuntimeDep,
    user: Uploader,
    upload_offset: OptionalHeader = None,
    upload_checksum: OptionalHeader = None,
    content_type: OptionalHeader = None,
) -> Response:
    """tus core: append the body at `Upload-Offset` (which must be the current offset)."""
    if not tus.is_offset_stream(content_type):
        raise Problem(415, "unsupported_media_type", f"PATCH bodies must be {tus.OFFSET_CONTENT_TYPE}.")
    offset = tus.parse_upload_offset(upload_offset)
    checksum = tus.parse_checksum(upload_checksum)
    upload = await _load(runtime, upload_id, user)
    service.check_not_expired(upload)
    result = await write_chunk(
        request, runtime, upload_id=upload.id, length=upload.length, expected_offset=offset, checksum=checksum
    )
    headers = {"Upload-Offset": str(result.offset), **_expiry_headers(result.upload)}
    if result.problem is not None:
        result.problem.headers.update(headers)
        raise result.problem
    return Response(status_code=204, headers=headers)


@tus_router.delete("/uploads/{upload_id}", status_code=204, response_class=Response)
async def tus_terminate(upload_id: str, runtime: RuntimeDep, user: Uploader) -> Response:
    """tus termination: the row and the bytes go. Refused once a video was made from it."""
    upload = await _load(runtime, upload_id, user)
    path = service.upload_path(runtime.settings, upload)
    try:
        part = await open_locked(path)
    except FileNotFoundError:
        part = None
    except LockBusy:
        raise locked_problem() from None

    def delete() -> None:
        with transaction(runtime.db.sessions) as session:
            found = service.get_owned_upload(session, upload_id=upload.id, user_id=user.id)
            service.do_delete_upload(session, upload=found)

    try:
        await run_in_threadpool(delete)
        if part is not None:
            part.unlink()
    finally:
        if part is not None:
            part.close()
    return Response(status_code=204)


# --- plain upload and status ----------------------------------------------------------------


@plain_router.post(
    "/uploads/simple", status_code=201, response_model=UploadOut, openapi_extra=SIMPLE_UPLOAD_OPENAPI
)
async def simple_upload(request: Request, runtime: RuntimeDep, user: Uploader) -> Response:
    """One request, multipart field `file`, streamed to disk under the same size limit as tus.
    For scripts and small files: an interrupted request leaves nothing to resume."""
    upload = await receive_simple_upload(request, runtime, user_id=user.id)
    body = UploadOut.of(upload).model_dump_json().encode()
    return Response(
        content=body,
        status_code=201,
        media_type="application/json",
        headers={"Location": _location(request, runtime, upload.id)},
    )


@plain_router.get("/uploads/{upload_id}", response_model=UploadOut)
async def upload_status(upload_id: str, runtime: RuntimeDep, user: Uploader) -> UploadOut:
    """The owner's view of an upload as JSON (the tus HEAD says the same in headers)."""
    return UploadOut.of(await _load(runtime, upload_id, user))


router.include_router(tus_router)
router.include_router(plain_router)
