"""Turn a validated source into MP4 renditions with ffmpeg: the whole ladder in one run, and a
fast first rendition so a clip plays before the ladder is done.

One process decodes the source once and feeds every rung through `split` (video) and `asplit`
(audio): decoding a phone clip costs as much as encoding a low rung, so N runs would pay it N
times (on the benchmark clip one run per rung took 1.35x the wall and 1.32x the CPU time).
Loudness is normalised once, before the split, so every rendition sounds the same.

A source without audio gets renditions without an audio track: players handle it, it saves
bytes, and "silent" is then a fact the feed can read instead of a track of zeros.

Outputs are written under temporary names and renamed only when ffmpeg succeeded, so a killed or
failed run never leaves a half file under a final name.
"""

from __future__ import annotations

import contextlib
import os
import queue
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

import av

from molodets.media.ladder import gop_frames, output_fps, plan_first, sdr_filters
from molodets.media.types import ProbeResult, RenditionFile, RenditionSpec

ProgressCallback = Callable[[float], None]

# Area averaging scored higher VMAF than bicubic, lanczos and bilinear for our downscales
# (480p: 91.6 vs 90.7 bicubic, 84.8 bilinear) and is cheaper than bicubic.
SCALE_FLAGS = "area"
# EBU R128, single pass: -14 LUFS is where the big social apps play, so our clips neither jump
# out nor sink between theirs; -1.5 dBTP leaves room for AAC's overshoot.
LOUDNORM = "loudnorm=I=-14:TP=-1.5:LRA=11"
# ultrafast measured best for the first rendition: 480p of the hard benchmark clip in 1.4x the
# bare decode time, VMAF 93.4 (veryfast: 1.7x, 91.6; superfast: 1.5x, 90.2; decoding with
# -skip_loop_filter saved 7 % and cost 4.5 VMAF; fast_bilinear on top saved 11 % and cost 21).
# ultrafast alone turns CABAC and 8x8 transforms off, which makes the stream Constrained
# Baseline; turning them back on keeps it High like the ladder, at no measurable cost in time.
FIRST_PRESET = "ultrafast"
FIRST_X264_PARAMS = "cabac=1:8x8dct=1"
PROGRESS_INTERVAL = 0.25  # seconds between progress callbacks at most
# Private memory an ffmpeg run may use. The whole 1080p ladder peaked at 1.3 GiB (780 MiB
# resident) on 2 cores; x264 adds threads, and their frame buffers, with every core.
FFMPEG_MEMORY_BYTES = max(4 * 1024**3, (os.cpu_count() or 1) * 256 * 1024**2)
LIMITED_EXEC = Path(__file__).with_name("_limited_exec.py")
_STDERR_TAIL_LINES = 15


class TranscodeError(Exception):
    """ffmpeg did not produce the outputs."""


