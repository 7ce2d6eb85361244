"""Private accounts in the pages: the settings switch, the locked profile with its Request button,
the follow requests page with Approve and Decline as plain forms, and the video page and embed
of a private account's video."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.runtime import Runtime
from molodets.social import privacy
from molodets.social.models import FollowRequest
from tests.factories.accounts import bearer, make_user
from tests.factories.videos import make_ready_video
from tests.feed.test_feed_pages import meta_tags
from tests.querycount import count_queries
from tests.web.conftest import HTML, RU, LoggedIn, page_login


def stored(runtime: Runtime, user_id: int) -> User:
    """The row as stored, read in a session of its own (the test's `db` session would hold
    SQLite's write lock and block the app)."""
    with runtime.db.read_sessions() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user


def requesters(runtime: Runtime, owner_id: int) -> list[int]:
    with runtime.db.read_sessions() as session:
        query = select(FollowRequest.requester_id).where(FollowRequest.target_id == owner_id)
        return list(session.scalars(query))


def logged_in(app_client: TestClient, db: Session, username: str) -> LoggedIn:
    user = make_user(db, username=username)
    client = TestClient(app_client.app)
    return LoggedIn(client=client, user=user, csrf=page_login(client, username))


def set_private(db: Session, user: User) -> None:
    privacy.do_set_private(db, user=user, private=True)
    db.commit()


def test_the_settings_switch_makes_the_account_private_and_public(
    anna: LoggedIn, db: Session, runtime: Runtime
) -> None:
    page = anna.client.get("/settings", headers=RU).text
    assert "Закрытый аккаунт" in page
    assert 'name="is_private"' in page
    assert "смогут только те, кого вы одобрите" in page
    form = {"csrf_token": anna.csrf, "display_name": "Анна Каренина", "email": "anna@example.ru"}
    response = anna.client.post("/settings", data={**form, "is_private": "on"}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/settings?saved=profile")
    assert stored(runtime, anna.user.id).is_private is True
    assert 'name="is_private" type="checkbox" role="switch" value="on"' in anna.client.get("/settings").text
    boris = make_user(db, username="boris")
    anna_id, boris_id = anna.user.id, boris.id
    asked = anna.client.put("/api/v1/users/anna/follow", headers=bearer(db, boris)).json()
    assert asked["requested"] is True
    # Unticked: public again, and the waiting request is approved.
    assert anna.client.post("/settings", data=form, follow_redirects=False).status_code == 303
    assert stored(runtime, anna_id).is_private is False
    assert stored(runtime, anna_id).follower_count == 1
    assert stored(runtime, boris_id).following_count == 1


def test_a_private_profile_asks_to_follow_and_its_owner_approves(
    anna: LoggedIn, client: TestClient, db: Session, runtime: Runtime
) -> None:
    video = make_ready_video(db, anna.user, caption="только своим")
    set_private(db, anna.user)
    anna_id = anna.user.id
    boris = logged_in(client, db, "boris")
    boris_id = boris.user.id

    guest = TestClient(client.app).get("/@anna", headers=RU).text
    assert "Это закрытый аккаунт" in guest
    assert "Подпишитесь, чтобы смотреть видео этого автора." in guest
    assert "Закрытый аккаунт" in guest
    assert "data-grid" not in guest
    assert f"/video/{video.id}" not in guest
    assert 'href="/login?next=/%40anna">Запросить подписку</a>' in guest
    assert "0 подписчиков" in guest  # the header and its counts stay public

    page = boris.client.get("/@anna", headers=RU).text
    assert 'action="/@anna/follow"' in page
    assert 'name="action" value="follow"' in page
    assert ">Запросить подписку</button>" in page
    liked_tab = boris.client.get("/@anna?tab=liked", headers=RU).text
    assert "Это закрытый аккаунт" in liked_tab
    assert "data-grid" not in liked_tab

    asked = boris.client.post(
        "/@anna/follow", data={"csrf_token": boris.csrf, "action": "follow"}, follow_redirects=False
    )
    assert (asked.status_code, asked.headers["location"]) == (303, "/@anna")
    assert requesters(runtime, anna_id) == [boris_id]
    page = boris.client.get("/@anna", headers=RU).text
    assert ">Запрос отправлен</button>" in page
    assert 'name="action" value="unfollow"' in page
    assert "Это закрытый аккаунт" in page

    owner_page = anna.client.get("/@anna", headers=RU).text
    assert 'href="/follow-requests">Запросы на подписку <span class="pill-count">1</span>' in owner_page
    requests_page = anna.client.get("/follow-requests", headers=RU).text
    assert 'data-request="boris"' in requests_page
    assert 'action="/follow-requests/boris/approve"' in requests_page
    assert "Одобрить" in requests_page
    assert "Отклонить" in requests_page
    approved = anna.client.post(
        "/follow-requests/boris/approve", data={"csrf_token": anna.csrf}, follow_redirects=False
    )
    assert (approved.status_code, approved.headers["location"]) == (303, "/follow-requests")
    assert "Запросов на подписку нет." in anna.client.get("/follow-requests", headers=RU).text
    assert stored(runtime, anna_id).follower_count == 1

    page = boris.client.get("/@anna", headers=RU).text
    assert "Это закрытый аккаунт" not in page
    assert f"/@anna/video/{video.id}?source=profile" in page
    assert ">Отписаться</button>" in page
    left = boris.client.post(
        "/@anna/follow", data={"csrf_token": boris.csrf, "action": "unfollow"}, follow_redirects=False
    )
    assert left.status_code == 303
    assert "Это закрытый аккаунт" in boris.client.get("/@anna", headers=RU).text
    assert stored(runtime, anna_id).follower_count == 0


def test_declining_from_the_page_and_refusals(
    anna: LoggedIn, client: TestClient, db: Session, runtime: Runtime
) -> None:
    set_private(db, anna.user)
    anna_id = anna.user.id
    vera = logged_in(client, db, "vera")
    vera.client.post("/@anna/follow", data={"csrf_token": vera.csrf, "action": "follow"})
    assert requesters(runtime, anna_id) == [vera.user.id]
    declined = anna.client.post(
        "/follow-requests/vera/decline", data={"csrf_token": anna.csrf}, follow_redirects=False
    )
    assert (declined.status_code, declined.headers["location"]) == (303, "/follow-requests")
    assert requesters(runtime, anna_id) == []
    # Approving a request that is not there: the error page, in the reader's language.
    missing = anna.client.post(
        "/follow-requests/vera/approve", data={"csrf_token": anna.csrf}, headers={**HTML, **RU}
    )
    assert missing.status_code == 404
    assert "Этот человек не просил подписаться на вас." in missing.text
    own = anna.client.post("/@anna/follow", data={"csrf_token": anna.csrf, "action": "follow"}, headers=HTML)
    assert own.status_code == 422
    guest = TestClient(client.app).get("/follow-requests", follow_redirects=False)
    assert (guest.status_code, guest.headers["location"]) == (303, "/login?next=/follow-requests")
    public = logged_in(client, db, "gleb").client.get("/follow-requests", headers=RU).text
    assert "Ваш аккаунт открыт" in public


def test_a_private_accounts_video_page_and_embed(
    anna: LoggedIn, client: TestClient, db: Session, runtime: Runtime
) -> None:
    video = make_ready_video(db, anna.user, caption="для своих")
    boris = logged_in(client, db, "boris")
    boris.client.post("/@anna/follow", data={"csrf_token": boris.csrf, "action": "follow"})
    set_private(db, anna.user)
    path = f"/@anna/video/{video.id}"
    stranger = TestClient(client.app)
    assert stranger.get(path, headers=HTML).status_code == 404
    response = boris.client.get(path, headers=HTML)
    assert response.status_code == 200
    tags = meta_tags(response.text)
    assert "og:video" not in tags
    assert "og:image" not in tags
    assert "twitter:player" not in tags
    assert tags["twitter:card"] == "summary"
    assert re.search(rf'src="/media/videos/{video.id}/run1/480p\.mp4\?[^"]*signature=', response.text)
    for viewer in (stranger, boris.client, anna.client):
        assert viewer.get(f"/embed/{video.id}", headers=HTML).status_code == 404
    # The profile page of a private account costs a guest no more than its header.
    with count_queries(runtime.db.engine) as statements:
        assert stranger.get("/@anna").status_code == 200
    assert len(statements) <= 2, statements
