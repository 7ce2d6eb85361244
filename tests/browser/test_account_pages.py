"""The account pages in a real Chromium: sign-up, logout, login, profile editing, avatar upload,
the language switch and a Russian plural, all through plain forms."""

from __future__ import annotations

import io
import itertools
import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PASSWORD = "поезд-в-Обираловку-1877"
_numbers = itertools.count(1)


def avatar_png() -> bytes:
    image = Image.new("RGB", (300, 200), (254, 44, 85))
    ImageDraw.Draw(image).ellipse((100, 50, 200, 150), fill=(37, 244, 238))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def sign_up(page: Page, username: str, display_name: str = "Анна Каренина") -> None:
    page.goto("/signup")
    page.get_by_label("Имя пользователя").fill(username)
    page.get_by_label("Имя", exact=True).fill(display_name)
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Регистрация").click()
    page.wait_for_url(re.compile(r"^http://[^/]+/$"))


def new_username() -> str:
    return f"anna{next(_numbers)}"


def test_sign_up_log_out_and_log_in(page: Page) -> None:
    username = new_username()
    sign_up(page, username)
    # Signed in: the top bar links to the new profile (the feed may or may not have videos).
    expect(page.locator(f'a.me-link[href="/@{username}"]')).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    assert page.locator('meta[name="csrf-token"]').get_attribute("content")

    page.goto("/logout")
    page.get_by_role("button", name="Выйти").click()
    expect(page.get_by_role("link", name="Войти").first).to_be_visible()

    page.goto("/settings")  # needs login: comes back here after it
    expect(page).to_have_url(re.compile(r"/login\?next=/settings$"))
    page.get_by_label("Пароль").fill("wrong password")
    page.get_by_label("Имя пользователя или почта").fill(username)
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("alert")).to_have_text("Неверное имя пользователя, почта или пароль.")
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("heading", name="Настройки", exact=True)).to_be_visible()


def test_edit_profile_and_upload_avatar(page: Page, tmp_path: Path) -> None:
    username = new_username()
    sign_up(page, username)
    page.goto("/settings")
    page.get_by_label("О себе").fill(
        "Все счастливые семьи похожи друг на друга.\nКаждая несчастливая — по-своему."
    )
    page.get_by_label("Ссылка 1: название").fill("Роман")
    page.get_by_label("Ссылка 1: адрес").fill("https://example.ru/karenina")
    page.get_by_role("button", name="Сохранить профиль").click()
    expect(page.get_by_role("status")).to_have_text("Профиль сохранён.")

    picture = tmp_path / "avatar.png"
    picture.write_bytes(avatar_png())
    page.get_by_label("Выберите изображение (JPEG, PNG, WebP или GIF)").set_input_files(picture)
    # The script previews the chosen picture before it is sent.
    expect(page.locator("[data-avatar-preview] img")).to_have_attribute("src", re.compile(r"^blob:"))
    page.get_by_role("button", name="Загрузить фото").click()
    expect(page.get_by_role("status")).to_have_text("Новое фото сохранено.")

    page.get_by_role("link", name="Открыть профиль").click()
    expect(page.get_by_role("heading", name="Анна Каренина")).to_be_visible()
    bio = page.locator(".profile-bio")
    expect(bio).to_contain_text("Каждая несчастливая — по-своему.")
    # Line breaks of the bio are kept: two lines, not one.
    assert bio.evaluate("el => el.innerText").count("\n") == 1
    expect(page.get_by_role("link", name="Роман")).to_have_attribute("href", "https://example.ru/karenina")
    avatar = page.locator(".profile-avatar img")
    expect(avatar).to_be_visible()
    avatar.evaluate("img => img.decode()")
    assert avatar.evaluate("img => img.complete && img.naturalWidth") > 0


def test_language_switch_changes_the_interface(page: Page) -> None:
    page.goto("/signup")
    expect(page.get_by_role("heading", level=1)).to_have_text("Регистрация в Молодце")
    page.get_by_role("button", name="EN").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign up for Molodets")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(r"/signup$"))  # the switch comes back to the same page
    page.get_by_role("button", name="RU").click()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.get_by_role("heading", level=1)).to_have_text("Регистрация в Молодце")


def test_language_choice_follows_the_account(page: Page) -> None:
    sign_up(page, new_username())
    page.goto("/settings")
    page.get_by_role("button", name="EN").click()
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    expect(page.get_by_label("Language", exact=True)).to_have_value("en")


def test_russian_plural_of_the_token_counter(page: Page) -> None:
    sign_up(page, new_username())
    page.goto("/settings")
    expect(page.locator(".token-count")).to_have_text("0 активных токенов")
    for number, (name, expected) in enumerate(
        [("телефон", "1 активный токен"), ("ноутбук", "2 активных токена")], start=1
    ):
        page.get_by_label("Название нового токена").fill(name)
        page.get_by_role("button", name="Создать токен").click()
        expect(page.locator(".token-count")).to_have_text(expected)
        expect(page.locator("#new-token")).to_contain_text("mld_")
        assert page.locator(".token-list li").count() == number
