"""API tokens, the profile and avatars through the real HTTP API."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from molodets.accounts.models import ApiToken
from molodets.runtime import Runtime
from tests.factories.accounts import DEFAULT_PASSWORD, log_in, make_user


def create_token_with_credentials(client: TestClient, login: str, name: str = "phone") -> dict[str, str]:
    response = client.post(
        "/api/v1/tokens", json={"name": name, "login": login, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_token_from_credentials_works_as_bearer(client: TestClient, db: Session) -> None:
    make_user(db, username="app.user")
    created = create_token_with_credentials(client, "app.user")
    assert created["token"].startswith("mld_")
    bearer = TestClient(client.app, headers={"Authorization": f"Bearer {created['token']}"})
    me = bearer.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["username"] == "app.user"
    # Bearer requests need no CSRF token: they carry no ambient authority.
    assert bearer.patch("/api/v1/me", json={"bio": "from the app"}).status_code == 200


def test_tokens_are_stored_hashed(client: TestClient, db: Session) -> None:
    make_user(db, username="hashy")
    created = create_token_with_credentials(client, "hashy")
    row = db.scalar(select(ApiToken))
    assert row is not None
    assert created["token"] not in (row.token_hash, row.prefix)
    assert len(row.token_hash) == 64


def test_token_from_a_session_list_and_revoke(client: TestClient, db: Session) -> None:
    make_user(db, username="tok")
    csrf = log_in(client, "tok")
    created = client.post("/api/v1/tokens", json={"name": "script"}, headers={"X-CSRF-Token": csrf}).json()
    listed = client.get("/api/v1/tokens").json()["items"]
    assert [item["name"] for item in listed] == ["script"]
    assert "token" not in listed[0]
    revoked = client.delete(f"/api/v1/tokens/{created['id']}", headers={"X-CSRF-Token": csrf})
    assert revoked.status_code == 204
    bearer = TestClient(client.app, headers={"Authorization": f"Bearer {created['token']}"})
    response = bearer.get("/api/v1/me")
    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")
    assert client.get("/api/v1/tokens").json()["items"] == []
    again = client.delete(f"/api/v1/tokens/{created['id']}", headers={"X-CSRF-Token": csrf})
    assert again.status_code == 404


def test_someone_elses_token_cannot_be_revoked(client: TestClient, db: Session) -> None:
    make_user(db, username="owner")
    make_user(db, username="intruder")
    token_id = create_token_with_credentials(client, "owner")["id"]
    csrf = log_in(client, "intruder")
    response = client.delete(f"/api/v1/tokens/{token_id}", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 404


def test_bad_bearer_headers(client: TestClient) -> None:
    for header in ("Bearer mld_forged", "Bearer ", "Basic abc", "Bearer not-ours"):
        response = client.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json()["code"] == "invalid_token"


def test_token_needs_login_or_credentials(client: TestClient) -> None:
    response = client.post("/api/v1/tokens", json={"name": "x"})
    assert (response.status_code, response.json()["code"]) == (401, "unauthenticated")
    response = client.post("/api/v1/tokens", json={"name": "x", "login": "someone"})
    assert response.status_code == 422


def test_profile_edit(client: TestClient, db: Session) -> None:
    make_user(db, username="blogger")
    csrf = log_in(client, "blogger")
    response = client.patch(
        "/api/v1/me",
        json={
            "display_name": "Блогер Года",
            "bio": "Первая строка\n\n\n\nвторая",
            "links": [{"title": "Сайт", "url": "https://example.ru/"}, {"url": "https://t.me/blogger"}],
            "locale": "en",
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["display_name"] == "Блогер Года"
    assert body["bio"] == "Первая строка\n\nвторая"
    assert body["links"] == [
        {"title": "Сайт", "url": "https://example.ru/"},
        {"title": "t.me", "url": "https://t.me/blogger"},
    ]
    assert body["locale"] == "en"
    public = client.get("/api/v1/users/BLOGGER").json()
    assert public["display_name"] == "Блогер Года"
    assert "email" not in public


def test_profile_rejects_bad_links_and_unknown_fields(client: TestClient, db: Session) -> None:
    make_user(db, username="linker")
    csrf = log_in(client, "linker")
    headers = {"X-CSRF-Token": csrf}
    bad_link = client.patch("/api/v1/me", json={"links": [{"url": "javascript:alert(1)"}]}, headers=headers)
    assert (bad_link.status_code, bad_link.json()["code"]) == (422, "invalid_link")
    unknown = client.patch("/api/v1/me", json={"role": "admin"}, headers=headers)
    assert (unknown.status_code, unknown.json()["code"]) == (422, "validation_error")
    assert client.get("/api/v1/me").json()["role"] == "user"


def test_unknown_user_is_404(client: TestClient) -> None:
    response = client.get("/api/v1/users/nobody_here")
    assert (response.status_code, response.json()["code"]) == (404, "user_not_found")


def png_bytes(width: int, height: int, *, exif: bool = False) -> bytes:
    image = Image.new("RGB", (width, height), (200, 30, 80))
    out = io.BytesIO()
    if exif:
        meta = Image.Exif()
        meta[0x010F] = "SecretPhoneMaker"  # Make
        image.save(out, format="JPEG", exif=meta.tobytes())
    else:
        image.save(out, format="PNG")
    return out.getvalue()


def test_avatar_upload_makes_square_webp_sizes_without_metadata(
    client: TestClient, db: Session, runtime: Runtime
) -> None:
    make_user(db, username="face")
    csrf = log_in(client, "face")
    response = client.put(
        "/api/v1/me/avatar",
        files={"file": ("me.jpg", png_bytes(900, 600, exif=True), "image/jpeg")},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 200, response.text
    urls = response.json()["avatar_urls"]
    assert set(urls) == {"96", "256", "512"}
    for size, url in urls.items():
        served = client.get(url)
        assert served.status_code == 200
        image = Image.open(io.BytesIO(served.content))
        assert image.format == "WEBP"
        assert image.size == (int(size), int(size))
        assert b"SecretPhoneMaker" not in served.content
        assert not image.getexif()
    # Replacing the avatar removes the old files once the change is committed.
    old_keys = set(runtime.storage.list("avatars/"))
    replaced = client.put(
        "/api/v1/me/avatar",
        files={"file": ("me.png", png_bytes(300, 300), "image/png")},
        headers={"X-CSRF-Token": csrf},
    )
    assert replaced.status_code == 200
    new_keys = set(runtime.storage.list("avatars/"))
    assert len(new_keys) == 3
    assert not old_keys & new_keys
    removed = client.delete("/api/v1/me/avatar", headers={"X-CSRF-Token": csrf})
    assert removed.json()["avatar_url"] is None
    assert list(runtime.storage.list("avatars/")) == []


def test_fifty_megabyte_non_image_avatar_is_refused(
    client: TestClient, db: Session, runtime: Runtime
) -> None:
    make_user(db, username="big")
    csrf = log_in(client, "big")
    blob = b"\x00not an image" * (50 * 1024 * 1024 // 13)
    response = client.put(
        "/api/v1/me/avatar", files={"file": ("huge.jpg", blob, "image/jpeg")}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert client.get("/api/v1/me").json()["avatar_url"] is None
    assert list(runtime.storage.list("avatars/")) == []


def test_small_non_image_avatar_is_refused(client: TestClient, db: Session) -> None:
    make_user(db, username="text")
    csrf = log_in(client, "text")
    for content in (b"just some text, not a picture", b"", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100):
        response = client.put(
            "/api/v1/me/avatar",
            files={"file": ("a.png", content, "image/png")},
            headers={"X-CSRF-Token": csrf},
        )
        assert (response.status_code, response.json()["code"]) == (422, "not_an_image")


def test_truncated_image_is_refused(client: TestClient, db: Session) -> None:
    make_user(db, username="trunc")
    csrf = log_in(client, "trunc")
    out = io.BytesIO()
    Image.effect_noise((400, 400), 80).convert("RGB").save(out, format="JPEG")
    response = client.put(
        "/api/v1/me/avatar",
        files={"file": ("cut.jpg", out.getvalue()[: len(out.getvalue()) // 2], "image/jpeg")},
        headers={"X-CSRF-Token": csrf},
    )
    assert (response.status_code, response.json()["code"]) == (422, "not_an_image")


def test_decompression_bomb_is_refused(client: TestClient, db: Session) -> None:
    """A 30,000 x 30,000 PNG of one colour compresses to a few hundred KB but would need
    2.7 GB of memory to decode."""
    make_user(db, username="bomb")
    csrf = log_in(client, "bomb")
    out = io.BytesIO()
    Image.new("1", (30_000, 30_000)).save(out, format="PNG", optimize=True)
    assert len(out.getvalue()) < 2 * 1024 * 1024
    response = client.put(
        "/api/v1/me/avatar",
        files={"file": ("bomb.png", out.getvalue(), "image/png")},
        headers={"X-CSRF-Token": csrf},
    )
    assert (response.status_code, response.json()["code"]) == (422, "image_too_large")


def test_avatar_needs_login(client: TestClient) -> None:
    response = client.put("/api/v1/me/avatar", files={"file": ("a.png", png_bytes(64, 64), "image/png")})
    assert response.status_code == 401
