"""Hostile text in a real browser: a display name, a caption and a comment made of markup stay
text on the video page, on a slide the player fills in by script, and in the comment sheet: no
dialog opens and no element the text describes comes into being. (What the server sends is
checked in tests/web/test_text_is_never_markup.py.)"""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.browser.test_social_ui import api_as, upload_videos
from tests.factories.accounts import DEFAULT_PASSWORD
from tests.mediaclips import make_clip

pytestmark = pytest.mark.browser

NAME = '"><img src=x onerror=alert(1)>'  # a display name holds 50 characters at most
TEXT = '<script>alert(1)</script> "><img src=x onerror=alert(1)>'
HOSTILE = "hostile_text"


@pytest.fixture(scope="module")
def hostile_videos(live_server: str, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Two videos of a hostile author (newest first), the newest with a hostile comment."""
    account = {"username": HOSTILE, "password": DEFAULT_PASSWORD, "display_name": NAME}
    assert httpx.post(f"{live_server}/api/v1/accounts", json=account).status_code == 201
    clip = make_clip(tmp_path_factory.mktemp("hostile") / "c.mp4", width=360, height=640, seconds=1.0)
    with api_as(live_server, HOSTILE) as api:
        older, newer = upload_videos(api, clip, [{"caption": TEXT}, {"caption": TEXT}])
        posted = api.post(f"/api/v1/videos/{newer}/comments", json={"text": TEXT})
        assert posted.status_code == 201, posted.text
    return [newer, older]


def test_hostile_caption_name_and_comment_stay_text(page: Page, hostile_videos: list[str]) -> None:
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    newer, older = hostile_videos
    # ?source=profile: the next slide is the older video, filled in by the player's script.
    page.goto(f"/@{HOSTILE}/video/{newer}?source=profile")
    slides = page.locator(f"[data-slide][data-video-id='{older}'] [data-caption]")
    expect(slides).to_have_text(TEXT)
    expect(page.locator("[data-slide][data-active] [data-caption]")).to_have_text(TEXT)
    expect(page.locator(f"[data-slide][data-video-id='{older}'] [data-display-name]")).to_have_text(NAME)

    page.locator("[data-slide][data-active] [data-action=comment]").click()
    sheet = page.locator("dialog[data-comments]")
    expect(sheet.locator(".comment-text")).to_have_text([TEXT])
    expect(sheet.locator(".comment-head a")).to_have_text([NAME])
    assert_no_markup(page)
    page.keyboard.press("Escape")
    page.keyboard.press("ArrowDown")  # the script's slide comes on screen
    expect(page.locator("[data-slide][data-active]")).to_have_attribute("data-video-id", older)
    assert_no_markup(page)

    page.goto(f"/@{HOSTILE}")
    expect(page.locator("#profile-name")).to_have_text(NAME)
    assert_no_markup(page)
    page.wait_for_timeout(300)  # time for an image error or a script to fire, had one got in
    assert dialogs == []


def assert_no_markup(page: Page) -> None:
    expect(page.locator('img[src="x"]')).to_have_count(0)
    expect(page.locator('script:not([type="application/json"])', has_text="alert(1)")).to_have_count(0)
