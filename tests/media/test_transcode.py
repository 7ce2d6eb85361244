"""The ladder plan (pure) and real ffmpeg runs of it on generated clips, checked with PyAV."""

from __future__ import annotations

import itertools
import re
import subprocess
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from hypothesis import given
from hypothesis import strategies as st

from molodets.media.ffmpeg import ffmpeg_executable
from molodets.media.ladder import output_fps, plan_first, plan_ladder
from molodets.media.probe import probe_file
from molodets.media.transcode import TranscodeFailed, TranscodeTimeout, transcode_first, transcode_ladder
from molodets.media.types import AudioStreamInfo, ProbeResult, RenditionFile, RenditionSpec, VideoStreamInfo
from tests.mediaclips import ClipCache, make_clip, make_truncated, run_ffmpeg


def probe_of(width: int, height: int, *, fps: float = 30.0, audio: bool = True) -> ProbeResult:
    """A hand-made probe for plan tests: only display size, fps and audio matter to the plan."""
    return ProbeResult(
        container="mp4",
        duration_ms=2000,
        size_bytes=1,
        bitrate=1,
        video=VideoStreamInfo("h264", width, height, width, height, 0, fps, "yuv420p", 8),
        audio=AudioStreamInfo("aac", 2, 48000) if audio else None,
    )


def sizes(specs: list[RenditionSpec]) -> list[tuple[str, int, int]]:
    return [(s.name, s.width, s.height) for s in specs]


VERTICAL = [("1080p", 1080, 1920), ("720p", 720, 1280), ("480p", 480, 854), ("360p", 360, 640)]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ((1080, 1920), VERTICAL),
        ((2160, 3840), VERTICAL),
        ((1920, 1080), [("1080p", 1920, 1080), ("720p", 1280, 720), ("480p", 854, 480), ("360p", 640, 360)]),
        ((1080, 1080), [("1080p", 1080, 1080), ("720p", 720, 720), ("480p", 480, 480), ("360p", 360, 360)]),
        ((720, 1280), VERTICAL[1:]),
        ((1000, 1778), VERTICAL[1:]),  # between rungs: never upscaled to 1080p
        ((721, 1281), [("720p", 720, 1280), ("480p", 480, 852), ("360p", 360, 640)]),  # odd: 852.8 -> 852
        ((719, 1279), VERTICAL[2:]),
        ((1080, 1350), [("1080p", 1080, 1350), ("720p", 720, 900), ("480p", 480, 600), ("360p", 360, 450)]),
        ((1080, 2400), [("1080p", 864, 1920), ("720p", 576, 1280), ("480p", 384, 854), ("360p", 288, 640)]),
        ((1440, 1080), [("1080p", 1440, 1080), ("720p", 960, 720), ("480p", 640, 480), ("360p", 480, 360)]),
        ((200, 356), [("200p", 200, 356)]),  # smaller than the lowest rung: its own size
        ((201, 357), [("200p", 200, 356)]),
        ((300, 300), [("300p", 300, 300)]),
    ],
)
def test_plan_ladder(source: tuple[int, int], expected: list[tuple[str, int, int]]) -> None:
    assert sizes(plan_ladder(probe_of(*source))) == expected


def test_rungs_carry_capped_crf() -> None:
    specs = plan_ladder(probe_of(1080, 1920))
    assert [s.maxrate_kbps for s in specs] == [4500, 2500, 1200, 700]
    assert all(s.bufsize_kbps == 2 * s.maxrate_kbps and s.crf == 23 for s in specs)


@given(st.integers(48, 8192), st.floats(0.125, 8.0))
def test_plan_never_upscales_and_keeps_aspect(width: int, aspect: float) -> None:
    height = max(48, min(8192, round(width * aspect)))
    specs = plan_ladder(probe_of(width, height))
    assert specs
    for spec in specs:
        assert (spec.width % 2, spec.height % 2) == (0, 0)
        assert spec.width <= width
        assert spec.height <= height
        # One scale factor explains both sides, each within a pixel of rounding.
        low = max((spec.width - 1) / width, (spec.height - 1) / height)
        high = min((spec.width + 1) / width, (spec.height + 1) / height)
        assert low <= high


def test_plan_first_is_480p_or_the_source() -> None:
    assert (plan_first(probe_of(1080, 1920)).width, plan_first(probe_of(1080, 1920)).height) == (480, 854)
    assert (plan_first(probe_of(401, 711)).width, plan_first(probe_of(401, 711)).height) == (400, 710)


