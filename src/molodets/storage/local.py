"""Objects as files under one folder: the embedded mode's store, served by the app at `/media/`.

Each object is a file at `root/<key>`; its content type, Cache-Control and ETag live in a hidden
sidecar `.<name>.meta` beside it. Hidden names can never be keys (see `check_key`), so temp files and
sidecars never show up in `list()` and can never be overwritten through the API.

Reads use `os.path` on strings: they are the media route's hot path, where parsing a `Path` cost
more than the rest of the lookup and interned every part of every key it split.
"""

# ruff: noqa: PTH113, PTH116, PTH118, PTH123

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import mimetypes
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO

from molodets.storage.base import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CONTENT_TYPE,
    InvalidKey,
    InvalidRange,
    ObjectInfo,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
    check_expires_in,
    check_key,
    check_prefix,
    check_range,
    is_valid_key,
)

MEDIA_PATH = "/media"
_COPY_CHUNK = 1024 * 1024
_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


class LocalStorage:
    """A `Storage` on the local file system; every write is a temp file renamed into place."""

    def __init__(self, root: Path, *, base_url: str = "", signing_key: bytes | None = None) -> None:
        # Resolved once: containment checks compare resolved paths, so a symlinked data dir still works.
        self.root = Path(root).resolve()
        self._root_prefix = os.path.join(str(self.root), "")
        self.base_url = base_url.rstrip("/")
        self._signing_key = signing_key

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def _file(self, key: str) -> str:
        """The object's file name, checked: a string, see the module docstring."""
        path = self._root_prefix + check_key(key)
        # The key rules already keep us inside root; this also refuses symlinks planted inside it.
        if not os.path.realpath(path).startswith(self._root_prefix):
            raise InvalidKey(f"key leads outside the store: {key!r}")
        return path

    def _path(self, key: str) -> Path:
        return Path(self._file(key))

    @staticmethod
    def _meta_file(path: str) -> str:
        folder, name = os.path.split(path)
        return os.path.join(folder, f".{name}.meta")

    def put(
        self, key: str, data: bytes | BinaryIO, *, content_type: str, cache_control: str | None = None
    ) -> None:
        """Write to a temp file beside the target, then os.replace it in: readers never see a part."""
        path = self._path(key)
        fd, data_tmp = self._mkstemp(path, key)
        temps = [data_tmp]
        try:
            with os.fdopen(fd, "wb") as out:
                # Errors of the caller's stream (a client gone away) reach the caller unchanged.
                etag = _copy(data, out, key)
            with _write_errors(key):
                # mkstemp makes 0600 files; a proxy serving the folder directly must be able to read them.
                data_tmp.chmod(0o644)
                st = data_tmp.stat()
                meta = {
                    "content_type": content_type,
                    "cache_control": cache_control,
                    "etag": etag,
                    # rename keeps size and mtime: stat() can tell whether this sidecar matches the data.
                    "size": st.st_size,
                    "mtime_ns": st.st_mtime_ns,
                }
                fd, meta_tmp = self._mkstemp(path, key)
                temps.append(meta_tmp)
                with os.fdopen(fd, "w", encoding="utf-8") as meta_out:
                    json.dump(meta, meta_out)
                data_tmp.replace(path)
                meta_tmp.replace(self._meta_file(str(path)))
        finally:
            for temp in temps:
                temp.unlink(missing_ok=True)

    def _mkstemp(self, path: Path, key: str) -> tuple[int, Path]:
        # A concurrent delete() may prune the folder between mkdir and mkstemp: try again.
        for attempt in range(3):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
                return fd, Path(name)
            except FileNotFoundError:
                if attempt == 2:
                    raise StorageError(f"cannot write {key!r}: its folder keeps vanishing") from None
            except (FileExistsError, NotADirectoryError) as exc:
                raise StorageError(f"cannot write {key!r}: a parent folder is an object") from exc
            except OSError as exc:
                raise StorageError(f"cannot write {key!r}: {exc.strerror or exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def put_file(self, key: str, path: Path, *, content_type: str, cache_control: str | None = None) -> None:
        """Copy the file in (streamed); the source stays where it is."""
        with Path(path).open("rb") as source:
            self.put(key, source, content_type=content_type, cache_control=cache_control)

    def get(self, key: str) -> bytes:
        """Read the whole object."""
        try:
            with open(self._file(key), "rb") as handle:
                return handle.read()
        except _MISSING as exc:
            raise ObjectNotFound(key) from exc

    def open(self, key: str) -> BinaryIO:
        """Open the object's file; a concurrent put replaces the name, not the open file."""
        try:
            return open(self._file(key), "rb")  # the caller closes it
        except _MISSING as exc:
            raise ObjectNotFound(key) from exc

    def read_range(self, key: str, start: int, end_inclusive: int) -> bytes:
        """Bytes start..end_inclusive, end clamped to the last byte."""
        return b"".join(self.iter_range(key, start, end_inclusive))

    def iter_range(
        self, key: str, start: int, end_inclusive: int, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> Iterator[bytes]:
        """Open and check now (so errors come before a response starts), stream later."""
        check_range(start, end_inclusive)
        handle = self.open(key)
        try:
            size = os.fstat(handle.fileno()).st_size
            if start >= size:
                raise InvalidRange(f"{key!r}: range starts at {start}, object has {size} bytes")
            handle.seek(start)
        except BaseException:
            handle.close()
            raise
        return _chunks(handle, min(end_inclusive, size - 1) - start + 1, chunk_size)

    def stat(self, key: str) -> ObjectInfo:
        """Size and time from the file, the rest from its sidecar when the sidecar matches the file."""
        return self.served_file(key)[1]

    def served_file(self, key: str) -> tuple[str, ObjectInfo]:
        """The file to send for a media request and what to say about it, with one key check."""
        path = self._file(key)
        try:
            st = os.stat(path)
        except _MISSING as exc:
            raise ObjectNotFound(key) from exc
        if not S_ISREG(st.st_mode):
            raise ObjectNotFound(key)
        meta = self._read_meta(path)
        if meta.get("size") != st.st_size or meta.get("mtime_ns") != st.st_mtime_ns:
            # No sidecar, or one from before a put that is still finishing: derive what we can.
            meta = {
                "content_type": mimetypes.guess_type(path)[0] or DEFAULT_CONTENT_TYPE,
                "etag": f"{st.st_size:x}-{st.st_mtime_ns:x}",
            }
        return path, ObjectInfo(
            key=key,
            size=st.st_size,
            etag=str(meta["etag"]),
            content_type=str(meta["content_type"]),
            modified_at=datetime.fromtimestamp(st.st_mtime, tz=UTC),
            cache_control=str(meta.get("cache_control") or "") or None,
        )

    def _read_meta(self, path: str) -> dict[str, object]:
        try:
            with open(self._meta_file(path), "rb") as handle:
                loaded = json.loads(handle.read())
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def exists(self, key: str) -> bool:
        """True when a file is stored under the key."""
        return os.path.isfile(self._file(key))

    def delete(self, key: str) -> None:
        """Remove the file and its sidecar, then the folders this left empty."""
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
            Path(self._meta_file(str(path))).unlink(missing_ok=True)
        except (NotADirectoryError, IsADirectoryError):
            return
        except OSError as exc:
            raise StorageError(f"cannot delete {key!r}: {exc.strerror or exc}") from exc
        parent = path.parent
        while parent != self.root:
            try:
                parent.rmdir()
            except OSError:  # not empty (or already gone): stop pruning
                break
            parent = parent.parent

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under the folder; the keys are listed first, then deleted one by one."""
        folder = check_prefix(prefix)
        if not folder:
            raise InvalidKey("refusing to delete the whole store (empty prefix)")
        keys = [*self.list(folder)]
        for key in keys:
            self.delete(key)
        return len(keys)

    def list(self, prefix: str = "") -> Iterator[str]:
        """Walk the folder lazily, yielding keys in byte-wise order (the order S3 lists them in)."""
        folder = check_prefix(prefix)
        start = self.root.joinpath(*folder.split("/")) if folder else self.root
        return self._walk(start, folder)

    def _walk(self, folder: Path, key_prefix: str) -> Iterator[str]:
        try:
            with os.scandir(folder) as scan:
                entries = [
                    (entry.name + "/" if entry.is_dir(follow_symlinks=False) else entry.name, entry)
                    for entry in scan
                    # Hidden names (temp files, sidecars) and files dropped in by hand with odd names
                    # are not keys; symlinks are never created by us and are not followed.
                    if is_valid_key(entry.name) and not entry.is_symlink()
                ]
        except (FileNotFoundError, NotADirectoryError):
            return
        # Sorting "name/" for folders makes "a-b" come before "a/x", as in a sorted list of full keys.
        for sort_name, entry in sorted(entries, key=lambda item: item[0]):
            if sort_name.endswith("/"):
                yield from self._walk(Path(entry.path), key_prefix + sort_name)
            elif entry.is_file(follow_symlinks=False):
                yield key_prefix + entry.name

    def url(self, key: str, *, expires_in: int | None = None) -> str:
        """`{base_url}/media/{key}`, plus `expires` and `signature` query parameters when asked."""
        plain = f"{self.base_url}{MEDIA_PATH}/{check_key(key)}"
        if expires_in is None:
            return plain
        check_expires_in(expires_in)
        expires = int(time.time()) + expires_in
        return f"{plain}?expires={expires}&signature={self._sign(key, expires)}"

    def verify_url(self, key: str, expires: str, signature: str, *, now: float | None = None) -> bool:
        """True when `expires`/`signature` (from a URL made by `url`) are genuine and not yet expired.

        The `/media/` route calls this for signed requests; `now` is there for tests.
        """
        if self._signing_key is None or not expires.isdigit():
            return False
        if int(expires) <= (time.time() if now is None else now):
            return False
        return hmac.compare_digest(self._sign(key, int(expires)), signature)

    def _sign(self, key: str, expires: int) -> str:
        if self._signing_key is None:
            raise StorageError("signed local URLs need a signing key")
        mac = hmac.new(self._signing_key, f"{key}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def check(self) -> None:
        """Ready when the root folder exists (or can be made) and we may write into it."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"cannot create {self.root}: {exc.strerror or exc}") from exc
        if not self.root.is_dir() or not os.access(self.root, os.W_OK | os.X_OK):
            raise StorageUnavailable(f"{self.root} is not a writable folder")

    def local_path(self, key: str) -> Path | None:
        """Where the object's file is (or would be); for reading and serving, never for writing."""
        return self._path(key)


def _copy(data: bytes | BinaryIO, out: BinaryIO, key: str) -> str:
    """Write `data` to `out` chunk by chunk; return the MD5 hex digest (S3's ETag for a single part)."""
    digest = hashlib.md5(usedforsecurity=False)
    chunks: Iterable[bytes]
    if isinstance(data, bytes | bytearray | memoryview):
        chunks = [data]
    else:
        chunks = iter(lambda: data.read(_COPY_CHUNK), b"")
    for chunk in chunks:
        digest.update(chunk)
        with _write_errors(key):
            out.write(chunk)
    with _write_errors(key):
        out.flush()
    return digest.hexdigest()


@contextmanager
def _write_errors(key: str) -> Iterator[None]:
    """Our own file system failures (disk full, permissions) become StorageError."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, IsADirectoryError):
            raise StorageError(f"cannot write {key!r}: a folder has that name") from exc
        raise StorageError(f"cannot write {key!r}: {exc.strerror or exc}") from exc


def _chunks(handle: BinaryIO, length: int, chunk_size: int) -> Iterator[bytes]:
    with handle:
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(chunk_size, remaining))
            if not chunk:  # only if the file shrank under us, which atomic puts never do
                return
            remaining -= len(chunk)
            yield chunk
