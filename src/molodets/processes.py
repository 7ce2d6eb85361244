"""Several web processes on one port, each listening on a socket of its own (`SO_REUSEPORT`), so
the kernel spreads new connections evenly over them.

With one socket shared by every process (what uvicorn's `--workers` does), whichever process
wakes first accepts everything waiting: at the start of the load test one of two processes took
78 of 100 connections, and its pages waited three times as long as the other's (docs/load.md).
Linux only (elsewhere `SO_REUSEPORT` does not balance; `cli` falls back to uvicorn's workers).

The supervisor starts the processes, restarts one that dies, and stops them all on SIGINT or
SIGTERM. Each child asks the kernel for SIGTERM should the supervisor die without stopping it.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any

import structlog
import uvicorn

log = structlog.get_logger(__name__)

LISTEN_BACKLOG = 2048
# A process that fails this soon after it started (a bad setting, a port it cannot bind) would
# fail again: the supervisor stops instead of restarting it forever.
EARLY_EXIT_SECONDS = 10.0
PR_SET_PDEATHSIG = 1


class StartError(Exception):
    """A web process could not start; the message says which and why."""


def balances_connections() -> bool:
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def listening_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def check_port_free(host: str, port: int) -> None:
    """A plain bind, without `SO_REUSEPORT`: it fails if anything holds the port, even another
    Molodets whose sockets would otherwise share the connections with ours."""
    try:
        listening_socket(host, port, reuse_port=False).close()
    except OSError as exc:
        raise StartError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _serve(host: str, port: int, uvicorn_options: dict[str, Any], supervisor: int) -> None:
    """A child: its own socket on the shared port, and uvicorn on it (the app built from the
    environment, as every process builds its own runtime)."""
    with contextlib.suppress(AttributeError, OSError):  # a libc without prctl: no such guard
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != supervisor:
        return  # it died before the guard was set
    sock = listening_socket(host, port, reuse_port=True)
    sock.listen(LISTEN_BACKLOG)
    config = uvicorn.Config(
        "molodets.app:app_from_environment", factory=True, host=host, port=port, **uvicorn_options
    )
    uvicorn.Server(config).run(sockets=[sock])


@dataclass
class WebProcesses:
    count: int
    host: str
    port: int
    uvicorn_options: dict[str, Any]
    stop_seconds: float
    _children: list[tuple[BaseProcess, float]] = field(default_factory=list)
    _stopping: bool = False

    def run(self) -> None:
        """Serve until SIGINT or SIGTERM (check the port first: `check_port_free`); raise
        `StartError` if a process fails right after it started."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._children = [self._start() for _ in range(self.count)]
            while not self._stopping:
                self._watch()
        finally:
            self._stop_children()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _start(self) -> tuple[BaseProcess, float]:
        child = multiprocessing.get_context("spawn").Process(
            target=_serve,
            args=(self.host, self.port, self.uvicorn_options, os.getpid()),
            name="molodets-web",
        )
        child.start()
        return child, time.monotonic()

    def _watch(self) -> None:
        sentinels = [child.sentinel for child, _ in self._children]
        multiprocessing.connection.wait(sentinels, timeout=1.0)
        for index, (child, started) in enumerate(self._children):
            if child.is_alive() or self._stopping:
                continue
            # Killed by a signal (the OOM killer, an operator) is not its own failure: replace it.
            failed = child.exitcode is not None and child.exitcode > 0
            if failed and time.monotonic() - started < EARLY_EXIT_SECONDS:
                raise StartError(f"a web process exited with status {child.exitcode} as it started")
            log.warning("web_process_restarted", pid=child.pid, status=child.exitcode)
            self._children[index] = self._start()

    def _stop(self, _signum: int, _frame: object) -> None:
        self._stopping = True

    def _stop_children(self) -> None:
        for child, _ in self._children:
            if child.is_alive() and child.pid is not None:
                # A terminal's Ctrl+C reached them too; a signal to the supervisor alone did not.
                child.terminate()
        deadline = time.monotonic() + self.stop_seconds
        for child, _ in self._children:
            child.join(max(0.0, deadline - time.monotonic()))
            if child.is_alive():
                child.kill()
                child.join()
