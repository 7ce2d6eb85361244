"""One tus chunk from request body to disk to the row: lock the part file, check the offset,
stream, verify, make it durable, then publish the new offset in a short transaction.

The part file's size is the offset of record. A client that disconnects keeps every byte that
reached us (flushed and fsynced before the offset is published): that is what resume resumes
from. A chunk that fails its checksum, or runs past Upload-Length, is cut off again so the
file never holds unverified bytes or bytes beyond the declared length.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from anyio import to_thread
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from molodets.db import transaction
from molodets.errors import Problem
from molodets.runtime import Runtime
from molodets.uploads import service, tus
from molodets.uploads.models import Upload
from molodets.uploads.parts import LockBusy, PartFile, no_space_problem, open_locked, part_path, receive_into


@dataclass
class ChunkResult:
    """The offset after the chunk, the updated row, and the refusal to send if the chunk (or
    part of it) was not kept."""

    offset: int
    upload: Upload
    problem: Problem | None = None


def locked_problem() -> Problem:
    return Problem(
        409,
        "upload_locked",
        "Another request is writing to this upload; wait for it to finish, then ask for the offset.",
    )


def check_free_space(directory: Path, length: int) -> None:
    """Refuse an upload the disk cannot hold now. Not a reservation (parallel uploads share the
    space); it only turns a certain failure hours later into an immediate one."""
    directory.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(directory).free < length:
        raise no_space_problem()


async def write_chunk(
    request: Request,
    runtime: Runtime,
    *,
    upload_id: int,
    length: int,
    expected_offset: int,
    checksum: tus.Checksum | None,
) -> ChunkResult:
    """Stream the request body into the upload at `expected_offset`; raise 404, 409 (locked
    or offset mismatch) or 413 (declared too long) before reading any of it."""
    settings = runtime.settings
    try:
        part = await open_locked(part_path(settings.resolved_upload_dir, upload_id))
    except FileNotFoundError:
        raise service.not_found() from None
    except LockBusy:
        raise locked_problem() from None
    try:
        return await _write_locked(request, runtime, part, upload_id, length, expected_offset, checksum)
    finally:
        part.close()


async def _write_locked(
    request: Request,
    runtime: Runtime,
    part: PartFile,
    upload_id: int,
    length: int,
    expected_offset: int,
    checksum: tus.Checksum | None,
) -> ChunkResult:
    current = part.size()
    if current != expected_offset:
        raise Problem(
            409,
            "upload_offset_mismatch",
            f"Upload-Offset is {expected_offset} but the upload is at {current}; HEAD it and resume there.",
            headers={"Upload-Offset": str(current)},
            extra={"offset": current},
        )
    room = length - current
    declared = tus.parse_content_length(request.headers.get("content-length"))
    if declared is not None and declared > room:
        raise Problem(
            413,
            "upload_length_exceeded",
            f"The chunk would go past Upload-Length ({length} bytes).",
            headers={"Upload-Offset": str(current)},
        )

    digest = checksum.new_hash() if checksum is not None else None
    received = await receive_into(request.receive, part, start=current, limit=room, digest=digest)
    problem: Problem | None = None
    if received.overflow:
        problem = Problem(
            413, "upload_length_exceeded", f"The chunk went past Upload-Length ({length} bytes)."
        )
    elif checksum is not None and digest is not None and not received.disconnected:
        if not checksum.matches(digest):
            problem = Problem(
                tus.CHECKSUM_MISMATCH_STATUS,
                "checksum_mismatch",
                f"The chunk does not match its {checksum.algorithm} checksum; it was discarded.",
            )
    elif received.no_space:
        problem = no_space_problem()
    # A checksummed chunk cut short cannot be verified, so it is dropped like a bad one.
    unverified = checksum is not None and received.disconnected
    if received.overflow or unverified or (problem is not None and problem.code == "checksum_mismatch"):
        await to_thread.run_sync(part.truncate, current)

    offset = part.size()

    def publish() -> Upload | None:
        with transaction(runtime.db.sessions) as session:
            return service.do_record_offset(session, runtime.settings, upload_id=upload_id, offset=offset)

    upload = await run_in_threadpool(publish)
    if upload is None:
        # Terminated while we streamed (DELETE waits for our lock, so only by the cleanup job).
        part.unlink()
        raise service.not_found()
    return ChunkResult(offset=offset, upload=upload, problem=problem)
