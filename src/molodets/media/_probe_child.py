"""The child half of `probe_file`: opens one untrusted file with PyAV and prints a JSON verdict.

    python -m molodets.media._probe_child --max-seconds N --memory-bytes B --cpu-seconds S -- PATH

It caps its own memory and CPU time first, so a hostile file can only exhaust this process.
One pass over the packets (no seeking: browser recordings have no index) decodes the first
picture, counts frames and times every stream, which catches truncation and gives a duration
even when the header has none.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import av
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.sidedata.sidedata import SideDataContainer, Type
from av.stream import Disposition
from av.video.stream import VideoStream

from molodets.media.probe import MAX_FPS, MAX_PIXELS, MAX_SIDE, MIN_FRAMES, MIN_SECONDS
from molodets.media.types import MediaRejected

# Only demuxers for real video (and audio, to say "audio only"). Playlists (hls, concat) would
# open other files or URLs, image demuxers read photos: neither is ever tried.
OPEN_OPTIONS = {
    "format_whitelist": "mov,mp4,matroska,webm,mpegts,mpeg,avi,flv,asf,ogg,mp3,aac,wav,flac",
    "protocol_whitelist": "file",
}
IMAGE_CODECS = {"mjpeg", "png", "apng", "gif", "webp", "bmp", "tiff", "jpeg2000", "jpegxl", "jpegls"}
IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}
HEAD_BYTES = 512
# AVColorTransferCharacteristic values of the HDR transfers: SMPTE ST 2084 and ARIB STD-B67.
HDR_TRANSFERS = {16: "pq", 18: "hlg"}
LENGTH_SLACK_S = 0.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="molodets.media._probe_child")
    parser.add_argument("--max-seconds", type=int, required=True)
    parser.add_argument("--memory-bytes", type=int, required=True)
    parser.add_argument("--cpu-seconds", type=int, required=True)
    parser.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    resource.setrlimit(resource.RLIMIT_AS, (args.memory_bytes, args.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (args.cpu_seconds, args.cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash must not write a core of a user's file
    try:
        report: dict[str, Any] = {"ok": inspect(args.path, max_seconds=args.max_seconds)}
    except MediaRejected as exc:
        report = {"rejected": {"code": exc.code, "detail": exc.detail}}
    except (MemoryError, BlockingIOError):  # PyAV's ENOMEM and EAGAIN (no memory for a thread) too
        limit = args.memory_bytes // 2**20
        detail = f"The probe ran out of memory ({limit} MiB)."
        report = {"rejected": {"code": "probe_failed", "detail": detail}}
    sys.stdout.write(json.dumps(report))
    return 0


def inspect(path: Path, *, max_seconds: int) -> dict[str, Any]:
    """Everything `ProbeResult` needs, as plain JSON types, or `MediaRejected`."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    picture = _image_kind(head)
    if picture:
        raise MediaRejected("not_a_video", f"This is a {picture} picture, not a video.")
    try:
        container = av.open(str(path), container_options=OPEN_OPTIONS)
    except (MemoryError, BlockingIOError):
        raise  # the probe's failure, not the file's
    except av.FFmpegError as exc:
        kind = _container_kind(head)
        if kind:
            detail = f"This {kind} file is damaged or incomplete ({exc.strerror})."
            raise MediaRejected("corrupt_video", detail) from None
        raise MediaRejected("not_a_video", "This is not a video file we can read.") from None
    with container:
        return _measure(container, head, max_seconds)


