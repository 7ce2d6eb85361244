"""Helpers of the browser tests: API clients on the live server and videos through the real
pipeline."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.factories.accounts import DEFAULT_PASSWORD


def api_as(live_server: str, username: str) -> httpx.Client:
    """An API client of the live server authenticated as `username` (a fresh Bearer token)."""
    login = {"name": "t", "login": username, "password": DEFAULT_PASSWORD}
    token = httpx.post(f"{live_server}/api/v1/tokens", json=login).json()["token"]
    return httpx.Client(base_url=live_server, timeout=30, headers={"Authorization": f"Bearer {token}"})


def upload_videos(api: httpx.Client, clip: Path, settings: list[dict[str, Any]]) -> list[str]:
    """Videos made from `clip` with each of `settings`, once processed to the end."""
    ids = []
    for fields in settings:
        with clip.open("rb") as handle:
            upload = api.post("/api/v1/uploads/simple", files={"file": ("c.mp4", handle, "video/mp4")}).json()
        created = api.post("/api/v1/videos", json={"upload_id": upload["id"], **fields})
        assert created.status_code == 201, created.text
        ids.append(str(created.json()["id"]))
    deadline = time.monotonic() + 120
    for video_id in ids:
        while (state := api.get(f"/api/v1/videos/{video_id}").json())["stage"] != "done":
            assert state["status"] != "failed", state
            assert time.monotonic() < deadline, f"not processed in time: {state}"
            time.sleep(0.3)
    return ids
