"""Helpers for upload tests over real sockets: a uvicorn server in a thread, a TCP proxy that
cuts a connection after N bytes, raw half-sent requests, and a look at the part file's lock."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import uvicorn
from fastapi import FastAPI

TUS = {"Tus-Resumable": "1.0.0"}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wait_for(predicate: Callable[[], bool], seconds: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


class LiveServer:
    """The app under uvicorn on a loopback port, in a thread of this process. Lifespan is
    off: the app's shutdown would close the test session's shared runtime."""

    def __init__(self, app: FastAPI) -> None:
        self._sock = listening_socket()
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, lifespan="off", log_config=None, access_log=False, timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> LiveServer:
        self._thread.start()
        wait_for(lambda: self._server.started, what="uvicorn to start")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


class CuttingProxy:
    """Forwards loopback TCP to `upstream_port`, but once its clients have sent more than
    `cut_after` bytes in all (counted across connections: clients may or may not reuse one),
    it closes both sides of that connection, once: a network drop in the middle of a body.

    Before closing it waits `linger` seconds, so the server reads what was forwarded: uvicorn
    drops body bytes it has buffered but not yet handed to the app when a connection dies,
    and on a busy machine the cut could otherwise land before the handler reads anything.
    """

    def __init__(self, upstream_port: int, cut_after: int, linger: float = 0.5) -> None:
        self.upstream_port = upstream_port
        self.cut_after = cut_after
        self.linger = linger
        self.cuts = 0
        self._forwarded = 0
        self._lock = threading.Lock()
        self._sock = listening_socket()
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> CuttingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() would not
        self._sock.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _allowance(self, size: int) -> int | None:
        """How much of `size` bytes to forward; None means forward it all and go on."""
        with self._lock:
            if self.cuts or self._forwarded + size <= self.cut_after:
                self._forwarded += size
                return None
            self.cuts += 1
            return self.cut_after - self._forwarded

    def _pipe(self, client: socket.socket, upstream: socket.socket) -> None:
        def back() -> None:
            with contextlib.suppress(OSError):
                while data := upstream.recv(65536):
                    client.sendall(data)
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_WR)

        threading.Thread(target=back, daemon=True).start()
        try:
            while data := client.recv(16384):
                allowed = self._allowance(len(data))
                if allowed is not None:
                    upstream.sendall(data[:allowed])
                    time.sleep(self.linger)
                    break
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (upstream, client):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


def open_partial_patch(
    port: int,
    upload_id: int,
    *,
    token: str,
    offset: int,
    declared: int,
    body: bytes,
    extra_headers: dict[str, str] | None = None,
) -> socket.socket:
    """Start a PATCH that promises `declared` bytes and sends only `body`; close the returned
    socket to play a client whose connection dropped."""
    sock = socket.create_connection(("127.0.0.1", port))
    head = (
        f"PATCH /api/v1/uploads/{upload_id} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Tus-Resumable: 1.0.0\r\n"
        "Content-Type: application/offset+octet-stream\r\n"
        f"Upload-Offset: {offset}\r\n"
        f"Content-Length: {declared}\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in (extra_headers or {}).items())
        + "\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def is_locked(path: Path) -> bool:
    """True while some request holds the part file's exclusive lock (the same flock the
    server takes), seen from outside the server."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
