"""Which ffmpeg we run: the setting, else the static build the imageio-ffmpeg wheel ships, so
every machine that installs Molodets runs the same ffmpeg (libx264, libvmaf and all)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import imageio_ffmpeg


@lru_cache(maxsize=4)
def ffmpeg_executable(configured: str | None = None) -> str:
    if configured:
        if not Path(configured).is_file():
            raise FileNotFoundError(f"MOLODETS_FFMPEG_PATH points at no file: {configured}")
        return configured
    return str(imageio_ffmpeg.get_ffmpeg_exe())
