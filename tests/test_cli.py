"""The `molodets` command, run as a real process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from molodets.cli import SHUTDOWN_GRACE_SECONDS
from molodets.notifications.realtime import hub_directory
from tests.factories.accounts import DEFAULT_PASSWORD
from tests.mediaclips import make_clip
from tests.notifications.test_realtime import event_stream


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MOLODETS_")}
    env.update({"MOLODETS_DATA_DIR": str(data_dir), "MOLODETS_LOG_LEVEL": "WARNING", **extra})
    return env


def run_cli(data_dir: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "molodets", *args],
        env=cli_env(data_dir, **extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_migrate_then_create_users(tmp_path: Path) -> None:
    migrated = run_cli(tmp_path, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    created = run_cli(tmp_path, "user", "create", "Chief", "--password", DEFAULT_PASSWORD, "--admin")
    assert created.returncode == 0, created.stderr
    assert "created admin @chief" in created.stdout
    again = run_cli(tmp_path, "user", "create", "chief", "--password", DEFAULT_PASSWORD)
    assert again.returncode == 1
    assert again.stderr.strip() == "molodets: This username is already taken. (username_taken)"
    weak = run_cli(tmp_path, "user", "create", "weakling", "--password", "123456")
    assert weak.returncode == 1
    assert "password_too_short" in weak.stderr or "password_too_common" in weak.stderr


def test_user_create_without_a_password_off_a_terminal_fails_clearly(tmp_path: Path) -> None:
    run_cli(tmp_path, "migrate")
    result = run_cli(tmp_path, "user", "create", "nopass")
    assert result.returncode == 1
    assert "--password" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "environment", "named"),
    [
        (("migrate",), {"MOLODETS_DATABASE_URL": "mysql://nope"}, "MOLODETS_DATABASE_URL"),
        (("migrate",), {"MOLODETS_LOG_LEVEL": "verbose"}, "MOLODETS_LOG_LEVEL"),
        (("migrate",), {"MOLODETS_NODE_ID": "web-a"}, "MOLODETS_NODE_ID"),
        (("migrate",), {"MOLODETS_NODE_ID": "1024"}, "MOLODETS_NODE_ID"),
        # Forked workers would all read one node and could make the same IDs.
        (("web", "--workers", "2"), {"MOLODETS_NODE_ID": "3"}, "MOLODETS_NODE_ID"),
    ],
)
def test_bad_settings_give_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], environment: dict[str, str], named: str
) -> None:
    result = run_cli(tmp_path, *args, **environment)
    assert result.returncode == 2
    assert result.stderr.startswith(f"molodets: configuration error: {named}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreachable_database_gives_one_line(tmp_path: Path) -> None:
    result = run_cli(
        tmp_path,
        "migrate",
        MOLODETS_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2",
    )
    assert result.returncode == 1
    assert result.stderr.startswith("molodets: database unavailable:")
    assert "Traceback" not in result.stderr


def test_demo_seeds_creators_once(tmp_path: Path) -> None:
    run_cli(tmp_path, "migrate")
    first = run_cli(tmp_path, "demo", "--if-empty")
    assert first.returncode == 0, first.stderr
    assert "@anna.travel" in first.stdout
    second = run_cli(tmp_path, "demo", "--if-empty")
    assert "nothing seeded" in second.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_process(data_dir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "molodets", *args],
        env=cli_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_until_ready(process: subprocess.Popen[str], base: str, seconds: float = 30) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.get(f"{base}/readyz", timeout=2)
        except httpx.TransportError:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, f"no answer within {seconds} s"
            time.sleep(0.2)


def scrape(url: str, process: subprocess.Popen[str], seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.get(url, timeout=2).raise_for_status().text
        except httpx.TransportError:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, f"no metrics within {seconds} s"
            time.sleep(0.2)


def stop(process: subprocess.Popen[str], sig: int = signal.SIGINT) -> str:
    process.send_signal(sig)
    output, _ = process.communicate(timeout=30)
    return output


def test_serve_migrates_answers_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_process(tmp_path, "serve", "--host", "127.0.0.1", "--port", str(port))
    try:
        ready = wait_until_ready(process, base)
        assert ready.status_code == 200, ready.text
        signed_up = httpx.post(
            f"{base}/api/v1/accounts", json={"username": "served", "password": DEFAULT_PASSWORD}
        )
        assert signed_up.status_code == 201
        assert httpx.get(f"{base}/").status_code == 200
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    assert f"Molodets is running on {base}" in output
    assert (tmp_path / "molodets.sqlite3").exists()


def test_more_signed_in_requests_than_threads_and_connections_never_stall(tmp_path: Path) -> None:
    """150 requests at once, each authenticated (one thread-pool call) and then handled (another)
    in one transaction: more than the server's threads plus its pool's connections. Requests
    that waited for a connection inside a thread used to stall the server until the pool's
    30 s timeout, then fail with 500."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_process(tmp_path, "serve", "--host", "127.0.0.1", "--port", str(port))
    try:
        assert wait_until_ready(process, base).status_code == 200
        account = {"username": "crowded", "password": DEFAULT_PASSWORD}
        assert httpx.post(f"{base}/api/v1/accounts", json=account).status_code == 201
        token = httpx.post(
            f"{base}/api/v1/tokens", json={"login": "crowded", "password": DEFAULT_PASSWORD, "name": "crowd"}
        ).json()["token"]

        async def crowd() -> list[int]:
            limits = httpx.Limits(max_connections=150)
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
                requests = (client.get("/api/v1/me", headers=headers) for _ in range(150))
                answers = await asyncio.gather(*requests)
            return [answer.status_code for answer in answers]

        # Its own thread: the browser tests leave an event loop running in this one.
        with ThreadPoolExecutor(max_workers=1) as thread:
            assert Counter(thread.submit(asyncio.run, crowd()).result()) == {200: 150}
    finally:
        stop(process)