@pytest.mark.parametrize(
    ("fps", "expected"),
    [(29.97, Fraction(30000, 1001)), (30.4, Fraction(30)), (29.9, Fraction(30000, 1001)),
     (26.5, Fraction(53, 2)), (25.0, Fraction(25)), (120.0, Fraction(60)),
     (15.0, Fraction(15)), (59.94, Fraction(60000, 1001))],
)  # fmt: skip
def test_output_fps(fps: float, expected: Fraction) -> None:
    assert output_fps(probe_of(720, 1280, fps=fps)) == expected


# --- real runs -------------------------------------------------------------------------------

FFMPEG = ffmpeg_executable()

# clip name, make_clip arguments, expected: renditions (w, h), fps, audio
CASES: dict[str, tuple[dict[str, Any], list[tuple[int, int]], Fraction, bool]] = {
    "tc_vertical.mp4": ({}, [(720, 1280), (480, 854), (360, 640)], Fraction(30), True),
    "tc_rotated.mp4": (
        {"width": 1280, "height": 720, "seconds": 1.0, "rotation": 90},
        [(720, 1280), (480, 854), (360, 640)], Fraction(30), True,
    ),
    # Where it was filmed, as phones record it: must not reach the published files.
    "tc_silent.mp4": (
        {"width": 360, "height": 640, "seconds": 1.0, "audio": False,
         "extra_args": ("-metadata", "location=+55.7558+037.6173/")},
        [(360, 640)], Fraction(30), False,
    ),
    "tc_120fps.mp4": (
        {"width": 180, "height": 320, "seconds": 1.0, "fps": 120}, [(180, 320)], Fraction(60), True,
    ),
    # 10-bit HEVC with 4:3 pixels (shown square) and mono sound.
    "tc_hevc10_anamorphic.mov": (
        {"width": 360, "height": 480, "seconds": 1.0, "sar": "4/3", "vcodec": "libx265",
         "pix_fmt": "yuv420p10le", "audio_channels": 1},
        [(480, 480), (360, 360)], Fraction(30), True,
    ),
}  # fmt: skip


@pytest.fixture(scope="module", params=sorted(CASES))
def ladder_run(
    request: pytest.FixtureRequest, clips: ClipCache, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, list[RenditionFile], list[float]]:
    name = request.param
    source = clips.get(name, make_clip, **CASES[name][0])
    probe = probe_file(source, max_seconds=60)
    progress: list[float] = []
    out = tmp_path_factory.mktemp("ladder")
    files = transcode_ladder(
        source, probe, plan_ladder(probe), out, ffmpeg=FFMPEG, on_progress=progress.append
    )
    return name, files, progress


def test_ladder_outputs_are_as_planned(ladder_run: tuple[str, list[RenditionFile], list[float]]) -> None:
    name, files, _ = ladder_run
    _, dims, fps, audio = CASES[name]
    assert [(f.width, f.height) for f in files] == dims
    assert sorted(p.name for p in files[0].path.parent.iterdir()) == sorted(
        f"{f.spec.name}.mp4" for f in files
    )
    for made in files:
        assert made.size_bytes == made.path.stat().st_size
        assert made.bitrate > 0
        check_rendition(made.path, made.width, made.height, fps=fps, audio=audio)


def first_frame(path: Path, *filters: str) -> bytes:
    """The first picture as 16x16 grey pixels, after autorotation and `filters`."""
    graph = ",".join([*filters, "scale=16:16:flags=area", "format=gray"])
    done = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-frames:v", "1", "-vf", graph, "-f", "rawvideo", "-"],
        capture_output=True,
        check=True,
    )
    return done.stdout


def distance(a: bytes, b: bytes) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def test_front_camera_mirror_is_applied(clips: ClipCache, tmp_path: Path) -> None:
    """A front camera's display matrix (turn 90 degrees clockwise, then flip left-right) is
    baked into the rendition: it looks like the plain picture with those two filters applied,
    not like the turn alone."""
    shape = {"width": 320, "height": 180, "seconds": 1.0, "audio": False}
    plain = clips.get("tc_sensor_plain.mp4", make_clip, **shape)
    selfie = clips.get("tc_selfie.mov", make_clip, **shape, rotation=90, mirrored=True)
    probe = probe_file(selfie, max_seconds=60)
    (made, *_) = transcode_ladder(selfie, probe, plan_ladder(probe), tmp_path, ffmpeg=FFMPEG)
    check_rendition(made.path, 180, 320, fps=Fraction(30), audio=False)
    shown = first_frame(made.path)
    expected = distance(shown, first_frame(plain, "transpose=clock", "hflip"))
    turned_only = distance(shown, first_frame(plain, "transpose=clock"))
    assert expected < 6 < turned_only, (expected, turned_only)


