"""Everything made from a source besides the renditions: poster, preview, placeholder, audio.

`make_derived` makes poster, preview and audio in ONE ffmpeg run: three inputs of the same file
(seeked to the cover, cut to the preview window, audio only), so each is decoded only as far as
it is needed and the audio pass overlaps the picture work. On the 15 s 1080x1920 benchmark clip:
2.9-3.0 s against 3.1-3.2 s for three runs, the same CPU time (4.3 s vs 4.2 s): a modest gain,
plus one process to limit instead of three. Each input is cut with `-t`: ffmpeg 9 keeps decoding
an input whose outputs are finished while other outputs still run (a poster input without `-t`
decoded the whole clip: 6.6 s instead of 2.7 s).

The preview is an H.264 MP4 rather than an animated WebP: on that clip 66 KB in 1.2 s against
341 KB in 1.5 s, and every browser plays it muted and looped in a <video>. (iOS in Low Power
Mode does not autoplay video; the poster stays, which is fine for a preview.)

The placeholder is a dominant colour: painting it needs no decoder in the browser, where a
blurhash would need one (and we copy no third-party JavaScript into the repo), and it is what
fills a feed cell for the few tens of milliseconds before the poster arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

from PIL import Image

from molodets.media.ladder import output_fps, sdr_filters
from molodets.media.transcode import (
    LOUDNORM,
    SCALE_FLAGS,
    TranscodeFailed,
    command_head,
    run_ffmpeg,
    write_via_temps,
)
from molodets.media.types import DerivedFiles, ProbeResult

POSTER_MAX_SHORT = 1080
PREVIEW_SHORT = 360
PREVIEW_SECONDS = 2.5
PREVIEW_MAX_FPS = Fraction(30)  # a thumbnail loop gains nothing from 60 fps but bytes
AUDIO_KBPS = 128
T = TypeVar("T")


@dataclass
class _Part:
    """One input of a combined run, its filter chain and the outputs it feeds."""

    input_args: list[str]
    chain: Callable[[int], str]  # filter chain, given this input's index
    outputs: list[tuple[list[str], Path]] = field(default_factory=list)  # (output options, final)


def make_poster(
    source: Path, probe: ProbeResult, at_ms: int, out_dir: Path, *, ffmpeg: str, timeout: float | None = None
) -> tuple[Path, Path]:
    """`poster.jpg` and `poster.webp`: the frame at the cover time (accurate seek), at the
    display size with the short side capped to 1080. A cover time with no picture (past the end
    of the video track) falls back to the first frame."""

    def attempt(cover_ms: int) -> tuple[Path, Path]:
        part = _poster_part(probe, cover_ms, out_dir)
        _run([part], source, probe, ffmpeg=ffmpeg, timeout=timeout)
        return part.outputs[0][1], part.outputs[1][1]

    return _with_cover_fallback(attempt, at_ms)


def make_preview(
    source: Path,
    probe: ProbeResult,
    out_dir: Path,
    *,
    ffmpeg: str,
    start_ms: int = 0,
    timeout: float | None = None,
) -> Path:
    """`preview.mp4`: a silent 2.5 s loop from `start_ms` (the start: the hook of a short clip
    is its first seconds), 360 px on the short side."""
    part = _preview_part(probe, start_ms, out_dir)
    _run([part], source, probe, ffmpeg=ffmpeg, timeout=timeout)
    return part.outputs[0][1]


def extract_audio(
    source: Path, probe: ProbeResult, out_dir: Path, *, ffmpeg: str, timeout: float | None = None
) -> Path | None:
    """`audio.m4a` (AAC stereo 48 kHz, loudness-normalised like the renditions), or None when
    the source has no audio."""
    if probe.audio is None:
        return None
    part = _audio_part(out_dir)
    _run([part], source, probe, ffmpeg=ffmpeg, timeout=timeout)
    return part.outputs[0][1]


def make_placeholder(poster_jpeg: Path) -> str:
    """The poster's dominant colour as `#rrggbb`: JPEG draft decoding at 1/8 scale, a 32 px
    thumbnail, a 6-colour median cut, the most common colour. About a millisecond."""
    with Image.open(poster_jpeg) as image:
        image.draft("RGB", (64, 64))
        small = image.convert("RGB").resize((32, 32), Image.Resampling.BILINEAR)
    paletted = small.quantize(colors=6, method=Image.Quantize.MEDIANCUT)
    palette = paletted.getpalette() or [0, 0, 0]
    counts = paletted.histogram()  # pixels per palette index
    index = max(range(len(counts)), key=counts.__getitem__)
    red, green, blue = palette[index * 3 : index * 3 + 3]
    return f"#{red:02x}{green:02x}{blue:02x}"


def make_derived(
    source: Path,
    probe: ProbeResult,
    out_dir: Path,
    *,
    ffmpeg: str,
    cover_ms: int = 0,
    preview_start_ms: int = 0,
    timeout: float | None = None,
) -> DerivedFiles:
    """Poster, preview and audio in one ffmpeg run, then the placeholder from the poster. The
    cover falls back to the first frame as in `make_poster` (by running again: it is rare)."""

    def attempt(cover: int) -> DerivedFiles:
        poster = _poster_part(probe, cover, out_dir)
        preview = _preview_part(probe, preview_start_ms, out_dir)
        parts = [poster, preview]
        if probe.audio is not None:
            parts.append(_audio_part(out_dir))
        _run(parts, source, probe, ffmpeg=ffmpeg, timeout=timeout)
        jpeg, webp = poster.outputs[0][1], poster.outputs[1][1]
        return DerivedFiles(
            poster_jpeg=jpeg,
            poster_webp=webp,
            preview=preview.outputs[0][1],
            placeholder=make_placeholder(jpeg),
            audio=parts[2].outputs[0][1] if len(parts) > 2 else None,
        )

    return _with_cover_fallback(attempt, cover_ms)


def _with_cover_fallback(attempt: Callable[[int], T], cover_ms: int) -> T:
    """The probe's duration is the container's: the video track may end sooner (audio runs on),
    and a seek past its last frame gives ffmpeg nothing to encode. Then the first frame it is."""
    try:
        return attempt(cover_ms)
    except TranscodeFailed:
        if cover_ms <= 0:
            raise
        return attempt(0)


def _poster_part(probe: ProbeResult, at_ms: int, out_dir: Path) -> _Part:
    # Two frames before the end at the latest: a cover time past the last frame still gets one.
    frame_ms = 1000 / max(probe.video.fps, 1.0)
    at = max(0.0, min(float(at_ms), probe.duration_ms - 2 * frame_ms)) / 1000
    width, height = _scaled(probe, POSTER_MAX_SHORT)
    jpeg, webp = out_dir / "poster.jpg", out_dir / "poster.webp"
    sdr = sdr_filters(probe)
    # JPEG wants full-range and WebP limited-range YUV: after the split, ffmpeg converts each
    # branch to what its encoder takes.
    return _Part(
        # The window after the seek: in a combined run ffmpeg decodes all of it (see above).
        input_args=["-ss", f"{at:.3f}", "-t", f"{max(0.25, 3 * frame_ms / 1000):.3f}"],
        chain=lambda i: (
            f"[{i}:V:0]{sdr}scale={width}:{height}:flags={SCALE_FLAGS},setsar=1,split[pj][pw]"
        ),
        outputs=[
            (["-map", "[pj]", "-frames:v", "1", "-q:v", "3", "-f", "image2", "-update", "1"], jpeg),
            (["-map", "[pw]", "-frames:v", "1", "-c:v", "libwebp", "-quality", "80", "-f", "webp"], webp),
        ],
    )  # fmt: skip


def _preview_part(probe: ProbeResult, start_ms: int, out_dir: Path) -> _Part:
    start = max(0.0, min(start_ms, probe.duration_ms - PREVIEW_SECONDS * 1000) / 1000)
    fps = min(output_fps(probe), PREVIEW_MAX_FPS)
    width, height = _scaled(probe, PREVIEW_SHORT)
    sdr = sdr_filters(probe)
    options = [
        "-map", "[pv]", "-an", "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-crf", "28",
        "-map_metadata", "-1", "-movflags", "+faststart", "-f", "mp4",
    ]  # fmt: skip
    return _Part(
        input_args=["-ss", f"{start:.3f}", "-t", f"{PREVIEW_SECONDS:g}"],
        chain=lambda i: (
            f"[{i}:V:0]{sdr}fps={fps},scale={width}:{height}:flags={SCALE_FLAGS},setsar=1,format=yuv420p[pv]"
        ),
        outputs=[(options, out_dir / "preview.mp4")],
    )


def _audio_part(out_dir: Path) -> _Part:
    options = [
        "-map", "[au]", "-c:a", "aac", "-b:a", f"{AUDIO_KBPS}k", "-ar", "48000", "-ac", "2",
        "-map_metadata", "-1", "-movflags", "+faststart", "-f", "ipod",
    ]  # fmt: skip
    return _Part(
        input_args=["-vn"],  # demux the video packets, decode none of them
        chain=lambda i: f"[{i}:a:0]aformat=channel_layouts=stereo,{LOUDNORM},aresample=48000[au]",
        outputs=[(options, out_dir / "audio.m4a")],
    )


def _run(parts: list[_Part], source: Path, probe: ProbeResult, *, ffmpeg: str, timeout: float | None) -> None:
    finals = [final for part in parts for _, final in part.outputs]

    def run(temps: list[Path]) -> None:
        argv = command_head(ffmpeg)
        for part in parts:
            argv += [*part.input_args, "-i", str(source)]
        argv += ["-filter_complex", ";".join(part.chain(i) for i, part in enumerate(parts))]
        names = iter(temps)
        for part in parts:
            for options, _ in part.outputs:
                argv += [*options, str(next(names))]
        run_ffmpeg(argv, duration_ms=probe.duration_ms, timeout=timeout)

    write_via_temps(finals, run)


def _scaled(probe: ProbeResult, max_short: int) -> tuple[int, int]:
    """Display size with the short side at most `max_short`, even dimensions, never upscaled."""
    width, height = probe.video.display_width, probe.video.display_height
    scale = min(1.0, max_short / min(width, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)
