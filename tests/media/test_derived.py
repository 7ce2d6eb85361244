"""Poster, preview, placeholder and audio made by real ffmpeg runs on generated clips."""

from __future__ import annotations

import re
from pathlib import Path

import av
import pytest
from PIL import Image

from molodets.media.derived import extract_audio, make_derived, make_placeholder, make_poster, make_preview
from molodets.media.ffmpeg import ffmpeg_executable
from molodets.media.probe import probe_file
from molodets.media.transcode import TranscodeFailed
from molodets.media.types import ProbeResult
from tests.media.test_transcode import integrated_loudness, make_colour_steps
from tests.mediaclips import ClipCache, make_clip, make_truncated, run_ffmpeg

FFMPEG = ffmpeg_executable()
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


@pytest.fixture(scope="module")
def steps(clips: ClipCache) -> tuple[Path, ProbeResult]:
    source = clips.get("dv_steps.mp4", make_colour_steps)
    return source, probe_file(source, max_seconds=60)


def test_make_derived(clips: ClipCache, tmp_path: Path) -> None:
    source = clips.get("dv_vertical.mp4", make_clip, seconds=2.0)
    made = make_derived(source, probe_file(source, max_seconds=60), tmp_path, ffmpeg=FFMPEG, cover_ms=1000)
    assert made.audio is not None
    names = {made.poster_jpeg.name, made.poster_webp.name, made.preview.name, made.audio.name}
    assert names == {"poster.jpg", "poster.webp", "preview.mp4", "audio.m4a"}
    assert {p.name for p in tmp_path.iterdir()} == names  # no temporary files left behind
    assert made.poster_jpeg.read_bytes()[:3] == b"\xff\xd8\xff"
    webp = made.poster_webp.read_bytes()
    assert (webp[:4], webp[8:12]) == (b"RIFF", b"WEBP")
    for poster in (made.poster_jpeg, made.poster_webp):
        with Image.open(poster) as image:
            assert image.size == (720, 1280)
    assert re.fullmatch(r"#[0-9a-f]{6}", made.placeholder)
    assert preview_facts(made.preview) == ("h264", 360, 640, 0)
    assert duration(made.preview) == pytest.approx(2.0, abs=0.05)
    check_audio(made.audio, seconds=2.0)


@pytest.mark.parametrize(("cover_ms", "colour"), [(500, RED), (1500, GREEN), (2500, BLUE), (60_000, BLUE)])
def test_poster_is_the_frame_at_the_cover_time(
    steps: tuple[Path, ProbeResult], tmp_path: Path, cover_ms: int, colour: tuple[int, int, int]
) -> None:
    jpeg, webp = make_poster(*steps, cover_ms, tmp_path, ffmpeg=FFMPEG)
    for poster in (jpeg, webp):
        with Image.open(poster) as image:
            assert close(image.convert("RGB").getpixel((90, 160)), colour)
    assert close(hex_rgb(make_placeholder(jpeg)), colour)


def make_video_shorter_than_audio(path: Path) -> Path:
    """1 s of red picture and 3 s of sound, as an editor exporting a voice-over might write."""
    run_ffmpeg(
        "-f", "lavfi", "-i", "color=c=red:s=180x320:r=30:d=1",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
        "-f", "mp4", str(path),
    )  # fmt: skip
    return path


def test_cover_time_without_a_picture_falls_back_to_the_first_frame(clips: ClipCache, tmp_path: Path) -> None:
    source = clips.get("dv_short_video.mp4", make_video_shorter_than_audio)
    probe = probe_file(source, max_seconds=60)
    assert probe.duration_ms >= 2900  # the container's duration is the audio's
    made = make_derived(source, probe, tmp_path, ffmpeg=FFMPEG, cover_ms=2500)
    with Image.open(made.poster_jpeg) as image:
        assert close(image.convert("RGB").getpixel((90, 160)), RED)
    assert made.audio is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "audio.m4a",
        "poster.jpg",
        "poster.webp",
        "preview.mp4",
    ]


def test_preview_is_a_silent_short_loop_from_the_start(
    steps: tuple[Path, ProbeResult], tmp_path: Path
) -> None:
    preview = make_preview(*steps, tmp_path, ffmpeg=FFMPEG)
    assert preview_facts(preview) == ("h264", 180, 320, 0)  # never upscaled to 360 px
    assert duration(preview) == pytest.approx(2.5, abs=0.05)
    with av.open(str(preview)) as container:
        first = next(container.decode(video=0)).to_image()  # type: ignore[no-untyped-call]
    assert close(first.getpixel((90, 160)), RED)


def test_audio_is_loudness_normalised(steps: tuple[Path, ProbeResult], tmp_path: Path) -> None:
    audio = extract_audio(*steps, tmp_path, ffmpeg=FFMPEG)
    assert audio == tmp_path / "audio.m4a"
    check_audio(audio, seconds=3.0)
    # The tone was made at -21 LUFS; EBU R128 normalisation brings it to -14 LUFS.
    assert integrated_loudness(audio) == pytest.approx(-14, abs=1.5)


def test_large_silent_source(clips: ClipCache, tmp_path: Path) -> None:
    source = clips.get(
        "dv_big.mp4", make_clip, width=1440, height=2560, seconds=0.5, source="color", audio=False
    )
    probe = probe_file(source, max_seconds=60)
    assert extract_audio(source, probe, tmp_path, ffmpeg=FFMPEG) is None
    made = make_derived(source, probe, tmp_path, ffmpeg=FFMPEG)
    assert made.audio is None
    with Image.open(made.poster_jpeg) as image:
        assert image.size == (1080, 1920)  # short side capped at 1080
    assert preview_facts(made.preview) == ("h264", 360, 640, 0)
    assert close(hex_rgb(made.placeholder), (0x30, 0x60, 0xC0))  # the clip's colour


def test_rotated_source_gives_upright_files(clips: ClipCache, tmp_path: Path) -> None:
    source = clips.get("dv_rotated.mp4", make_clip, width=320, height=180, seconds=1.0, rotation=90)
    made = make_derived(source, probe_file(source, max_seconds=60), tmp_path, ffmpeg=FFMPEG)
    with Image.open(made.poster_webp) as image:
        assert image.size == (180, 320)
    assert preview_facts(made.preview)[1:3] == (180, 320)


def test_broken_source_fails_and_leaves_nothing(
    clips: ClipCache, steps: tuple[Path, ProbeResult], tmp_path: Path
) -> None:
    broken = clips.get("dv_truncated.mp4", make_truncated, keep=0.5, faststart=False, seconds=1.0)
    with pytest.raises(TranscodeFailed):
        make_derived(broken, steps[1], tmp_path, ffmpeg=FFMPEG)
    assert list(tmp_path.iterdir()) == []


# --- checks ----------------------------------------------------------------------------------


def close(actual: object, expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    assert isinstance(actual, tuple)
    return all(abs(int(a) - b) <= tolerance for a, b in zip(actual, expected, strict=True))


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def preview_facts(path: Path) -> tuple[str, int, int, int]:
    """codec, width, height, number of audio streams"""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        return video.codec_context.name, video.width, video.height, len(container.streams.audio)


def duration(path: Path) -> float:
    with av.open(str(path)) as container:
        return (container.duration or 0) / 1_000_000


def check_audio(path: Path, *, seconds: float) -> None:
    with av.open(str(path)) as container:
        assert not container.streams.video
        (sound,) = container.streams.audio
        assert (sound.codec_context.name, sound.rate, sound.channels) == ("aac", 48000, 2)
        assert (container.duration or 0) / 1_000_000 == pytest.approx(seconds, abs=0.1)
