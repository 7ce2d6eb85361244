"""The social parts of the pages in Chromium against a live server: liking comments (and the
rollback when the server refuses), the Top / Newest order, pinning and deleting as the video's
author from each comment's menu (keyboard included), the sentence that replaces the form where
comments are off, the followers page with its Follow buttons and endless scroll, and blocking
from the profile's "⋯" menu."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest
from playwright.sync_api import Dialog, Locator, Page, expect

from molodets.social import lists_pages
from tests.browser.support import api_as, upload_videos
from tests.factories.accounts import DEFAULT_PASSWORD
from tests.mediaclips import make_clip

pytestmark = pytest.mark.browser

AUTHOR = "sheet_author"
_numbers = itertools.count(1)


def new_account(live_server: str, prefix: str, display_name: str | None = None) -> str:
    username = f"{prefix}{next(_numbers)}"
    account = {"username": username, "password": DEFAULT_PASSWORD, "display_name": display_name or username}
    assert httpx.post(f"{live_server}/api/v1/accounts", json=account).status_code == 201
    return username


def log_in(page: Page, username: str) -> None:
    """The page's browser context gets the session cookie (as the login form would set it)."""
    response = page.request.post("/api/v1/sessions", data={"login": username, "password": DEFAULT_PASSWORD})
    assert response.ok, response.text()