class TranscodeFailed(TranscodeError):  # noqa: N818 - named for what happened, like MediaRejected
    """ffmpeg exited with an error; `stderr_tail` holds its last lines."""

    def __init__(self, returncode: int, stderr_tail: str) -> None:
        super().__init__(f"ffmpeg exited with status {returncode}: {stderr_tail}")
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class TranscodeTimeout(TranscodeError):  # noqa: N818 - as above
    """ffmpeg ran past its time limit and was killed with its process group."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"ffmpeg ran longer than {timeout:g} s and was killed")
        self.timeout = timeout


def transcode_ladder(
    source: Path,
    probe: ProbeResult,
    specs: list[RenditionSpec],
    out_dir: Path,
    *,
    ffmpeg: str,
    preset: str = "faster",
    on_progress: ProgressCallback | None = None,
    timeout: float | None = None,
) -> list[RenditionFile]:
    """Encode every spec in one ffmpeg run; returns the files as `<name>.mp4` in `out_dir`.

    `on_progress` gets 0..1, throttled, increasing, ending at exactly 1.0 once the files are in
    place; it is called from this thread."""
    if not specs:
        raise ValueError("transcode_ladder needs at least one rendition")
    return _transcode(source, probe, specs, out_dir, ffmpeg, preset, None, on_progress, timeout)


def transcode_first(
    source: Path,
    probe: ProbeResult,
    out_dir: Path,
    *,
    ffmpeg: str,
    spec: RenditionSpec | None = None,
    preset: str = FIRST_PRESET,
    on_progress: ProgressCallback | None = None,
    timeout: float | None = None,
) -> RenditionFile:
    """The "publish fast" rendition (`first.mp4`, 480p by default): the whole clip, as fast as
    acceptable quality allows, with the same audio, GOP and container rules as the ladder."""
    specs = [spec or plan_first(probe)]
    x264_params = FIRST_X264_PARAMS if preset == FIRST_PRESET else None
    (made,) = _transcode(source, probe, specs, out_dir, ffmpeg, preset, x264_params, on_progress, timeout)
    return made


def _transcode(
    source: Path,
    probe: ProbeResult,
    specs: list[RenditionSpec],
    out_dir: Path,
    ffmpeg: str,
    preset: str,
    x264_params: str | None,
    on_progress: ProgressCallback | None,
    timeout: float | None,
) -> list[RenditionFile]:
    finals = [out_dir / f"{spec.name}.mp4" for spec in specs]

    def run(temps: list[Path]) -> None:
        argv = ladder_command(
            source, probe, specs, temps, ffmpeg=ffmpeg, preset=preset, x264_params=x264_params
        )
        run_ffmpeg(argv, duration_ms=probe.duration_ms, on_progress=on_progress, timeout=timeout)

    write_via_temps(finals, run)
    files = [_measure(spec, final, probe) for spec, final in zip(specs, finals, strict=True)]
    if on_progress is not None:
        on_progress(1.0)
    return files


def ladder_command(
    source: Path,
    probe: ProbeResult,
    specs: Sequence[RenditionSpec],
    outputs: Sequence[Path],
    *,
    ffmpeg: str,
    preset: str,
    x264_params: str | None = None,
) -> list[str]:
    """The one ffmpeg command that writes `outputs` (MP4, whatever their names) for `specs`.

    Public so the benchmark can run the same command bare, without our bookkeeping."""
    fps = output_fps(probe)
    gop = str(gop_frames(fps))
    count = len(specs)
    # Autorotation happens in the decoder before the graph; `[0:V:0]` skips cover-art streams.
    head = f"[0:V:0]{sdr_filters(probe)}fps={fps}"
    scales = [
        f"scale={s.width}:{s.height}:flags={SCALE_FLAGS},setsar=1,format=yuv420p[v{i}]"
        for i, s in enumerate(specs)
    ]
    if count == 1:
        chains = [f"{head},{scales[0]}"]
    else:
        chains = [f"{head},split={count}" + "".join(f"[s{i}]" for i in range(count))]
        chains += [f"[s{i}]{scale}" for i, scale in enumerate(scales)]
    if probe.audio is not None:
        # Downmix (5.1, mono) to stereo first so loudness is measured on what listeners hear;
        # loudnorm resamples to 192 kHz internally, hence the aresample after it.
        labels = "".join(f"[a{i}]" for i in range(count))
        chains.append(
            f"[0:a:0]aformat=channel_layouts=stereo,{LOUDNORM},aresample=48000,asplit={count}{labels}"
        )
    argv = [
        *command_head(ffmpeg),
        "-i",
        str(source),
        "-filter_complex",
        ";".join(chains),
    ]
    for i, (spec, out) in enumerate(zip(specs, outputs, strict=True)):
        argv += ["-map", f"[v{i}]"]
        argv += [
            "-c:v", "libx264", "-preset", preset, "-profile:v", "high",
            "-crf", str(spec.crf),
            "-maxrate", f"{spec.maxrate_kbps}k", "-bufsize", f"{spec.bufsize_kbps}k",
            # A fixed GOP (no scene-cut keyframes): keyframes line up across rungs.
            "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
        ]  # fmt: skip
        if x264_params:
            argv += ["-x264-params", x264_params]
        if probe.audio is not None:
            argv += ["-map", f"[a{i}]", "-c:a", "aac", "-b:a", f"{spec.audio_kbps}k", "-ar", "48000"]
            argv += ["-ac", "2"]
        # No source metadata: phones write the GPS position of the recording into it.
        argv += ["-map_metadata", "-1", "-map_chapters", "-1"]
        argv += ["-movflags", "+faststart", "-f", "mp4", str(out)]
    return argv


def limited_command(argv: Sequence[str], *, memory_bytes: int = FFMPEG_MEMORY_BYTES) -> list[str]:
    """`argv` prefixed so that it runs with at most `memory_bytes` of private memory, no core
    dump, and dies with the thread that started it (see `_limited_exec.py`)."""
    head = [sys.executable, "-I", "-S", str(LIMITED_EXEC), str(memory_bytes), str(os.getpid()), "--"]
    return [*head, *argv]


def run_ffmpeg(
    argv: Sequence[str],
    *,
    duration_ms: int,
    on_progress: ProgressCallback | None = None,
    timeout: float | None = None,
    memory_bytes: int = FFMPEG_MEMORY_BYTES,
) -> None:
    """Run an ffmpeg command built with `command_head` (progress on stdout) under
    `limited_command`, enforcing `timeout` on its whole process group. Raises TranscodeTimeout
    or TranscodeFailed (also when it ran out of memory)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    with tempfile.TemporaryFile() as stderr:
        # Its own session, so a kill reaches anything it starts and a Ctrl-C of ours does not
        # reach it before we decide.
        proc = subprocess.Popen(
            limited_command(argv, memory_bytes=memory_bytes),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
        values: queue.SimpleQueue[float] = queue.SimpleQueue()
        if proc.stdout is None:  # never: PIPE was asked for; this tells the type checker
            raise RuntimeError("ffmpeg has no stdout pipe")
        reader = threading.Thread(target=_read_progress, args=(proc.stdout, duration_ms, values), daemon=True)
        reader.start()
        throttle = _Throttle(on_progress)
        try:
            while proc.poll() is None:
                if deadline is not None and time.monotonic() >= deadline:
                    raise TranscodeTimeout(timeout or 0.0)
                with contextlib.suppress(queue.Empty):
                    throttle(values.get(timeout=0.1))
        finally:
            if proc.poll() is None:
                _kill_group(proc)
            reader.join(timeout=5)
            proc.stdout.close()
        if proc.returncode != 0:
            raise TranscodeFailed(proc.returncode, _tail(stderr))


def write_via_temps(finals: Sequence[Path], run: Callable[[list[Path]], None]) -> None:
    """Call `run` with temporary names beside `finals`, then rename each into place; on any
    failure remove the temporaries. The names are unique per call, so a re-queued job running
    beside a stale one cannot write into the other's files."""
    token = secrets.token_hex(4)
    temps = [final.with_name(f".{final.name}.{token}.part") for final in finals]
    try:
        run(temps)
        # ffmpeg exits 0 for an output that never got a frame in some corners; a file we
        # publish must hold something.
        empty = [final.name for temp, final in zip(temps, finals, strict=True) if _size(temp) == 0]
        if empty:
            raise TranscodeFailed(0, f"ffmpeg wrote nothing to {', '.join(empty)}")
        for temp, final in zip(temps, finals, strict=True):
            temp.replace(final)
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def command_head(ffmpeg: str) -> list[str]:
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y",
        "-progress", "pipe:1", "-stats_period", str(PROGRESS_INTERVAL),
    ]  # fmt: skip


