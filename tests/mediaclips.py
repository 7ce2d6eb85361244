"""Real media files for tests, made on the spot with the bundled ffmpeg (never committed).

Every maker writes `path` and returns it. Clips are tiny (≤ 2 s, small pictures) and move
(lavfi `testsrc2` plus a `sine` tone), so encoders, probes and players see real content.

    make_clip(path, width=..., seconds=..., fps=..., vcodec=..., rotation=90, sar="4/3", ...)
    make_browser_webm(path)          what MediaRecorder makes: VP9/Opus, VFR, no duration
    make_audio_only / make_audio_with_cover_art / make_subtitles_only
    make_truncated / make_text_file / make_image_as_mp4 / make_still_in_mp4 / make_unknown_codec
    make_empty

`ClipCache` makes each clip once per test session (see `tests/media/conftest.py`):

    clips.get("portrait.mp4", make_clip, rotation=90)
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from molodets.media.ffmpeg import ffmpeg_executable

CONTAINERS = {".mp4": "mp4", ".m4a": "mp4", ".mov": "mov", ".webm": "webm", ".mkv": "matroska"}
CONTAINERS |= {".ts": "mpegts", ".avi": "avi", ".mp3": "mp3"}

# Fastest settings of each encoder: tests need valid streams, not good pictures.
SPEED: dict[str, tuple[str, ...]] = {
    "libx264": ("-preset", "ultrafast"),
    "libx265": ("-preset", "ultrafast", "-x265-params", "log-level=error"),
    "libvpx-vp9": ("-deadline", "realtime", "-cpu-used", "8", "-b:v", "400k"),
    "libsvtav1": ("-preset", "12"),
    "libaom-av1": ("-usage", "realtime", "-cpu-used", "10"),
}


def run_ffmpeg(*args: str, stdout: IO[bytes] | None = None) -> None:
    """Run the bundled ffmpeg quietly; its stderr becomes the error if it fails."""
    command = [ffmpeg_executable(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    done = subprocess.run(command, stdout=stdout, stderr=subprocess.PIPE, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({done.returncode}): {done.stderr.decode(errors='replace')}")


def _container(path: Path, container: str | None) -> str:
    return container or CONTAINERS.get(path.suffix.lower(), "mp4")


def make_clip(
    path: Path,
    *,
    width: int = 720,
    height: int = 1280,
    seconds: float = 2.0,
    fps: float = 30,
    vcodec: str = "libx264",
    pix_fmt: str = "yuv420p",
    audio: bool = True,
    audio_channels: int = 2,
    acodec: str | None = None,
    container: str | None = None,
    rotation: int | None = None,
    mirrored: bool = False,
    sar: str | None = None,
    source: str = "testsrc2",
    extra_args: Sequence[str] = (),
) -> Path:
    """A moving test picture with a tone. `rotation` is the clockwise turn a player must apply
    (display-matrix side data, as phones write it) and `mirrored` flips the turned picture
    left-right, as front cameras do; `sar` like "4/3" makes non-square pixels;
    `source="color"` gives near-empty frames for huge dimensions; the container follows the
    suffix (.mp4 .mov .webm .mkv .ts) unless given."""
    kind = _container(path, container)
    # testsrc2 rounds odd sizes down for 4:2:0, so odd dimensions come from a scale after it.
    even_w, even_h = width + width % 2, height + height % 2
    pattern = "testsrc2=" if source == "testsrc2" else "color=c=0x3060c0:"
    inputs = ["-f", "lavfi", "-i", f"{pattern}size={even_w}x{even_h}:rate={fps}:duration={seconds}"]
    filters = [f"scale={width}:{height}"] if (width, height) != (even_w, even_h) else []
    filters += [f"setsar={sar or 1}", f"format={pix_fmt}"]
    args = [*inputs]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    args += ["-map", "0:v"] + (["-map", "1:a"] if audio else [])
    args += ["-vf", ",".join(filters), "-c:v", vcodec, *SPEED.get(vcodec, ())]
    if vcodec == "libx265" and kind in {"mp4", "mov"}:
        args += ["-tag:v", "hvc1"]  # what Apple devices write; players expect it
    if audio:
        default_acodec = "libopus" if kind == "webm" else "aac"
        args += ["-c:a", acodec or default_acodec, "-ac", str(audio_channels)]
    args += ["-t", str(seconds), *extra_args, "-f", kind]
    if rotation is None and not mirrored:
        run_ffmpeg(*args, str(path))
        return path
    # The display matrix is an input-side option in ffmpeg 7+, so rotation is a second, copying pass.
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        plain = Path(scratch) / f"plain{path.suffix}"
        run_ffmpeg(*args, str(plain))
        turn = str(-(rotation or 0))  # ffmpeg takes counter-clockwise degrees
        flip = ["-display_hflip:v:0"] if mirrored else []
        run_ffmpeg(
            "-display_rotation:v:0", turn, *flip, "-i", str(plain), "-c", "copy", "-f", kind, str(path)
        )
    return path


def make_browser_webm(path: Path, *, seconds: float = 2.0, width: int = 480, height: int = 854) -> Path:
    """What Chrome's MediaRecorder uploads: VP9 + Opus WebM, irregular frame times and no
    duration, cues or seek index, because it is written as a stream (here: to a pipe)."""
    # Dropping every 7th frame makes the frame intervals uneven, as a busy browser does.
    vfr = "select='not(eq(mod(n\\,7)\\,3))',format=yuv420p"
    args = [
        "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=30:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=48000:duration={seconds}",
        "-vf", vfr, "-fps_mode", "vfr", "-c:v", "libvpx-vp9", *SPEED["libvpx-vp9"],
        "-c:a", "libopus", "-f", "webm", "pipe:1",  # no -t: ffmpeg would write it as the duration
    ]  # fmt: skip
    with path.open("wb") as out:
        run_ffmpeg(*args, stdout=out)
    return path


def make_audio_only(path: Path, *, seconds: float = 2.0) -> Path:
    """A tone with no picture at all (AAC in .m4a/.mp4, MP3 in .mp3)."""
    codec = "libmp3lame" if path.suffix.lower() == ".mp3" else "aac"
    tone = f"sine=frequency=440:sample_rate=44100:duration={seconds}"
    run_ffmpeg("-f", "lavfi", "-i", tone, "-c:a", codec, "-f", _container(path, None), str(path))
    return path


def make_audio_with_cover_art(path: Path, *, seconds: float = 2.0) -> Path:
    """A song with album art: the art is a "video" stream marked attached_pic (.mp3 or .m4a)."""
    mp3 = path.suffix.lower() == ".mp3"
    args = [
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}",
        "-f", "lavfi", "-i", "testsrc2=size=300x300:rate=1:duration=1",
        "-map", "0:a", "-map", "1:v", "-frames:v", "1",
        "-c:a", "libmp3lame" if mp3 else "aac", "-c:v", "mjpeg" if mp3 else "png",
        "-disposition:v:0", "attached_pic",
    ]  # fmt: skip
    run_ffmpeg(*args, "-f", "mp3" if mp3 else "mp4", str(path))
    return path


def make_subtitles_only(path: Path) -> Path:
    """A Matroska file whose only stream is SubRip text."""
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        srt = Path(scratch) / "subs.srt"
        srt.write_text("1\n00:00:00,000 --> 00:00:01,500\nПривет!\n\n2\n00:00:01,500 --> 00:00:03,000\nHi\n")
        run_ffmpeg("-i", str(srt), "-c:s", "srt", "-f", "matroska", str(path))
    return path


def make_truncated(path: Path, *, keep: float = 0.5, faststart: bool = True, **clip: Any) -> Path:
    """A clip cut off after `keep` of its bytes, like an interrupted copy. With `faststart` the
    index survives and the samples are missing; without it the index (at the end) is lost."""
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        whole = Path(scratch) / f"whole{path.suffix}"
        flags = ("-movflags", "+faststart") if faststart else ()
        make_clip(whole, **clip, extra_args=flags)
        data = whole.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def make_text_file(path: Path) -> Path:
    """Text with a video's name, as when someone uploads the wrong file."""
    path.write_text("Это не видео. This is not a video, just a shopping list:\n- молоко\n- eggs\n" * 20)
    return path


