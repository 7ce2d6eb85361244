"""Real tus clients that nobody here wrote, against a real server: Python's tuspy and the
JavaScript tus-js-client under Node, each with a resume after the connection is cut mid-upload
(by a proxy that drops it after so many bytes), checked byte for byte."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError, TusUploadFailed

from tests.conftest import IN_CI, service_unavailable
from tests.uploads.conftest import Account
from tests.uploads.support import CuttingProxy, LiveServer, is_locked, sha256_of, wait_for

JS_DIR = Path(__file__).parent / "js"


def stored(upload_dir: Path, url: str) -> Path:
    return upload_dir / f"{url.rsplit('/', 1)[1]}.part"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(700_000))
    return path


@pytest.fixture
def proxy(live_server: LiveServer) -> Iterator[CuttingProxy]:
    started = CuttingProxy(live_server.port, cut_after=300_000).start()
    yield started
    started.stop()


def test_tuspy_uploads_in_chunks_with_checksums(
    live_server: LiveServer, owner: Account, source: Path, upload_dir: Path
) -> None:
    client = TusClient(f"{live_server.url}/api/v1/uploads", headers=owner.auth)
    uploader = client.uploader(
        file_path=str(source),
        chunk_size=128 * 1024,
        metadata={"filename": "clip.mp4", "filetype": "video/mp4"},
        upload_checksum=True,  # sha1 per chunk
    )
    uploader.upload()
    assert uploader.offset == source.stat().st_size
    assert sha256_of(stored(upload_dir, str(uploader.url))) == sha256_of(source)


def test_tuspy_resumes_after_the_connection_is_cut(
    live_server: LiveServer, proxy: CuttingProxy, owner: Account, source: Path, upload_dir: Path
) -> None:
    through_proxy = TusClient(f"{proxy.url}/api/v1/uploads", headers=owner.auth)
    first = through_proxy.uploader(
        file_path=str(source), chunk_size=10 * 1024 * 1024, metadata={"filename": "a"}
    )
    with pytest.raises((TusUploadFailed, TusCommunicationError)):
        first.upload()  # one big PATCH, cut after ~300 kB
    assert proxy.cuts == 1
    url = str(first.url).replace(proxy.url, live_server.url)  # tuspy leaves `url` untyped
    wait_for(lambda: not is_locked(stored(upload_dir, url)), what="the server to notice the drop")

    direct = TusClient(f"{live_server.url}/api/v1/uploads", headers=owner.auth)
    resumed = direct.uploader(file_path=str(source), url=url, chunk_size=256 * 1024)
    assert 0 < resumed.offset < source.stat().st_size  # the bytes before the cut were kept
    resumed.upload()
    assert sha256_of(stored(upload_dir, url)) == sha256_of(source)


@pytest.fixture(scope="session")
def node_script() -> list[str]:
    """`node upload.mjs`, with tus-js-client installed from the committed lock file."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        service_unavailable("node and npm are needed to run tus-js-client")
    assert node is not None
    assert npm is not None
    if not (JS_DIR / "node_modules" / "tus-js-client").is_dir():
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, capture_output=True, text=True, timeout=300
        )
        if installed.returncode != 0:
            service_unavailable(f"npm ci failed: {installed.stderr[-500:]}")
    return [node, str(JS_DIR / "upload.mjs")]


def run_node(script: list[str], *args: str) -> dict[str, object]:
    result = subprocess.run([*script, *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"stdout: {result.stdout}\nstderr: {result.stderr}"
    answer: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def test_tus_js_client_resumes_after_an_abort(
    node_script: list[str], live_server: LiveServer, owner: Account, source: Path, upload_dir: Path
) -> None:
    answer = run_node(node_script, f"{live_server.url}/api/v1/uploads", owner.token, str(source), "abort")
    assert answer["first"] == "aborted"
    assert answer["resumedFrom"] == 64 * 1024  # one 64 KiB chunk before the abort
    assert int(answer["patches"]) >= 10  # type: ignore[call-overload]
    assert sha256_of(stored(upload_dir, str(answer["url"]))) == sha256_of(source)


def test_tus_js_client_resumes_after_the_connection_is_cut(
    node_script: list[str],
    live_server: LiveServer,
    proxy: CuttingProxy,
    owner: Account,
    source: Path,
    upload_dir: Path,
) -> None:
    answer = run_node(
        node_script, f"{proxy.url}/api/v1/uploads", owner.token, str(source), "cut", live_server.url
    )
    assert proxy.cuts == 1
    assert str(answer["first"]).startswith("error")
    resumed_from = int(answer["resumedFrom"])  # type: ignore[call-overload]
    assert 0 < resumed_from < source.stat().st_size
    assert sha256_of(stored(upload_dir, str(answer["url"]))) == sha256_of(source)


def test_the_node_test_is_not_skipped_in_ci() -> None:
    """A CI machine without Node fails the run (see node_script) instead of skipping it."""
    if IN_CI:
        assert shutil.which("node")
        assert shutil.which("npm")
