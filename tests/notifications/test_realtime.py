"""Live notifications over Server-Sent Events: a like reaches the recipient's open stream at
once; a like served by one web process reaches a stream held by another, through Redis or,
without it, the data dir's socket hub."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy.orm import Session

from molodets.app import create_app
from molodets.notifications.api import STREAMS_PER_USER
from molodets.notifications.realtime import LocalHub, RedisHub, SocketHub, hub_directory
from molodets.runtime import Runtime, build_runtime
from molodets.settings import Settings
from tests.conftest import service_unavailable
from tests.factories.accounts import bearer, make_user
from tests.factories.videos import make_ready_video
from tests.uploads.support import LiveServer

WAIT = 10.0


@contextmanager
def live_server(runtime: Runtime) -> Iterator[str]:
    server = LiveServer(create_app(runtime)).start()
    try:
        yield server.url
    finally:
        server.stop()


@contextmanager
def event_stream(base_url: str, headers: dict[str, str]) -> Iterator[queue.Queue[dict]]:
    """Reads the notification stream in a thread; yields a queue of its decoded events."""
    events: queue.Queue[dict] = queue.Queue()
    stop = threading.Event()

    def read() -> None:
        try:
            with (
                httpx.Client(base_url=base_url, timeout=httpx.Timeout(30, connect=5)) as http,
                http.stream("GET", "/api/v1/notifications/stream", headers=headers) as response,
            ):
                events.put({"content-type": response.headers["content-type"]})
                name = None
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        name = line.removeprefix("event: ")
                    elif line.startswith("data: ") and name == "notifications":
                        events.put(json.loads(line.removeprefix("data: ")))
        except httpx.RemoteProtocolError:
            if not stop.is_set():
                raise  # cut while the test still listened

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert events.get(timeout=WAIT) == {"content-type": "text/event-stream; charset=utf-8"}
    try:
        yield events
    finally:
        stop.set()


def test_a_like_reaches_the_open_stream(runtime: Runtime, db: Session) -> None:
    author, fan = make_user(db, display_name="Автор"), make_user(db, display_name="Иван")
    video = make_ready_video(db, author)
    headers = bearer(db, author) | {"Accept-Language": "ru"}
    with live_server(runtime) as url, event_stream(url, headers) as events:
        assert events.get(timeout=WAIT) == {"unread_count": 0, "latest": None}
        response = httpx.put(f"{url}/api/v1/videos/{video.id}/like", headers=bearer(db, fan))
        assert response.status_code == 200
        event = events.get(timeout=WAIT)
        assert event["unread_count"] == 1
        assert event["latest"]["text"] == "Иван оценил(а) ваше видео"
        read = httpx.post(f"{url}/api/v1/notifications/read", json={}, headers=bearer(db, author))
        assert read.status_code == 204
        assert events.get(timeout=WAIT)["unread_count"] == 0


def test_closing_the_hub_ends_open_streams(runtime: Runtime, db: Session) -> None:
    user = make_user(db)
    hub = LocalHub()
    runtime_notifier, runtime.notifier = runtime.notifier, hub
    try:
        headers = bearer(db, user)
        with (
            live_server(runtime) as url,
            httpx.stream("GET", f"{url}/api/v1/notifications/stream", headers=headers) as response,
        ):
            lines = response.iter_lines()
            assert next(lines) == "retry: 3000"
            assert hub.open_streams() == 1
            hub.close()
            rest = list(lines)  # ends instead of hanging
            assert any(line.startswith("data: ") for line in rest)
    finally:
        runtime.notifier = runtime_notifier


def test_an_account_holds_a_bounded_number_of_streams(runtime: Runtime, db: Session) -> None:
    user = make_user(db)
    headers = bearer(db, user)
    with live_server(runtime) as url, ExitStack() as streams:
        held = []  # each stream's line reader, kept so that it stays open
        for _ in range(STREAMS_PER_USER):
            response = streams.enter_context(
                httpx.stream("GET", f"{url}/api/v1/notifications/stream", headers=headers, timeout=WAIT)
            )
            held.append(response.iter_lines())
            assert next(held[-1]) == "retry: 3000"
        assert runtime.notifier.open_streams(user.id) == STREAMS_PER_USER
        refused = httpx.get(f"{url}/api/v1/notifications/stream", headers=headers, timeout=WAIT)
        assert refused.status_code == 429
        assert refused.json()["code"] == "too_many_streams"
        other = bearer(db, make_user(db, username="someone_else"))
        with httpx.stream("GET", f"{url}/api/v1/notifications/stream", headers=other, timeout=WAIT) as own:
            assert own.status_code == 200
    # The streams closed: the account may open one again.
    with (
        live_server(runtime) as url,
        httpx.stream("GET", f"{url}/api/v1/notifications/stream", headers=headers, timeout=WAIT) as again,
    ):
        assert again.status_code == 200


@pytest.fixture
def redis_settings(settings: Settings) -> Settings:
    url = os.environ.get("MOLODETS_REDIS_URL") or "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        service_unavailable(f"Redis at {url} is unreachable: {exc}")
    return settings.model_copy(update={"redis_url": url})


@pytest.mark.parametrize("fan_out", ["redis", "socket"])
def test_a_like_on_one_web_process_reaches_a_stream_on_another(
    runtime: Runtime, settings: Settings, db: Session, fan_out: str, request: pytest.FixtureRequest
) -> None:
    """Two runtimes over one database, as two web processes are: with one Redis (scale-out), or
    with none and one data dir (`molodets serve --workers 2`)."""
    if fan_out == "redis":
        shared, hub_type = request.getfixturevalue("redis_settings"), RedisHub
    else:
        shared, hub_type = settings.model_copy(update={"redis_url": None}), SocketHub
    author, fan = make_user(db), make_user(db, display_name="Fan")
    video = make_ready_video(db, author)
    web_a, web_b = build_runtime(shared), build_runtime(shared)
    assert isinstance(web_a.notifier, hub_type)
    assert isinstance(web_b.notifier, hub_type)
    headers = bearer(db, author) | {"Accept-Language": "en"}
    try:
        with live_server(web_a) as url_a, live_server(web_b) as url_b, event_stream(url_b, headers) as events:
            assert events.get(timeout=WAIT)["unread_count"] == 0
            response = httpx.put(f"{url_a}/api/v1/videos/{video.id}/like", headers=bearer(db, fan))
            assert response.status_code == 200
            event = events.get(timeout=WAIT)
            assert (event["unread_count"], event["latest"]["text"]) == (1, "Fan liked your video")
    finally:
        web_a.close()
        web_b.close()


def test_the_socket_hub_forgets_processes_that_ended_without_closing(tmp_path: Path) -> None:
    """A killed process leaves its socket file behind: the next publish removes it, and a
    closed hub removes its own."""
    directory = hub_directory(tmp_path)
    directory.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(str(directory / "stale"))
    stale.close()  # bound, then gone without unlinking: as after SIGKILL
    publisher, listener = SocketHub(directory), SocketHub(directory)
    try:
        assert len(list(directory.iterdir())) == 3
        publisher.publish(42)
        assert sorted(path.name for path in directory.iterdir()) == sorted(
            [Path(publisher._address).name, Path(listener._address).name]
        )
    finally:
        publisher.close()
        listener.close()
    assert not directory.exists()  # the last one out removes the directory


def test_a_ping_crosses_between_socket_hubs(tmp_path: Path) -> None:
    directory = hub_directory(tmp_path)
    a, b = SocketHub(directory), SocketHub(directory)

    async def listen() -> None:
        async with b.subscribe(7) as pings, a.subscribe(7) as own, b.subscribe(8) as other:
            a.publish(7)
            assert await asyncio.wait_for(pings.get(), WAIT) == 7
            assert await asyncio.wait_for(own.get(), WAIT) == 7  # its own streams, directly
            await asyncio.sleep(0.1)
            assert (pings.qsize(), own.qsize(), other.qsize()) == (0, 0, 0)

    try:
        # Its own thread: the browser tests leave an event loop running in this one.
        with ThreadPoolExecutor(max_workers=1) as thread:
            thread.submit(asyncio.run, listen()).result()
    finally:
        a.close()
        b.close()
