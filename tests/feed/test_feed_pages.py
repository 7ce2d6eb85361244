"""The player's pages as HTML: the first page of the feed inside the home page, the video page's
share tags, redirects and 404s, and the frameable embed."""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import quote

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from molodets.videos.models import Visibility
from tests.factories.accounts import make_user
from tests.factories.videos import make_ready_video
from tests.web.conftest import EN, HTML, RU

_META = re.compile(r'<meta (?:property|name)="([^"]+)" content="([^"]*)">')


def feed_data(html: str) -> dict[str, object]:
    match = re.search(r'<script type="application/json" id="feed-data">(.*?)</script>', html, re.S)
    assert match, "no feed data in the page"
    data: dict[str, object] = json.loads(match.group(1))
    return data


def meta_tags(html: str) -> dict[str, str]:
    return {name: unescape(value) for name, value in _META.findall(html)}


def test_home_renders_the_first_page_and_first_slide(client: TestClient, db: Session) -> None:
    anna = make_user(db, username="anna", display_name="Анна")
    newest = make_ready_video(db, anna, caption="Утро #путешествия с @boris.")
    response = client.get("/", headers={**HTML, **RU})
    assert response.status_code == 200
    html = response.text
    data = feed_data(html)
    assert data["source"] == "for_you"
    assert [item["id"] for item in data["items"]] == [str(newest.id)]  # type: ignore[attr-defined,index]
    assert data["wrap"] is True
    # The first slide is in the markup: poster, placeholder, a <video> with a source and autoplay.
    assert 'data-feed data-source="for_you"' in html
    assert f'data-video-id="{newest.id}"' in html
    assert "--placeholder: #336699" in html
    assert (
        f'src="/media/videos/{newest.id}/run1/480p.mp4" data-rendition="480p" preload="auto" autoplay' in html
    )
    assert f'poster="/media/videos/{newest.id}/run1/poster.jpg"' in html
    tag_link = quote("путешествия")
    assert f'<a href="/tag/{tag_link}">#путешествия</a>' in html
    assert '<a href="/@boris">@boris</a>.' in html
    assert "css/player.css" in html
    assert "js/player.js" in html


def test_empty_feed_invites_an_upload(client: TestClient) -> None:
    html = client.get("/", headers={**HTML, **EN}).text
    assert "No videos yet" in html
    assert 'href="/upload"' in html
    assert "data-feed" not in html


def test_following_asks_a_guest_to_log_in(client: TestClient, db: Session) -> None:
    make_ready_video(db, make_user(db, username="anna"))
    html = client.get("/following", headers={**HTML, **EN}).text
    assert "Log in to see the latest videos" in html
    assert 'href="/login?next=/following"' in html


def test_video_page_has_absolute_share_tags(client: TestClient, db: Session) -> None:
    anna = make_user(db, username="anna", display_name="Анна")
    video = make_ready_video(db, anna, caption="Рассвет #утро")
    other = make_ready_video(db, anna, caption="other")
    response = client.get(f"/@anna/video/{video.id}", headers={**HTML, **RU})
    assert response.status_code == 200, response.text
    tags = meta_tags(response.text)
    base = "http://testserver"
    assert tags["og:type"] == "video.other"
    assert tags["og:url"] == f"{base}/@anna/video/{video.id}"
    assert tags["og:description"] == "Рассвет #утро"
    assert tags["og:video"] == tags["og:video:secure_url"] == f"{base}/media/videos/{video.id}/run1/720p.mp4"
    assert (tags["og:video:type"], tags["og:video:width"], tags["og:video:height"]) == (
        "video/mp4",
        "720",
        "1280",
    )
    assert tags["og:image"] == f"{base}/media/videos/{video.id}/run1/poster.jpg"
    assert (tags["og:image:width"], tags["og:image:height"]) == ("720", "1280")
    assert tags["twitter:card"] == "player"
    assert tags["twitter:player"] == f"{base}/embed/{video.id}"
    assert (tags["twitter:player:width"], tags["twitter:player:height"]) == ("360", "640")
    # The opened video first, then For You without it.
    ids = [item["id"] for item in feed_data(response.text)["items"]]  # type: ignore[attr-defined]
    assert ids == [str(video.id), str(other.id)]


def test_share_tags_use_the_public_base_url(client: TestClient, db: Session) -> None:
    video = make_ready_video(db, make_user(db, username="anna"))
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    settings = runtime.settings
    original = settings.public_base_url
    object.__setattr__(settings, "public_base_url", "https://molodets.example")
    try:
        tags = meta_tags(client.get(f"/@anna/video/{video.id}", headers=HTML).text)
    finally:
        object.__setattr__(settings, "public_base_url", original)
    assert tags["og:url"] == f"https://molodets.example/@anna/video/{video.id}"
    assert tags["og:video"].startswith("https://molodets.example/media/")


def test_profile_source_continues_with_older_videos_of_the_author(client: TestClient, db: Session) -> None:
    anna, boris = make_user(db, username="anna"), make_user(db, username="boris")
    oldest = make_ready_video(db, anna)
    make_ready_video(db, boris)
    opened = make_ready_video(db, anna)
    make_ready_video(db, anna)  # newer: not after the opened one
    data = feed_data(client.get(f"/@anna/video/{opened.id}?source=profile", headers=HTML).text)
    assert data["source"] == "profile"
    assert [item["id"] for item in data["items"]] == [str(opened.id), str(oldest.id)]  # type: ignore[attr-defined]
    assert data["api"] == "/api/v1/users/anna/videos"
    assert data["wrap"] is False


def test_wrong_username_redirects_and_hidden_videos_are_404(client: TestClient, db: Session) -> None:
    anna = make_user(db, username="anna")
    make_user(db, username="boris")
    video = make_ready_video(db, anna)
    response = client.get(f"/@boris/video/{video.id}?source=profile", headers=HTML, follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == f"/@anna/video/{video.id}?source=profile"
    private = make_ready_video(db, anna, visibility=Visibility.PRIVATE)
    for path in (f"/@anna/video/{private.id}", "/@anna/video/123", "/@anna/video/abc"):
        missing = client.get(path, headers={**HTML, **EN})
        assert missing.status_code == 404, path
        assert "text/html" in missing.headers["content-type"]


def test_embed_is_frameable_and_only_for_public_videos(client: TestClient, db: Session) -> None:
    anna = make_user(db, username="anna")
    video = make_ready_video(db, anna, caption="embed me")
    response = client.get(f"/embed/{video.id}", headers=HTML)
    assert response.status_code == 200
    assert "frame-ancestors *" in response.headers["content-security-policy"]
    assert "x-frame-options" not in response.headers
    assert f'src="/media/videos/{video.id}/run1/480p.mp4"' in response.text
    assert f'href="http://testserver/@anna/video/{video.id}"' in response.text
    assert "tabbar" not in response.text
    assert "topbar" not in response.text
    # Every other page still refuses to be framed.
    assert (
        "frame-ancestors 'none'" in client.get(f"/@anna/video/{video.id}").headers["content-security-policy"]
    )
    for visibility in (Visibility.PRIVATE, Visibility.FOLLOWERS):
        hidden = make_ready_video(db, anna, visibility=visibility)
        assert client.get(f"/embed/{hidden.id}", headers=HTML).status_code == 404
