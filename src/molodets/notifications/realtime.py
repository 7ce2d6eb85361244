# ruff: noqa: PTH106, PTH108, PTH118, PTH208  (socket addresses are strings, as `sendto` takes them)
"""Pushing "you have something new" to the pages a user holds open (Server-Sent Events).

A ping carries only the recipient's id: the stream that receives it reads the inbox from the
database in the page's own language, so nothing is rendered for a page that is not open and a
ping can never carry stale or foreign data.

- `LocalHub`: one process's open streams, each an asyncio queue; requests handled in worker
  threads publish into them thread-safely.
- `SocketHub` (embedded mode, no Redis): the processes of one data dir on one machine
  (`molodets serve --workers N`, whose job consumers run in the parent, or a `molodets worker`
  beside it) each bind a Unix datagram socket in a directory they share; a publish reaches the
  local streams directly and every other process with one datagram each.
- `RedisHub` (scale-out): publishing goes through Redis pub/sub, and each web process runs one
  subscriber task that hands the pings on to its own open streams, so a like served by web
  process A reaches a page held by web process B. One pattern subscription per process keeps
  Redis connections constant whatever the number of open pages; every process sees every ping
  (a few bytes each), which holds to a few dozen web processes before channels must be sharded.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import signal
import socket
import tempfile
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import redis
import redis.asyncio
import structlog

from molodets.settings import Settings

log = structlog.get_logger(__name__)

# What a stream's queue receives: a user id to refresh for, or None when the hub closes.
Ping = int | None
_Listener = tuple[asyncio.AbstractEventLoop, "asyncio.Queue[Ping]"]


class LocalHub:
    def __init__(self) -> None:
        self._listeners: dict[int, set[_Listener]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def publish(self, user_id: int) -> None:
        """Called after a commit, from any thread."""
        self.deliver(user_id)

    def deliver(self, user_id: int) -> None:
        with self._lock:
            listeners = list(self._listeners.get(user_id, ()))
        for loop, queue in listeners:
            _put(loop, queue, user_id)

    @asynccontextmanager
    async def subscribe(self, user_id: int) -> AsyncIterator[asyncio.Queue[Ping]]:
        """A queue of pings for `user_id` while the block runs (an open stream)."""
        queue: asyncio.Queue[Ping] = asyncio.Queue(maxsize=64)
        listener = (asyncio.get_running_loop(), queue)
        with self._lock:
            if self._closed:
                queue.put_nowait(None)
            self._listeners.setdefault(user_id, set()).add(listener)
        try:
            await self._ready()
            yield queue
        finally:
            with self._lock:
                listeners = self._listeners.get(user_id)
                if listeners is not None:
                    listeners.discard(listener)
                    if not listeners:
                        del self._listeners[user_id]

    async def _ready(self) -> None:
        """Wait until pings published from now on reach this process (nothing to wait for here)."""

    def open_streams(self, user_id: int | None = None) -> int:
        """Streams open in this process (of `user_id`, or of everyone)."""
        with self._lock:
            if user_id is not None:
                return len(self._listeners.get(user_id, ()))
            return sum(len(listeners) for listeners in self._listeners.values())

    def close(self) -> None:
        self.end_streams()

    def end_streams(self) -> None:
        """End every open stream, and any opened from now on (server shutdown): their queues
        get None. Publishing still works: requests in flight may yet commit."""
        with self._lock:
            self._closed = True
            listeners = [listener for group in self._listeners.values() for listener in group]
        for loop, queue in listeners:
            _put(loop, queue, None)


def _put(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Ping], ping: Ping) -> None:
    def put() -> None:
        # A page that far behind refreshes once on the pings it already holds.
        with contextlib.suppress(asyncio.QueueFull):
            queue.put_nowait(ping)

    # RuntimeError: the stream's loop has closed; its subscription is about to go.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(put)


class RedisHub(LocalHub):
    def __init__(self, url: str, prefix: str) -> None:
        super().__init__()
        self._url = url
        self._channel_prefix = f"{prefix}:notify:"
        self._publisher = redis.Redis.from_url(url)
        self._task: asyncio.Task[None] | None = None
        self._subscribed: asyncio.Event | None = None

    def publish(self, user_id: int) -> None:
        try:
            self._publisher.publish(f"{self._channel_prefix}{user_id}", b"")
        except redis.RedisError:
            # The action is committed; the page will see it on its next refresh or reconnect.
            log.warning("notification_publish_failed", user_id=user_id)

    async def _ready(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._subscribed = asyncio.Event()
            self._task = loop.create_task(self._listen(self._subscribed))
        assert self._subscribed is not None
        await asyncio.wait_for(self._subscribed.wait(), timeout=5)

    async def _listen(self, subscribed: asyncio.Event) -> None:
        """The process's one subscriber: hands each ping to the local streams; reconnects."""
        while not self._closed:
            client = redis.asyncio.Redis.from_url(self._url)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.psubscribe(f"{self._channel_prefix}*")
                    subscribed.set()
                    async for message in pubsub.listen():
                        if message["type"] == "pmessage":
                            channel = message["channel"].decode()
                            self.deliver(int(channel.removeprefix(self._channel_prefix)))
            except (redis.RedisError, OSError):
                log.warning("notification_subscriber_reconnecting")
                await asyncio.sleep(1)
            finally:
                await client.aclose()  # type: ignore[attr-defined]  # stubs predate redis 5

    def close(self) -> None:
        super().close()
        if self._task is not None and not self._task.done():
            with contextlib.suppress(RuntimeError):  # its loop has closed, and the task with it
                self._task.get_loop().call_soon_threadsafe(self._task.cancel)
        self._publisher.close()