def test_progress_increases_to_one(ladder_run: tuple[str, list[RenditionFile], list[float]]) -> None:
    _, _, progress = ladder_run
    assert progress[-1] == 1.0
    assert all(0 <= value <= 1 for value in progress)
    assert progress == sorted(set(progress))


def test_progress_is_reported_during_the_run(clips: ClipCache, tmp_path: Path) -> None:
    # Long enough (20 s, tiny picture) for ffmpeg to report several times before it ends, even
    # on a machine that encodes 8 s of it between two reports.
    source = clips.get("tc_progress.mp4", make_clip, width=240, height=426, seconds=20.0)
    probe = probe_file(source, max_seconds=60)
    progress: list[float] = []
    (made,) = transcode_ladder(
        source, probe, plan_ladder(probe), tmp_path, ffmpeg=FFMPEG, on_progress=progress.append
    )
    assert len(progress) >= 3
    assert progress == sorted(set(progress))
    assert progress[-1] == 1.0
    # Longer than a GOP, so the keyframes show: every 2 s exactly, the same in every rung.
    assert keyframe_times(made.path) == list(range(0, 20, 2))


def test_keyframes_ignore_scene_cuts(clips: ClipCache, tmp_path: Path) -> None:
    # Hard cuts at 1 s and 2 s: an encoder left to itself puts keyframes there, which would
    # misalign the rungs' GOPs.
    source = clips.get("dv_steps.mp4", make_colour_steps)
    probe = probe_file(source, max_seconds=60)
    (made,) = transcode_ladder(source, probe, plan_ladder(probe), tmp_path, ffmpeg=FFMPEG)
    assert keyframe_times(made.path) == [0, 2]


def test_first_rendition(clips: ClipCache, tmp_path: Path) -> None:
    source = clips.get("tc_vertical.mp4", make_clip, **CASES["tc_vertical.mp4"][0])
    made = transcode_first(source, probe_file(source, max_seconds=60), tmp_path, ffmpeg=FFMPEG)
    assert (made.path, made.width, made.height) == (tmp_path / "first.mp4", 480, 854)
    check_rendition(made.path, 480, 854, fps=Fraction(30), audio=True)
    # make_clip's tone is at -21.8 LUFS; the renditions play at -14.
    assert integrated_loudness(made.path) == pytest.approx(-14, abs=1.5)


def test_timeout_kills_ffmpeg_and_leaves_no_files(clips: ClipCache, tmp_path: Path) -> None:
    source = clips.get("tc_vertical.mp4", make_clip, **CASES["tc_vertical.mp4"][0])
    probe = probe_file(source, max_seconds=60)
    started = time.monotonic()
    with pytest.raises(TranscodeTimeout):
        transcode_ladder(source, probe, plan_ladder(probe), tmp_path, ffmpeg=FFMPEG, timeout=0.2)
    assert time.monotonic() - started < 3
    assert list(tmp_path.iterdir()) == []
    assert not [pid for pid in running_pids() if str(tmp_path) in cmdline(pid)]


def test_corrupt_source_fails_with_ffmpeg_message(clips: ClipCache, tmp_path: Path) -> None:
    # Without faststart the index is at the end, so half a file has none; the probe would refuse
    # it, so its ProbeResult is made by hand: the transcode must still fail cleanly.
    source = clips.get("tc_truncated.mp4", make_truncated, keep=0.5, faststart=False, seconds=1.0)
    with pytest.raises(TranscodeFailed) as failed:
        transcode_ladder(
            source, probe_of(720, 1280), plan_ladder(probe_of(720, 1280)), tmp_path, ffmpeg=FFMPEG
        )
    assert "moov atom not found" in failed.value.stderr_tail
    assert list(tmp_path.iterdir()) == []


