"""Which renditions a source gets: a pure plan, so it is tested without ffmpeg.

The ladder is named by the short side (1080p, 720p, 480p, 360p) and mirrored for landscape and
square sources. A rung is a box the picture is scaled to fit, aspect preserved and nothing padded,
so a 4:5 or 9:20 clip keeps its shape. We never upscale: it costs bytes and adds no detail.

Caps were measured on a hard, grainy 1080x1920 clip (issue 3); CRF 23 is the usual x264 quality
point and the caps decide the bitrate of difficult content, which is where VMAF is judged
(`benchmarks/transcode.py`). `bufsize` is twice `maxrate`: a 2 s VBV window, one GOP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from molodets.media.types import ProbeResult, RenditionSpec

CRF = 23
# Above 60 fps nothing a phone screen shows improves, and every extra frame costs bits.
MAX_FPS = 60
# Keyframe interval: players switch renditions and seek on keyframes; 2 s is the usual HLS/DASH
# segment length, so the same plan serves long-form later.
GOP_SECONDS = 2
# The rates we snap a measured average to: a VFR browser recording averaging 29.87 fps should
# come out as 30, not as an odd 2987/100 that some players stutter on.
STANDARD_RATES = (
    Fraction(24000, 1001),
    Fraction(24),
    Fraction(25),
    Fraction(30000, 1001),
    Fraction(30),
    Fraction(50),
    Fraction(60000, 1001),
    Fraction(60),
)


@dataclass(frozen=True)
class Rung:
    short: int  # short side of the box
    long: int  # long side of the box
    maxrate_kbps: int
    audio_kbps: int

    @property
    def name(self) -> str:
        return f"{self.short}p"


# 480p's long side is 854, not 853.3: the nearest even number to 480 * 16 / 9.
RUNGS = (
    Rung(1080, 1920, 4500, 128),
    Rung(720, 1280, 2500, 128),
    Rung(480, 854, 1200, 96),
    Rung(360, 640, 700, 96),
)
FIRST_RUNG = RUNGS[2]


def plan_ladder(probe: ProbeResult) -> list[RenditionSpec]:
    """The renditions to make, largest first.

    A rung is kept when the source fills its box in at least one dimension (fit scale <= 1), so a
    9:20 source of 864x1920 still gets a full-height "1080p" rung instead of dropping to 720p. A
    source smaller than the lowest box gets one rendition at its own size, rounded down to even
    dimensions (H.264 with 4:2:0 chroma needs them)."""
    src_w, src_h = probe.video.display_width, probe.video.display_height
    specs: list[RenditionSpec] = []
    for rung in RUNGS:
        box_w, box_h = _box(rung, probe.orientation)
        scale = min(box_w / src_w, box_h / src_h)
        if scale > 1:
            continue
        width, height = _fit(src_w, src_h, scale, box_w, box_h)
        if any((s.width, s.height) == (width, height) for s in specs):
            continue
        specs.append(_spec(rung, width, height))
    if not specs:
        width, height = _even_floor(src_w), _even_floor(src_h)
        specs.append(_spec(RUNGS[-1], width, height, name=f"{min(width, height)}p"))
    return specs


def plan_first(probe: ProbeResult) -> RenditionSpec:
    """The "publish fast" rendition: 480p (fitted like a rung), or the source size if smaller.

    480p is what a phone on a slow network would pick anyway, and it is cheap to encode; it is
    replaced by the ladder when that is done."""
    src_w, src_h = probe.video.display_width, probe.video.display_height
    box_w, box_h = _box(FIRST_RUNG, probe.orientation)
    scale = min(box_w / src_w, box_h / src_h, 1.0)
    width, height = _fit(src_w, src_h, scale, box_w, box_h)
    return _spec(FIRST_RUNG, width, height, name="first")


def output_fps(probe: ProbeResult) -> Fraction:
    """Constant output rate: the source's average, snapped to the nearest standard rate within
    2 %, capped at 60."""
    fps = probe.video.fps
    if not math.isfinite(fps) or fps <= 0:
        return Fraction(30)  # the probe refuses these; a sane default beats a crash
    nearest = min(STANDARD_RATES, key=lambda rate: abs(fps - float(rate)))
    if abs(fps - float(nearest)) <= float(nearest) * 0.02:
        return nearest
    return min(Fraction(fps).limit_denominator(1001), Fraction(MAX_FPS))


def sdr_filters(probe: ProbeResult) -> str:
    """Filters (ending in a comma) that tone-map an HDR picture to SDR BT.709, or "" for SDR.
    Without them a phone's HLG or PQ clip plays grey and washed out: players take our 8-bit
    output for BT.709. Linear light, then Möbius: linear through the SDR range (a blue at SDR
    level comes back within 4 % of itself; Hable's curve returned it 36 % darker) with a soft
    roll-off above it, so highlights do not clip."""
    if probe.video.hdr is None:
        return ""
    return (
        "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,"
        "tonemap=tonemap=mobius:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p,"
    )


def gop_frames(fps: Fraction) -> int:
    return max(1, round(fps * GOP_SECONDS))


def _box(rung: Rung, orientation: str) -> tuple[int, int]:
    if orientation == "square":
        return rung.short, rung.short
    if orientation == "landscape":
        return rung.long, rung.short
    return rung.short, rung.long


def _fit(src_w: int, src_h: int, scale: float, box_w: int, box_h: int) -> tuple[int, int]:
    """Scaled dimensions rounded to the nearest even number, never past the box or the source."""
    width = min(_even_round(src_w * scale), box_w, _even_floor(src_w))
    height = min(_even_round(src_h * scale), box_h, _even_floor(src_h))
    return width, height


def _even_round(value: float) -> int:
    return max(2, 2 * round(value / 2))


def _even_floor(value: int) -> int:
    return max(2, value - value % 2)


def _spec(rung: Rung, width: int, height: int, *, name: str | None = None) -> RenditionSpec:
    return RenditionSpec(
        name=name or rung.name,
        width=width,
        height=height,
        crf=CRF,
        maxrate_kbps=rung.maxrate_kbps,
        bufsize_kbps=2 * rung.maxrate_kbps,
        audio_kbps=rung.audio_kbps,
    )
