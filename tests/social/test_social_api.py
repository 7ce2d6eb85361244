"""Follows, likes, bookmarks and shares through the API: idempotent toggles, exact counters,
visibility rules, lists with viewer markers, and a fixed number of queries per list page."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.cli import main as cli_main
from molodets.runtime import Runtime
from molodets.settings import Settings
from molodets.videos.models import Video, Visibility
from tests.factories.accounts import bearer, make_user
from tests.factories.videos import make_ready_video
from tests.querycount import count_queries


def refreshed(db: Session, row: User | Video) -> User | Video:
    db.expire_all()
    db.refresh(row)
    return row


def test_like_is_idempotent_and_counts_on_video_and_author(client: TestClient, db: Session) -> None:
    author, fan = make_user(db), make_user(db)
    video = make_ready_video(db, author)
    headers = bearer(db, fan)
    url = f"/api/v1/videos/{video.id}/like"
    for _ in range(2):
        response = client.put(url, headers=headers)
        assert response.status_code == 200
        assert response.json() == {"liked": True, "likes": 1}
    assert client.get(f"/api/v1/videos/{video.id}").json()["counts"]["likes"] == 1
    assert client.get(f"/api/v1/users/{author.username}").json()["counts"]["likes"] == 1
    for _ in range(2):
        assert client.delete(url, headers=headers).json() == {"liked": False, "likes": 0}
    assert refreshed(db, author).like_count == 0


def test_likes_need_an_account_and_a_visible_video(client: TestClient, db: Session) -> None:
    author, other = make_user(db), make_user(db)
    private = make_ready_video(db, author, visibility=Visibility.PRIVATE)
    public = make_ready_video(db, author)
    assert client.put(f"/api/v1/videos/{public.id}/like").json()["code"] == "unauthenticated"
    response = client.put(f"/api/v1/videos/{private.id}/like", headers=bearer(db, other))
    assert (response.status_code, response.json()["code"]) == (404, "video_not_found")
    response = client.put("/api/v1/videos/12x/like", headers=bearer(db, other))
    assert (response.status_code, response.json()["code"]) == (404, "video_not_found")
    assert refreshed(db, private).like_count == 0


def test_bookmarks_are_private_to_their_owner(client: TestClient, db: Session) -> None:
    author, saver = make_user(db), make_user(db)
    first, second = make_ready_video(db, author), make_ready_video(db, author)
    headers = bearer(db, saver)
    for video in (first, second, first):
        assert client.put(f"/api/v1/videos/{video.id}/bookmark", headers=headers).json()["bookmarked"] is True
    saved = client.get("/api/v1/me/bookmarks", headers=headers).json()
    assert [item["id"] for item in saved["items"]] == [str(second.id), str(first.id)]  # newest save first
    assert saved["items"][1]["counts"]["bookmarks"] == 1
    assert client.get("/api/v1/me/bookmarks", headers=bearer(db, author)).json()["items"] == []
    assert client.get("/api/v1/me/bookmarks").status_code == 401
    assert client.delete(f"/api/v1/videos/{first.id}/bookmark", headers=headers).json() == {
        "bookmarked": False,
        "bookmarks": 0,
    }


def like_then_make_private(
    client: TestClient, db: Session, headers: dict[str, str], *, liked: list[Video], private: Video
) -> None:
    """Like `liked` in order through the API, then make `private` private."""
    for video in liked:
        client.put(f"/api/v1/videos/{video.id}/like", headers=headers)
    private.visibility = Visibility.PRIVATE.value
    db.commit()


def test_liked_list_follows_the_owners_setting(client: TestClient, db: Session) -> None:
    author, fan, stranger = make_user(db), make_user(db), make_user(db)
    video = make_ready_video(db, author)
    gone_private = make_ready_video(db, author)
    fan_headers = bearer(db, fan)
    like_then_make_private(client, db, fan_headers, liked=[video, gone_private], private=gone_private)
    url = f"/api/v1/users/{fan.username}/liked"
    refused = client.get(url, headers=bearer(db, stranger))
    assert (refused.status_code, refused.json()["code"]) == (403, "likes_private")
    assert client.get(url).status_code == 403
    own = client.get(url, headers=fan_headers).json()
    assert [item["id"] for item in own["items"]] == [str(video.id)]  # the private one is hidden
    assert client.patch("/api/v1/me", json={"likes_public": True}, headers=fan_headers).json()["likes_public"]
    assert [item["id"] for item in client.get(url).json()["items"]] == [str(video.id)]


def test_a_public_liked_list_shows_the_owners_own_private_videos_to_the_owner_only(
    client: TestClient, db: Session
) -> None:
    fan, stranger = make_user(db), make_user(db)
    fan.likes_public = True
    hidden = make_ready_video(db, fan)
    shown = make_ready_video(db, fan)
    fan_headers = bearer(db, fan)
    like_then_make_private(client, db, fan_headers, liked=[hidden, shown], private=hidden)
    url = f"/api/v1/users/{fan.username}/liked"
    assert [item["id"] for item in client.get(url, headers=fan_headers).json()["items"]] == [
        str(shown.id),
        str(hidden.id),
    ]
    for headers in (bearer(db, stranger), {}):
        assert [item["id"] for item in client.get(url, headers=headers).json()["items"]] == [str(shown.id)]


def test_follow_toggles_counts_and_refuses_self(client: TestClient, db: Session) -> None:
    creator, fan = make_user(db), make_user(db)
    headers = bearer(db, fan)
    url = f"/api/v1/users/{creator.username}/follow"
    for _ in range(2):
        assert client.put(url, headers=headers).json() == {
            "following": True,
            "requested": False,
            "followers": 1,
        }
    profile = client.get(f"/api/v1/users/{fan.username}").json()
    assert profile["counts"] == {"followers": 0, "following": 1, "likes": 0}
    refused = client.put(f"/api/v1/users/{fan.username}/follow", headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (422, "cannot_follow_self")
    assert client.put("/api/v1/users/nobody-here/follow", headers=headers).status_code == 404
    for _ in range(2):
        assert client.delete(url, headers=headers).json() == {
            "following": False,
            "requested": False,
            "followers": 0,
        }
    assert (refreshed(db, fan).following_count, refreshed(db, creator).follower_count) == (0, 0)


def test_follower_lists_mark_relations_and_page_in_fixed_queries(
    client: TestClient, db: Session, runtime: Runtime
) -> None:
    creator, viewer = make_user(db), make_user(db)
    fans = [make_user(db) for _ in range(5)]
    for fan in fans:
        client.put(f"/api/v1/users/{creator.username}/follow", headers=bearer(db, fan))
    viewer_headers = bearer(db, viewer)
    client.put(f"/api/v1/users/{fans[0].username}/follow", headers=viewer_headers)  # viewer follows fan 0
    client.put(f"/api/v1/users/{viewer.username}/follow", headers=bearer(db, fans[1]))  # fan 1 follows viewer

    url = f"/api/v1/users/{creator.username}/followers"
    first = client.get(url, params={"limit": 3}, headers=viewer_headers).json()
    rest = client.get(url, params={"limit": 3, "cursor": first["next_cursor"]}, headers=viewer_headers).json()
    assert rest["next_cursor"] is None
    names = [item["user"]["username"] for item in first["items"] + rest["items"]]
    assert names == [fan.username for fan in reversed(fans)]  # the newest follower first
    marks = {item["user"]["username"]: item for item in first["items"] + rest["items"]}
    relation = {name: (item["followed_by_you"], item["follows_you"]) for name, item in marks.items()}
    assert relation[fans[0].username] == (True, False)
    assert relation[fans[1].username] == (False, True)
    assert relation[fans[2].username] == (False, False)
    following = client.get(f"/api/v1/users/{fans[0].username}/following").json()
    assert [item["user"]["username"] for item in following["items"]] == [creator.username]

    counts = []
    for limit in (2, 5):
        with count_queries(runtime.db.engine) as statements:
            assert client.get(url, params={"limit": limit}, headers=viewer_headers).status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_shares_count_and_are_rate_limited_per_viewer(
    client: TestClient, db: Session, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = make_ready_video(db, make_user(db))
    monkeypatch.setattr(runtime.limiter, "enabled", True)
    url = f"/api/v1/videos/{video.id}/shares"
    assert [client.post(url).json()["shares"] for _ in range(3)] == [1, 2, 3]
    for _ in range(7):
        client.post(url)
    refused = client.post(url)
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
    assert refreshed(db, video).share_count == 10


def test_deleting_a_video_takes_its_likes_off_the_author(client: TestClient, db: Session) -> None:
    author, fan = make_user(db), make_user(db)
    kept, deleted = make_ready_video(db, author), make_ready_video(db, author)
    fan_headers = bearer(db, fan)
    for video in (kept, deleted):
        client.put(f"/api/v1/videos/{video.id}/like", headers=fan_headers)
    assert client.delete(f"/api/v1/videos/{deleted.id}", headers=bearer(db, author)).status_code == 204
    assert refreshed(db, author).like_count == 1


def test_counters_rebuild_repairs_drifted_counts(
    client: TestClient,
    db: Session,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    author, fan = make_user(db), make_user(db)
    video = make_ready_video(db, author)
    headers = bearer(db, fan)
    client.put(f"/api/v1/videos/{video.id}/like", headers=headers)
    client.put(f"/api/v1/videos/{video.id}/bookmark", headers=headers)
    client.put(f"/api/v1/users/{author.username}/follow", headers=headers)
    # Drift, as a bug or a partial restore would leave it.
    video.like_count, video.bookmark_count = 40, 0
    author.follower_count, author.like_count, fan.following_count = 7, 0, 3
    db.commit()

    monkeypatch.setenv("MOLODETS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("MOLODETS_DATABASE_URL", settings.resolved_database_url)
    assert cli_main(["counters", "rebuild"]) == 0
    assert "1 videos and 2 users corrected" in capsys.readouterr().out
    assert (refreshed(db, video).like_count, video.bookmark_count) == (1, 1)
    assert (refreshed(db, author).follower_count, author.like_count) == (1, 1)
    assert (refreshed(db, fan).following_count, fan.follower_count) == (1, 0)
    db.rollback()  # this session's transaction holds SQLite's write lock
    assert cli_main(["counters", "rebuild"]) == 0
    assert "0 videos and 0 users corrected" in capsys.readouterr().out


def test_followers_only_videos_open_to_followers(client: TestClient, db: Session) -> None:
    author, fan, stranger = make_user(db), make_user(db), make_user(db)
    public = make_ready_video(db, author)
    for_fans = make_ready_video(db, author, visibility=Visibility.FOLLOWERS)
    fan_headers = bearer(db, fan)
    client.put(f"/api/v1/users/{author.username}/follow", headers=fan_headers)
    listing = f"/api/v1/users/{author.username}/videos"

    assert client.get(f"/api/v1/videos/{for_fans.id}", headers=bearer(db, stranger)).status_code == 404
    assert client.get(f"/api/v1/videos/{for_fans.id}").status_code == 404
    assert [v["id"] for v in client.get(listing).json()["items"]] == [str(public.id)]
    assert client.get(f"/api/v1/videos/{for_fans.id}", headers=fan_headers).status_code == 200
    shown = [v["id"] for v in client.get(listing, headers=fan_headers).json()["items"]]
    assert shown == [str(for_fans.id), str(public.id)]
    client.delete(f"/api/v1/users/{author.username}/follow", headers=fan_headers)
    assert client.get(f"/api/v1/videos/{for_fans.id}", headers=fan_headers).status_code == 404
