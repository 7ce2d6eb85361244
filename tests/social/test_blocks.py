"""Blocks: the blocked user loses sight of the blocker's profile and videos and cannot follow,
comment on or mention them; follows end both ways; the toggle is idempotent."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories.accounts import bearer, make_user
from tests.factories.videos import make_ready_video


def test_block_hides_the_blocker_and_refuses_contact(client: TestClient, db: Session) -> None:
    creator, troll, other = make_user(db, username="maker"), make_user(db, username="troll"), make_user(db)
    video = make_ready_video(db, creator)
    creator_h, troll_h = bearer(db, creator), bearer(db, troll)
    client.put("/api/v1/users/troll/follow", headers=creator_h)
    client.put("/api/v1/users/maker/follow", headers=troll_h)

    for _ in range(2):
        assert client.put("/api/v1/users/troll/block", headers=creator_h).status_code == 204
    profile = client.get("/api/v1/users/maker").json()
    assert profile["counts"] == {"followers": 0, "following": 0, "likes": 0}  # follows ended both ways

    for path in ("/api/v1/users/maker", "/api/v1/users/maker/videos", f"/api/v1/videos/{video.id}"):
        assert client.get(path, headers=troll_h).status_code == 404, path
        assert client.get(path, headers=bearer(db, other)).status_code == 200, path
    refused = client.put("/api/v1/users/maker/follow", headers=troll_h)
    assert (refused.status_code, refused.json()["code"]) == (403, "user_blocked")
    refused = client.put("/api/v1/users/troll/follow", headers=creator_h)  # nor the other way
    assert (refused.status_code, refused.json()["code"]) == (403, "user_blocked")

    # A comment elsewhere that names the blocker does not mention (link, notify) them.
    elsewhere = make_ready_video(db, other)
    said = client.post(
        f"/api/v1/videos/{elsewhere.id}/comments", json={"text": "@maker @troll hi"}, headers=troll_h
    ).json()
    assert said["mentions"] == ["troll"]

    blocks = client.get("/api/v1/me/blocks", headers=creator_h).json()
    assert [item["user"]["username"] for item in blocks["items"]] == ["troll"]
    assert client.put("/api/v1/users/maker/block", headers=creator_h).json()["code"] == "cannot_block_self"

    assert client.delete("/api/v1/users/troll/block", headers=creator_h).status_code == 204
    assert client.get(f"/api/v1/videos/{video.id}", headers=troll_h).status_code == 200
    assert client.put("/api/v1/users/maker/follow", headers=troll_h).json()["following"] is True


def test_blocked_commenter_is_refused(client: TestClient, db: Session) -> None:
    creator, troll = make_user(db), make_user(db)
    video = make_ready_video(db, creator)
    url = f"/api/v1/videos/{video.id}/comments"
    troll_h = bearer(db, troll)
    assert client.post(url, json={"text": "first"}, headers=troll_h).status_code == 201
    client.put(f"/api/v1/users/{troll.username}/block", headers=bearer(db, creator))
    # The video is gone for them, so the comment is refused as for any unseen video.
    refused = client.post(url, json={"text": "again"}, headers=troll_h)
    assert (refused.status_code, refused.json()["code"]) == (404, "video_not_found")