def _measure(container: InputContainer, head: bytes, max_seconds: int) -> dict[str, Any]:
    video = _pick_video(container)
    audio = container.streams.audio[0] if container.streams.audio else None
    context = video.codec_context
    if context is None or context.codec.canonical_name in {"none", ""}:
        raise MediaRejected("unsupported_codec", "The video is in a format we cannot decode.")
    codec, width, height = context.codec.canonical_name, context.width, context.height
    if width <= 0 or height <= 0:
        raise MediaRejected("corrupt_video", "The video stream has no picture size.")
    _check_size(width, height)
    header_s = container.duration / 1_000_000 if container.duration else None
    if header_s is not None:
        _check_length(header_s, max_seconds)

    scan = _scan(container, video, audio, max_seconds)
    track = scan.tracks[video.index]
    if scan.frame is None or track.first is None or track.end is None:
        raise MediaRejected("corrupt_video", "No picture in the video could be decoded.")
    if track.packets < MIN_FRAMES:
        if codec in IMAGE_CODECS:
            raise MediaRejected("not_a_video", "This is a single still picture, not a video.")
        raise MediaRejected("video_too_short", "The video has only one frame.")
    duration = _duration(container, scan)
    # Header and packets agree to within a frame in a whole file; a cut-off copy ends early.
    if header_s is not None and duration < header_s - max(0.3, 0.02 * header_s):
        detail = f"The file ends at {duration:.1f} s of {header_s:.1f} s: it is incomplete."
        raise MediaRejected("corrupt_video", detail)
    _check_length(duration, max_seconds)
    if duration < MIN_SECONDS:
        detail = f"The video is {duration:.2f} s long; the minimum is {MIN_SECONDS} s."
        raise MediaRejected("video_too_short", detail)
    span = track.end - track.first
    fps = track.packets / span if span > 0 else 0.0  # the true average, also for variable rates
    if fps > MAX_FPS * 1.01:
        detail = f"The video has {fps:.0f} frames per second; the limit is {MAX_FPS:.0f}."
        raise MediaRejected("frame_rate_too_high", detail)

    rotation, mirrored = _orientation(scan.frame)
    sar = video.sample_aspect_ratio or context.sample_aspect_ratio
    shown_w = max(1, round(width * sar)) if sar and sar > 0 else width
    shown_w, shown_h = (height, shown_w) if rotation in {90, 270} else (shown_w, height)
    if max(shown_w, shown_h) > MAX_SIDE:
        detail = f"The picture is shown at {shown_w}x{shown_h}; the limit is {MAX_SIDE} px a side."
        raise MediaRejected("dimensions_too_large", detail)
    return {
        "container": _container_name(container, head),
        "duration_ms": round(duration * 1000),
        "video": {
            "codec": codec,
            "coded_width": width,
            "coded_height": height,
            "display_width": shown_w,
            "display_height": shown_h,
            "rotation": rotation,
            "mirrored": mirrored,
            "fps": round(fps, 3),
            "pix_fmt": scan.frame.format.name,
            "bit_depth": scan.frame.format.components[0].bits,
            "hdr": HDR_TRANSFERS.get(scan.frame.color_trc),
        },
        "audio": _audio(audio),
    }


def _orientation(frame: av.VideoFrame) -> tuple[int, bool]:
    """Clockwise quarter turns, and whether the turned picture is then flipped left-right.

    Read from the display matrix itself: for a mirrored matrix (negative determinant, as front
    cameras write) libavutil's rotation angle is wrong (a plain flip reads as 180 degrees). ffmpeg
    applies flips and turns alike when it decodes, so this is metadata for the creator's page."""
    side_data = cast(SideDataContainer, frame.side_data)  # PyAV's stub names the wrong class
    if Type.DISPLAYMATRIX not in side_data:
        return 0, False
    matrix = bytes(side_data[Type.DISPLAYMATRIX])
    if len(matrix) != 36:
        return 0, False
    a, b, _, c, d, *_ = struct.unpack("<9i", matrix)
    mirrored = a * d - b * c < 0
    if mirrored:
        a, c = -a, -c  # undo the flip (it negates the matrix's first column): a pure rotation
    counter_clockwise = -math.degrees(math.atan2(b, a))  # as av_display_rotation_get measures it
    return round(-counter_clockwise / 90) * 90 % 360, mirrored


def _audio(stream: AudioStream | None) -> dict[str, Any] | None:
    if stream is None or stream.codec_context is None:
        return None
    context = stream.codec_context
    return {
        "codec": context.codec.canonical_name,
        "channels": context.channels,
        "sample_rate": context.sample_rate,
    }


def _duration(container: InputContainer, scan: _Scan) -> float:
    """From the container's start (it knows edit lists: AAC priming sits before zero) to the
    end of the last packet of any stream."""
    timed = [(t.first, t.end) for t in scan.tracks.values() if t.first is not None and t.end is not None]
    start_us = cast("int | None", container.start_time)  # None for some files, whatever the stub says
    start = start_us / 1_000_000 if start_us is not None else min(first for first, _ in timed)
    return max(end for _, end in timed) - start


def _check_length(seconds: float, max_seconds: int) -> None:
    # A clip a few frames over the limit (audio priming, rounding) is still "N seconds long".
    if seconds > max_seconds + LENGTH_SLACK_S:
        detail = f"The video is {seconds:.1f} s long; the limit is {max_seconds} s."
        raise MediaRejected("video_too_long", detail)


def _pick_video(container: InputContainer) -> VideoStream:
    """The first real video stream; album art (attached_pic) is a picture, not a video."""
    pictures = [s for s in container.streams.video if s.disposition & Disposition.attached_pic]
    for stream in container.streams.video:
        if stream not in pictures:
            return stream
    if container.streams.audio:
        what = "audio and a cover picture" if pictures else "audio"
    elif container.streams.subtitles:
        what = "subtitles"
    else:
        what = "no playable streams"
    raise MediaRejected("no_video_stream", f"The file has no video, only {what}.")


