"""A private account in a real Chromium: the settings switch, asking to follow from the profile
(the button turns "Requested" in place and a second press withdraws), approving on the follow
requests page without a reload, and unfollowing hiding the videos again."""

from __future__ import annotations

import itertools

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import phone_context
from tests.browser.test_account_pages import sign_up

pytestmark = pytest.mark.browser

_numbers = itertools.count(1)


def test_asking_approving_and_unfollowing(page: Page, browser: Browser, live_server: str) -> None:
    owner = f"hidden{next(_numbers)}"
    sign_up(page, owner, display_name="Скрытная")
    page.goto("/settings")
    page.get_by_role("switch", name="Закрытый аккаунт").check()
    page.get_by_role("button", name="Сохранить профиль").click()
    expect(page.get_by_role("switch", name="Закрытый аккаунт")).to_be_checked()

    other_context = phone_context(browser, live_server)
    try:
        fan = other_context.new_page()
        sign_up(fan, f"fan{next(_numbers)}", display_name="Фанат")
        fan.goto(f"/@{owner}")
        expect(fan.get_by_role("heading", name="Это закрытый аккаунт")).to_be_visible()
        fan.get_by_role("button", name="Запросить подписку").click()
        expect(fan.get_by_role("button", name="Запрос отправлен")).to_be_visible()
        fan.get_by_role("button", name="Запрос отправлен").click()  # withdraws
        expect(fan.get_by_role("button", name="Запросить подписку")).to_be_visible()
        fan.get_by_role("button", name="Запросить подписку").click()
        expect(fan.get_by_role("button", name="Запрос отправлен")).to_be_visible()

        page.goto(f"/@{owner}")
        page.get_by_role("link", name="Запросы на подписку").click()
        page.get_by_role("button", name="Одобрить: Фанат").click()
        expect(page.get_by_role("status").filter(has_text="Одобрено")).to_be_visible()

        fan.reload()
        expect(fan.get_by_role("heading", name="Это закрытый аккаунт")).to_have_count(0)
        expect(fan.get_by_text("1 подписчик", exact=True)).to_be_visible()
        fan.get_by_role("button", name="Отписаться").click()  # the page reloads, locked again
        expect(fan.get_by_role("heading", name="Это закрытый аккаунт")).to_be_visible()
        expect(fan.get_by_role("button", name="Запросить подписку")).to_be_visible()
    finally:
        other_context.close()
