"""The Storage contract, run against every implementation (see the `store` fixture in conftest.py)."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from molodets.storage import (
    MAX_KEY_LENGTH,
    MAX_SEGMENT_LENGTH,
    InvalidKey,
    InvalidRange,
    ObjectNotFound,
    Storage,
)

BIG = 12 * 1024 * 1024  # past the 8 MiB multipart threshold: two parts on S3


def payload(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


class ReadRecorder(io.RawIOBase):
    """A non-seekable stream that remembers its largest read, to prove that put() streams."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self.largest_read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        wanted = len(self._data) - self._pos if size is None or size < 0 else size
        self.largest_read = max(self.largest_read, wanted)
        chunk = bytes(self._data[self._pos : self._pos + wanted])
        self._pos += len(chunk)
        return chunk

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_is_a_storage(store: Storage) -> None:
    assert isinstance(store, Storage)


def test_put_get_stat_bytes(store: Storage) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    store.put("videos/1/poster.jpg", b"\xff\xd8jpeg", content_type="image/jpeg", cache_control="max-age=60")
    assert store.get("videos/1/poster.jpg") == b"\xff\xd8jpeg"
    assert store.exists("videos/1/poster.jpg")
    info = store.stat("videos/1/poster.jpg")
    assert info.key == "videos/1/poster.jpg"
    assert info.size == 6
    assert info.content_type == "image/jpeg"
    assert info.cache_control == "max-age=60"
    assert info.etag
    assert info.modified_at.tzinfo is not None
    assert before <= info.modified_at <= datetime.now(UTC) + timedelta(seconds=5)


def test_put_replaces_and_changes_etag(store: Storage) -> None:
    store.put("a/b.txt", b"first", content_type="text/plain")
    first = store.stat("a/b.txt")
    store.put("a/b.txt", b"second!", content_type="text/csv")
    second = store.stat("a/b.txt")
    assert store.get("a/b.txt") == b"second!"
    assert (second.size, second.content_type, second.cache_control) == (7, "text/csv", None)
    assert second.etag != first.etag


def test_empty_object(store: Storage) -> None:
    store.put("empty", b"", content_type="application/octet-stream")
    assert store.get("empty") == b""
    assert store.stat("empty").size == 0
    with pytest.raises(InvalidRange):
        store.read_range("empty", 0, 0)


def test_put_streams_a_big_file_object(store: Storage) -> None:
    data = payload(BIG)
    stream = ReadRecorder(data)
    store.put("videos/9/src.mp4", cast(BinaryIO, stream), content_type="video/mp4")
    assert 0 < stream.largest_read < BIG  # read in chunks, never all at once
    info = store.stat("videos/9/src.mp4")
    assert (info.size, info.content_type) == (BIG, "video/mp4")
    assert store.get("videos/9/src.mp4") == data
    with store.open("videos/9/src.mp4") as reader:
        assert reader.read(10) == data[:10]
        assert reader.read() == data[10:]


def test_put_file(store: Storage, tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    source.write_bytes(payload(300_000))
    store.put_file("videos/2/720.mp4", source, content_type="video/mp4", cache_control="public, max-age=9")
    assert store.get("videos/2/720.mp4") == source.read_bytes()
    info = store.stat("videos/2/720.mp4")
    assert (info.size, info.content_type, info.cache_control) == (300_000, "video/mp4", "public, max-age=9")
    assert source.exists()


RANGE_SIZE = 100_003


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, 0),  # first byte
        (RANGE_SIZE - 1, RANGE_SIZE - 1),  # last byte
        (1, 1),
        (RANGE_SIZE - 2, RANGE_SIZE - 1),
        (4096, 50_000),  # middle
        (0, RANGE_SIZE - 1),  # whole
        (RANGE_SIZE - 10, RANGE_SIZE + 1000),  # end past the object: clamped, like HTTP Range
    ],
)
def test_read_range_edges(store: Storage, start: int, end: int) -> None:
    data = payload(RANGE_SIZE)
    store.put("r/bin", data, content_type="application/octet-stream")
    assert store.read_range("r/bin", start, end) == data[start : end + 1]
    chunks = list(store.iter_range("r/bin", start, end, chunk_size=4096))
    assert b"".join(chunks) == data[start : end + 1]
    assert all(0 < len(chunk) <= 4096 for chunk in chunks)


def test_iter_range_can_be_abandoned(store: Storage) -> None:
    data = payload(RANGE_SIZE)
    store.put("r/bin", data, content_type="application/octet-stream")
    chunks = store.iter_range("r/bin", 10, RANGE_SIZE - 1, chunk_size=1000)
    assert next(iter(chunks)) == data[10:1010]
    chunks.close()  # type: ignore[attr-defined]  # a client that hangs up mid-response


