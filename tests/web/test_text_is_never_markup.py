"""What people write is text, never markup: a display name, a bio, a caption and a comment that
are script or attribute-breaking payloads come out escaped on every page that shows them (the
Open Graph tags included), and as the exact text in plain JSON from the API. The browser side
(nothing runs, no element appears) is in tests/browser/test_hostile_text.py."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy.orm import Session

from molodets.accounts import service as accounts
from molodets.social import service as social
from molodets.videos.models import Video
from tests.factories.accounts import bearer, make_user
from tests.factories.videos import make_ready_video
from tests.web.conftest import EN, HTML

PAYLOADS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
# Pieces that only appear if a payload got into the page as markup.
LIVE_MARKUP = ("<script>alert", "<img src=x", "onerror=alert(1)>")


@dataclass
class Hostile:
    payload: str
    video: Video
    comment_id: str


@pytest.fixture(params=PAYLOADS, ids=["script", "attribute"])
def hostile(request: pytest.FixtureRequest, client: TestClient, db: Session) -> Hostile:
    """`hostile` (display name, bio), their video (caption) with a comment of theirs, and a
    follow of `host`, so that they are listed on `host`'s followers page."""
    payload: str = request.param
    user = make_user(db, username="hostile", display_name=payload)
    accounts.do_update_profile(db, user=user, bio=payload)
    host = make_user(db, username="host")
    social.do_follow(db, follower=user, followee=host)
    db.commit()
    video = make_ready_video(db, user, caption=payload)
    posted = client.post(
        f"/api/v1/videos/{video.id}/comments", json={"text": payload}, headers=bearer(db, user)
    )
    assert posted.status_code == 201, posted.text
    return Hostile(payload=payload, video=video, comment_id=posted.json()["id"])


def assert_inert(html: str, payload: str, where: str) -> None:
    assert payload not in html, where
    for piece in LIVE_MARKUP:
        assert piece not in html, (where, piece)


def script_json(html: str, element_id: str) -> object:
    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    assert found, element_id
    return json.loads(found.group(1))


def test_pages_show_the_text_escaped(hostile: Hostile, client: TestClient) -> None:
    payload, video_id = hostile.payload, hostile.video.id
    shown = str(escape(payload))
    tag = payload.replace("/", "")  # a tag is one path segment
    pages = (
        "/",
        f"/@hostile/video/{video_id}",
        f"/embed/{video_id}",
        "/@hostile",
        "/@hostile/following",
        "/@host/followers",
        "/discover",
        f"/tag/{quote(tag, safe='')}",
    )
    for path in pages:
        response = client.get(path, headers={**HTML, **EN})
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "text/html; charset=utf-8", path
        assert_inert(response.text, payload, path)
        # The text itself is on each page (not only inside a script's JSON), escaped.
        assert shown in response.text or str(escape(tag)) in response.text, path

    video_page = client.get(f"/@hostile/video/{video_id}", headers=EN).text
    assert f'<meta property="og:description" content="{shown}">' in video_page
    assert f'<meta property="og:title" content="{shown} on Molodets">' in video_page
    assert f'<meta name="twitter:description" content="{shown}">' in video_page
    assert f"<title>{shown} (@hostile): {shown}" in video_page
    # The player's data carries the exact text, escaped for a script element by JSON.
    feed = script_json(video_page, "feed-data")
    assert isinstance(feed, dict)
    first = feed["items"][0]
    assert (first["caption"], first["author"]["display_name"]) == (payload, payload)

    profile = client.get("/@hostile", headers=EN).text
    assert f'<h1 id="profile-name">{shown}</h1>' in profile
    assert f'<p class="profile-bio">{shown}</p>' in profile
    followers = client.get("/@host/followers", headers=EN).text
    assert f'<span class="person-name" id="person-{hostile.video.author_id}">{shown}</span>' in followers


def test_api_answers_carry_the_exact_text_as_json(hostile: Hostile, client: TestClient) -> None:
    payload, video_id = hostile.payload, hostile.video.id

    def get(path: str) -> Any:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "application/json", path
        return response.json()

    video = get(f"/api/v1/videos/{video_id}")
    assert video["caption"] == payload
    assert video["author"]["display_name"] == payload
    comments = get(f"/api/v1/videos/{video_id}/comments")["items"]
    assert [(c["id"], c["text"], c["author"]["display_name"]) for c in comments] == [
        (hostile.comment_id, payload, payload)
    ]
    profile = get("/api/v1/users/hostile")
    assert (profile["display_name"], profile["bio"]) == (payload, payload)
    feed = get("/api/v1/feed/for-you")["items"]
    assert [(item["caption"], item["author"]["display_name"]) for item in feed] == [(payload, payload)]
    followers = get("/api/v1/users/host/followers")["items"]
    assert [item["user"]["display_name"] for item in followers] == [payload]
