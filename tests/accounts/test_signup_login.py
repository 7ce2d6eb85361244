"""Sign-up, login, sessions and CSRF through the real HTTP API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from molodets.accounts.auth import CSRF_COOKIE, SESSION_COOKIE
from molodets.accounts.models import User, UserSession
from molodets.accounts.passwords import verify_password
from tests.factories.accounts import DEFAULT_PASSWORD, log_in, make_user


def sign_up(client: TestClient, **fields: object) -> dict[str, object]:
    body = {"username": "anna", "password": DEFAULT_PASSWORD, **fields}
    response = client.post("/api/v1/accounts", json=body)
    return {"status": response.status_code, "json": response.json(), "response": response}


def test_sign_up_creates_account_and_logs_the_browser_in(client: TestClient, db: Session) -> None:
    response = client.post(
        "/api/v1/accounts",
        json={
            "username": "Anna.K",
            "password": DEFAULT_PASSWORD,
            "display_name": "  Анна   Каренина ",
            "email": "Anna@Example.RU",
        },
    )
    assert response.status_code == 201, response.text
    account = response.json()
    assert account["username"] == "anna.k"
    assert account["display_name"] == "Анна Каренина"
    assert account["email"] == "anna@example.ru"
    assert isinstance(account["id"], str)
    assert int(account["id"]) > 2**40
    assert response.cookies.get(SESSION_COOKIE)
    assert client.get("/api/v1/me").json()["username"] == "anna.k"
    stored = db.scalar(select(User).where(User.username == "anna.k"))
    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert verify_password(stored.password_hash, DEFAULT_PASSWORD)


def test_session_cookie_flags(client: TestClient) -> None:
    response = client.post("/api/v1/accounts", json={"username": "flags", "password": DEFAULT_PASSWORD})
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in session_cookie
    assert "SameSite=lax" in session_cookie
    assert "Secure" not in session_cookie  # plain http here; https gets Secure
    csrf_cookie = next(c for c in cookies if c.startswith(CSRF_COOKIE + "="))
    assert "HttpOnly" not in csrf_cookie


def test_session_cookie_is_secure_over_https(runtime: object) -> None:
    from molodets.app import create_app

    https_client = TestClient(create_app(runtime), base_url="https://testserver")  # type: ignore[arg-type]
    response = https_client.post(
        "/api/v1/accounts", json={"username": "secure", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 201
    assert all("Secure" in c for c in response.headers.get_list("set-cookie"))


def test_duplicate_username_in_another_case_is_refused(client: TestClient) -> None:
    assert sign_up(client, username="Boris")["status"] == 201
    other = TestClient(client.app)
    result = sign_up(other, username="BORIS")
    assert result["status"] == 409
    assert result["json"]["code"] == "username_taken"


def test_duplicate_email_is_refused(client: TestClient, db: Session) -> None:
    make_user(db, username="first", email="same@example.com")
    result = sign_up(client, username="second", email="SAME@example.com")
    assert (result["status"], result["json"]["code"]) == (409, "email_taken")


@pytest.mark.parametrize(
    ("username", "code"),
    [
        ("a", "invalid_username"),
        ("x" * 25, "invalid_username"),
        ("анна", "invalid_username"),
        ("has space", "invalid_username"),
        ("dash-name", "invalid_username"),
        (".dot", "invalid_username"),
        ("dot.", "invalid_username"),
        ("two..dots", "invalid_username"),
        ("12345", "invalid_username"),
        ("admin", "reserved_username"),
        ("Settings", "reserved_username"),
        ("@api", "reserved_username"),
    ],
)
def test_bad_usernames_are_refused(client: TestClient, username: str, code: str) -> None:
    result = sign_up(client, username=username)
    assert result["status"] == 422
    assert result["json"]["code"] == code
    assert result["response"].headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("username", ["ab", "a_b", "anna.k", "x" * 24, "user_2026"])
def test_good_usernames_are_accepted(client: TestClient, username: str) -> None:
    assert sign_up(client, username=username)["status"] == 201


@pytest.mark.parametrize(
    ("display_name", "expected"),
    [
        ("Фёдор Достоевский", "Фёдор Достоевский"),
        ("  Лев\tТолстой  ", "Лев Толстой"),
        ("Łukasz Żółć", "Łukasz Żółć"),
        ("李小龙", "李小龙"),
        ("Ёлка\u202eevil", "Ёлкаevil"),  # a bidi override is stripped
        ("", "anna"),
    ],
)
def test_display_names_accept_any_letters(client: TestClient, display_name: str, expected: str) -> None:
    result = sign_up(client, display_name=display_name)
    assert result["status"] == 201, result["json"]
    assert result["json"]["display_name"] == expected


@pytest.mark.parametrize("display_name", ["Я" * 51, "!!! ???"])
def test_bad_display_names_are_refused(client: TestClient, display_name: str) -> None:
    result = sign_up(client, display_name=display_name)
    assert (result["status"], result["json"]["code"]) == (422, "invalid_display_name")


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short", "password_too_short"),
        ("password", "password_too_common"),
        ("qwerty123", "password_too_common"),
        ("йцукенгшщз", "password_too_common"),  # "qwertyuiop" typed on a Russian layout
        ("aaaaaaaaaa", "password_too_common"),
        ("annaanna1", None),
        ("x" * 300, "password_too_long"),
    ],
)
def test_weak_passwords_are_refused_with_a_clear_code(
    client: TestClient, password: str, code: str | None
) -> None:
    result = sign_up(client, username="anna", password=password)
    if code is None:
        assert result["status"] == 201
    else:
        assert (result["status"], result["json"]["code"]) == (422, code)
        assert result["json"]["detail"]


def test_password_equal_to_username_is_refused(client: TestClient) -> None:
    result = sign_up(client, username="verylongname", password="VeryLongName")
    assert (result["status"], result["json"]["code"]) == (422, "password_like_username")


def test_invalid_email_is_refused(client: TestClient) -> None:
    result = sign_up(client, email="not-an-email")
    assert (result["status"], result["json"]["code"]) == (422, "invalid_email")


def test_login_by_username_or_email(client: TestClient, db: Session) -> None:
    make_user(db, username="vera", email="vera@example.com")
    for login in ("vera", "VERA", "@vera", "vera@example.com", "Vera@Example.com"):
        fresh = TestClient(client.app)
        response = fresh.post("/api/v1/sessions", json={"login": login, "password": DEFAULT_PASSWORD})
        assert response.status_code == 200, (login, response.text)
        assert response.json()["user"]["username"] == "vera"
        assert fresh.get("/api/v1/me").status_code == 200


def test_wrong_password_and_unknown_user_look_the_same(client: TestClient, db: Session) -> None:
    make_user(db, username="olga")
    wrong = client.post("/api/v1/sessions", json={"login": "olga", "password": "nope nope nope"})
    unknown = client.post("/api/v1/sessions", json={"login": "nobody", "password": "nope nope nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert SESSION_COOKIE not in wrong.cookies


def test_lock_out_after_too_many_wrong_passwords(client: TestClient, db: Session) -> None:
    make_user(db, username="target")
    statuses = [
        client.post("/api/v1/sessions", json={"login": "target", "password": f"guess-{i}-xx"}).status_code
        for i in range(5)
    ]
    assert statuses == [401] * 5
    locked = client.post("/api/v1/sessions", json={"login": "target", "password": DEFAULT_PASSWORD})
    assert locked.status_code == 429
    assert locked.json()["code"] == "too_many_attempts"
    assert int(locked.headers["Retry-After"]) > 0
    # Another account from the same address is not locked.
    make_user(db, username="bystander")
    assert (
        client.post("/api/v1/sessions", json={"login": "bystander", "password": DEFAULT_PASSWORD}).status_code
        == 200
    )


def test_sign_up_is_rate_limited_per_address(client: TestClient) -> None:
    statuses = [sign_up(client, username=f"spam{i}")["status"] for i in range(21)]
    assert statuses[:20] == [201] * 20
    assert statuses[20] == 429
    response = sign_up(client, username="spam99")["response"]
    assert response.json()["code"] == "rate_limited"
    assert "Retry-After" in response.headers


def test_logout_ends_the_session(client: TestClient, db: Session) -> None:
    make_user(db, username="lena")
    csrf = log_in(client, "lena")
    cookie = client.cookies.get(SESSION_COOKIE)
    response = client.delete("/api/v1/sessions/current", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 204
    assert client.get("/api/v1/me").status_code == 401
    # The old cookie is dead on the server, not just forgotten by the browser.
    replay = TestClient(client.app, cookies={SESSION_COOKIE: cookie or ""})
    assert replay.get("/api/v1/me").status_code == 401


def test_log_out_everywhere(client: TestClient, db: Session) -> None:
    make_user(db, username="mila")
    phone, laptop = TestClient(client.app), TestClient(client.app)
    log_in(phone, "mila")
    csrf = log_in(laptop, "mila")
    assert laptop.delete("/api/v1/sessions", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert phone.get("/api/v1/me").status_code == 401
    assert laptop.get("/api/v1/me").status_code == 401
    user = db.scalar(select(User).where(User.username == "mila"))
    assert user is not None
    assert db.scalars(select(UserSession).where(UserSession.user_id == user.id)).all() == []


def test_csrf_missing_or_wrong_is_refused(client: TestClient, db: Session) -> None:
    make_user(db, username="katya")
    csrf = log_in(client, "katya")
    missing = client.patch("/api/v1/me", json={"bio": "hi"})
    assert (missing.status_code, missing.json()["code"]) == (403, "csrf_missing")
    wrong = client.patch("/api/v1/me", json={"bio": "hi"}, headers={"X-CSRF-Token": "forged"})
    assert (wrong.status_code, wrong.json()["code"]) == (403, "csrf_invalid")
    assert client.get("/api/v1/me").json()["bio"] == ""
    ok = client.patch("/api/v1/me", json={"bio": "hi"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200
    assert ok.json()["bio"] == "hi"


def test_cross_site_requests_are_refused_even_before_login(client: TestClient, db: Session) -> None:
    make_user(db, username="nina")
    response = client.post(
        "/api/v1/sessions",
        json={"login": "nina", "password": DEFAULT_PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert (response.status_code, response.json()["code"]) == (403, "csrf_origin_mismatch")
    fetch = client.post(
        "/api/v1/sessions",
        json={"login": "nina", "password": DEFAULT_PASSWORD},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert (fetch.status_code, fetch.json()["code"]) == (403, "csrf_cross_site")
    same = client.post(
        "/api/v1/sessions",
        json={"login": "nina", "password": DEFAULT_PASSWORD},
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
    )
    assert same.status_code == 200


def test_password_change_ends_other_sessions_only(client: TestClient, db: Session) -> None:
    make_user(db, username="petr")
    other = TestClient(client.app)
    log_in(other, "petr")
    csrf = log_in(client, "petr")
    response = client.put(
        "/api/v1/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "a much better secret"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 204, response.text
    assert client.get("/api/v1/me").status_code == 200
    assert other.get("/api/v1/me").status_code == 401
    assert (
        TestClient(client.app)
        .post("/api/v1/sessions", json={"login": "petr", "password": DEFAULT_PASSWORD})
        .status_code
        == 401
    )
    assert (
        TestClient(client.app)
        .post("/api/v1/sessions", json={"login": "petr", "password": "a much better secret"})
        .status_code
        == 200
    )


def test_password_change_needs_the_current_password(client: TestClient, db: Session) -> None:
    make_user(db, username="ivan")
    csrf = log_in(client, "ivan")
    response = client.put(
        "/api/v1/me/password",
        json={"current_password": "wrong wrong", "new_password": "a much better secret"},
        headers={"X-CSRF-Token": csrf},
    )
    assert (response.status_code, response.json()["code"]) == (403, "wrong_password")
