"""The player reports what the viewer watches: a guest plays a video and swipes on; when the page
goes away the last events leave by beacon, and the server has counted the view."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from tests.browser.test_live_notifications import publish
from tests.factories.accounts import DEFAULT_PASSWORD
from tests.mediaclips import make_clip

pytestmark = pytest.mark.browser


def views(live_server: str, video_id: str) -> int:
    return int(httpx.get(f"{live_server}/api/v1/videos/{video_id}").json()["counts"]["views"])


def test_watching_sends_events_and_counts_the_view(page: Page, live_server: str, tmp_path: Path) -> None:
    account = {"username": "watched", "password": DEFAULT_PASSWORD}
    assert httpx.post(f"{live_server}/api/v1/accounts", json=account).status_code == 201
    clip = tmp_path / "watch.mp4"
    make_clip(clip, width=360, height=640, seconds=2.0, fps=24)
    video_id = publish(live_server, "watched", clip)

    sent: list[str] = []
    page.on(
        "request", lambda request: sent.append(request.method) if "/api/v1/events" in request.url else None
    )
    page.goto(f"/@watched/video/{video_id}")
    page.wait_for_function(
        "() => { const v = document.querySelector('[data-slide][data-active] video');"
        " return v && v.currentTime > 0.5; }"
    )
    assert views(live_server, video_id) == 0  # nothing sent yet: events leave in batches
    page.close(run_before_unload=True)  # pagehide: the batch leaves by beacon
    deadline = time.monotonic() + 10
    while views(live_server, video_id) != 1:
        assert time.monotonic() < deadline, "no view counted: the beacon did not arrive"
        time.sleep(0.1)
