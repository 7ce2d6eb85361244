"""Comments through the API: threads two levels deep, who may comment, deletion (and deleted
parents), pinning, likes on comments, both orders, and a fixed query count per page."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from molodets.runtime import Runtime
from molodets.videos import tasks
from molodets.videos.models import Video
from tests.factories.accounts import bearer, make_user
from tests.factories.videos import make_ready_video
from tests.mediaclips import make_clip
from tests.querycount import count_queries
from tests.videos.test_pipeline import create_video, run_job_directly, upload_file


def comments_of(client: TestClient, video: Video, **params: object) -> list[dict[str, object]]:
    response = client.get(f"/api/v1/videos/{video.id}/comments", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def post(
    client: TestClient, video: Video, headers: dict[str, str], text: str, parent: str | None = None
) -> dict:
    body: dict[str, object] = {"text": text} | ({"parent_id": parent} if parent else {})
    response = client.post(f"/api/v1/videos/{video.id}/comments", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def video_counts(client: TestClient, video: Video) -> int:
    return int(client.get(f"/api/v1/videos/{video.id}").json()["counts"]["comments"])


def test_threads_stay_two_levels_and_replies_to_replies_mention(client: TestClient, db: Session) -> None:
    author, ann, bob = make_user(db), make_user(db, username="ann"), make_user(db, username="bob")
    video = make_ready_video(db, author)
    top = post(client, video, bearer(db, ann), "Первый! #утро @bob")
    assert (top["hashtags"], top["mentions"], top["thread_id"]) == (["утро"], ["bob"], None)
    reply = post(client, video, bearer(db, bob), "спасибо", parent=top["id"])
    assert reply["thread_id"] == top["id"]
    deeper = post(client, video, bearer(db, ann), "пожалуйста", parent=reply["id"])
    assert deeper["thread_id"] == top["id"]  # joins the thread, not a third level
    assert deeper["text"] == "@bob пожалуйста"
    assert deeper["reply_to"]["username"] == "bob"
    assert "bob" in deeper["mentions"]

    assert [c["id"] for c in comments_of(client, video)] == [top["id"]]
    assert comments_of(client, video)[0]["replies"] == 2
    replies = client.get(f"/api/v1/comments/{top['id']}/replies").json()["items"]
    assert [r["id"] for r in replies] == [reply["id"], deeper["id"]]  # oldest first
    assert video_counts(client, video) == 3


def test_text_rules(client: TestClient, db: Session) -> None:
    video = make_ready_video(db, make_user(db))
    headers = bearer(db, make_user(db))
    url = f"/api/v1/videos/{video.id}/comments"
    for text, code in (("   ", "comment_empty"), ("я" * 501, "comment_too_long")):
        response = client.post(url, json={"text": text}, headers=headers)
        assert (response.status_code, response.json()["code"]) == (422, code)
    assert post(client, video, headers, "я" * 500)["text"] == "я" * 500
    gone = client.post(url, json={"text": "hi", "parent_id": "123"}, headers=headers)
    assert (gone.status_code, gone.json()["code"]) == (404, "comment_not_found")
    assert client.post(url, json={"text": "hi"}).status_code == 401


def test_comment_settings_everyone_followers_off(client: TestClient, db: Session) -> None:
    author, fan, stranger = make_user(db), make_user(db), make_user(db)
    video = make_ready_video(db, author)
    client.put(f"/api/v1/users/{author.username}/follow", headers=bearer(db, fan))
    url = f"/api/v1/videos/{video.id}/comments"

    video.comment_audience = "followers"
    db.commit()
    refused = client.post(url, json={"text": "hi"}, headers=bearer(db, stranger))
    assert (refused.status_code, refused.json()["code"]) == (403, "comments_followers_only")
    assert client.post(url, json={"text": "hi"}, headers=bearer(db, fan)).status_code == 201

    video.comments_enabled = False
    db.commit()
    for who in (fan, stranger):
        refused = client.post(url, json={"text": "hi"}, headers=bearer(db, who))
        assert (refused.status_code, refused.json()["code"]) == (403, "comments_off")
    assert client.post(url, json={"text": "still mine"}, headers=bearer(db, author)).status_code == 201


def test_deleting_by_author_or_video_author_and_deleted_parents(client: TestClient, db: Session) -> None:
    author, ann, bob = make_user(db), make_user(db), make_user(db)
    video = make_ready_video(db, author)
    ann_h, bob_h, author_h = bearer(db, ann), bearer(db, bob), bearer(db, author)
    top = post(client, video, ann_h, "thread")
    post(client, video, bob_h, "reply 1", parent=top["id"])
    bobs = post(client, video, bob_h, "reply 2", parent=top["id"])
    other = post(client, video, bob_h, "another")
    assert video_counts(client, video) == 4

    refused = client.delete(f"/api/v1/comments/{other['id']}", headers=ann_h)
    assert (refused.status_code, refused.json()["code"]) == (403, "not_your_comment")
    assert client.delete(f"/api/v1/comments/{bobs['id']}", headers=bob_h).status_code == 204
    assert comments_of(client, video, sort="newest")[1]["replies"] == 1
    # The video's author removes ann's thread, and its reply with it.
    assert client.delete(f"/api/v1/comments/{top['id']}", headers=author_h).status_code == 204
    assert [c["id"] for c in comments_of(client, video)] == [other["id"]]
    assert video_counts(client, video) == 1
    late = client.post(
        f"/api/v1/videos/{video.id}/comments", json={"text": "late", "parent_id": top["id"]}, headers=bob_h
    )
    assert (late.status_code, late.json()["code"]) == (404, "comment_not_found")
    assert client.get(f"/api/v1/comments/{top['id']}/replies").status_code == 404


def test_pin_likes_and_orders(client: TestClient, db: Session) -> None:
    author, fans = make_user(db), [make_user(db) for _ in range(3)]
    video = make_ready_video(db, author)
    headers = [bearer(db, fan) for fan in fans]
    old, liked, new = (
        post(client, video, headers[i], text) for i, text in enumerate(("old", "liked", "new"))
    )
    for h in headers[:2]:
        for _ in range(2):  # a like is idempotent
            client.put(f"/api/v1/comments/{liked['id']}/like", headers=h)
    assert [c["id"] for c in comments_of(client, video)] == [liked["id"], new["id"], old["id"]]
    assert [c["id"] for c in comments_of(client, video, sort="newest")] == [new["id"], liked["id"], old["id"]]
    # An author's reply lifts a thread above likes.
    post(client, video, bearer(db, author), "thanks", parent=old["id"])
    assert comments_of(client, video)[0]["id"] == old["id"]

    refused = client.put(f"/api/v1/comments/{new['id']}/pin", headers=headers[0])
    assert (refused.status_code, refused.json()["code"]) == (403, "not_video_author")
    assert client.put(f"/api/v1/comments/{new['id']}/pin", headers=bearer(db, author)).status_code == 204
    top = comments_of(client, video)
    assert (top[0]["id"], top[0]["pinned"]) == (new["id"], True)
    assert len(top) == 3  # pinned once, not twice
    unliked = client.delete(f"/api/v1/comments/{liked['id']}/like", headers=headers[0]).json()
    assert unliked == {"liked": False, "likes": 1}
    mine = client.get(f"/api/v1/videos/{video.id}/comments", headers=headers[1]).json()["items"]
    assert {c["id"]: c["liked_by_you"] for c in mine}[liked["id"]] is True


def test_comment_pages_run_fixed_queries(client: TestClient, db: Session, runtime: Runtime) -> None:
    author = make_user(db)
    video = make_ready_video(db, author)
    for i in range(6):
        post(client, video, bearer(db, make_user(db)), f"comment {i}")
    headers = bearer(db, author)
    counts = []
    for limit in (2, 6):
        with count_queries(runtime.db.engine) as statements:
            response = client.get(
                f"/api/v1/videos/{video.id}/comments", params={"limit": limit}, headers=headers
            )
            assert len(response.json()["items"]) == limit
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_the_comment_audience_is_chosen_when_the_video_is_created(
    client: TestClient, db: Session, runtime: Runtime, tmp_path: Path
) -> None:
    author, fan, stranger = make_user(db), make_user(db), make_user(db)
    author_h = bearer(db, author)
    clip = make_clip(tmp_path / "tiny.mp4", width=180, height=320, seconds=1.0, audio=False)
    created = create_video(
        client, author_h, upload_file(client, author_h, clip), comment_audience="followers"
    )
    assert created["comment_audience"] == "followers"
    bad = client.post(
        "/api/v1/videos", json={"upload_id": "1", "comment_audience": "friends"}, headers=author_h
    )
    assert bad.status_code == 422
    run_job_directly(runtime, tasks.publish_first, int(str(created["id"])))
    client.put(f"/api/v1/users/{author.username}/follow", headers=bearer(db, fan))
    url = f"/api/v1/videos/{created['id']}/comments"
    refused = client.post(url, json={"text": "hi"}, headers=bearer(db, stranger))
    assert (refused.status_code, refused.json()["code"]) == (403, "comments_followers_only")
    assert client.post(url, json={"text": "hi"}, headers=bearer(db, fan)).status_code == 201
