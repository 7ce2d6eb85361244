"""Media tools run under limits: private memory, no core dumps, and no life after the worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from molodets.media.ffmpeg import ffmpeg_executable
from molodets.media.transcode import TranscodeFailed, command_head, limited_command, run_ffmpeg

MIB = 1024**2


def test_the_limits_are_in_force_in_the_started_tool() -> None:
    shell = ["/bin/sh", "-c", "ulimit -d; ulimit -c"]
    output = subprocess.run(limited_command(shell, memory_bytes=300 * MIB), capture_output=True, check=True)
    assert output.stdout.decode().split() == [str(300 * 1024), "0"]  # KiB, then no core


def test_ffmpeg_over_its_memory_limit_fails_cleanly(tmp_path: Path) -> None:
    """A 4K decode and encode cannot fit in 40 MiB: the run ends with TranscodeFailed, whether
    ffmpeg reports the failed allocation or dies of it."""
    argv = [
        *command_head(ffmpeg_executable()),
        "-f", "lavfi", "-i", "testsrc2=size=3840x2160:rate=30:duration=2",
        "-c:v", "libx264", "-preset", "ultrafast", str(tmp_path / "out.mp4"),
    ]  # fmt: skip
    with pytest.raises(TranscodeFailed):
        run_ffmpeg(argv, duration_ms=2000, timeout=60, memory_bytes=40 * MIB)
    # The same command fits in the default limit.
    run_ffmpeg(argv, duration_ms=2000, timeout=60)
    assert (tmp_path / "out.mp4").stat().st_size > 0


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's prctl")
def test_a_killed_worker_leaves_no_tool_running() -> None:
    """SIGKILL the process that started a long tool: the tool dies with it instead of running
    on unsupervised beside the job's retry."""
    starter = (
        "import subprocess\n"
        "from molodets.media.transcode import limited_command\n"
        "proc = subprocess.Popen(limited_command(['/bin/sleep', '60']))\n"
        "print(proc.pid, flush=True)\n"
        "proc.wait()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", starter], stdout=subprocess.PIPE)
    assert parent.stdout is not None
    tool_pid = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    parent.stdout.close()
    deadline = time.monotonic() + 10
    while _alive(tool_pid):
        assert time.monotonic() < deadline, "the tool outlived its parent"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (dead, waiting for init to reap it) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
