"""The profile page: counts, the poster grid, who sees which videos, tabs, paging, query count.

Videos are made as the application makes them: a real clip uploaded through the API, a video
created from it, and (for the ready ones) the real first processing job run with ffmpeg."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.runtime import Runtime
from molodets.videos import tasks
from molodets.videos.models import Video
from tests.factories.accounts import make_user
from tests.factories.videos import make_ready_video
from tests.mediaclips import make_clip
from tests.querycount import count_queries
from tests.videos.test_pipeline import bearer, create_video, run_job_directly, upload_file
from tests.web.conftest import EN, RU, LoggedIn

TILE_HREF = re.compile(r'class="tile-link" href="(/@[^"]+)"')


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "tiny.mp4", width=180, height=320, seconds=1.0)


def make_video(
    client: TestClient,
    runtime: Runtime,
    headers: dict[str, str],
    clip: Path,
    *,
    ready: bool = True,
    **fields: object,
) -> int:
    created = create_video(client, headers, upload_file(client, headers, clip), **fields)
    video_id = int(str(created["id"]))
    if ready:
        run_job_directly(runtime, tasks.publish_first, video_id)
    return video_id


def tile_links(html: str) -> list[str]:
    return TILE_HREF.findall(html)


def set_likes(db: Session, video_id: int, likes: int, views: int = 0) -> None:
    # Counts as the social layer and the events would leave them, without 1,234 real likes.
    video = db.get(Video, video_id)
    assert video is not None
    video.like_count, video.view_count = likes, views
    author = db.get(User, video.author_id)
    assert author is not None
    author.like_count += likes
    db.commit()


@pytest.fixture
def author(client: TestClient, db: Session, runtime: Runtime, anna: LoggedIn, clip: Path) -> dict[str, int]:
    """anna's videos, oldest first: public ready, private ready, one still processing."""
    headers = bearer(db, anna.user)
    public = make_video(client, runtime, headers, clip, caption="Утро #город")
    private = make_video(client, runtime, headers, clip, caption="секрет", visibility="private")
    processing = make_video(client, runtime, headers, clip, ready=False, caption="ещё в работе")
    set_likes(db, public, 1234, views=1500)
    set_likes(db, private, 50)
    return {"public": public, "private": private, "processing": processing}


def test_visitors_see_public_ready_videos_and_counts(author: dict[str, int], anna: LoggedIn) -> None:
    visitor = TestClient(anna.client.app)
    page = visitor.get("/@anna", headers=RU)
    assert page.status_code == 200
    assert tile_links(page.text) == [f"/@anna/video/{author['public']}?source=profile"]
    assert "1,3\xa0тыс. лайков" in page.text  # likes on all of anna's videos
    assert "0 подписчиков" in page.text
    assert "0 подписок" in page.text
    # The poster in WebP with the JPEG behind it, the dominant colour under both, the views.
    assert 'type="image/webp"' in page.text
    assert re.search(r'style="--ph: #[0-9a-f]{6}"', page.text)
    assert re.search(r'<img class="tile-poster" src="/media/videos/[^"]+\.jpg"', page.text)
    assert "1,5\xa0тыс. просмотров" in page.text
    assert "Обработка" not in page.text
    assert "Saved" not in visitor.get("/@anna", headers=EN).text  # saved videos are the owner's own


def test_likes_total_in_english(author: dict[str, int], anna: LoggedIn) -> None:
    page = TestClient(anna.client.app).get("/@anna", headers=EN).text
    assert "1.3K likes" in page
    assert "0 followers" in page
    assert "0 following" in page


def test_owner_sees_every_video_with_badges(author: dict[str, int], anna: LoggedIn) -> None:
    page = anna.client.get("/@anna", headers=RU).text
    assert tile_links(page) == [
        f"/@anna/video/{author[kind]}?source=profile" for kind in ("processing", "private", "public")
    ]
    assert "Обработка" in page
    assert "Только я" in page
    english = anna.client.get("/@anna", headers=EN).text
    assert "Processing" in english
    assert "Saved" in english


def test_failed_videos_carry_a_badge_for_the_owner(
    client: TestClient, db: Session, runtime: Runtime, anna: LoggedIn, clip: Path
) -> None:
    headers = bearer(db, anna.user)
    video_id = make_video(client, runtime, headers, clip, ready=False)
    video = db.get(Video, video_id)
    assert video is not None
    video.status, video.error_code = "failed", "not_a_video"  # what the pipeline sets on a refusal
    db.commit()
    assert "Не удалось" in anna.client.get("/@anna", headers=RU).text
    assert tile_links(TestClient(anna.client.app).get("/@anna").text) == []