@pytest.fixture(scope="module")
def videos(live_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The author's videos: one for likes and order, one to pin and delete on, one with comments off."""
    account = {"username": AUTHOR, "password": DEFAULT_PASSWORD, "display_name": "Автор"}
    assert httpx.post(f"{live_server}/api/v1/accounts", json=account).status_code == 201
    clip = make_clip(tmp_path_factory.mktemp("social-ui") / "c.mp4", width=360, height=640, seconds=1.0)
    with api_as(live_server, AUTHOR) as api:
        liked, pinned, closed = upload_videos(
            api,
            clip,
            [{"caption": "лайки"}, {"caption": "закреп"}, {"caption": "тихо", "comments_enabled": False}],
        )
    return {"liked": liked, "pinned": pinned, "closed": closed}


def open_sheet(page: Page, video_id: str) -> Locator:
    page.goto(f"/@{AUTHOR}/video/{video_id}")
    page.locator("[data-slide][data-active] [data-action=comment]").click()
    sheet = page.locator("dialog[data-comments]")
    expect(sheet).to_be_visible()
    return sheet


def top_comment(sheet: Locator, text: str) -> Locator:
    """The top-level comment whose own text is `text` (not a reply inside it)."""
    return sheet.locator(".comments-list > .comment").filter(
        has=sheet.page.locator(":scope > .comment-body .comment-text", has_text=text)
    )


def comments_of(live_server: str, video_id: str, sort: str = "top") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = httpx.get(
        f"{live_server}/api/v1/videos/{video_id}/comments", params={"sort": sort}
    ).json()["items"]
    return items


def test_like_a_comment_switch_the_order_and_comments_off(
    page: Page, live_server: str, videos: dict[str, str], errors: list[str]
) -> None:
    video_id = videos["liked"]
    writer, voter = new_account(live_server, "writer"), new_account(live_server, "voter")
    with api_as(live_server, writer) as api:
        older = api.post(f"/api/v1/videos/{video_id}/comments", json={"text": "Старый комментарий"}).json()
        api.post(f"/api/v1/videos/{video_id}/comments", json={"text": "Новый комментарий"})
    with api_as(live_server, voter) as api:
        assert api.put(f"/api/v1/comments/{older['id']}/like").status_code == 200
    log_in(page, new_account(live_server, "liker"))

    sheet = open_sheet(page, video_id)
    texts = sheet.locator(".comments-list > .comment > .comment-body .comment-text")
    expect(texts).to_have_text(["Старый комментарий", "Новый комментарий"])  # Top: the liked one first
    expect(sheet.locator(".comment-menu-button")).to_have_count(0)  # nothing to pin or delete here
    expect(sheet.locator("[data-comments-more]")).to_be_hidden()  # one page holds them all

    newer_like = top_comment(sheet, "Новый").locator(".comment-like")
    expect(newer_like).to_have_attribute("aria-pressed", "false")
    newer_like.click()
    expect(newer_like).to_have_attribute("aria-pressed", "true")
    expect(newer_like.locator(".comment-like-count")).to_have_text("1")
    for _ in range(50):
        if {c["text"]: c["likes"] for c in comments_of(live_server, video_id)}["Новый комментарий"] == 1:
            break
        page.wait_for_timeout(100)
    else:
        pytest.fail("the like did not reach the server")

    # The server refuses: the heart and the count go back, and the sheet says so.
    older_like = top_comment(sheet, "Старый").locator(".comment-like")
    refuse = {"status": 503, "json": {"code": "unavailable"}}
    page.route("**/api/v1/comments/*/like", lambda route: route.fulfill(**refuse))
    older_like.click()
    expect(sheet.locator("[data-comments-status]")).to_have_text("Не получилось. Попробуйте ещё раз.")
    expect(older_like).to_have_attribute("aria-pressed", "false")
    expect(older_like.locator(".comment-like-count")).to_have_text("1")
    page.unroute("**/api/v1/comments/*/like")

    newest = sheet.get_by_role("button", name="Новые")
    newest.click()
    expect(newest).to_have_attribute("aria-pressed", "true")
    expect(texts).to_have_text(["Новый комментарий", "Старый комментарий"])
    expect(top_comment(sheet, "Новый").locator(".comment-like")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()

    # Comments off: a sentence in place of the form.
    sheet = open_sheet(page, videos["closed"])
    expect(sheet.locator("[data-comments-closed]")).to_have_text("Комментарии к этому видео отключены.")
    expect(sheet.locator("[data-comments-form]")).to_be_hidden()
    assert [e for e in errors if "503" not in e] == []


def test_the_author_pins_and_deletes_from_the_menu(
    page: Page, live_server: str, videos: dict[str, str], errors: list[str]
) -> None:
    video_id = videos["pinned"]
    writer = new_account(live_server, "writer")
    with api_as(live_server, writer) as api:
        first = api.post(f"/api/v1/videos/{video_id}/comments", json={"text": "Первый"}).json()
        api.post(f"/api/v1/videos/{video_id}/comments", json={"text": "Второй"})
        reply = {"text": "Ответ", "parent_id": first["id"]}
        assert api.post(f"/api/v1/videos/{video_id}/comments", json=reply).status_code == 201
    log_in(page, AUTHOR)
    sheet = open_sheet(page, video_id)
    count = page.locator("[data-slide][data-active] [data-count=comments]")
    expect(count).to_have_text("3")
    texts = sheet.locator(".comments-list > .comment > .comment-body .comment-text")
    expect(texts).to_have_text(["Второй", "Первый"])

    # The keyboard: Enter opens the menu on its first item, Escape closes only the menu.
    menu_button = top_comment(sheet, "Первый").locator(":scope > .comment-side .comment-menu-button")
    menu_button.focus()
    page.keyboard.press("Enter")
    pin = sheet.get_by_role("menuitem", name="Закрепить")
    expect(pin).to_be_focused()
    page.keyboard.press("Escape")
    expect(pin).to_be_hidden()
    expect(menu_button).to_be_focused()
    expect(sheet).to_be_visible()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # pin
    expect(texts).to_have_text(["Первый", "Второй"])
    expect(top_comment(sheet, "Первый").locator(".comment-badge", has_text="Закреплён")).to_be_visible()
    assert comments_of(live_server, video_id)[0]["pinned"] is True

    # Delete the pinned comment and its thread: after a confirmation, both leave the count.
    questions: list[str] = []

    def accept(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    top_comment(sheet, "Первый").locator(":scope > .comment-side .comment-menu-button").click()
    sheet.get_by_role("menuitem", name="Удалить").click()
    expect(texts).to_have_text(["Второй"])
    expect(count).to_have_text("1")
    assert questions == ["Удалить этот комментарий вместе с ответами?"]
    assert [c["text"] for c in comments_of(live_server, video_id)] == ["Второй"]
    assert httpx.get(f"{live_server}/api/v1/videos/{video_id}").json()["counts"]["comments"] == 1
    assert errors == []


@pytest.fixture
def short_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two people a page, so three make the list scroll on (the server runs in this process)."""
    monkeypatch.setattr(lists_pages, "LIST_PAGE", 2)


def test_followers_page_lists_follows_and_scrolls_on(
    page: Page, live_server: str, short_lists: None, errors: list[str]
) -> None:
    star = new_account(live_server, "star")
    fans = [new_account(live_server, "fan", display_name=f"Поклонник {n}") for n in range(3)]
    for fan in fans:
        with api_as(live_server, fan) as api:
            assert api.put(f"/api/v1/users/{star}/follow").status_code == 200
    log_in(page, new_account(live_server, "viewer"))

    page.goto(f"/@{star}")
    page.get_by_role("link", name="3 подписчика").click()
    page.wait_for_url(f"{live_server}/@{star}/followers")
    rows = page.locator("[data-people] .person-name")
    # The first page is two; the script reads the third from the API as the end comes near.
    expect(rows).to_have_text([f"Поклонник {n}" for n in (2, 1, 0)])
    expect(page.locator("[data-list-more]")).to_have_count(0)

    oldest = page.locator(".person", has_text="Поклонник 0").get_by_role("button", name="Подписаться")
    oldest.click()
    expect(page.locator(".person", has_text="Поклонник 0").locator(".follow-button")).to_have_text(
        "Отписаться"
    )
    for _ in range(50):
        if httpx.get(f"{live_server}/api/v1/users/{fans[0]}").json()["counts"]["followers"] == 1:
            break
        page.wait_for_timeout(100)
    else:
        pytest.fail("the follow did not reach the server")
    assert errors == []


def test_block_and_unblock_from_the_profile_menu(page: Page, live_server: str, errors: list[str]) -> None:
    target = new_account(live_server, "target", display_name="Навязчивый")
    log_in(page, new_account(live_server, "blocker"))
    questions: list[str] = []

    def accept(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.goto(f"/@{target}")
    notice = page.locator("[data-blocked-notice]")
    expect(notice).to_be_hidden()
    page.get_by_role("button", name="Другие действия").click()
    page.get_by_role("menuitem", name="Заблокировать").click()
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(f"Вы заблокировали @{target}.")
    assert questions[0].startswith("Заблокировать Навязчивый?")
    blocked = page.request.get("/api/v1/me/blocks").json()["items"]
    assert [item["user"]["username"] for item in blocked] == [target]

    page.reload()
    expect(notice).to_be_visible()  # the page knows after a reload too
    page.get_by_role("button", name="Другие действия").click()
    expect(page.get_by_role("menuitem", name="Заблокировать")).to_be_hidden()
    page.get_by_role("menuitem", name="Разблокировать").click()
    expect(notice).to_be_hidden()
    assert questions[1] == "Разблокировать Навязчивый?"
    assert page.request.get("/api/v1/me/blocks").json()["items"] == []
    assert errors == []
