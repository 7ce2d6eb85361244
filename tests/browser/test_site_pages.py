"""Every page of the site in Chromium: no console or page errors, Russian by default and English
after the switch in the top bar, keyboard reachable (skip link first, then the page's own
controls), and nothing wider than a 360 px phone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from tests.browser.conftest import DEFAULT_TIMEOUT_MS
from tests.factories.accounts import DEFAULT_PASSWORD
from tests.mediaclips import make_clip

pytestmark = pytest.mark.browser

USERNAME = "site_pages"


@dataclass(frozen=True)
class SitePage:
    path: str
    member: bool  # needs the logged-in member
    ru: str  # text that shows the Russian interface ("" = only the language attribute)
    en: str
    focus: str | None  # a main control the keyboard must reach after the skip link
    status: int = 200


PAGES = [
    SitePage("/", False, "", "", None),
    SitePage("/signup", False, "Регистрация в Молодце", "Sign up for Molodets", None),
    SitePage("/login", False, "Вход в Молодец", "Log in to Molodets", None),
    SitePage(f"/@{USERNAME}", True, "0 подписчиков", "0 followers", ".video-grid .tile-link"),
    SitePage(f"/@{USERNAME}/followers", True, "Подписчиков пока нет.", "No followers yet.", None),
    SitePage("/settings", True, "Настройки", "Settings", "#f-display_name"),
    SitePage("/upload", True, "Загрузить видео", "Upload a video", "main input[type=file]"),
    SitePage("/discover", True, "Интересное", "Discover", ".video-grid .tile-link"),
    SitePage("/inbox", True, "Уведомлений пока нет.", "No notifications yet.", "main a.btn"),
    SitePage(
        "/tag/утро", True, "Страницы хэштегов скоро появятся", "Hashtag pages are coming soon", "main a.btn"
    ),
    SitePage("/no/such/page", True, "Страница не найдена", "Page not found", "main a.btn", status=404),
]
IDS = [page.path for page in PAGES]


def _wait_ready(api: httpx.Client, video_id: str) -> None:
    deadline = time.monotonic() + 90
    # "done", not just "ready": the ladder replaces the first rendition, and a page must not be
    # shown one that is about to go.
    while (state := api.get(f"/api/v1/videos/{video_id}").json())["stage"] != "done":
        assert state["status"] != "failed", state
        assert time.monotonic() < deadline, f"not processed in time: {state}"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def member(live_server: str, browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A member with two real (tiny) videos, and the browser storage state of their session."""
    account = {"username": USERNAME, "password": DEFAULT_PASSWORD, "display_name": "Страницы"}
    assert httpx.post(f"{live_server}/api/v1/accounts", json=account).status_code == 201
    login = {"name": "t", "login": USERNAME, "password": DEFAULT_PASSWORD}
    token = httpx.post(f"{live_server}/api/v1/tokens", json=login).json()["token"]
    api = httpx.Client(base_url=live_server, timeout=30, headers={"Authorization": f"Bearer {token}"})
    clip = make_clip(tmp_path_factory.mktemp("site") / "clip.mp4", width=360, height=640, seconds=1.5)
    ids = []
    for caption in ("Первое #утро", "Второе"):
        with clip.open("rb") as handle:
            upload = api.post("/api/v1/uploads/simple", files={"file": ("c.mp4", handle, "video/mp4")}).json()
        ids.append(
            api.post("/api/v1/videos", json={"upload_id": upload["id"], "caption": caption}).json()["id"]
        )
    for video_id in ids:
        _wait_ready(api, video_id)
    context = browser.new_context(base_url=live_server, locale="ru-RU")
    page = context.new_page()
    page.goto("/login")
    page.locator("#f-login").fill(USERNAME)
    page.locator("#f-password").fill(DEFAULT_PASSWORD)
    page.locator("main button[type=submit]").click()
    # Home is the feed, whose address follows the video on screen: wait only to leave the form.
    page.wait_for_url(lambda url: "/login" not in url)
    state = context.storage_state()
    context.close()
    return {"state": state, "videos": ids}


