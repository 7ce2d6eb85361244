"""Generated demo clips: distinct colours, motion, a title and a tone each, made with the bundled
ffmpeg in well under a second apiece, so a newcomer's first feed is not empty and nothing binary
lives in the repository."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 720, 1280


@dataclass(frozen=True)
class DemoClip:
    title: str
    colors: tuple[str, str]
    tone_hz: int
    seconds: float
    caption: str


DEMO_CLIPS = (
    DemoClip("Sunrise", ("#ff5f6d", "#ffc371"), 440, 4.0, "Рассвет над Волгой #путешествия #утро"),
    DemoClip("Ocean", ("#00c6ff", "#0072ff"), 330, 5.0, "Wave after wave #ocean #calm"),
    DemoClip("Forest", ("#11998e", "#38ef7d"), 262, 4.0, "Тишина в лесу #природа"),
    DemoClip("Neon", ("#fc466b", "#3f5efb"), 523, 3.0, "Night city lights #neon #city"),
    DemoClip("Borscht", ("#8e0e00", "#1f1c18"), 392, 4.0, "Борщ за 60 секунд #рецепт #еда"),
    DemoClip("Dance", ("#f953c6", "#b91d73"), 587, 3.0, "New move every day #dance"),
    DemoClip("Snow", ("#e6dada", "#274046"), 294, 5.0, "Первый снег ❄️ #зима"),
    DemoClip("Lemon", ("#f7971e", "#ffd200"), 659, 3.0, "Zest! #food #lemon"),
    DemoClip("Cat", ("#614385", "#516395"), 349, 4.0, "Кот Борис проснулся #кот #утро"),
    DemoClip("Train", ("#232526", "#414345"), 220, 5.0, "Москва — Владивосток, день 3 #поезд"),
    DemoClip("Mint", ("#00b09b", "#96c93d"), 494, 3.0, "Fresh start #monday"),
    DemoClip("Sunset", ("#ee0979", "#ff6a00"), 370, 4.0, "Закат на Байкале #байкал #закат"),
)


def _title_card(title: str, index: int, path: Path) -> None:
    """A transparent PNG with the clip's title, overlaid by ffmpeg (Pillow's built-in font, so
    no font file needs to exist on the machine)."""
    card = Image.new("RGBA", (WIDTH, 260), (0, 0, 0, 0))
    draw = ImageDraw.Draw(card)
    font = ImageFont.load_default(size=96)
    small = ImageFont.load_default(size=40)
    draw.text(
        (WIDTH // 2, 100), title, font=font, anchor="mm", fill="white", stroke_width=4, stroke_fill="black"
    )
    draw.text((WIDTH // 2, 200), f"Molodets demo #{index + 1}", font=small, anchor="mm", fill="white")
    card.save(path)


def make_demo_clip(clip: DemoClip, index: int, target: Path, *, ffmpeg: str) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        card = Path(tmp) / "card.png"
        _title_card(clip.title, index, card)
        gradient = (
            f"gradients=s={WIDTH}x{HEIGHT}:c0={clip.colors[0]}:c1={clip.colors[1]}"
            f":speed=0.03:r=30:d={clip.seconds}"
        )
        graph = (
            "[0:v]format=yuv420p[bg];"
            f"[1:v]format=rgba,scale={WIDTH // 4}:-1,rotate=a=t*1.5:c=none:ow=rotw(iw):oh=roth(ih)[spin];"
            "[bg][spin]overlay=x='(W-w)/2+200*sin(t*2)':y='H*0.62+120*cos(t*3)'[moving];"
            "[moving][2:v]overlay=x=0:y='H*0.18+20*sin(t*4)':format=auto[v]"
        )
        subprocess.run(
            [
                ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
                "-f", "lavfi", "-i", gradient,
                "-f", "lavfi", "-i", f"testsrc2=s=360x360:r=30:d={clip.seconds}",
                "-loop", "1", "-t", str(clip.seconds), "-i", str(card),
                "-f", "lavfi", "-i", f"sine=frequency={clip.tone_hz}:beep_factor=4:d={clip.seconds}",
                "-filter_complex", graph, "-map", "[v]", "-map", "3:a",
                "-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-b:a", "96k", "-shortest", "-movflags", "+faststart", str(target),
            ],
            check=True,
            timeout=120,
        )  # fmt: skip
    return target
