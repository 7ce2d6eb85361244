"""Probe an uploaded file and decide whether we can publish it, without parsing it here.

Demuxers and decoders are where hostile or broken media bites (hangs, huge allocations, crashes),
so PyAV runs in a child process (`_probe_child`) with a wall-clock timeout, a memory ceiling and
a CPU-time backstop. This module only starts it and turns its JSON report into `ProbeResult` or
`MediaRejected`; it never imports PyAV.

Rejection codes are stable (the creator's page translates them):
empty_file, not_a_video, no_video_stream, unsupported_codec, corrupt_video, video_too_long,
video_too_short, dimensions_too_large, too_many_pixels, frame_rate_too_high, probe_timeout,
probe_failed.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from molodets.media.types import AudioStreamInfo, MediaRejected, ProbeResult, VideoStreamInfo

# Limits. 8192 px on a side covers every phone and 8K camera; 8192x4320 (DCI 8K, 35.4 Mpx) is
# the most pixels a frame may have, so a 8192x8192 frame (67 Mpx) is refused even though each
# side passes. A frame rate up to 120 is what phones' slow-motion modes record.
MAX_SIDE = 8192
MAX_PIXELS = 8192 * 4320
MAX_FPS = 120.0
MIN_SECONDS = 0.3
MIN_FRAMES = 2
# Address space for the child: PyAV plus a few decoded 8K frames fit with room to spare.
DEFAULT_MEMORY_BYTES = 2 * 1024**3

CHILD_MODULE = "molodets.media._probe_child"


def probe_file(
    path: Path, *, max_seconds: int, timeout: float = 30.0, memory_bytes: int = DEFAULT_MEMORY_BYTES
) -> ProbeResult:
    """Measure `path` in a limited child process and return what a player will see.

    Raises `MediaRejected` for anything we will not publish, including a child that timed out
    or died; `FileNotFoundError` if `path` is missing (that is our bug, not the creator's)."""
    size = path.stat().st_size
    if size == 0:
        raise MediaRejected("empty_file", "The file is empty.")
    command = [
        sys.executable,
        "-P",  # the child imports molodets from where it is installed, never from the cwd
        "-m",
        CHILD_MODULE,
        "--max-seconds",
        str(max_seconds),
        "--memory-bytes",
        str(memory_bytes),
        # A backstop for a child left running if this process dies before it can kill it.
        "--cpu-seconds",
        str(math.ceil(timeout) + 1),
        "--",
        str(path.resolve()),
    ]
    try:
        done = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        # subprocess.run has already killed and reaped the child.
        raise MediaRejected("probe_timeout", f"Probing took longer than {timeout:g} s.") from None
    except OSError as exc:
        raise MediaRejected("probe_failed", f"Could not start the probe process: {exc}.") from None
    return _read_report(done, size)


def _read_report(done: subprocess.CompletedProcess[bytes], size: int) -> ProbeResult:
    """The child's JSON verdict, or `probe_failed` with what little a dead child left behind."""
    if done.returncode == -signal.SIGXCPU:  # its CPU-time backstop: a timeout by another clock
        raise MediaRejected("probe_timeout", "Probing used more CPU time than allowed.")
    if done.returncode != 0:
        raise MediaRejected("probe_failed", f"The probe process {_death(done)}.")
    try:
        report = json.loads(done.stdout)
        if "rejected" in report:
            raise MediaRejected(str(report["rejected"]["code"]), str(report["rejected"]["detail"]))
        return _result(report["ok"], size)
    except (ValueError, KeyError, TypeError) as exc:
        raise MediaRejected("probe_failed", f"The probe process sent an unreadable report ({exc}).") from None


def _death(done: subprocess.CompletedProcess[bytes]) -> str:
    last_line = (done.stderr.decode(errors="replace").strip().splitlines() or [""])[-1][:300]
    if done.returncode < 0:
        try:
            how = f"was killed by {signal.Signals(-done.returncode).name}"
        except ValueError:
            how = f"was killed by signal {-done.returncode}"
    else:
        how = f"exited with status {done.returncode}"
    return f"{how}: {last_line}" if last_line else how


def _result(ok: dict[str, Any], size: int) -> ProbeResult:
    video, audio = ok["video"], ok["audio"]
    duration_ms = int(ok["duration_ms"])
    return ProbeResult(
        container=str(ok["container"]),
        duration_ms=duration_ms,
        size_bytes=size,
        bitrate=round(size * 8 * 1000 / max(duration_ms, 1)),
        video=VideoStreamInfo(
            codec=str(video["codec"]),
            coded_width=int(video["coded_width"]),
            coded_height=int(video["coded_height"]),
            display_width=int(video["display_width"]),
            display_height=int(video["display_height"]),
            rotation=int(video["rotation"]),
            fps=float(video["fps"]),
            pix_fmt=str(video["pix_fmt"]),
            bit_depth=int(video["bit_depth"]),
            hdr=video.get("hdr"),
            mirrored=bool(video.get("mirrored", False)),
        ),
        audio=None
        if audio is None
        else AudioStreamInfo(
            codec=str(audio["codec"]), channels=int(audio["channels"]), sample_rate=int(audio["sample_rate"])
        ),
    )