def _read_progress(stream: IO[bytes], duration_ms: int, values: queue.SimpleQueue[float]) -> None:
    total_us = max(duration_ms, 1) * 1000
    for raw in stream:
        key, _, value = raw.decode(errors="replace").strip().partition("=")
        if key == "out_time_us" and value.lstrip("-").isdigit():
            # 1.0 is for when the files are in place, not when ffmpeg has read the input.
            values.put(min(max(int(value) / total_us, 0.0), 0.99))


class _Throttle:
    """Pass on increasing values, at most one per PROGRESS_INTERVAL and per percent."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback
        self.last_value = 0.0
        self.last_time = 0.0

    def __call__(self, value: float) -> None:
        now = time.monotonic()
        if self.callback is None or value < self.last_value + 0.01:
            return
        if now - self.last_time < PROGRESS_INTERVAL:
            return
        self.last_value, self.last_time = value, now
        self.callback(value)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _tail(stderr: IO[bytes]) -> str:
    stderr.seek(0, os.SEEK_END)
    stderr.seek(max(0, stderr.tell() - 8192))
    lines = stderr.read().decode(errors="replace").strip().splitlines()
    return "\n".join(lines[-_STDERR_TAIL_LINES:])[-2000:] or "(no message)"


def _measure(spec: RenditionSpec, path: Path, probe: ProbeResult) -> RenditionFile:
    """Size, bitrate and dimensions as written (our own output, so safe to parse here)."""
    size = path.stat().st_size
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        width, height = stream.width, stream.height
        duration_us = container.duration or probe.duration_ms * 1000
    return RenditionFile(
        spec=spec,
        path=path,
        size_bytes=size,
        bitrate=round(size * 8 * 1_000_000 / max(duration_us, 1)),
        width=width,
        height=height,
    )
