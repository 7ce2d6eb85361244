"""A demo clip goes through the real upload and pipeline on a live server and plays in Chromium."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from molodets.demo_clips import DEMO_CLIPS, make_demo_clip
from molodets.media.ffmpeg import ffmpeg_executable
from tests.factories.accounts import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser


def test_demo_clip_plays_in_chromium(page: Page, live_server: str, tmp_path: Path) -> None:
    clip = make_demo_clip(DEMO_CLIPS[0], 0, tmp_path / "demo.mp4", ffmpeg=ffmpeg_executable())
    account = {"username": "player", "password": DEFAULT_PASSWORD}
    assert httpx.post(f"{live_server}/api/v1/accounts", json=account).status_code == 201
    login = {"name": "t", "login": "player", "password": DEFAULT_PASSWORD}
    token = httpx.post(f"{live_server}/api/v1/tokens", json=login).json()["token"]
    api = httpx.Client(base_url=live_server, timeout=30, headers={"Authorization": f"Bearer {token}"})
    with clip.open("rb") as handle:
        upload = api.post("/api/v1/uploads/simple", files={"file": ("demo.mp4", handle, "video/mp4")}).json()
    video = api.post(
        "/api/v1/videos", json={"upload_id": upload["id"], "caption": DEMO_CLIPS[0].caption}
    ).json()

    deadline = time.monotonic() + 90
    while (state := api.get(f"/api/v1/videos/{video['id']}").json())["stage"] != "done":
        assert state["status"] != "failed", state
        assert time.monotonic() < deadline, f"not processed in time: {state}"
        time.sleep(0.3)
    assert state["hashtags"] == ["путешествия", "утро"]

    page.goto("/")
    for rendition in state["renditions"]:
        played = page.evaluate(
            """async (src) => {
                const video = document.createElement("video");
                video.muted = true;
                video.src = src;
                document.body.append(video);
                await video.play();
                await new Promise((resolve) => setTimeout(resolve, 700));
                const result = {time: video.currentTime, width: video.videoWidth, height: video.videoHeight};
                video.remove();
                return result;
            }""",
            rendition["url"],
        )
        assert played["time"] > 0.2, (rendition, played)
        assert (played["width"], played["height"]) == (rendition["width"], rendition["height"])