def make_colour_steps(path: Path) -> Path:
    """3 s at 180x320: red, then green, then blue, one second each, with a tone. One keyframe
    only, so a poster at 2.5 s proves an accurate seek, not a jump to the nearest keyframe."""
    steps = ";".join(f"color=c={c}:s=180x320:r=30:d=1[{c}]" for c in ("red", "lime", "blue"))
    run_ffmpeg(
        "-filter_complex", f"{steps};[red][lime][blue]concat=n=3:v=1:a=0,format=yuv420p[v]",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=3",
        "-map", "[v]", "-map", "0:a", "-c:v", "libx264", "-preset", "ultrafast", "-g", "300",
        "-c:a", "aac", "-f", "mp4", str(path),
    )  # fmt: skip
    return path


# --- checks ----------------------------------------------------------------------------------


def check_rendition(path: Path, width: int, height: int, *, fps: Fraction, audio: bool) -> None:
    """H.264 High yuv420p at the planned size, square pixels, no rotation, constant `fps`,
    keyframes at most 2 s apart, AAC stereo 48 kHz (or no audio), moov before mdat, no location."""
    boxes = top_level_boxes(path)
    assert boxes.index(b"moov") < boxes.index(b"mdat")
    assert all(matrix == IDENTITY for matrix in track_matrices(path))  # no rotation in the tracks
    with av.open(str(path)) as container:
        assert next(container.decode(video=0)).rotation == 0
    with av.open(str(path)) as container:
        assert not [key for key in container.metadata if key.startswith("location")]
        video = container.streams.video[0]
        context = video.codec_context
        assert (context.name, context.profile, context.pix_fmt) == ("h264", "High", "yuv420p")
        assert (video.width, video.height) == (width, height)
        assert context.sample_aspect_ratio in (None, Fraction(1))
        assert video.average_rate == fps
        if audio:
            (sound,) = container.streams.audio
            assert (sound.codec_context.name, sound.rate, sound.channels) == ("aac", 48000, 2)
        else:
            assert not container.streams.audio
        packets = [(p.pts * p.time_base, p.is_keyframe) for p in container.demux(video) if p.pts is not None]
    times = sorted(when for when, _ in packets)
    assert {b - a for a, b in itertools.pairwise(times)} == {1 / fps}  # constant rate
    keys = sorted(when for when, key in packets if key)
    assert keys[0] == times[0]
    points = [*keys, times[-1]]
    assert all(b - a <= 2 for a, b in itertools.pairwise(points))


def keyframe_times(path: Path) -> list[Fraction]:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        return sorted(
            p.pts * p.time_base for p in container.demux(video) if p.is_keyframe and p.pts is not None
        )


def top_level_boxes(path: Path) -> list[bytes]:
    """The MP4 box types at the top level, in file order."""
    return [kind for kind, _ in boxes(path.read_bytes())]


def boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of the boxes in `data`, one level deep."""
    found, offset = [], 0
    while offset + 8 <= len(data):
        size, header = int.from_bytes(data[offset : offset + 4], "big"), 8
        if size == 1:
            size, header = int.from_bytes(data[offset + 8 : offset + 16], "big"), 16
        elif size == 0:
            size = len(data) - offset
        if size < header:
            break
        found.append((data[offset + 4 : offset + 8], data[offset + header : offset + size]))
        offset += size
    return found


# The display matrix of a track that needs no turning: (1, 0, 0; 0, 1, 0; 0, 0, 1) in 16.16 and 2.30.
IDENTITY = (0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def track_matrices(path: Path) -> list[tuple[int, ...]]:
    """The display matrix in each track header (moov/trak/tkhd): where players read rotation."""
    (moov,) = [payload for kind, payload in boxes(path.read_bytes()) if kind == b"moov"]
    matrices = []
    for kind, trak in boxes(moov):
        if kind != b"trak":
            continue
        (tkhd,) = [payload for inner, payload in boxes(trak) if inner == b"tkhd"]
        start = 40 if tkhd[0] == 0 else 52  # after version/flags, times, ids, layer, volume
        matrices.append(tuple(int.from_bytes(tkhd[i : i + 4], "big") for i in range(start, start + 36, 4)))
    return matrices


def running_pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def integrated_loudness(path: Path) -> float:
    """EBU R128 integrated loudness (LUFS) of the file's audio, measured by ffmpeg."""
    done = subprocess.run(
        [
            FFMPEG,
            "-hide_banner",
            "-nostats",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-af",
            "ebur128",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = done.stderr[done.stderr.rindex("Summary:") :]
    match = re.search(r"I:\s+(-?[\d.]+) LUFS", summary)
    assert match, summary
    return float(match.group(1))
