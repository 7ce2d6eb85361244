"""Profile and settings pages, the language switch, and error pages."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from molodets.accounts.auth import SESSION_COOKIE
from molodets.accounts.models import ApiToken, User, UserSession
from molodets.accounts.passwords import verify_password
from molodets.runtime import Runtime
from molodets.web.i18n import LANG_COOKIE
from tests.factories.accounts import DEFAULT_PASSWORD, make_user
from tests.web.conftest import EN, HTML, RU, LoggedIn, page_login


def reload_user(runtime: Runtime, user_id: int) -> User:
    """The stored row, read in a session of its own: the test's `db` session would hold SQLite's
    write lock (BEGIN IMMEDIATE) and block the app."""
    with runtime.db.read_sessions() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user


def png(width: int = 64, height: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (254, 44, 85)).save(out, format="PNG")
    return out.getvalue()


def profile_form(csrf: str, **changes: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "display_name": "Анна Каренина",
        "bio": "",
        "email": "anna@example.ru",
        "locale": "",
        **changes,
    }


def test_profile_page_shows_the_account(anna: LoggedIn, db: Session) -> None:
    stranger = TestClient(anna.client.app)
    response = stranger.get("/@anna", headers=RU)
    assert response.status_code == 200
    assert "Анна Каренина" in response.text
    assert "@anna" in response.text
    assert "Изменить профиль" not in response.text  # only for the owner
    assert "С нами с " in response.text
    assert "Edit profile" in anna.client.get("/@anna", headers=EN).text


def test_unknown_profile_is_a_translated_404(client: TestClient) -> None:
    ru = client.get("/@nobody", headers=RU)
    assert ru.status_code == 404
    assert "Страница не найдена" in ru.text
    assert "Такого пользователя нет." in ru.text
    en = client.get("/@nobody", headers=EN)
    assert en.status_code == 404
    assert "There is no such user." in en.text


def test_profile_address_is_canonical(anna: LoggedIn) -> None:
    response = anna.client.get("/@Anna", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (301, "/@anna")


def test_settings_need_login(client: TestClient) -> None:
    response = client.get("/settings?x=1", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login?next=/settings%3Fx%3D1")
    post = client.post("/settings", data={"bio": "x"}, follow_redirects=False)
    assert (post.status_code, post.headers["location"]) == (303, "/login?next=/settings")


def test_editing_the_profile(runtime: Runtime, anna: LoggedIn, db: Session) -> None:
    data = profile_form(
        anna.csrf,
        bio="Все счастливые семьи похожи друг на друга.\nКаждая несчастливая — по-своему.",
        link_title_0="Сайт",
        link_url_0="https://example.ru/anna",
        locale="en",
    )
    response = anna.client.post("/settings", data=data, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/settings?saved=profile")
    saved = anna.client.get(response.headers["location"])
    assert "Profile saved." in saved.text  # the account's language is now English
    user = reload_user(runtime, anna.user.id)
    assert user.locale == "en"
    assert user.links == [{"title": "Сайт", "url": "https://example.ru/anna"}]
    profile = anna.client.get("/@anna").text
    assert "Каждая несчастливая" in profile
    assert 'href="https://example.ru/anna"' in profile
    assert 'rel="nofollow noopener ugc"' in profile


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"bio": "я" * 301}, 422, "Описание должно быть не длиннее 300 символов."),
        (
            {"link_title_0": "Сайт", "link_url_0": "javascript:alert(1)"},
            422,
            "Ссылка должна быть веб-адресом",
        ),
        ({"link_title_0": "без адреса"}, 422, "Ссылка должна быть веб-адресом"),
        ({"email": "boris@example.com"}, 409, "Аккаунт с этой почтой уже существует."),
        ({"display_name": "\u202e\u200b"}, 200, None),  # invisible only: falls back to the username
    ],
)
def test_profile_errors_keep_the_input(
    runtime: Runtime, anna: LoggedIn, db: Session, changes: dict[str, str], status: int, message: str | None
) -> None:
    make_user(db, username="boris", email="boris@example.com")
    data = profile_form(anna.csrf, **changes)
    response = anna.client.post("/settings", data=data, headers=RU)
    assert response.status_code == status
    if message is None:
        return
    assert message in response.text
    for value in changes.values():
        assert value.replace("&", "&amp;")[:50] in response.text
    user = reload_user(runtime, anna.user.id)
    assert user.bio == ""
    assert user.email == "anna@example.ru"


def test_avatar_upload_and_removal(runtime: Runtime, anna: LoggedIn, db: Session) -> None:
    files = {"avatar": ("me.png", png(), "image/png")}
    response = anna.client.post(
        "/settings/avatar", data={"csrf_token": anna.csrf}, files=files, follow_redirects=False
    )
    assert (response.status_code, response.headers["location"]) == (303, "/settings?saved=avatar#avatar")
    user = reload_user(runtime, anna.user.id)
    assert user.avatar_key
    profile = anna.client.get("/@anna").text
    src = profile.split('class="avatar" src="', 1)[1].split('"', 1)[0]
    image = anna.client.get(src)
    assert image.status_code == 200
    assert image.content[:4] == b"RIFF"
    removed = anna.client.post(
        "/settings/avatar/delete", data={"csrf_token": anna.csrf}, follow_redirects=False
    )
    assert removed.status_code == 303
    assert reload_user(runtime, anna.user.id).avatar_key is None


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        (b"not an image at all", 422, "не изображение JPEG, PNG, WebP или GIF"),
        (png(16, 16), 422, "не меньше 32 пикселей"),
        (b"", 422, "не изображение"),
    ],
)
def test_bad_avatars_are_explained(anna: LoggedIn, payload: bytes, status: int, message: str) -> None:
    files = {"avatar": ("me.png", payload, "image/png")} if payload else {"avatar": ("", b"", "image/png")}
    response = anna.client.post("/settings/avatar", data={"csrf_token": anna.csrf}, files=files, headers=RU)
    assert response.status_code == status
    assert message in response.text


def test_change_password(runtime: Runtime, anna: LoggedIn, db: Session) -> None:
    other = TestClient(anna.client.app)
    page_login(other, "anna")
    wrong = anna.client.post(
        "/settings/password",
        data={"csrf_token": anna.csrf, "current_password": "nope", "new_password": "a much better secret"},
        headers=RU,
    )
    assert wrong.status_code == 403
    assert "Текущий пароль указан неверно." in wrong.text
    weak = anna.client.post(
        "/settings/password",
        data={"csrf_token": anna.csrf, "current_password": DEFAULT_PASSWORD, "new_password": "short"},
        headers=EN,
    )
    assert weak.status_code == 422
    assert 'aria-describedby="f-new_password-error"' in weak.text
    done = anna.client.post(
        "/settings/password",
        data={
            "csrf_token": anna.csrf,
            "current_password": DEFAULT_PASSWORD,
            "new_password": "a much better secret",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    user = reload_user(runtime, anna.user.id)
    assert verify_password(user.password_hash, "a much better secret")
    assert anna.client.get("/settings").status_code == 200  # this browser stays in
    assert other.get("/settings", follow_redirects=False).status_code == 303  # the other is out


def test_log_out_everywhere(anna: LoggedIn, db: Session) -> None:
    other = TestClient(anna.client.app)
    page_login(other, "anna")
    response = anna.client.post("/settings/sessions", data={"csrf_token": anna.csrf}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert SESSION_COOKIE not in anna.client.cookies
    assert db.scalars(select(UserSession).where(UserSession.user_id == anna.user.id)).all() == []
    assert other.get("/settings", follow_redirects=False).status_code == 303


def test_api_tokens_are_created_shown_once_and_revoked(anna: LoggedIn, db: Session) -> None:
    created = anna.client.post(
        "/settings/tokens", data={"csrf_token": anna.csrf, "name": "Мой скрипт"}, headers=RU
    )
    assert created.status_code == 200
    secret = created.text.split('<code id="new-token">', 1)[1].split("</code>", 1)[0]
    assert secret.startswith("mld_")
    assert anna.client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert "1 активный токен" in created.text
    page = anna.client.get("/settings", headers=RU).text
    assert secret not in page
    assert "Мой скрипт" in page
    for name in ("два", "три"):
        anna.client.post("/settings/tokens", data={"csrf_token": anna.csrf, "name": name})
    assert "3 активных токена" in anna.client.get("/settings", headers=RU).text
    assert "3 active tokens" in anna.client.get("/settings", headers=EN).text
    token_id = db.scalars(select(ApiToken.id).where(ApiToken.name == "Мой скрипт")).one()
    db.rollback()  # let go of SQLite's write lock before the app writes
    revoked = anna.client.post(
        f"/settings/tokens/{token_id}/revoke", data={"csrf_token": anna.csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert anna.client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    again = anna.client.post(
        f"/settings/tokens/{token_id}/revoke", data={"csrf_token": anna.csrf}, headers=EN
    )
    assert again.status_code == 404
    assert "There is no such token." in again.text
    nameless = anna.client.post("/settings/tokens", data={"csrf_token": anna.csrf, "name": "  "}, headers=EN)
    assert nameless.status_code == 422
    assert "Give the token a name" in nameless.text


def test_settings_form_without_csrf_token_is_403(runtime: Runtime, anna: LoggedIn, db: Session) -> None:
    response = anna.client.post("/settings", data=profile_form("", bio="hijacked"))
    assert response.status_code == 403
    assert reload_user(runtime, anna.user.id).bio == ""
    for path in ("/settings/avatar/delete", "/settings/sessions", "/settings/tokens", "/lang"):
        assert anna.client.post(path, data={"lang": "en"}).status_code == 403, path


def test_language_switch_sets_cookie_and_follows_next(client: TestClient) -> None:
    assert '<html lang="ru"' in client.get("/signup", headers=RU).text
    response = client.post(
        "/lang", data={"lang": "en", "next": "/signup"}, headers=RU, follow_redirects=False
    )
    assert (response.status_code, response.headers["location"]) == (303, "/signup")
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(LANG_COOKIE))
    assert "Max-Age=31536000" in cookie
    assert "SameSite=lax" in cookie
    assert '<html lang="en"' in client.get("/signup", headers=RU).text  # the cookie beats the browser
    evil = client.post("/lang", data={"lang": "ru", "next": "https://evil.example"}, follow_redirects=False)
    assert evil.headers["location"] == "/"
    bogus = client.post("/lang", data={"lang": "de"}, headers=EN)
    assert bogus.status_code == 422
    assert "Выберите русский или английский." in bogus.text


def test_language_switch_saves_the_accounts_locale(runtime: Runtime, anna: LoggedIn, db: Session) -> None:
    response = anna.client.post("/lang", data={"lang": "en", "next": "/", "csrf_token": anna.csrf})
    assert response.status_code == 200
    assert '<html lang="en"' in response.text
    assert reload_user(runtime, anna.user.id).locale == "en"
    # The account's choice beats both the browser and a cookie on another device.
    other = TestClient(anna.client.app, cookies={LANG_COOKIE: "ru"})
    page_login(other, "anna")
    assert '<html lang="en"' in other.get("/", headers=RU).text


def test_home_page_for_visitors_and_members(anna: LoggedIn) -> None:
    visitor = TestClient(anna.client.app).get("/", headers=RU)
    assert visitor.status_code == 200
    assert "Молодец" in visitor.text
    assert 'href="/signup"' in visitor.text
    assert 'class="tabbar"' in visitor.text
    member = anna.client.get("/", headers=RU).text
    assert "Привет, Анна Каренина!" in member
    assert 'href="/@anna"' in member


def test_errors_are_pages_for_browsers_and_problems_for_machines(anna: LoggedIn) -> None:
    browser = TestClient(anna.client.app, cookies=dict(anna.client.cookies))
    page = browser.get("/no/such/page", headers={**HTML, **RU})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Такой страницы нет." in page.text
    assert 'href="/@anna"' in page.text  # the top bar still knows who is logged in
    api = browser.get("/api/v1/no-such-thing", headers=HTML)
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"
    script = browser.get("/no/such/page", headers={"Accept": "application/json"})
    assert script.headers["content-type"] == "application/problem+json"
    refused = browser.post("/settings", data={"display_name": "x"}, headers={**HTML, **RU})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