def _check_size(width: int, height: int) -> None:
    """Before any decoding: a decoder would allocate these frames."""
    if max(width, height) > MAX_SIDE:
        detail = f"The picture is {width}x{height}; the limit is {MAX_SIDE} px a side."
        raise MediaRejected("dimensions_too_large", detail)
    if width * height > MAX_PIXELS:
        detail = (
            f"The picture has {width * height / 1e6:.1f} megapixels; the limit is {MAX_PIXELS / 1e6:.1f}."
        )
        raise MediaRejected("too_many_pixels", detail)


@dataclass
class _Track:
    """The time span of one stream, from its packets."""

    first: float | None = None
    end: float | None = None
    last: float | None = None
    gap: float = 0.0  # the last interval between packets, for packets without a duration (WebM)
    packets: int = 0

    def add(self, packet: av.Packet[Any]) -> None:
        self.packets += 1
        stamp = packet.pts if packet.pts is not None else packet.dts
        if stamp is None or packet.time_base is None:
            return
        start = float(stamp * packet.time_base)
        length = float(packet.duration * packet.time_base) if packet.duration else 0.0
        if self.last is not None and start > self.last:
            self.gap = start - self.last
        self.last = start
        self.first = start if self.first is None else min(self.first, start)
        end = start + (length or self.gap)
        self.end = end if self.end is None else max(self.end, end)


@dataclass
class _Scan:
    frame: av.VideoFrame | None
    tracks: dict[int, _Track]


def _scan(
    container: InputContainer,
    video: VideoStream,
    audio: AudioStream | None,
    max_seconds: int,
) -> _Scan:
    """Demux every packet once, decoding video only until its first picture comes out."""
    streams = [video] if audio is None else [video, audio]
    tracks = {stream.index: _Track() for stream in streams}
    frame: av.VideoFrame | None = None
    # MPEG-TS flags packets after any continuity glitch (common in recordings) and has no index
    # to lose; elsewhere a damaged packet means missing data, usually a cut-off copy.
    strict = container.format.name != "mpegts"
    try:
        for packet in container.demux(streams):
            is_video = packet.stream_index == video.index
            if packet.size == 0:  # the flush packet at the end drains a decoder that holds frames back
                if is_video and frame is None:
                    frame = _first_frame(packet)
                continue
            if packet.is_corrupt and strict:
                raise MediaRejected("corrupt_video", "Part of the video data is missing or damaged.")
            track = tracks[packet.stream_index]
            track.add(packet)
            if is_video and frame is None:
                frame = _first_frame(packet)
            if track.first is not None and track.end is not None:
                _check_length(track.end - track.first, max_seconds)  # stop reading a long file early
    except (MemoryError, BlockingIOError):
        raise  # the probe's failure, not the file's
    except av.FFmpegError as exc:
        raise MediaRejected("corrupt_video", f"The video data cannot be read ({exc.strerror}).") from None
    return _Scan(frame=frame, tracks=tracks)


def _first_frame(packet: av.Packet[Any]) -> av.VideoFrame | None:
    for frame in packet.decode():
        if isinstance(frame, av.VideoFrame):
            return frame
    return None


def _image_kind(head: bytes) -> str | None:
    """Photos renamed to .mp4 are refused by their first bytes, before any demuxer sees them."""
    signatures = {
        b"\x89PNG\r\n\x1a\n": "PNG",
        b"\xff\xd8\xff": "JPEG",
        b"GIF8": "GIF",
        b"\x00\x00\x00\x0cJXL ": "JPEG XL",
    }
    for magic, name in signatures.items():
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head[4:8] == b"ftyp" and head[8:12] in IMAGE_BRANDS:
        return "HEIF/AVIF"
    return None


def _container_kind(head: bytes) -> str | None:
    """Which video container the first bytes announce, to tell "damaged video" from "not a video"."""
    if head[4:8] in {b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"}:
        return "MP4/QuickTime"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "Matroska/WebM"
    # MPEG-TS packets are 188 bytes, each opening with 0x47; camera M2TS adds a 4-byte prefix.
    if (head[:1] == head[188:189] == b"\x47") or (head[4:5] == head[196:197] == b"\x47"):
        return "MPEG-TS"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "AVI"
    kinds = {b"FLV": "FLV", b"\x00\x00\x01\xba": "MPEG-PS", b"\x30\x26\xb2\x75": "ASF", b"OggS": "Ogg"}
    return next((name for magic, name in kinds.items() if head.startswith(magic)), None)


def _container_name(container: InputContainer, head: bytes) -> str:
    """A short, honest name: ffmpeg's demuxer names ("mov,mp4,m4a,...") cover whole families."""
    family = container.format.name
    if family.startswith("mov,"):
        return "mov" if container.metadata.get("major_brand", "").strip() == "qt" else "mp4"
    if family.startswith("matroska"):
        return "webm" if b"\x42\x82\x84webm" in head[:64] else "matroska"
    return family.split(",")[0]


if __name__ == "__main__":
    sys.exit(main())
