"""Two people in two browsers: Ann follows Boris, Boris publishes, Ann finds it in Following,
likes it and comments; Boris's open pages show each notification as it happens, no reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.browser.conftest import phone_context
from tests.browser.support import api_as, upload_videos
from tests.factories.accounts import DEFAULT_PASSWORD
from tests.mediaclips import make_clip

pytestmark = pytest.mark.browser


def sign_up_and_log_in(context: BrowserContext, username: str, display_name: str) -> None:
    account = {"username": username, "password": DEFAULT_PASSWORD, "display_name": display_name}
    assert context.request.post("/api/v1/accounts", data=account).status == 201
    login = context.request.post("/api/v1/sessions", data={"login": username, "password": DEFAULT_PASSWORD})
    assert login.status == 200


@pytest.fixture
def two(browser: Browser, live_server: str) -> Iterator[tuple[Page, Page]]:
    ann, boris = phone_context(browser, live_server), phone_context(browser, live_server)
    sign_up_and_log_in(ann, "ann_live", "Анна")
    sign_up_and_log_in(boris, "boris_live", "Борис")
    yield ann.new_page(), boris.new_page()
    ann.close()
    boris.close()


def publish(live_server: str, username: str, clip: Path) -> str:
    with api_as(live_server, username) as api:
        [video_id] = upload_videos(api, clip, [{"caption": "Новое!"}])
    return video_id


def badge_shows(page: Page, count: str) -> None:
    page.wait_for_function(
        "(want) => [...document.querySelectorAll('[data-unread-badge]')]"
        ".some((b) => !b.hidden && b.textContent === want)",
        arg=count,
    )


def test_follow_publish_like_and_comment_reach_the_open_page(
    two: tuple[Page, Page], live_server: str, tmp_path: Path
) -> None:
    ann, boris = two
    boris.goto("/@boris_live")
    boris.wait_for_load_state("networkidle")

    ann.goto("/@boris_live")
    ann.get_by_role("button", name="Подписаться").click()
    badge_shows(boris, "1")  # the follow, live on Boris's profile page
    toast = boris.locator("[data-toasts] .toast")
    assert "Анна подписался(-ась) на вас" in (toast.first.text_content() or "")

    clip = tmp_path / "new.mp4"
    make_clip(clip, width=360, height=640, seconds=2.0, fps=24)
    video_id = publish(live_server, "boris_live", clip)

    boris.goto("/inbox")  # opening the inbox reads what is there
    boris.locator(".note", has_text="подписался").wait_for()
    boris.wait_for_function("() => document.querySelector('[data-unread-badge]').hidden")

    ann.goto("/following")
    slide = ann.locator("[data-slide][data-active]")
    slide.wait_for()
    assert slide.get_attribute("data-video-id") == video_id
    slide.locator("[data-action=like]").click()
    notes = boris.locator("[data-inbox-list] .note")
    notes.filter(has_text="Анна оценил(а) ваше видео").wait_for()
    assert "оценил(а)" in (notes.first.text_content() or "")  # the newest leads
    assert "is-unread" in (notes.first.get_attribute("class") or "")

    slide.locator("[data-action=comment]").click()
    sheet = ann.locator("dialog[data-comments]")
    sheet.get_by_label("Добавить комментарий").fill("Класс <b>!</b>")
    sheet.get_by_role("button", name="Отправить").click()
    notes.filter(has_text="Анна прокомментировал(а): Класс <b>!</b>").wait_for()
    assert notes.count() == 3  # comment, like, follow: newest first, nothing duplicated
    assert boris.locator("[data-inbox-list] b").count() == 0  # text, never markup
