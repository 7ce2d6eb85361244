"""Discover, Inbox and hashtag pages, the web app manifest, the service worker and the offline page."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.orm import Session

from molodets.runtime import Runtime
from molodets.web import STATIC_DIR
from tests.factories.accounts import make_user
from tests.mediaclips import make_clip
from tests.videos.test_pipeline import bearer
from tests.web.conftest import EN, RU, LoggedIn, page_login
from tests.web.test_profile_page import make_video, tile_links


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "tiny.mp4", width=180, height=320, seconds=1.0)


def test_discover_shows_the_newest_public_videos(
    client: TestClient, db: Session, runtime: Runtime, clip: Path
) -> None:
    empty = client.get("/discover", headers=RU)
    assert empty.status_code == 200
    assert '<h1 id="discover-title">Интересное</h1>' in empty.text
    assert "Видео пока нет." in empty.text

    boris = make_user(db, username="boris")
    headers = bearer(db, boris)
    older = make_video(client, runtime, headers, clip, caption="старое")
    make_video(client, runtime, headers, clip, visibility="private")
    make_video(client, runtime, headers, clip, ready=False)
    newer = make_video(client, runtime, headers, clip, caption="новое")
    page = client.get("/discover", headers=EN)
    assert "coming soon" in page.text
    assert tile_links(page.text) == [f"/@boris/video/{newer}", f"/@boris/video/{older}"]
    assert "@boris" in page.text
    assert client.get("/discover?cursor=nonsense").status_code == 400


def test_inbox_needs_login_then_is_empty(client: TestClient, db: Session) -> None:
    response = client.get("/inbox", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login?next=/inbox")
    make_user(db, username="reader")
    page_login(client, "reader")
    assert "Уведомлений пока нет." in client.get("/inbox", headers=RU).text
    assert "No notifications yet." in client.get("/inbox", headers=EN).text


def test_hashtag_page_is_honest_about_coming_soon(client: TestClient) -> None:
    page = client.get("/tag/" + quote("Путешествия"), headers=RU)
    assert page.status_code == 200
    assert '<h1 id="tag-title" class="tag-title">#путешествия</h1>' in page.text
    assert "Страницы хэштегов скоро появятся" in page.text
    assert 'href="/discover"' in page.text
    escaped = client.get("/tag/" + quote("<b>x</b>"), headers=EN).text
    assert "<b>x</b>" not in escaped
    assert client.get("/tag/" + "a" * 101, headers=EN).status_code == 404


def test_bottom_bar_sections_exist(anna: LoggedIn) -> None:
    # The bottom bar is in base.html, on every page.
    home = anna.client.get("/discover", headers=RU).text
    for href in ("/discover", "/inbox", "/@anna"):
        assert f'href="{href}"' in home
        assert anna.client.get(href, headers=RU).status_code == 200


@pytest.mark.parametrize(
    ("headers", "name", "description"),
    [(RU, "Молодец", "Короткие вертикальные видео"), (EN, "Molodets", "Short vertical videos")],
)
def test_manifest_is_installable_and_translated(
    client: TestClient, headers: dict[str, str], name: str, description: str
) -> None:
    response = client.get("/manifest.webmanifest", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert (manifest["name"], manifest["short_name"]) == (name, name)
    assert manifest["description"].startswith(description)
    assert manifest["start_url"] == manifest["scope"] == "/"
    assert (manifest["display"], manifest["orientation"]) == ("standalone", "portrait")
    base_html = (Path(STATIC_DIR).parent / "templates" / "base.html").read_text()
    theme = re.search(r'<meta name="theme-color" content="(#[0-9a-fA-F]{6})">', base_html)
    assert theme
    assert manifest["theme_color"] == manifest["background_color"] == theme.group(1)
    purposes = set()
    for icon in manifest["icons"]:
        fetched = client.get(icon["src"])
        assert fetched.status_code == 200
        assert fetched.headers["content-type"] == icon["type"] == "image/png"
        with Image.open(io.BytesIO(fetched.content)) as image:
            assert f"{image.width}x{image.height}" == icon["sizes"]
        purposes.add(icon["purpose"])
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    assert purposes == {"any", "maskable"}


def test_manifest_language_can_be_asked_for(client: TestClient) -> None:
    assert json.loads(client.get("/manifest.webmanifest?lang=en", headers=RU).content)["lang"] == "en"


def test_apple_touch_icon_is_linked(client: TestClient) -> None:
    page = client.get("/login").text
    found = re.search(r'<link rel="apple-touch-icon" href="([^"]+)">', page)
    assert found
    with Image.open(io.BytesIO(client.get(found.group(1)).content)) as image:
        assert image.size == (180, 180)


def test_service_worker_is_served_for_the_whole_site(client: TestClient) -> None:
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["service-worker-allowed"] == "/"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["content-type"].startswith("text/javascript")
    script = response.text
    config = json.loads(re.match(r"const CONFIG = (\{.*?\});\n", script).group(1))  # type: ignore[union-attr]
    assert re.fullmatch(r"[0-9a-f]{16}", config["version"])
    shell = config["shell"]
    for needed in ("css/app.css", "js/app.js", "img/icons.svg", "img/icon-192.png"):
        assert any(url.startswith(f"/static/{needed}?v=") for url in shell), needed
    assert not any(url.startswith(("/media/", "/api/")) for url in shell)
    assert set(config["offline"].values()) == {"/offline?lang=ru", "/offline?lang=en"}
    for url in shell:
        assert client.get(url).status_code == 200, url
    # The same script twice: browsers compare bytes to decide whether a deploy changed it.
    assert client.get("/sw.js").text == script


def test_offline_page_is_for_nobody_in_particular(anna: LoggedIn) -> None:
    ru = anna.client.get("/offline?lang=ru", headers=EN)
    assert ru.status_code == 200
    assert "Нет подключения к интернету" in ru.text
    assert 'href="/@anna"' not in ru.text  # the cached copy must not carry who was logged in
    assert "csrf" not in ru.text
    assert "You are offline" in anna.client.get("/offline?lang=en", headers=RU).text
