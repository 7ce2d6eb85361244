"""Sign-up, login and logout pages as a browser without JavaScript uses them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from molodets.accounts.auth import SESSION_COOKIE
from molodets.accounts.models import User, UserSession
from tests.factories.accounts import DEFAULT_PASSWORD, make_user
from tests.web.conftest import EN, RU, LoggedIn, csrf_from

SIGNUP = {"username": "anna.k", "display_name": "Анна Каренина", "email": "", "password": DEFAULT_PASSWORD}


def test_pages_render_in_the_browsers_language(client: TestClient) -> None:
    ru = client.get("/signup", headers=RU)
    assert ru.status_code == 200
    assert '<html lang="ru"' in ru.text
    assert "Регистрация в Молодце" in ru.text
    assert ru.headers["content-language"] == "ru"
    assert ru.headers["cache-control"] == "no-store"
    en = client.get("/signup", headers=EN)
    assert '<html lang="en"' in en.text
    assert "Sign up for Molodets" in en.text
    assert '<meta name="viewport"' in en.text
    assert 'name="csrf-token"' not in en.text  # nobody is logged in


def test_sign_up_form_creates_account_logs_in_and_redirects(client: TestClient, db: Session) -> None:
    response = client.post("/signup", data={**SIGNUP, "next": "/@anna.k"}, headers=RU, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/@anna.k"
    assert response.cookies.get(SESSION_COOKIE)
    user = db.scalar(select(User).where(User.username == "anna.k"))
    assert user is not None
    assert user.display_name == "Анна Каренина"
    assert user.email is None
    assert user.locale == "ru"  # the language of the sign-up page
    profile = client.get("/@anna.k")
    assert "Анна Каренина" in profile.text
    assert "Изменить профиль" in profile.text
    assert 'name="csrf-token"' in profile.text


@pytest.mark.parametrize(
    ("changes", "status", "field", "ru_message", "en_message"),
    [
        ({"username": "a"}, 422, "username", "От 2 до 24 символов", "Use 2 to 24 characters"),
        ({"username": "admin"}, 422, "username", "зарезервировано", "is reserved"),
        (
            {"display_name": "!!!"},
            422,
            "display_name",
            "содержать букву или цифру",
            "contain a letter or a digit",
        ),
        ({"email": "not-an-email"}, 422, "email", "Неправильный адрес", "email address is not valid"),
        ({"password": "short"}, 422, "password", "не короче 8 символов", "at least 8 characters"),
        ({"password": "password123"}, 422, "password", "слишком распространённый", "too common"),
        (
            {"username": "karenina", "password": "KARENINA"},
            422,
            "password",
            "не должен совпадать с именем",
            "must not be your username",
        ),
        ({"username": "taken"}, 409, "username", "уже занято", "already taken"),
        (
            {"email": "taken@example.com"},
            409,
            "email",
            "с этой почтой уже существует",
            "email already exists",
        ),
    ],
)
@pytest.mark.parametrize("lang", ["ru", "en"])
def test_sign_up_errors_are_shown_in_the_form(
    client: TestClient,
    db: Session,
    lang: str,
    changes: dict[str, str],
    status: int,
    field: str,
    ru_message: str,
    en_message: str,
) -> None:
    make_user(db, username="taken", email="taken@example.com")
    data = {**SIGNUP, "email": "anna@example.ru", **changes}
    response = client.post("/signup", data=data, headers=RU if lang == "ru" else EN, follow_redirects=False)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert f'id="f-{field}" name="{field}"' in response.text
    assert f'aria-describedby="f-{field}-error"' in response.text
    message = ru_message if lang == "ru" else en_message
    assert message in response.text
    # What they typed comes back, except the password.
    assert f'value="{data["username"]}"' in response.text
    assert "Анна Каренина" in response.text or field == "display_name"
    assert data["password"] not in response.text
    assert SESSION_COOKIE not in response.cookies
    assert (
        db.scalar(select(User).where(User.username == data["username"], User.email == data["email"])) is None
    )


def test_log_in_with_wrong_password_shows_a_translated_401(client: TestClient, db: Session) -> None:
    make_user(db, username="boris")
    ru = client.post("/login", data={"login": "boris", "password": "wrong password"}, headers=RU)
    assert ru.status_code == 401
    assert "Неверное имя пользователя, почта или пароль." in ru.text
    assert 'value="boris"' in ru.text
    en = client.post("/login", data={"login": "boris", "password": "wrong password"}, headers=EN)
    assert "Wrong username, email or password." in en.text
    assert SESSION_COOKIE not in client.cookies


def test_too_many_wrong_passwords_is_429_with_retry_after(client: TestClient, db: Session) -> None:
    make_user(db, username="boris")
    statuses = [
        client.post("/login", data={"login": "boris", "password": f"wrong {i}"}, headers=RU).status_code
        for i in range(5)
    ]
    assert statuses == [401] * 5
    locked = client.post("/login", data={"login": "boris", "password": DEFAULT_PASSWORD}, headers=RU)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert "Слишком много неверных паролей" in locked.text


def test_log_in_by_email_redirects_to_next(client: TestClient, db: Session) -> None:
    make_user(db, username="boris", email="boris@example.com")
    page = client.get("/login?next=/settings")
    assert 'name="next" value="/settings"' in page.text
    response = client.post(
        "/login",
        data={"login": "Boris@Example.com", "password": DEFAULT_PASSWORD, "next": "/settings"},
        follow_redirects=False,
    )
    assert (response.status_code, response.headers["location"]) == (303, "/settings")
    assert client.get("/settings").status_code == 200


@pytest.mark.parametrize(
    "evil",
    [
        "https://evil.example",
        "//evil.example/path",
        "/\\evil.example",
        "\\\\evil.example",
        "https:evil.example",
        " /settings",
        "javascript:alert(1)",
        "/ok\r\nLocation: https://evil.example",
    ],
)
def test_next_never_leaves_the_site(client: TestClient, db: Session, evil: str) -> None:
    make_user(db, username="boris")
    page = client.get("/login", params={"next": evil})
    assert '<input type="hidden" name="next" value="">' in page.text  # the login form's
    response = client.post(
        "/login", data={"login": "boris", "password": DEFAULT_PASSWORD, "next": evil}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_logged_in_visitors_skip_login_and_signup(anna: LoggedIn) -> None:
    for path in ("/login", "/signup"):
        response = anna.client.get(path, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/")


def test_log_out_ends_the_session(anna: LoggedIn, db: Session) -> None:
    assert "Log out" in anna.client.get("/logout", headers=EN).text
    response = anna.client.post("/logout", data={"csrf_token": anna.csrf}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/")
    assert SESSION_COOKIE not in anna.client.cookies
    assert db.scalar(select(UserSession).where(UserSession.user_id == anna.user.id)) is None
    assert anna.client.get("/settings", follow_redirects=False).headers["location"] == "/login?next=/settings"


def test_log_out_without_csrf_token_is_refused(anna: LoggedIn) -> None:
    response = anna.client.post("/logout", data={}, follow_redirects=False)
    assert response.status_code == 403
    assert anna.client.get("/settings").status_code == 200


def test_csrf_token_of_another_session_is_refused(anna: LoggedIn, db: Session) -> None:
    make_user(db, username="boris")
    other = TestClient(anna.client.app)
    other.post("/login", data={"login": "boris", "password": DEFAULT_PASSWORD})
    boris_csrf = csrf_from(other.get("/settings").text)
    response = anna.client.post("/settings", data={"csrf_token": boris_csrf, "bio": "pwned"})
    assert response.status_code == 403


def test_cross_site_form_post_is_refused(client: TestClient, db: Session) -> None:
    make_user(db, username="boris")
    response = client.post(
        "/login",
        data={"login": "boris", "password": DEFAULT_PASSWORD},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in client.cookies
