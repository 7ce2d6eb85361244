"""What only the local folder store does: containment, atomic files, signed /media/ URLs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from molodets.settings import Settings
from molodets.storage import InvalidKey, LocalStorage, StorageError, StorageUnavailable, open_storage

TRAVERSALS = [
    "../escape",
    "../../etc/passwd",
    "a/../../escape",
    "/etc/passwd",
    "//etc/passwd",
    "..\\escape",
    "a\\..\\..\\escape",
    "%2e%2e/escape",
    "a/\x00/escape",
    "~/escape",
    "a/./../escape",
]


def names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def all_files(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


@pytest.mark.parametrize("key", TRAVERSALS)
def test_path_traversal_is_impossible(tmp_path: Path, key: str) -> None:
    root = tmp_path / "deep" / "media"
    store = LocalStorage(root)
    store.put("inside/ok", b"ok", content_type="text/plain")
    before = all_files(tmp_path)
    with pytest.raises(InvalidKey):
        store.put(key, b"pwned", content_type="text/plain")
    with pytest.raises(InvalidKey):
        store.get(key)
    with pytest.raises(InvalidKey):
        store.delete(key)
    with pytest.raises(InvalidKey):
        store.delete_prefix(key)
    assert all_files(tmp_path) == before


def test_symlink_inside_root_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    store = LocalStorage(tmp_path / "media")
    store.put("real/file", b"x", content_type="text/plain")
    (tmp_path / "media" / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidKey):
        store.get("link/secret")
    with pytest.raises(InvalidKey):
        store.put("link/planted", b"x", content_type="text/plain")
    assert names(outside) == ["secret"]
    assert list(store.list()) == ["real/file"]


def test_root_itself_may_be_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    store = LocalStorage(tmp_path / "alias")
    store.put("a/b", b"1", content_type="text/plain")
    assert (tmp_path / "real" / "a" / "b").read_bytes() == b"1"


def test_layout_and_local_path(local_store: LocalStorage) -> None:
    local_store.put("videos/7/360.mp4", b"mp4", content_type="video/mp4")
    path = local_store.local_path("videos/7/360.mp4")
    assert path == local_store.root / "videos" / "7" / "360.mp4"
    assert path.read_bytes() == b"mp4"
    assert path.stat().st_mode & 0o777 == 0o644
    # Only the object and its hidden sidecar: no temp file is left behind.
    assert names(path.parent) == [".360.mp4.meta", "360.mp4"]


class Exploding:
    """A stream that fails after some bytes, like an upload whose client went away."""

    def __init__(self) -> None:
        self._sent = False

    def read(self, size: int = -1) -> bytes:
        if self._sent:
            raise ConnectionResetError("client went away")
        self._sent = True
        return b"partial"


def test_failed_put_keeps_the_old_object_and_leaves_no_temp(local_store: LocalStorage) -> None:
    local_store.put("v/1", b"old", content_type="text/plain")
    with pytest.raises(ConnectionResetError):
        local_store.put("v/1", Exploding(), content_type="text/plain")  # type: ignore[arg-type]
    assert local_store.get("v/1") == b"old"
    assert local_store.stat("v/1").content_type == "text/plain"
    assert names(local_store.root / "v") == [".1.meta", "1"]


def test_stat_without_sidecar_guesses(local_store: LocalStorage) -> None:
    local_store.put("v/clip.mp4", b"12345", content_type="video/mp4", cache_control="max-age=5")
    # A sidecar that no longer matches the file (as between the two renames of a put) is ignored.
    (local_store.root / "v" / "clip.mp4").write_bytes(b"123456789")
    info = local_store.stat("v/clip.mp4")
    assert (info.size, info.content_type, info.cache_control) == (9, "video/mp4", None)
    (local_store.root / "v" / ".clip.mp4.meta").unlink()
    assert local_store.stat("v/clip.mp4").content_type == "video/mp4"


def test_delete_prunes_empty_folders(local_store: LocalStorage) -> None:
    local_store.put("videos/5/h/0.ts", b"0", content_type="video/mp2t")
    local_store.put("videos/6/a", b"a", content_type="text/plain")
    local_store.delete("videos/5/h/0.ts")
    assert not (local_store.root / "videos" / "5").exists()
    assert (local_store.root / "videos" / "6" / "a").exists()
    assert local_store.delete_prefix("videos/6") == 1
    assert names(local_store.root) == []


def test_object_and_folder_cannot_share_a_name(local_store: LocalStorage) -> None:
    local_store.put("a/b", b"1", content_type="text/plain")
    with pytest.raises(StorageError):
        local_store.put("a/b/c", b"2", content_type="text/plain")
    with pytest.raises(StorageError):
        local_store.put("a", b"3", content_type="text/plain")
    assert list(local_store.list()) == ["a/b"]


def test_list_skips_foreign_files(local_store: LocalStorage) -> None:
    local_store.put("ok/1", b"1", content_type="text/plain")
    (local_store.root / "ok" / ".tmp-crashed").write_bytes(b"")
    (local_store.root / "ok" / "with space").write_bytes(b"")
    assert list(local_store.list()) == ["ok/1"]


def test_plain_url(tmp_path: Path) -> None:
    assert LocalStorage(tmp_path).url("videos/1/a.mp4") == "/media/videos/1/a.mp4"
    cdn = LocalStorage(tmp_path, base_url="https://cdn.example.test/")
    assert cdn.url("videos/1/a.mp4") == "https://cdn.example.test/media/videos/1/a.mp4"


def signed_parts(url: str) -> Iterator[str]:
    query = parse_qs(urlsplit(url).query)
    yield query["expires"][0]
    yield query["signature"][0]


def test_signed_url_verifies_until_it_expires(local_store: LocalStorage) -> None:
    url = local_store.url("videos/1/a.mp4", expires_in=60)
    assert urlsplit(url).path == "/media/videos/1/a.mp4"
    expires, signature = signed_parts(url)
    assert local_store.verify_url("videos/1/a.mp4", expires, signature)
    assert not local_store.verify_url("videos/1/a.mp4", expires, signature, now=int(expires))
    assert not local_store.verify_url("videos/1/b.mp4", expires, signature)
    assert not local_store.verify_url("videos/1/a.mp4", str(int(expires) + 1), signature)
    tampered = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    assert not local_store.verify_url("videos/1/a.mp4", expires, tampered)
    assert not local_store.verify_url("videos/1/a.mp4", "-1", signature)
    other = LocalStorage(local_store.root, signing_key=b"another key, another deployment..")
    assert not other.verify_url("videos/1/a.mp4", expires, signature)


def test_signed_url_needs_a_key_and_a_sane_lifetime(tmp_path: Path, local_store: LocalStorage) -> None:
    with pytest.raises(StorageError):
        LocalStorage(tmp_path).url("a", expires_in=60)
    assert not LocalStorage(tmp_path).verify_url("a", "9999999999", "x")
    for bad in (0, -5, 8 * 24 * 3600):
        with pytest.raises(ValueError, match="expires_in"):
            local_store.url("a", expires_in=bad)


def test_check(tmp_path: Path) -> None:
    LocalStorage(tmp_path / "new" / "media").check()
    assert (tmp_path / "new" / "media").is_dir()
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(StorageUnavailable):
        LocalStorage(tmp_path / "file").check()
    with pytest.raises(StorageUnavailable):
        LocalStorage(tmp_path / "file" / "media").check()


def test_open_storage_defaults_to_the_data_dir(tmp_path: Path) -> None:
    # Explicit None: a CI job that points MOLODETS_STORAGE_URL elsewhere must not change this test.
    settings = Settings(data_dir=tmp_path / "var", storage_url=None, secret_key="k" * 32, cdn_base_url=None)
    store = open_storage(settings)
    assert isinstance(store, LocalStorage)
    assert store.root == (tmp_path / "var" / "media").resolve()
    store.put("a/b", b"x", content_type="text/plain")
    assert (tmp_path / "var" / "media" / "a" / "b").read_bytes() == b"x"
    expires, signature = signed_parts(store.url("a/b", expires_in=30))
    assert store.verify_url("a/b", expires, signature)


def test_open_storage_file_url_with_cdn(tmp_path: Path) -> None:
    folder = tmp_path / "with space"
    settings = Settings(
        data_dir=tmp_path, storage_url=folder.as_uri(), secret_key="k" * 32, cdn_base_url="https://c.test"
    )
    store = open_storage(settings)
    assert isinstance(store, LocalStorage)
    assert store.root == folder.resolve()
    assert store.url("x/y") == "https://c.test/media/x/y"