def test_web_with_several_worker_processes_and_a_separate_worker(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "migrate").returncode == 0
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    web = start_process(tmp_path, "web", "--host", "127.0.0.1", "--port", str(port), "--workers", "2")
    metrics_port = _free_port()
    worker = start_process(tmp_path, "worker", "--workers", "1", "--metrics-port", str(metrics_port))
    try:
        assert wait_until_ready(web, base).status_code == 200
        # A session made by one process is honoured by whichever process answers next.
        client = httpx.Client(base_url=base)
        assert (
            client.post(
                "/api/v1/accounts", json={"username": "multi", "password": DEFAULT_PASSWORD}
            ).status_code
            == 201
        )
        assert all(client.get("/api/v1/me").status_code == 200 for _ in range(10))
        assert worker.poll() is None
        # The worker's own metrics: queue depth (what says "add workers") and its job runs.
        scraped = scrape(f"http://127.0.0.1:{metrics_port}/metrics", worker)
        assert 'molodets_jobs_pending{queue="media"}' in scraped
        assert 'molodets_jobs_delayed{queue="default"}' in scraped
        assert 'molodets_jobs_pending{queue="default"}' in client.get("/metrics").text
    finally:
        web_output = stop(web)
        worker_output = stop(worker, signal.SIGTERM)
    assert web.returncode == 0, web_output
    assert worker.returncode == 0, worker_output
    assert "worker consuming default, media" in worker_output


def _ready_video_through(base: str, token: str, clip: Path) -> int:
    """Upload `clip` in one request, publish it, and wait until a job consumer made it ready."""
    headers = {"Authorization": f"Bearer {token}"}
    with clip.open("rb") as file:
        upload = httpx.post(
            f"{base}/api/v1/uploads/simple", headers=headers, files={"file": ("clip.mp4", file)}, timeout=30
        )
    assert upload.status_code == 201, upload.text
    published = httpx.post(f"{base}/api/v1/videos", json={"upload_id": upload.json()["id"]}, headers=headers)
    assert published.status_code == 201, published.text
    video_id = int(published.json()["id"])
    deadline = time.monotonic() + 90
    while httpx.get(f"{base}/api/v1/videos/{video_id}", headers=headers).json()["status"] != "ready":
        assert time.monotonic() < deadline, "the video was not made ready within 90 s"
        time.sleep(0.3)
    return video_id


@pytest.mark.parametrize("processes", [1, 2])
def test_serve_with_one_or_several_web_processes(tmp_path: Path, processes: int) -> None:
    """`molodets serve --workers N`: N web processes over one SQLite file, the job consumers in
    their supervisor (or in the one process), live notifications crossing between them through
    the socket hub, and a stop that ends the open streams instead of waiting for them."""
    data_dir = tmp_path / "data"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = ("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(processes))
    process = start_process(data_dir, *command)
    hub = hub_directory(data_dir)
    try:
        assert wait_until_ready(process, base).status_code == 200
        tokens = {}
        for name in ("maker", "liker"):
            account = {"username": name, "password": DEFAULT_PASSWORD}
            assert httpx.post(f"{base}/api/v1/accounts", json=account).status_code == 201
            login = {"login": name, "password": DEFAULT_PASSWORD, "name": "cli"}
            tokens[name] = httpx.post(f"{base}/api/v1/tokens", json=login).json()["token"]
        # Wrong passwords, each on a new connection (answered by either process), count against
        # one window: the account is locked out everywhere after 5, even to the right password.
        for attempt in range(5):
            wrong = {"login": "liker", "password": f"guess-{attempt}-xx", "name": "cli"}
            assert httpx.post(f"{base}/api/v1/tokens", json=wrong).status_code == 401
        for _ in range(3):
            right = {"login": "liker", "password": DEFAULT_PASSWORD, "name": "cli"}
            assert httpx.post(f"{base}/api/v1/tokens", json=right).json()["code"] == "too_many_attempts"
        # The supervisor (it runs the jobs) and the web processes, its children, joined the hub.
        joined = {int(path.name.split("-")[0]) for path in hub.iterdir()}
        assert len(joined) == (1 if processes == 1 else 1 + processes)
        assert process.pid in joined
        assert joined - {process.pid} <= set(_children(process.pid))

        video_id = _ready_video_through(base, tokens["maker"], make_clip(tmp_path / "clip.mp4", seconds=1))

        # The maker's pages hold streams on connections of their own, answered by either process;
        # a like through yet another connection reaches every one of them.
        headers = {"Authorization": f"Bearer {tokens['maker']}", "Accept-Language": "en"}
        with ExitStack() as stack:
            streams = [stack.enter_context(event_stream(base, headers)) for _ in range(6)]
            for events in streams:
                assert events.get(timeout=10)["unread_count"] == 0
            liker = {"Authorization": f"Bearer {tokens['liker']}"}
            liked = httpx.put(f"{base}/api/v1/videos/{video_id}/like", headers=liker)
            assert liked.status_code == 200
            for events in streams:
                assert events.get(timeout=10)["unread_count"] == 1
        stopping = time.monotonic()
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    assert time.monotonic() - stopping < SHUTDOWN_GRACE_SECONDS  # the streams did not hold it
    assert f"Molodets is running on {base}" in output
    assert "Traceback" not in output, output
    assert not hub.exists()  # every process left the hub


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found
