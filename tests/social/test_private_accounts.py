"""Private accounts through the API: follow requests (ask, approve, decline, withdraw, remove a
follower), their idempotency and exact counters, going public, blocks, notifications, and who
sees a private account's videos and lists, wherever videos are shown."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from molodets.accounts.models import Role, User
from molodets.notifications.models import Kind, Notification
from molodets.runtime import Runtime
from molodets.social import privacy
from molodets.social import service as social
from molodets.social.models import Follow, FollowRequest
from molodets.videos.models import Visibility
from tests.factories.accounts import bearer, make_user
from tests.factories.videos import make_ready_video
from tests.querycount import count_queries

Headers = dict[str, str]


def counts(db: Session, user: User) -> tuple[int, int]:
    """(followers, following) as stored, read afresh. Each check here ends its transaction: the
    test session's BEGIN IMMEDIATE would otherwise keep the next requests from writing."""
    db.expire_all()
    db.refresh(user)
    found = user.follower_count, user.following_count
    db.commit()
    return found


def make_private(client: TestClient, headers: Headers) -> None:
    response = client.patch("/api/v1/me", json={"is_private": True}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["is_private"] is True


def follow(client: TestClient, username: str, headers: Headers) -> dict[str, object]:
    response = client.put(f"/api/v1/users/{username}/follow", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def notifications_of(db: Session, user: User, kind: Kind) -> list[Notification]:
    db.expire_all()
    statement = select(Notification).where(
        Notification.recipient_id == user.id, Notification.kind == kind.value
    )
    found = list(db.scalars(statement))
    db.commit()
    return found


def pending(db: Session, owner: User) -> int:
    db.expire_all()
    query = select(func.count()).select_from(FollowRequest).where(FollowRequest.target_id == owner.id)
    found = int(db.scalar(query) or 0)
    db.commit()
    return found


@pytest.fixture
def owner(db: Session) -> User:
    return make_user(db, username="hidden", display_name="Скрытная")


def test_the_account_says_whether_it_is_private(client: TestClient, db: Session, owner: User) -> None:
    headers = bearer(db, owner)
    assert client.get("/api/v1/me", headers=headers).json()["is_private"] is False
    make_private(client, headers)
    assert client.get("/api/v1/me", headers=headers).json()["is_private"] is True
    assert client.get("/api/v1/users/hidden").json()["is_private"] is True
    bad = client.patch("/api/v1/me", json={"is_private": "sometimes"}, headers=headers)
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_error")


def test_following_a_private_account_asks_once(client: TestClient, db: Session, owner: User) -> None:
    fan = make_user(db)
    make_private(client, bearer(db, owner))
    fan_headers = bearer(db, fan)
    for _ in range(2):
        assert follow(client, "hidden", fan_headers) == {
            "following": False,
            "requested": True,
            "followers": 0,
        }
    assert pending(db, owner) == 1
    assert counts(db, owner) == (0, 0)
    assert counts(db, fan) == (0, 0)
    asked = notifications_of(db, owner, Kind.FOLLOW_REQUEST)
    assert [(row.actor_count, row.last_actor_id) for row in asked] == [(1, fan.id)]
    assert notifications_of(db, owner, Kind.FOLLOW) == []


def test_approving_makes_one_follow_and_tells_the_requester(
    client: TestClient, db: Session, owner: User
) -> None:
    fan = make_user(db, display_name="Фанат")
    owner_headers, fan_headers = bearer(db, owner), bearer(db, fan)
    make_private(client, owner_headers)
    follow(client, "hidden", fan_headers)
    listed = client.get("/api/v1/me/follow-requests", headers=owner_headers).json()
    assert listed["next_cursor"] is None
    [item] = listed["items"]
    assert item["user"]["username"] == fan.username
    assert item["user"]["display_name"] == "Фанат"
    assert (item["followed_by_you"], item["follows_you"]) == (False, False)

    url = f"/api/v1/me/follow-requests/{fan.username}"
    for _ in range(2):  # approving twice is one follow
        assert client.put(url, headers=owner_headers).status_code == 204
    assert counts(db, owner) == (1, 0)
    assert counts(db, fan) == (0, 1)
    assert pending(db, owner) == 0
    assert client.get("/api/v1/me/follow-requests", headers=owner_headers).json()["items"] == []
    accepted = notifications_of(db, fan, Kind.FOLLOW_ACCEPTED)
    assert [row.last_actor_id for row in accepted] == [owner.id]
    # The owner is not told "started following you" about someone they approved themselves.
    assert notifications_of(db, owner, Kind.FOLLOW) == []
    assert follow(client, "hidden", fan_headers) == {"following": True, "requested": False, "followers": 1}


def test_approving_nothing_or_no_one_is_404(client: TestClient, db: Session, owner: User) -> None:
    stranger = make_user(db)
    headers = bearer(db, owner)
    missing = client.put(f"/api/v1/me/follow-requests/{stranger.username}", headers=headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "follow_request_not_found"
    unknown = client.put("/api/v1/me/follow-requests/nobody-at-all", headers=headers)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "user_not_found")
    anonymous = client.get("/api/v1/me/follow-requests")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthenticated")
    assert (
        client.get("/api/v1/me/follow-requests", params={"cursor": "junk!"}, headers=headers).status_code
        == 400
    )


def test_declining_and_withdrawing_are_idempotent(client: TestClient, db: Session, owner: User) -> None:
    fan, other = make_user(db), make_user(db)
    owner_headers, fan_headers, other_headers = bearer(db, owner), bearer(db, fan), bearer(db, other)
    make_private(client, owner_headers)
    follow(client, "hidden", fan_headers)
    follow(client, "hidden", other_headers)
    for _ in range(2):
        assert (
            client.delete(f"/api/v1/me/follow-requests/{fan.username}", headers=owner_headers).status_code
            == 204
        )
    assert counts(db, owner) == (0, 0)
    for _ in range(2):
        withdrawn = client.delete("/api/v1/users/hidden/follow", headers=other_headers).json()
        assert withdrawn == {"following": False, "requested": False, "followers": 0}
    assert pending(db, owner) == 0
    # A declined person may ask again.
    assert follow(client, "hidden", fan_headers)["requested"] is True
    assert pending(db, owner) == 1


def test_a_withdrawn_request_leaves_the_owners_unread_notifications(
    client: TestClient, db: Session, owner: User
) -> None:
    first, second = make_user(db), make_user(db)
    owner_headers = bearer(db, owner)
    make_private(client, owner_headers)
    follow(client, "hidden", bearer(db, first))
    follow(client, "hidden", bearer(db, second))
    asked = notifications_of(db, owner, Kind.FOLLOW_REQUEST)
    assert [(row.actor_count, row.last_actor_id) for row in asked] == [(2, second.id)]
    client.delete("/api/v1/users/hidden/follow", headers=bearer(db, second))
    asked = notifications_of(db, owner, Kind.FOLLOW_REQUEST)
    assert [(row.actor_count, row.last_actor_id) for row in asked] == [(1, first.id)]
    client.delete("/api/v1/users/hidden/follow", headers=bearer(db, first))
    assert notifications_of(db, owner, Kind.FOLLOW_REQUEST) == []
    unread = client.get("/api/v1/notifications/unread-count", headers=owner_headers).json()
    assert unread == {"unread_count": 0}
    # Once read, a notice stays as it was read.
    follow(client, "hidden", bearer(db, first))
    assert client.post("/api/v1/notifications/read", json={}, headers=owner_headers).status_code == 204
    client.delete("/api/v1/users/hidden/follow", headers=bearer(db, first))
    assert [row.actor_count for row in notifications_of(db, owner, Kind.FOLLOW_REQUEST)] == [1]


def test_requests_page_newest_first(client: TestClient, db: Session, owner: User) -> None:
    owner_headers = bearer(db, owner)
    make_private(client, owner_headers)
    fans = [make_user(db) for _ in range(3)]
    for fan in fans:
        follow(client, "hidden", bearer(db, fan))
    first = client.get("/api/v1/me/follow-requests", params={"limit": 2}, headers=owner_headers).json()
    rest = client.get(
        "/api/v1/me/follow-requests",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=owner_headers,
    ).json()
    assert rest["next_cursor"] is None
    names = [item["user"]["username"] for item in first["items"] + rest["items"]]
    assert names == [fan.username for fan in reversed(fans)]


def test_removing_a_follower(client: TestClient, db: Session, owner: User) -> None:
    fan = make_user(db)
    name = fan.username  # read now: after a check's commit, reading it would open a transaction
    owner_headers, fan_headers = bearer(db, owner), bearer(db, fan)
    follow(client, "hidden", fan_headers)  # public yet: a follow at once
    assert counts(db, owner) == (1, 0)
    for _ in range(2):
        assert client.delete(f"/api/v1/me/followers/{name}", headers=owner_headers).status_code == 204
    assert counts(db, owner) == (0, 0)
    assert counts(db, fan) == (0, 0)
    missing = client.delete("/api/v1/me/followers/nobody-at-all", headers=owner_headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "user_not_found")


def test_going_public_approves_every_pending_request(client: TestClient, db: Session, owner: User) -> None:
    owner_headers = bearer(db, owner)
    early = make_user(db)
    follow(client, "hidden", bearer(db, early))  # followed while public
    make_private(client, owner_headers)
    fans = [make_user(db) for _ in range(3)]
    for fan in fans:
        follow(client, "hidden", bearer(db, fan))
    # A request left over from a race: its requester already follows. It must not count twice.
    assert social.insert_once(db, FollowRequest, requester_id=early.id, target_id=owner.id)
    db.commit()
    response = client.patch("/api/v1/me", json={"is_private": False}, headers=owner_headers)
    assert response.status_code == 200
    assert response.json()["is_private"] is False
    assert response.json()["counts"]["followers"] == 4
    assert counts(db, owner) == (4, 0)
    assert [counts(db, fan) for fan in fans] == [(0, 1)] * 3
    assert counts(db, early) == (0, 1)
    assert pending(db, owner) == 0
    assert db.scalar(select(func.count()).select_from(Follow).where(Follow.followee_id == owner.id)) == 4
    for fan in fans:
        assert len(notifications_of(db, fan, Kind.FOLLOW_ACCEPTED)) == 1
    assert notifications_of(db, early, Kind.FOLLOW_ACCEPTED) == []
    # Public again: following is immediate.
    late = make_user(db)
    assert follow(client, "hidden", bearer(db, late))["following"] is True


def test_going_public_approves_in_batches(db: Session, owner: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(privacy, "APPROVE_BATCH", 2)
    privacy.do_set_private(db, user=owner, private=True)
    fans = [make_user(db) for _ in range(5)]
    for fan in fans:
        privacy.do_follow_or_request(db, follower=fan, followee=owner)
    assert privacy.do_set_private(db, user=owner, private=False) == 5
    db.commit()
    assert counts(db, owner) == (5, 0)
    assert {counts(db, fan) for fan in fans} == {(0, 1)}


def test_blocks_refuse_requests_and_remove_them_both_ways(
    client: TestClient, db: Session, owner: User
) -> None:
    fan, other = make_user(db), make_user(db)
    owner_headers, fan_headers, other_headers = bearer(db, owner), bearer(db, fan), bearer(db, other)
    make_private(client, owner_headers)
    make_private(client, other_headers)
    follow(client, "hidden", fan_headers)  # fan asks owner
    follow(client, fan.username, owner_headers)  # owner follows fan (public): a follow
    follow(client, other.username, owner_headers)  # owner asks other
    assert client.put(f"/api/v1/users/{fan.username}/block", headers=owner_headers).status_code == 204
    assert pending(db, owner) == 0
    assert counts(db, owner) == (0, 0)
    refused = client.put("/api/v1/users/hidden/follow", headers=fan_headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "user_blocked")
    assert client.put(f"/api/v1/users/{owner.username}/block", headers=other_headers).status_code == 204
    assert pending(db, other) == 0
    refused = client.put(f"/api/v1/users/{other.username}/follow", headers=owner_headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "user_blocked")


def test_following_oneself_and_unknown_people_are_problems(
    client: TestClient, db: Session, owner: User
) -> None:
    headers = bearer(db, owner)
    make_private(client, headers)
    self_follow = client.put("/api/v1/users/hidden/follow", headers=headers)
    assert self_follow.headers["content-type"] == "application/problem+json"
    assert (self_follow.status_code, self_follow.json()["code"]) == (422, "cannot_follow_self")
    unknown = client.put("/api/v1/users/nobody-at-all/follow", headers=headers)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "user_not_found")
    assert pending(db, owner) == 0


# --- who sees a private account's videos ------------------------------------------------------------


def test_only_followers_see_a_private_accounts_videos(client: TestClient, db: Session, owner: User) -> None:
    fan, stranger = make_user(db), make_user(db)
    moderator = make_user(db, role=Role.MODERATOR)
    owner_headers, fan_headers, stranger_headers = bearer(db, owner), bearer(db, fan), bearer(db, stranger)
    public_video = make_ready_video(db, owner, caption="for my people")
    followers_video = make_ready_video(db, owner, visibility=Visibility.FOLLOWERS)
    own_video = make_ready_video(db, owner, visibility=Visibility.PRIVATE)
    follow(client, "hidden", fan_headers)  # public yet: a follow at once
    make_private(client, owner_headers)

    def sees(headers: Headers | None) -> dict[str, int]:
        kwargs = {"headers": headers} if headers else {}
        return {
            "video": client.get(f"/api/v1/videos/{public_video.id}", **kwargs).status_code,
            "followers_video": client.get(f"/api/v1/videos/{followers_video.id}", **kwargs).status_code,
            "comments": client.get(f"/api/v1/videos/{public_video.id}/comments", **kwargs).status_code,
            "videos": client.get("/api/v1/users/hidden/videos", **kwargs).status_code,
            "followers": client.get("/api/v1/users/hidden/followers", **kwargs).status_code,
            "following": client.get("/api/v1/users/hidden/following", **kwargs).status_code,
        }

    hidden = {
        "video": 404,
        "followers_video": 404,
        "comments": 404,
        "videos": 403,
        "followers": 403,
        "following": 403,
    }
    shown = dict.fromkeys(hidden, 200)
    assert sees(None) == hidden
    assert sees(stranger_headers) == hidden
    assert sees(fan_headers) == shown
    assert sees(owner_headers) == shown
    assert sees(bearer(db, moderator)) == shown
    refused = client.get("/api/v1/users/hidden/videos", headers=stranger_headers)
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "account_private"
    # The header stays public, counts included.
    assert client.get("/api/v1/users/hidden").json()["counts"]["followers"] == 1
    # Liking needs seeing.
    assert client.put(f"/api/v1/videos/{public_video.id}/like", headers=stranger_headers).status_code == 404
    # Followers see both shareable videos, the owner all three; their media links expire.
    listed = client.get("/api/v1/users/hidden/videos", headers=fan_headers).json()["items"]
    assert {item["id"] for item in listed} == {str(public_video.id), str(followers_video.id)}
    assert all("signature=" in item["renditions"][0]["url"] for item in listed)
    mine = client.get("/api/v1/users/hidden/videos", headers=owner_headers).json()["items"]
    assert {item["id"] for item in mine} == {str(public_video.id), str(followers_video.id), str(own_video.id)}


def test_feeds_leave_private_accounts_to_the_following_feed(
    client: TestClient, db: Session, owner: User, runtime: Runtime
) -> None:
    fan = make_user(db)
    open_author = make_user(db)
    owner_headers, fan_headers = bearer(db, owner), bearer(db, fan)
    hidden_video = make_ready_video(db, owner)
    open_video = make_ready_video(db, open_author)
    follow(client, "hidden", fan_headers)
    make_private(client, owner_headers)
    for headers in (None, fan_headers, owner_headers):
        kwargs = {"headers": headers} if headers else {}
        ids = [item["id"] for item in client.get("/api/v1/feed/for-you", **kwargs).json()["items"]]
        assert ids == [str(open_video.id)]
    following = client.get("/api/v1/feed/following", headers=fan_headers).json()["items"]
    assert [item["id"] for item in following] == [str(hidden_video.id)]
    discover = client.get("/discover").text
    assert f"/video/{open_video.id}" in discover
    assert f"/video/{hidden_video.id}" not in discover
    # The exclusion is part of the feed's statements, not a query per video.
    counts = []
    for _ in range(2):
        for n in range(4):
            make_ready_video(db, owner if n % 2 else open_author)
        with count_queries(runtime.db.engine) as statements:
            assert client.get("/api/v1/feed/for-you").status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


def test_liked_and_saved_lists_show_private_accounts_videos_to_followers_only(
    client: TestClient, db: Session, owner: User
) -> None:
    fan, stranger = make_user(db), make_user(db)
    owner_headers, fan_headers, stranger_headers = bearer(db, owner), bearer(db, fan), bearer(db, stranger)
    hidden_video = make_ready_video(db, owner)
    open_video = make_ready_video(db, make_user(db))
    follow(client, "hidden", fan_headers)
    make_private(client, owner_headers)
    client.patch("/api/v1/me", json={"likes_public": True}, headers=fan_headers)
    for video in (hidden_video, open_video):
        assert client.put(f"/api/v1/videos/{video.id}/like", headers=fan_headers).status_code == 200
        assert client.put(f"/api/v1/videos/{video.id}/bookmark", headers=fan_headers).status_code == 200

    def liked(headers: Headers | None) -> list[str]:
        kwargs = {"headers": headers} if headers else {}
        return [
            item["id"] for item in client.get(f"/api/v1/users/{fan.username}/liked", **kwargs).json()["items"]
        ]

    both = [str(open_video.id), str(hidden_video.id)]
    assert liked(fan_headers) == both
    assert liked(owner_headers) == both
    assert liked(stranger_headers) == [str(open_video.id)]
    assert liked(None) == [str(open_video.id)]
    saved = client.get("/api/v1/me/bookmarks", headers=fan_headers).json()["items"]
    assert [item["id"] for item in saved] == both
    # Removed as a follower: the saved and liked videos of the private account go with it.
    client.delete(f"/api/v1/me/followers/{fan.username}", headers=owner_headers)
    assert liked(fan_headers) == [str(open_video.id)]
    saved = client.get("/api/v1/me/bookmarks", headers=fan_headers).json()["items"]
    assert [item["id"] for item in saved] == [str(open_video.id)]
    # A private account's own liked list is hidden like its videos, whatever its likes setting.
    client.patch("/api/v1/me", json={"likes_public": True}, headers=owner_headers)
    refused = client.get("/api/v1/users/hidden/liked", headers=stranger_headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "account_private")
    assert client.get("/api/v1/users/hidden/liked", headers=owner_headers).status_code == 200


def test_a_private_accounts_media_needs_a_signed_link(
    client: TestClient, db: Session, owner: User, runtime: Runtime
) -> None:
    fan = make_user(db)
    owner_headers, fan_headers = bearer(db, owner), bearer(db, fan)
    video = make_ready_video(db, owner)
    key = f"videos/{video.id}/run1/720p.mp4"
    runtime.storage.put(key, b"\x00" * 64, content_type="video/mp4")
    assert client.get(f"/media/{key}").status_code == 200  # public account: served to anyone
    follow(client, "hidden", fan_headers)
    make_private(client, owner_headers)
    assert client.get(f"/media/{key}").status_code == 404
    item = client.get(f"/api/v1/videos/{video.id}", headers=fan_headers).json()
    signed = next(rendition["url"] for rendition in item["renditions"] if rendition["name"] == "720p")
    assert "signature=" in signed
    response = client.get(signed)
    assert response.status_code == 200
    assert response.headers["cache-control"].startswith("private")