class SocketHub(LocalHub):
    """The processes of one data dir, one Unix datagram socket each in `directory`."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self._directory = str(directory)
        self._address = os.path.join(self._directory, f"{os.getpid()}-{secrets.token_hex(4)}")
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self._bind(directory)
        except FileNotFoundError:  # the last process of the data dir removed it just now
            self._bind(directory)
        except OSError:
            self._socket.close()
            raise
        self._receiver = threading.Thread(target=self._receive, name="molodets-hub", daemon=True)
        self._receiver.start()

    def _bind(self, directory: Path) -> None:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if directory.stat().st_uid != os.getuid():
            raise PermissionError(f"{directory} belongs to another user")
        self._socket.bind(self._address)

    def publish(self, user_id: int) -> None:
        self.deliver(user_id)
        message = str(user_id).encode()
        for name in os.listdir(self._directory):
            address = os.path.join(self._directory, name)
            if address == self._address:
                continue
            try:
                # MSG_DONTWAIT: a process too busy to drain its socket must not stall a request.
                self._socket.sendto(message, socket.MSG_DONTWAIT, address)
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(address)  # a process that ended without closing its hub
            except BlockingIOError:
                log.warning("notification_ping_dropped", user_id=user_id)

    def _receive(self) -> None:
        while True:
            message = self._socket.recv(32)
            if not message:  # the wake-up `close` sends
                return
            with contextlib.suppress(ValueError):
                self.deliver(int(message))

    def close(self) -> None:
        super().close()
        with contextlib.suppress(OSError):
            self._socket.sendto(b"", self._address)
        self._receiver.join(timeout=5)
        self._socket.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._address)
        with contextlib.suppress(OSError):
            os.rmdir(self._directory)  # the data dir's last process: nothing left behind


def hub_directory(data_dir: Path) -> Path:
    """Where the processes of one data dir meet: a short path (a Unix socket's address is at
    most 104-108 bytes), private to this user."""
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"molodets-{os.getuid()}-{digest}"


def build_hub(settings: Settings) -> LocalHub:
    if settings.redis_url:
        return RedisHub(settings.redis_url, settings.redis_prefix)
    directory = hub_directory(settings.data_dir)
    try:
        return SocketHub(directory)
    except OSError as exc:
        # Live pings then reach only this process's pages; the others see news on refresh.
        log.warning("notification_hub_local_only", directory=str(directory), reason=str(exc))
        return LocalHub()


def end_streams_at_exit_signals(hub: LocalHub) -> None:
    """Call from the server's event loop once it runs (the app's lifespan). uvicorn answers
    SIGINT and SIGTERM by waiting for the open requests, up to its grace period, and a stream
    never ends by itself: without this, every stop or restart with a page open waited out the
    grace period and then cut the streams with an error logged for each."""
    if threading.current_thread() is not threading.main_thread():
        return  # a server run in a thread (tests) takes no signals
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(signum)
        if not callable(previous):
            continue

        def handle(number: int, frame: object, previous: Callable[[int, Any], Any] = previous) -> None:
            # Only a call scheduled on the loop: the hub's lock may be held by the code interrupted.
            loop.call_soon_threadsafe(hub.end_streams)
            previous(number, frame)

        signal.signal(signum, handle)
