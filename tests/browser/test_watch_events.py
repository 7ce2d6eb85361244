"""The player reports what the viewer watches: a guest plays a video and swipes on; when the page
goes away the last events leave by beacon, and the server has counted the view. What they
watch shapes the next page the player fetches."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from molodets.feed.recommender import EXPLORE_IMPRESSIONS
from tests.browser.support import api_as, upload_videos
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


def test_watching_a_video_to_the_end_changes_the_next_page(
    page: Page, live_server: str, tmp_path: Path
) -> None:
    """A guest opens a #собаки clip and watches it to the end (it loops): once the player has
    sent its events, the guest's next page leads with #собаки, where fresh guests asking for the
    same page get a mix. (Four creators a topic: the re-ranker keeps a creator to one of any
    four consecutive items.)

    The pets are first shown to other guests until they are past exploration: a new upload's
    first audience comes from exploration slots, the least shown first, which would otherwise
    order the page whatever the viewer did. The guest does not swipe: a swipe within 3 s is a
    skip, and skipping a dog as well would rightly blur what the page learns."""
    clip = tmp_path / "pets.mp4"
    make_clip(clip, width=360, height=640, seconds=1.5, fps=24)
    made: dict[str, list[str]] = {"котики": [], "собаки": []}
    for n in range(8):
        tag = "котики" if n < 4 else "собаки"
        author = f"pets_author{n}"
        account = {"username": author, "password": DEFAULT_PASSWORD}
        assert httpx.post(f"{live_server}/api/v1/accounts", json=account).status_code == 201
        with api_as(live_server, author) as api:
            made[tag] += upload_videos(api, clip, [{"caption": f"{k} #{tag}"} for k in range(2)])
    pets = made["котики"] + made["собаки"]
    for _ in range(EXPLORE_IMPRESSIONS):  # each a new guest: no cookie
        batch = [{"type": "impression", "video_id": pet, "ts": int(time.time() * 1000)} for pet in pets]
        shown = httpx.post(f"{live_server}/api/v1/events", json={"events": batch})
        assert shown.status_code == 202, shown.text
        assert shown.json()["accepted"] == len(pets), shown.text
    watched = made["собаки"][0]
    # The clip watched is left out of the comparison: played, it rightly goes last on this
    # guest's pages, while a new guest may see it anywhere.
    dogs, cats = set(made["собаки"]) - {watched}, set(made["котики"])

    # The player sends what it queued 10 s after the first event; by then the clip has looped.
    with page.expect_response(
        lambda response: (
            "/api/v1/events" in response.url and '"complete"' in (response.request.post_data or "")
        ),
        timeout=25_000,
    ) as sent:
        page.goto(f"/@pets_author4/video/{watched}")
    assert sent.value.status == 202
    assert watched in (sent.value.request.post_data or "")
    feed = page.evaluate("() => JSON.parse(document.getElementById('feed-data').textContent)")

    def dogs_first(items: list[dict[str, str]]) -> float:
        """Of the (#собаки, #котики) pairs on the page, the share where the dog comes first."""
        pets = [item["id"] for item in items if item["id"] in dogs | cats]
        pairs = [(a in dogs) for i, a in enumerate(pets) for b in pets[i + 1 :] if (a in dogs) != (b in dogs)]
        assert pairs, items
        return sum(pairs) / len(pairs)

    # The page after the player's first, long enough to hold every pet whatever other tests left
    # on this server, drawn many times (each page draws the viewer's interests anew, and now
    # and then explores): for this guest (their cookie), then for new guests (none).
    url = f"{live_server}{feed['api']}"
    params = {"limit": "50", "cursor": feed["cursor"]}
    ours = [dogs_first(page.request.get(url, params=params).json()["items"]) for _ in range(12)]
    fresh = [dogs_first(httpx.get(url, params=params).json()["items"]) for _ in range(60)]
    assert statistics.median(ours) >= 0.7, ours
    assert statistics.mean(ours) > statistics.mean(fresh), (ours, fresh)


def test_not_interested_moves_on_and_tells_the_server(page: Page, live_server: str, tmp_path: Path) -> None:
    account = {"username": "pushy_author", "password": DEFAULT_PASSWORD}
    assert httpx.post(f"{live_server}/api/v1/accounts", json=account).status_code == 201
    clip = tmp_path / "pushy.mp4"
    make_clip(clip, width=360, height=640, seconds=2.0, fps=24)
    with api_as(live_server, "pushy_author") as api:
        upload_videos(api, clip, [{"caption": f"Реклама {n}"} for n in range(2)])
    page.goto("/")
    first = page.get_attribute("[data-slide][data-active]", "data-video-id")
    page.locator("[data-slide][data-active] [data-action=not_interested]").click()
    page.wait_for_function(
        "(id) => document.querySelector('[data-slide][data-active]').dataset.videoId !== id", arg=first
    )
    with page.expect_request(  # the player's next batch (it sends every 10 s)
        lambda request: "/api/v1/events" in request.url and "not_interested" in (request.post_data or ""),
        timeout=20_000,
    ) as sent:
        assert "таких видео будет меньше" in (page.locator("[data-toast]").text_content() or "")
    assert str(first) in (sent.value.post_data or "")