def test_tabs(anna: LoggedIn) -> None:
    liked = anna.client.get("/@anna?tab=liked", headers=EN).text
    assert 'aria-current="page">' in liked
    assert "Videos you like will appear here." in liked
    saved = anna.client.get("/@anna?tab=saved", headers=EN).text
    assert "Videos you save will appear here." in saved
    # Someone else asking for the saved tab gets the videos tab.
    other = TestClient(anna.client.app).get("/@anna?tab=saved", headers=EN).text
    assert "Videos you save" not in other
    assert "No videos yet." in other
    assert "Your videos will appear here." in anna.client.get("/@anna?tab=nonsense", headers=EN).text


def test_more_link_pages_through_the_grid(
    client: TestClient,
    db: Session,
    runtime: Runtime,
    anna: LoggedIn,
    clip: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from molodets.accounts import pages

    monkeypatch.setattr(pages, "GRID_PAGE", 2)
    headers = bearer(db, anna.user)
    ids = [make_video(client, runtime, headers, clip, ready=False) for _ in range(5)]
    newest_first = [f"/@anna/video/{video_id}?source=profile" for video_id in reversed(ids)]
    seen: list[str] = []
    url: str | None = "/@anna"
    pages_read = 0
    while url:
        html = anna.client.get(url, headers=RU).text
        seen += tile_links(html)
        pages_read += 1
        found = re.search(r'href="(/@anna\?cursor=[^"]+)" rel="next"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
        if pages_read > 1:
            assert "К самым новым видео" in html
    assert seen == newest_first
    assert pages_read == 3
    # The grid's script reads the same pages from the API, with the page size it is told.
    config = re.search(r'<script type="application/json" id="grid-config">(.*?)</script>', html)
    assert config
    assert json.loads(config.group(1))["api"] == "/api/v1/users/anna/videos"
    assert anna.client.get("/@anna?cursor=garbage", headers=RU).status_code == 400


def test_query_count_does_not_grow_with_videos(
    client: TestClient, db: Session, runtime: Runtime, clip: Path
) -> None:
    owner: User = make_user(db, username="counted")
    headers = bearer(db, owner)
    visitor = TestClient(client.app)

    def queries() -> int:
        with count_queries(runtime.db.engine) as statements:
            assert visitor.get("/@counted").status_code == 200
        return len(statements)

    make_video(client, runtime, headers, clip)
    one = queries()
    for _ in range(2):
        make_video(client, runtime, headers, clip)
    assert queries() == one
    # The user, a page of videos, their renditions: nothing per video.
    assert one == 3


def test_follow_counts_are_the_real_follows(anna: LoggedIn, db: Session) -> None:
    from molodets.social import service as social

    boris, vera = make_user(db, username="boris"), make_user(db, username="vera")
    for follower in (boris, vera):
        social.do_follow(db, follower=follower, followee=anna.user)
    social.do_follow(db, follower=anna.user, followee=boris)
    db.commit()
    page = TestClient(anna.client.app).get("/@anna", headers=RU).text
    assert "2 подписчика" in page
    assert "1 подписка" in page


def test_liked_and_saved_tabs_list_the_videos(anna: LoggedIn, client: TestClient, db: Session) -> None:
    """Liked: the owner's choice decides who sees it; Saved: only the owner. Tiles open the
    video with For You after it (they are of many authors)."""
    creator = make_user(db, username="boris")
    liked, saved = make_ready_video(db, creator), make_ready_video(db, creator)
    headers = bearer(db, anna.user)
    client.put(f"/api/v1/videos/{liked.id}/like", headers=headers)
    client.put(f"/api/v1/videos/{saved.id}/bookmark", headers=headers)
    assert tile_links(anna.client.get("/@anna?tab=liked").text) == [f"/@boris/video/{liked.id}"]
    assert tile_links(anna.client.get("/@anna?tab=saved").text) == [f"/@boris/video/{saved.id}"]
    visitor = TestClient(anna.client.app)
    hidden = visitor.get("/@anna?tab=liked", headers=EN).text
    assert tile_links(hidden) == []
    assert "This person keeps their liked videos private." in hidden
    client.patch("/api/v1/me", json={"likes_public": True}, headers=headers)
    assert tile_links(visitor.get("/@anna?tab=liked").text) == [f"/@boris/video/{liked.id}"]
