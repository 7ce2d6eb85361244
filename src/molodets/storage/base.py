"""The object storage seam: one Protocol, its errors, and the rules every key follows.

Media (uploads, renditions, posters, previews) lives behind this interface so that the embedded mode
keeps it in a local folder and the scale-out mode in an S3-compatible store, with the same calling code.
Keys are checked here, once, so that both backends accept exactly the same set and a key can never
name a place outside the store.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

MAX_KEY_LENGTH = 512
# File systems cap a name at 255 bytes; the local backend's sidecar adds 6 more. Both backends apply it.
MAX_SEGMENT_LENGTH = 240
# Big enough to keep syscalls and HTTP reads few, small enough to start sending a Range reply at once.
DEFAULT_CHUNK_SIZE = 256 * 1024
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# For keys that are never reused (content-addressed, or one folder per processing run).
IMMUTABLE = "public, max-age=31536000, immutable"

_KEY_CHARS = re.compile(r"[A-Za-z0-9._/-]+")


class StorageError(Exception):
    """Something went wrong in the object store; the message names the key when there is one."""


class ObjectNotFound(StorageError):  # noqa: N818 -- names fixed by the storage API
    """The key names no object (get, open, stat and range reads raise it; exists() returns False)."""


class InvalidKey(StorageError):  # noqa: N818 -- names fixed by the storage API
    """The key (or prefix) breaks the key rules; a programming or input error, never retried."""


class InvalidRange(StorageError):  # noqa: N818 -- names fixed by the storage API
    """The byte range starts past the end of the object or is malformed (HTTP 416 territory)."""


class StorageUnavailable(StorageError):  # noqa: N818 -- names fixed by the storage API
    """The store cannot be reached or used right now; readiness probes and retries look for this."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What `stat` knows about an object, enough to answer a HEAD or a conditional GET."""

    key: str
    size: int
    etag: str
    content_type: str
    modified_at: datetime  # timezone-aware, UTC
    cache_control: str | None = None


def check_key(key: str) -> str:
    """Return `key` if it follows the key rules, else raise InvalidKey.

    Rules: 1..512 characters from `[A-Za-z0-9._/-]`, relative, no empty segment (so no leading,
    trailing or doubled `/`), segments of at most 240 characters, no `..` anywhere and no segment
    starting with `.`. The last rule also
    keeps the local backend's hidden temp and metadata files out of the key space.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKey("empty key")
    shown = key[:80]
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"key longer than {MAX_KEY_LENGTH} characters: {shown!r}...")
    if not _KEY_CHARS.fullmatch(key):
        raise InvalidKey(f"key has characters outside [A-Za-z0-9._/-]: {shown!r}")
    if ".." in key:
        raise InvalidKey(f"key contains '..': {shown!r}")
    for segment in key.split("/"):
        if not segment:
            raise InvalidKey(f"key has an empty segment (leading, trailing or double '/'): {shown!r}")
        if segment.startswith("."):
            raise InvalidKey(f"key has a segment starting with '.': {shown!r}")
        if len(segment) > MAX_SEGMENT_LENGTH:
            raise InvalidKey(f"key has a segment longer than {MAX_SEGMENT_LENGTH} characters: {shown!r}")
    return key


def is_valid_key(key: str) -> bool:
    """True when `check_key` would accept `key`."""
    try:
        check_key(key)
    except InvalidKey:
        return False
    return True


def check_prefix(prefix: str) -> str:
    """Return the folder form of a prefix: `''` (everything) or `'a/b/'`.

    Prefixes always mean a folder, never a bare string prefix: `videos/12` and `videos/12/` both
    select `videos/12/...` and never `videos/123/...`, which S3's plain prefix matching would.
    """
    if prefix == "":
        return ""
    folder = prefix[:-1] if prefix.endswith("/") else prefix
    return check_key(folder) + "/"


def check_range(start: int, end_inclusive: int) -> None:
    """Refuse a malformed byte range before any I/O; clamping to the size is the backend's job."""
    if start < 0 or end_inclusive < start:
        raise InvalidRange(f"bad byte range {start}-{end_inclusive}")


def check_expires_in(expires_in: int) -> None:
    """Signed URLs live 1 second to 7 days (the SigV4 limit, applied to both backends alike)."""
    if not 1 <= expires_in <= 7 * 24 * 3600:
        raise ValueError(f"expires_in must be 1..604800 seconds, got {expires_in}")


@runtime_checkable
class Storage(Protocol):
    """A flat key -> bytes store with folder-like prefixes; see local.py and s3.py.

    Writes are atomic: a reader sees the old object or the new one, never a part. Keys follow
    `check_key`; every method raises InvalidKey for a bad one.
    """

    def put(
        self, key: str, data: bytes | BinaryIO, *, content_type: str, cache_control: str | None = None
    ) -> None:
        """Store `data` under `key`, replacing any object; a file object is streamed, not slurped."""
        ...

    def put_file(self, key: str, path: Path, *, content_type: str, cache_control: str | None = None) -> None:
        """Store the file at `path` under `key` (multipart on S3 for big files)."""
        ...

    def get(self, key: str) -> bytes:
        """The whole object; for small objects only (use open or iter_range for media)."""
        ...

    def open(self, key: str) -> BinaryIO:
        """A streaming reader over the object; the caller closes it."""
        ...

    def read_range(self, key: str, start: int, end_inclusive: int) -> bytes:
        """Bytes `start..end_inclusive` (end clamped to the last byte), like an HTTP Range."""
        ...

    def iter_range(
        self, key: str, start: int, end_inclusive: int, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> Iterator[bytes]:
        """Like read_range, in chunks; ObjectNotFound/InvalidRange come at call time, not at first next()."""
        ...

    def stat(self, key: str) -> ObjectInfo:
        """Size, ETag, content type and modification time of the object."""
        ...

    def exists(self, key: str) -> bool:
        """True when an object is stored under `key`."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error (jobs may run twice)."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under the folder `prefix` (see check_prefix); returns how many."""
        ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys under the folder `prefix` (all keys for `''`), in byte-wise sorted order."""
        ...

    def url(self, key: str, *, expires_in: int | None = None) -> str:
        """Where a client downloads the object; with `expires_in`, a URL that stops working after it."""
        ...

    def check(self) -> None:
        """Raise StorageUnavailable when the store cannot be used (readiness probe)."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The file holding the object when the store is a local folder (read only), else None."""
        ...
