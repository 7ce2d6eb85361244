"""HDR clips (what phones record by default) are tone-mapped to SDR BT.709: the colours of the
renditions and the poster stay those of the scene instead of turning grey and washed out."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from PIL import Image

from molodets.media.derived import make_poster
from molodets.media.ffmpeg import ffmpeg_executable
from molodets.media.probe import probe_file
from molodets.media.transcode import transcode_first
from tests.mediaclips import run_ffmpeg

FFMPEG = ffmpeg_executable()
SCENE = (48, 96, 192)  # 0x3060c0, an SDR blue
TRANSFERS = {"hlg": "arib-std-b67", "pq": "smpte2084"}
BT709 = 1  # AVCOL_TRC_BT709 and AVCOL_PRI_BT709


def make_hdr_clip(path: Path, transfer: str) -> Path:
    """The SDR blue, converted to BT.2020 with an HDR transfer and stored as 10-bit HEVC with
    the matching tags, as a phone writes it."""
    trc = TRANSFERS[transfer]
    convert = f"zscale=tin=bt709:pin=bt709:min=gbr:t={trc}:p=bt2020:m=bt2020nc:r=tv:npl=100"
    run_ffmpeg(
        "-f", "lavfi", "-i", "color=c=0x3060c0:size=360x640:rate=30:duration=1",
        "-vf", f"format=gbrpf32le,{convert},format=yuv420p10le",
        "-c:v", "libx265", "-preset", "ultrafast",
        "-x265-params", f"log-level=error:colorprim=bt2020:transfer={trc}:colormatrix=bt2020nc",
        "-tag:v", "hvc1", "-f", "mov", str(path),
    )  # fmt: skip
    return path


def mean_rgb(image: Image.Image) -> tuple[int, ...]:
    return tuple(image.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0)))  # type: ignore[arg-type]


def saturation(rgb: tuple[int, ...]) -> float:
    return (max(rgb) - min(rgb)) / max(rgb)


def close_to_scene(rgb: tuple[int, ...]) -> bool:
    return all(abs(got - want) <= want * 0.1 + 4 for got, want in zip(rgb, SCENE, strict=True))


@pytest.mark.parametrize("transfer", sorted(TRANSFERS))
def test_hdr_is_tone_mapped_in_renditions_and_poster(transfer: str, tmp_path: Path) -> None:
    source = make_hdr_clip(tmp_path / f"{transfer}.mov", transfer)
    probe = probe_file(source, max_seconds=60)
    assert (probe.video.hdr, probe.video.bit_depth) == (transfer, 10)
    with av.open(str(source)) as container:
        naive = mean_rgb(next(container.decode(video=0)).to_image())
    assert saturation(naive) < saturation(SCENE) - 0.15  # what viewers would see untreated

    made = transcode_first(source, probe, tmp_path, ffmpeg=FFMPEG)
    with av.open(str(made.path)) as container:
        frame = next(container.decode(video=0))
        assert (frame.color_trc, frame.color_primaries, frame.format.name) == (BT709, BT709, "yuv420p")
        assert close_to_scene(mean_rgb(frame.to_image())), mean_rgb(frame.to_image())

    jpeg, _ = make_poster(source, probe, 500, tmp_path, ffmpeg=FFMPEG)
    with Image.open(jpeg) as poster:
        assert close_to_scene(mean_rgb(poster)), mean_rgb(poster)


def test_sdr_sources_are_not_tone_mapped(tmp_path: Path) -> None:
    source = tmp_path / "sdr.mp4"
    run_ffmpeg(
        "-f", "lavfi", "-i", "color=c=0x3060c0:size=360x640:rate=30:duration=1",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(source),
    )  # fmt: skip
    assert probe_file(source, max_seconds=60).video.hdr is None
