"""Several web processes on one port (`molodets serve --workers N` on Linux): connections spread
evenly over them, one that dies is replaced, a taken port is one clear line, and none outlives
its supervisor."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from molodets.processes import balances_connections
from tests.test_cli import _children, _free_port, run_cli, start_process, stop, wait_until_ready

pytestmark = pytest.mark.skipif(not balances_connections(), reason="SO_REUSEPORT balances on Linux only")


def _connections_by_process(pids: list[int], port: int) -> dict[int, int]:
    """How many established connections to `port` each process holds (sockets from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                inodes.add(fields[9])
    held = {}
    for pid in pids:
        links = [str(entry.readlink()) for entry in Path(f"/proc/{pid}/fd").iterdir()]
        held[pid] = sum(1 for link in links if link.startswith("socket:[") and link[8:-1] in inodes)
    return held


def _web_pids(supervisor: int) -> list[int]:
    """The supervisor's children that serve (multiprocessing's resource tracker is one too)."""
    return [pid for pid in _children(supervisor) if "spawn_main" in _command(pid)]


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def _serve_two(data_dir: Path) -> tuple[subprocess.Popen[str], int]:
    """`molodets serve --workers 2` on a free port, once it answers."""
    port = _free_port()
    process = start_process(data_dir, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2")
    try:
        assert wait_until_ready(process, f"http://127.0.0.1:{port}").status_code == 200
    except BaseException:
        stop(process)
        raise
    return process, port


def test_connections_spread_evenly_and_a_dead_process_is_replaced(tmp_path: Path) -> None:
    process, port = _serve_two(tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        web = _web_pids(process.pid)
        assert len(web) == 2
        with ExitStack() as stack:
            # A burst, as a load balancer or a benchmark opens them: all are queued before
            # either process wakes to accept.
            burst = [stack.enter_context(socket.create_connection(("127.0.0.1", port))) for _ in range(40)]
            for connection in burst:
                connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            for connection in burst:  # answered, and kept open (keep-alive)
                assert connection.recv(4096).startswith(b"HTTP/1.1 200")
            held = _connections_by_process(web, port)
        assert sum(held.values()) == 40
        assert min(held.values()) >= 8, held  # an even split, not whoever woke first taking all

        os.kill(web[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while len(now := _web_pids(process.pid)) < 2 or web[0] in now:
            assert time.monotonic() < deadline, "the killed web process was not replaced"
            time.sleep(0.2)
        assert all(httpx.get(f"{base}/healthz").status_code == 200 for _ in range(20))
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    assert "web_process_restarted" in output


def test_a_taken_port_is_one_line_and_nothing_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(tmp_path, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2")
    assert result.returncode == 1
    assert result.stderr.strip() == f"molodets: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert "Traceback" not in result.stdout + result.stderr


def test_web_processes_end_with_their_supervisor(tmp_path: Path) -> None:
    process, _ = _serve_two(tmp_path)
    try:
        web = _web_pids(process.pid)
        process.kill()  # no chance to stop them itself
        process.wait(timeout=10)
        deadline = time.monotonic() + 15
        while any(Path(f"/proc/{pid}").exists() and _state(pid) != "Z" for pid in web):
            assert time.monotonic() < deadline, "web processes outlived their supervisor"
            time.sleep(0.2)
    finally:
        if process.poll() is None:
            stop(process)
        assert process.stdout is not None
        process.stdout.close()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
