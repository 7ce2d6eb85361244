"""The plain one-request upload: a multipart body whose `file` field is streamed straight into a
part file, under the same size limit as tus, and recorded as a finished upload.

Starlette's form parser would spool the whole body to a temporary file with no size limit
before the handler sees it, so the multipart stream is parsed here, chunk by chunk.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from anyio import to_thread
from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from molodets.db import transaction
from molodets.errors import Problem
from molodets.ids import new_id
from molodets.runtime import Runtime
from molodets.uploads import service, tus
from molodets.uploads.models import Upload
from molodets.uploads.parts import (
    IDLE_TIMEOUT_SECONDS,
    WRITE_BATCH_BYTES,
    PartFile,
    create_part,
    no_space_problem,
    part_path,
    remove_part,
)
from molodets.uploads.writing import check_free_space

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

FILE_FIELD = "file"
# Room for the multipart framing and a few small fields besides the file.
FRAMING_ALLOWANCE = 64 * 1024
MAX_FILENAME = 255

SIMPLE_UPLOAD_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {FILE_FIELD: {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@dataclass
class _FilePart:
    """State of the multipart stream as the parser's callbacks see it."""

    part: PartFile
    limit: int
    found: bool = False
    filename: str | None = None
    content_type: str | None = None
    size: int = 0
    in_file: bool = False
    ended: bool = False
    pending: bytearray = field(default_factory=bytearray)
    _header_name: bytearray = field(default_factory=bytearray)
    _header_value: bytearray = field(default_factory=bytearray)
    _headers: dict[bytes, bytes] = field(default_factory=dict)

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._headers.clear,
            "on_header_field": lambda data, start, end: self._header_name.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._header_value.extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _header_end(self) -> None:
        self._headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition"))
        if options.get(b"name") != FILE_FIELD.encode():
            return
        if self.found:
            raise Problem(400, "invalid_multipart", f"Send exactly one '{FILE_FIELD}' field.")
        self.found = self.in_file = True
        filename = options.get(b"filename")
        self.filename = filename.decode("utf-8", "replace")[:MAX_FILENAME] if filename else None
        content_type = self._headers.get(b"content-type")
        self.content_type = content_type.decode("latin-1")[:255] if content_type else None

    def _data(self, data: bytes, start: int, end: int) -> None:
        if not self.in_file:
            return  # other fields are skipped, bounded by the body limit
        self.size += end - start
        if self.size > self.limit:
            raise _TooLargeError
        self.pending += data[start:end]

    def _part_end(self) -> None:
        self.in_file = False

    def _end(self) -> None:
        self.ended = True


class _TooLargeError(Exception):
    """Raised from inside the parser's callback to stop it at the size limit."""


def _boundary(content_type: str | None) -> bytes:
    media_type, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise Problem(415, "unsupported_media_type", f"Send multipart/form-data with a '{FILE_FIELD}' field.")
    return boundary


def _too_large(limit: int) -> Problem:
    return Problem(
        413, "upload_too_large", f"Uploads may be at most {limit} bytes.", extra={"max_bytes": limit}
    )


async def receive_simple_upload(request: Request, runtime: Runtime, *, user_id: int) -> Upload:
    """Stream the `file` field to disk, then record a finished upload. Nothing is kept from a
    refused or interrupted request: the file is removed and no row is written."""
    settings = runtime.settings
    limit = settings.upload_max_bytes
    boundary = _boundary(request.headers.get("content-type"))
    declared = tus.parse_content_length(request.headers.get("content-length"))
    if declared is not None and declared > limit + FRAMING_ALLOWANCE:
        raise _too_large(limit)
    await to_thread.run_sync(check_free_space, settings.resolved_upload_dir, declared or 0)

    upload_id = new_id()
    path = part_path(settings.resolved_upload_dir, upload_id)
    await to_thread.run_sync(create_part, path)
    part = PartFile.open_locked(path)
    try:
        state = _FilePart(part=part, limit=limit)
        await _parse(request, state, boundary, limit + FRAMING_ALLOWANCE)
        metadata = {"filename": state.filename, "filetype": state.content_type}
        clean = {key: value for key, value in metadata.items() if value is not None}

        def record() -> Upload:
            with transaction(runtime.db.sessions) as session:
                return service.do_create_upload(
                    session,
                    settings,
                    user_id=user_id,
                    length=state.size,
                    metadata=clean,
                    upload_id=upload_id,
                    completed=True,
                )

        return await run_in_threadpool(record)
    except BaseException:
        remove_part(path)
        raise
    finally:
        part.close()


async def _parse(request: Request, state: _FilePart, boundary: bytes, body_limit: int) -> None:
    parser = MultipartParser(boundary, state.callbacks())
    position = 0
    received = 0
    while True:
        with anyio.move_on_after(IDLE_TIMEOUT_SECONDS) as idle:
            message = await request.receive()
        if idle.cancelled_caught or message["type"] == "http.disconnect":
            raise Problem(400, "upload_interrupted", "The connection closed before the upload ended.")
        body = message.get("body", b"")
        received += len(body)
        if received > body_limit:
            raise _too_large(state.limit)
        try:
            parser.write(body)
        except _TooLargeError:
            raise _too_large(state.limit) from None
        except MultipartParseError:
            raise Problem(400, "invalid_multipart", "The multipart body is malformed.") from None
        if state.pending and (len(state.pending) >= WRITE_BATCH_BYTES or not message.get("more_body")):
            data = bytes(state.pending)
            state.pending.clear()
            try:
                await to_thread.run_sync(state.part.write_at, position, data)
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    raise no_space_problem() from None
                raise
            position += len(data)
        if not message.get("more_body", False):
            break
    parser.finalize()
    if not state.ended:
        raise Problem(400, "invalid_multipart", "The multipart body ends before its closing boundary.")
    if not state.found:
        raise Problem(400, "file_missing", f"Send the file in a multipart field named '{FILE_FIELD}'.")
    await to_thread.run_sync(state.part.sync)
