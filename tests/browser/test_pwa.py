"""The site as an installable app in Chromium: the manifest and worker pass Chromium's own
installability check, the worker keeps the shell for offline use and never keeps media or API
responses."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Page, Playwright, expect

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, DEFAULT_TIMEOUT_MS
from tests.factories.accounts import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser


def _cached_urls(page: Page) -> list[str]:
    urls: list[str] = page.evaluate(
        """async () => {
            const found = [];
            for (const name of await caches.keys()) {
                const cache = await caches.open(name);
                for (const request of await cache.keys()) found.push(request.url);
            }
            return found;
        }"""
    )
    return urls


def _wait_for_worker(page: Page) -> None:
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")


def _member_with_avatar(live_server: str, username: str) -> None:
    account = {"username": username, "password": DEFAULT_PASSWORD}
    assert httpx.post(f"{live_server}/api/v1/accounts", json=account).status_code == 201
    login = {"name": "t", "login": username, "password": DEFAULT_PASSWORD}
    token = httpx.post(f"{live_server}/api/v1/tokens", json=login).json()["token"]
    picture = io.BytesIO()
    Image.new("RGB", (300, 300), (200, 40, 90)).save(picture, format="PNG")
    response = httpx.put(
        f"{live_server}/api/v1/me/avatar",
        files={"file": ("a.png", picture.getvalue(), "image/png")},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text


@pytest.fixture
def profile_page(playwright: Playwright, live_server: str, tmp_path: Path) -> Iterator[Page]:
    """A page in a browser with a profile on disk: Chromium never offers to install from an
    incognito-like context (what `browser.new_context()` makes), so the check needs this."""
    context = playwright.chromium.launch_persistent_context(
        tmp_path / "profile",
        executable_path=str(CHROMIUM),
        args=CHROMIUM_ARGS,
        headless=True,
        base_url=live_server,
        locale="ru-RU",
        viewport={"width": 390, "height": 844},
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        yield context.pages[0] if context.pages else context.new_page()
    finally:
        context.close()


def test_chromium_finds_the_app_installable(profile_page: Page) -> None:
    page = profile_page
    page.goto("/login")
    _wait_for_worker(page)
    cdp = page.context.new_cdp_session(page)
    manifest: dict[str, Any] = cdp.send("Page.getAppManifest")
    assert manifest["url"].endswith("/manifest.webmanifest")
    assert manifest["errors"] == [], manifest["errors"]
    errors = cdp.send("Page.getInstallabilityErrors")
    assert errors["installabilityErrors"] == [], errors


def test_offline_reload_shows_the_offline_page_and_media_is_never_cached(
    page: Page, live_server: str
) -> None:
    _member_with_avatar(live_server, "pwa_offline")
    page.goto("/login")
    _wait_for_worker(page)
    page.get_by_label("Имя пользователя или почта").fill("pwa_offline")
    page.get_by_label("Пароль").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Войти").click()
    media_seen: list[str] = []
    page.on(
        "requestfinished",
        lambda request: media_seen.append(request.url) if "/media/" in request.url else None,
    )
    page.goto("/@pwa_offline")
    avatar = page.locator(".profile-avatar img")
    expect(avatar).to_have_js_property("complete", True)
    assert page.evaluate("() => document.querySelector('.profile-avatar img').naturalWidth") > 0
    assert page.evaluate("() => fetch('/api/v1/me').then((r) => r.status)") == 200
    assert media_seen, "the avatar was not loaded from /media/"

    cached = _cached_urls(page)
    assert any("/static/css/app.css?v=" in url for url in cached)
    assert any(url.endswith("/offline?lang=ru") for url in cached)
    assert not [url for url in cached if "/media/" in url or "/api/" in url], cached

    page.context.set_offline(True)
    try:
        page.reload()
        expect(page.locator("[data-offline-page] h1")).to_have_text("Нет подключения к интернету")
        # The shell's stylesheet came from the cache: the page is dark, not unstyled.
        assert page.evaluate("() => getComputedStyle(document.body).backgroundColor") == "rgb(0, 0, 0)"
        page.goto("/discover")
        expect(page.locator("[data-offline-page]")).to_be_visible()
    finally:
        page.context.set_offline(False)

    # Switching to English tells the worker, and its offline page follows.
    page.goto("/login")
    page.locator(".lang-switch button[value=en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.wait_for_function(
        """async () => {
            const lang = await caches.match("/__molodets/lang");
            return lang && (await lang.text()) === "en";
        }"""
    )
    page.context.set_offline(True)
    try:
        page.reload()
        expect(page.locator("[data-offline-page] h1")).to_have_text("You are offline")
    finally:
        page.context.set_offline(False)
    assert not [url for url in _cached_urls(page) if "/media/" in url or "/api/" in url]