def make_image_as_mp4(path: Path, *, codec: str = "png") -> Path:
    """One still picture saved under a video's name: `codec` "png", "mjpeg" (JPEG) or "avif"
    (an ISO-BMFF file like an MP4, which ffmpeg's MP4 demuxer would open as one AV1 frame)."""
    picture = ["-f", "lavfi", "-i", "testsrc2=size=720x1280:rate=1:duration=1", "-frames:v", "1"]
    if codec == "avif":
        run_ffmpeg(*picture, "-c:v", "libsvtav1", "-f", "avif", str(path))
        return path
    pix_fmt = "rgb24" if codec == "png" else "yuvj420p"
    run_ffmpeg(*picture, "-c:v", codec, "-pix_fmt", pix_fmt, "-f", "image2", "-update", "1", str(path))
    return path


def make_still_in_mp4(path: Path) -> Path:
    """A real MP4 holding a single JPEG frame: a photo in a video container."""
    picture = ["-f", "lavfi", "-i", "testsrc2=size=720x1280:rate=1:duration=1", "-frames:v", "1"]
    run_ffmpeg(*picture, "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-f", "mp4", str(path))
    return path


def make_unknown_codec(path: Path) -> Path:
    """A Matroska clip whose video codec ID no decoder knows (the H.264 ID, renamed in place)."""
    make_clip(path, width=160, height=284, seconds=1.0, container="matroska")
    data = path.read_bytes()
    assert data.count(b"V_MPEG4/ISO/AVC") == 1
    path.write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_MOLODETS/NONE"))
    return path


def make_empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


class ClipCache:
    """Makes each named clip once (per test session, per xdist worker) under `root`.

    The name is the file name, so it also picks the container; asking for the same name with
    other arguments is a mistake in the test and fails loudly."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._made: dict[str, tuple[Callable[..., Path], dict[str, Any]]] = {}

    def get(self, name: str, maker: Callable[..., Path], /, **kwargs: Any) -> Path:
        path = self.root / name
        recipe = (maker, kwargs)
        if name in self._made:
            if self._made[name] != recipe:
                raise ValueError(f"clip {name!r} was already made with other arguments")
            return path
        maker(path, **kwargs)
        self._made[name] = recipe
        return path