@pytest.fixture
def visit(
    browser: Browser, live_server: str, member: dict[str, Any]
) -> Iterator[tuple[BrowserContext, list[str]]]:
    """Opens a context for one page (logged in or not) and collects console and page errors."""
    contexts: list[BrowserContext] = []
    problems: list[str] = []

    def open_context(site_page: SitePage, viewport: dict[str, int]) -> Page:
        context = browser.new_context(
            base_url=live_server,
            locale="ru-RU",
            viewport=viewport,
            storage_state=member["state"] if site_page.member else None,
        )
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                problems.append(f"console: {message.text} @ {message.location}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
        return page

    yield open_context, problems  # type: ignore[misc]
    for context in contexts:
        context.close()


def _goto(page: Page, site_page: SitePage) -> None:
    response = page.goto(site_page.path)
    assert response is not None
    assert response.status == site_page.status
    page.wait_for_load_state("load")


def _expected_errors(problems: list[str], site_page: SitePage) -> list[str]:
    # A 404 page is the browser's report of its own status, not an error in the page.
    if site_page.status == 404:
        return [p for p in problems if "status of 404" not in p]
    return problems


def _check_keyboard(page: Page, selector: str) -> None:
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    assert page.evaluate("() => document.querySelector('.skip-link').getBoundingClientRect().top >= 0")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    target = page.locator(selector).first
    for _ in range(20):
        page.keyboard.press("Tab")
        if target.evaluate("(node) => node === document.activeElement"):
            break
    expect(target).to_be_focused()
    # The focus can be seen: a ring (box-shadow) or an outline on the control or a layer over it.
    ring = target.evaluate(
        "(node) => [getComputedStyle(node), getComputedStyle(node, '::after')]"
        ".some((s) => s.boxShadow !== 'none' || s.outlineStyle !== 'none')"
    )
    assert ring, f"no visible focus on {selector}"


@pytest.mark.parametrize("site_page", PAGES, ids=IDS)
def test_page_at_360_px_in_russian_and_english_by_keyboard(visit: Any, site_page: SitePage) -> None:
    open_context, problems = visit
    page: Page = open_context(site_page, {"width": 360, "height": 740})
    _goto(page, site_page)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 360, f"{site_page.path} is {width} px wide"

    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator(".lang-switch button[value=ru]")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".skip-link")).to_have_text("Перейти к содержимому")
    if site_page.ru:
        expect(page.locator("main")).to_contain_text(site_page.ru)
    if site_page.focus:
        _check_keyboard(page, site_page.focus)

    page.locator(".lang-switch button[value=en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.wait_for_load_state("load")
    expect(page.locator(".skip-link")).to_have_text("Skip to content")
    if site_page.en:
        expect(page.locator("main")).to_contain_text(site_page.en)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    if site_page.member:
        # The switch is saved on the account: put it back for the other tests.
        page.locator(".lang-switch button[value=ru]").click()
        expect(page.locator("html")).to_have_attribute("lang", "ru")
    assert _expected_errors(problems, site_page) == []


def test_login_page_focuses_its_first_field(visit: Any) -> None:
    open_context, _ = visit
    page: Page = open_context(PAGES[2], {"width": 390, "height": 844})
    _goto(page, PAGES[2])
    expect(page.locator("#f-login")).to_be_focused()


def test_reduced_motion_turns_transitions_off(browser: Browser, live_server: str, tmp_path: Path) -> None:
    context = browser.new_context(base_url=live_server, locale="ru-RU", reduced_motion="reduce")
    try:
        page = context.new_page()
        page.goto("/login")
        duration = page.evaluate("() => getComputedStyle(document.querySelector('.btn')).transitionDuration")
        assert set(duration.replace(" ", "").split(",")) <= {"0s"}, duration
    finally:
        context.close()


def test_profile_grid_loads_more_as_it_scrolls(
    visit: Any, member: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from molodets.accounts import pages

    # The live server runs in this process: one tile a page makes the two videos two pages.
    monkeypatch.setattr(pages, "GRID_PAGE", 1)
    open_context, problems = visit
    page: Page = open_context(PAGES[3], {"width": 360, "height": 740})
    _goto(page, PAGES[3])
    url = page.url
    tiles = page.locator(".video-grid .tile-link")
    newest, oldest = reversed(member["videos"])
    expect(tiles).to_have_count(2)  # the second came from the API when the "More" link neared the screen
    expect(page.locator("[data-grid-more]")).to_have_count(0)  # no page after the last
    assert tiles.nth(0).get_attribute("href") == f"/@{USERNAME}/video/{newest}?source=profile"
    assert tiles.nth(1).get_attribute("href") == f"/@{USERNAME}/video/{oldest}?source=profile"
    added = tiles.nth(1)
    expect(added.locator(".tile-views .visually-hidden")).to_have_text("0 просмотров")
    expect(added.locator("picture source[type='image/webp']")).to_have_count(1)
    poster = added.locator("img.tile-poster")
    expect(poster).to_have_js_property("complete", True)
    assert poster.evaluate("(img) => img.naturalWidth") > 0
    assert page.url == url  # the script added them; the page was not left for ?cursor=
    assert problems == []