@pytest.mark.parametrize(("start", "end"), [(-1, 5), (5, 4), (RANGE_SIZE, RANGE_SIZE + 5)])
def test_bad_ranges(store: Storage, start: int, end: int) -> None:
    store.put("r/bin", payload(RANGE_SIZE), content_type="application/octet-stream")
    with pytest.raises(InvalidRange):
        store.read_range("r/bin", start, end)
    with pytest.raises(InvalidRange):
        store.iter_range("r/bin", start, end)


def test_missing_keys(store: Storage) -> None:
    store.put("present/x", b"x", content_type="text/plain")
    for key in ["absent", "present", "present/x/y", "present/y"]:
        assert not store.exists(key)
        with pytest.raises(ObjectNotFound):
            store.get(key)
        with pytest.raises(ObjectNotFound):
            store.open(key)
        with pytest.raises(ObjectNotFound):
            store.stat(key)
        with pytest.raises(ObjectNotFound):
            store.read_range(key, 0, 10)
        # Raised when called, before any byte: an HTTP handler can still answer 404.
        with pytest.raises(ObjectNotFound):
            store.iter_range(key, 0, 10)


def test_delete_is_idempotent(store: Storage) -> None:
    store.put("d/one", b"1", content_type="text/plain")
    store.delete("d/one")
    assert not store.exists("d/one")
    store.delete("d/one")
    store.delete("never/was")
    assert list(store.list()) == []


@pytest.mark.parametrize("prefix", ["videos/12", "videos/12/"])
def test_delete_prefix_is_exact(store: Storage, prefix: str) -> None:
    keep = ["videos/123/a.mp4", "videos/12x", "videos/1/a", "videos/12.mp4", "other/videos/12/a"]
    gone = ["videos/12/a.mp4", "videos/12/h/0.ts", "videos/12/h/1.ts"]
    for key in keep + gone:
        store.put(key, key.encode(), content_type="text/plain")
    assert store.delete_prefix(prefix) == len(gone)
    assert sorted(store.list()) == sorted(keep)
    assert store.delete_prefix(prefix) == 0


def test_delete_prefix_refuses_everything(store: Storage) -> None:
    store.put("k", b"k", content_type="text/plain")
    with pytest.raises(InvalidKey):
        store.delete_prefix("")
    with pytest.raises(InvalidKey):
        store.delete_prefix("/")
    assert store.exists("k")


def test_list_is_sorted_and_folder_scoped(store: Storage) -> None:
    keys = ["a-b", "a/x", "a/y/z", "a.txt", "ab", "b/1", "a/y-1"]
    for key in keys:
        store.put(key, b".", content_type="text/plain")
    assert list(store.list()) == sorted(keys)
    assert list(store.list("")) == sorted(keys)
    assert list(store.list("a")) == ["a/x", "a/y-1", "a/y/z"]
    assert list(store.list("a/")) == ["a/x", "a/y-1", "a/y/z"]
    assert list(store.list("a/y")) == ["a/y/z"]
    assert list(store.list("nothing")) == []


BAD_KEYS = [
    "",
    "/abs",
    "/",
    "a/",
    "a//b",
    "..",
    "../x",
    "a/../b",
    "a/..",
    "a..b",
    ".",
    "./a",
    "a/./b",
    ".hidden",
    "a/.tmp-x",
    "a\\b",
    "..\\x",
    "a\x00b",
    "a b",
    "a?b",
    "a#b",
    "a%2e%2e",
    "ключ",
    "a\nb",
    "x" * (MAX_KEY_LENGTH + 1),
    "a/" + "x" * (MAX_SEGMENT_LENGTH + 1),
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_invalid_keys_are_refused_everywhere(store: Storage, key: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: store.put(key, b"x", content_type="text/plain"),
        lambda: store.get(key),
        lambda: store.open(key),
        lambda: store.stat(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
        lambda: store.read_range(key, 0, 1),
        lambda: store.iter_range(key, 0, 1),
        lambda: store.url(key),
        lambda: store.local_path(key),
    ]
    for call in calls:
        with pytest.raises(InvalidKey):
            call()
    assert list(store.list()) == []


def test_longest_key_is_accepted(store: Storage) -> None:
    key = "/".join(["k" * MAX_SEGMENT_LENGTH, "k" * MAX_SEGMENT_LENGTH, "k" * 30])
    assert len(key) == MAX_KEY_LENGTH
    store.put(key, b"long", content_type="text/plain")
    assert store.get(key) == b"long"
    assert list(store.list()) == [key]


def test_check_passes_when_usable(store: Storage) -> None:
    store.check()
