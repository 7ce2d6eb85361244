"""A viewer who shows, in one batch of events, that they like one topic of two: what the tests
of real-time learning arrange (in process, and on a cluster of processes)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from molodets.accounts.models import User
from tests.factories.accounts import bearer, make_user
from tests.factories.videos import make_ready_video


def now_ms() -> int:
    return int(time.time() * 1000)


def cooking_or_gaming(db: Session, creators: list[User]) -> dict[str, str]:
    """Two topics over eight `creators`, and a viewer about to show which one they like; the
    viewer's API headers."""
    # Cooking comes from six creators, three videos each, so the creator gap (one in any four)
    # can always be kept with cooking alone, whichever four the first page played.
    for n in range(18):
        make_ready_video(db, creators[n % 6], caption=f"#cooking {n}", duration_ms=20_000)
        make_ready_video(db, creators[6 + n % 2], caption=f"#gaming {n}", duration_ms=20_000)
    headers = bearer(db, make_user(db, username="watcher"))
    db.rollback()  # leave the database to the event writer
    return headers


def loves_cooking(page: dict[str, Any]) -> list[dict[str, object]]:
    """Events of watching the page's cooking videos to the end and turning the rest away."""
    batch: list[dict[str, object]] = []
    for item in page["items"]:
        if "#cooking" in item["caption"]:
            batch += [
                {"type": kind, "video_id": item["id"], "ts": now_ms(), "watched_ms": 20_000}
                for kind in ("impression", "play", "complete", "progress")
            ]
        else:
            batch += [
                {"type": kind, "video_id": item["id"], "ts": now_ms(), "watched_ms": 500}
                for kind in ("impression", "play", "skip")
            ]
            batch.append({"type": "not_interested", "video_id": item["id"], "ts": now_ms()})
    return batch


def assert_mostly_cooking(first: dict[str, Any], following: dict[str, Any]) -> None:
    captions = [item["caption"] for item in following["items"]]
    assert not {item["id"] for item in first["items"]} & {item["id"] for item in following["items"]}
    assert sum("#cooking" in caption for caption in captions) >= 5, captions
