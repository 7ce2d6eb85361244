"""A real `molodets serve` for the benchmarks: a subprocess on a free 127.0.0.1 port over a fresh
data dir (SQLite, local media), with rate limits off, stopped with Ctrl+C as a person would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(data_dir: Path, overrides: dict[str, str] | None = None) -> dict[str, str]:
    # Only our settings: a shell pointing MOLODETS_* at PostgreSQL or S3 must not leak in, unless
    # a benchmark asks for them in `overrides`.
    env = {key: value for key, value in os.environ.items() if not key.startswith("MOLODETS_")}
    env.update(
        {"MOLODETS_DATA_DIR": str(data_dir), "MOLODETS_RATE_LIMITS": "off", "MOLODETS_LOG_LEVEL": "WARNING"}
    )
    env.update(overrides or {})
    return env


@contextmanager
def running_server(
    data_dir: Path,
    *,
    log: Path | None = None,
    env_overrides: dict[str, str] | None = None,
    prepare: Callable[[], None] | None = None,
    web_workers: int = 1,
) -> Iterator[str]:
    """Migrate, run `prepare` (to seed the database), start `molodets serve` with its job
    consumers, yield its base URL, then stop it. With `log`, the server's output goes there
    (kept for a failed run) instead of nowhere. With `web_workers` above 1 it starts the
    scale-out `molodets web --workers N` instead (PostgreSQL and Redis only)."""
    with running_server_process(
        data_dir, log=log, env_overrides=env_overrides, prepare=prepare, web_workers=web_workers
    ) as (base, _):
        yield base


@contextmanager
def running_server_process(
    data_dir: Path,
    *,
    log: Path | None = None,
    env_overrides: dict[str, str] | None = None,
    prepare: Callable[[], None] | None = None,
    web_workers: int = 1,
    serve_workers: int = 1,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`running_server`, also yielding the server's process (for its CPU time and memory). With
    `serve_workers` above 1, `molodets serve --workers N` (the embedded mode's web processes)."""
    env = server_env(data_dir, env_overrides)
    subprocess.run([sys.executable, "-m", "molodets", "migrate"], env=env, check=True, capture_output=True)
    if prepare is not None:
        prepare()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with Path(log or os.devnull).open("wb") as output:
        command = ["web", "--workers", str(web_workers)] if web_workers > 1 else ["serve"]
        if serve_workers > 1:
            command = ["serve", "--workers", str(serve_workers)]
        process = subprocess.Popen(
            [sys.executable, "-m", "molodets", *command, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(base, process)
            yield base, process
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_ready(base: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with status {process.returncode} before it was ready")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not start within {seconds:g} s")
