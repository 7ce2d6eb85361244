"""Part files: where an upload's bytes land, how writers are serialised, and how a request body
is streamed into one without holding it in memory or a database transaction open.

Locking is `fcntl.flock` on the part file itself, so it holds between processes on one machine
and, on NFSv4 (where Linux maps flock to byte-range locks), between machines sharing the
folder. Each request opens its own descriptor, so two requests in one process exclude each
other too. The lock dies with the descriptor, so a crashed process never leaves one behind.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
from anyio import to_thread
from starlette.types import Message

from molodets.errors import Problem

if TYPE_CHECKING:
    from hashlib import _Hash

PART_SUFFIX = ".part"
# A second PATCH (often the same client retrying before the server noticed its first
# connection drop) waits this long for the first to finish before getting 409 upload_locked.
LOCK_WAIT_SECONDS = 2.0
_LOCK_POLL_SECONDS = 0.05
# A client that sends nothing for this long is treated as gone; what it sent is kept.
IDLE_TIMEOUT_SECONDS = 60.0
# Bytes gathered before one write: fewer thread hops than one write per ASGI message.
WRITE_BATCH_BYTES = 1024 * 1024

Receive = Callable[[], Awaitable[Message]]


class LockBusy(Exception):  # noqa: N818 - a state, like the 409 it becomes
    """Another request holds the part file's lock."""


def part_path(upload_dir: Path, upload_id: int) -> Path:
    return upload_dir / f"{upload_id}{PART_SUFFIX}"


def create_part(path: Path) -> None:
    """Create an empty part file; O_EXCL because ids are unique and a clash is a bug."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def remove_part(path: Path) -> None:
    path.unlink(missing_ok=True)


class PartFile:
    """An open part file holding a lock. Methods block: call them through a thread."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    @classmethod
    def open_locked(cls, path: Path, *, shared: bool = False, wait: float = 0.0) -> PartFile:
        """Open and lock `path`, polling up to `wait` seconds. Raises FileNotFoundError, or
        LockBusy when the lock stays taken. Blocking: run it in a thread."""
        fd = os.open(path, os.O_RDWR)
        deadline = time.monotonic() + wait
        mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        while True:
            try:
                fcntl.flock(fd, mode)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockBusy(str(path)) from None
                time.sleep(_LOCK_POLL_SECONDS)
        part = cls(path, fd)
        if part.is_deleted():
            # Terminated or cleaned up while we waited: the name no longer leads here.
            part.close()
            raise FileNotFoundError(errno.ENOENT, "part file was removed", str(path))
        return part

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def is_deleted(self) -> bool:
        return os.fstat(self.fd).st_nlink == 0

    def write_at(self, offset: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.pwrite(self.fd, view, offset)
            view, offset = view[written:], offset + written

    def sync(self) -> None:
        os.fsync(self.fd)

    def truncate(self, size: int) -> None:
        os.ftruncate(self.fd, size)
        os.fsync(self.fd)

    def unlink(self) -> None:
        """Remove the file while holding its lock, so waiting writers see it gone."""
        remove_part(self.path)

    def close(self) -> None:
        os.close(self.fd)  # releases the lock


async def open_locked(path: Path, *, shared: bool = False, wait: float = LOCK_WAIT_SECONDS) -> PartFile:
    return await to_thread.run_sync(lambda: PartFile.open_locked(path, shared=shared, wait=wait))


@dataclass
class Received:
    """What became of a streamed body. `written` bytes are on disk (fsynced) from the start
    offset; `overflow` means the body ran past `limit` and the caller must discard it."""

    written: int = 0
    disconnected: bool = False
    overflow: bool = False
    no_space: bool = False


async def receive_into(
    receive: Receive,
    part: PartFile,
    *,
    start: int,
    limit: int,
    digest: _Hash | None = None,
    idle_timeout: float = IDLE_TIMEOUT_SECONDS,
) -> Received:
    """Append the request body to `part` at `start`, at most `limit` bytes.

    A client that disconnects or goes idle keeps what it sent: the batch in hand is written
    and everything is fsynced before returning, so the caller can publish the new offset.
    """
    outcome = Received()
    pending = bytearray()

    async def flush() -> None:
        if not pending:
            return
        data = bytes(pending)
        pending.clear()
        try:
            await to_thread.run_sync(part.write_at, start + outcome.written, data)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            outcome.no_space = True
            return
        outcome.written += len(data)

    while not outcome.no_space:
        with anyio.move_on_after(idle_timeout) as idle:
            message = await receive()
        if idle.cancelled_caught or message["type"] == "http.disconnect":
            outcome.disconnected = True
            break
        body = message.get("body", b"")
        if outcome.written + len(pending) + len(body) > limit:
            outcome.overflow = True
            break
        if digest is not None:
            digest.update(body)
        pending += body
        if len(pending) >= WRITE_BATCH_BYTES:
            await flush()
        if not message.get("more_body", False):
            break
    if not outcome.overflow:
        await flush()
    # Shielded: a cancelled request must still make durable what it is about to report.
    with anyio.CancelScope(shield=True):
        await to_thread.run_sync(part.sync)
    return outcome


def no_space_problem() -> Problem:
    return Problem(507, "insufficient_storage", "The server is out of space for uploads; try again later.")
