"""What the media pipeline knows about a file and what it makes of it. Plain data: no I/O here,
so the videos domain, jobs and tests can share these shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class MediaRejected(Exception):  # noqa: N818 - a verdict on the file, raised like an error
    """The file is not a video we can publish. `code` is stable (the creator's page translates
    it); `detail` is English prose for logs and API clients."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class VideoStreamInfo:
    codec: str
    # As stored (before rotation and pixel aspect ratio are applied).
    coded_width: int
    coded_height: int
    # As shown to a viewer: rotation applied, non-square pixels made square.
    display_width: int
    display_height: int
    rotation: int  # clockwise degrees a player must turn the picture: 0, 90, 180 or 270
    fps: float  # average frame rate
    pix_fmt: str
    bit_depth: int
    # "pq" or "hlg" for HDR (what phones record by default), None for SDR.
    hdr: str | None = None
    # Flipped left-right after the rotation: what a front camera's display matrix often says.
    mirrored: bool = False


@dataclass(frozen=True)
class AudioStreamInfo:
    codec: str
    channels: int
    sample_rate: int


@dataclass(frozen=True)
class ProbeResult:
    container: str
    duration_ms: int
    size_bytes: int
    bitrate: int  # bits per second, whole file
    video: VideoStreamInfo
    audio: AudioStreamInfo | None

    @property
    def orientation(self) -> str:
        """vertical, landscape or square, from the displayed picture."""
        width, height = self.video.display_width, self.video.display_height
        if abs(width - height) <= min(width, height) * 0.05:
            return "square"
        return "vertical" if height > width else "landscape"


@dataclass(frozen=True)
class RenditionSpec:
    """One rung of the ladder: an H.264 + AAC MP4 at a fixed size and capped quality."""

    name: str  # "1080p", "720p", ... named by the short side
    width: int
    height: int
    crf: int
    maxrate_kbps: int
    bufsize_kbps: int
    audio_kbps: int = 128


@dataclass(frozen=True)
class RenditionFile:
    spec: RenditionSpec
    path: Path
    size_bytes: int
    bitrate: int  # measured, bits per second
    width: int
    height: int


@dataclass(frozen=True)
class DerivedFiles:
    """Everything made besides the renditions."""

    poster_jpeg: Path
    poster_webp: Path
    preview: Path  # a 2-3 s silent loop
    placeholder: str  # e.g. a blurhash or "#rrggbb", painted before anything loads
    audio: Path | None  # the audio track alone, for "use this sound"
    extra: dict[str, str] = field(default_factory=dict)
