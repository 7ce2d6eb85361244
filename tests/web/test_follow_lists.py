"""The followers and following pages: who is listed and in which order, the viewer's Follow
buttons, paging by the "More" link, blocks (404), private accounts (a page that says so), and a
query count that does not grow with the page."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.runtime import Runtime
from molodets.social import lists_pages
from molodets.social import service as social
from tests.factories.accounts import make_user
from tests.querycount import count_queries
from tests.web.conftest import EN, HTML, RU, LoggedIn

PERSON = re.compile(r'<a class="person-link" href="/@([^"]+)">')
MORE = re.compile(r'href="(/@[^"]+\?cursor=[^"]+)" rel="next" data-list-more')


def listed(html: str) -> list[str]:
    return PERSON.findall(html)


def follow(db: Session, follower: User, followee: User) -> None:
    social.do_follow(db, follower=follower, followee=followee)
    db.commit()


def test_followers_and_following_newest_first_with_the_viewers_buttons(anna: LoggedIn, db: Session) -> None:
    boris, vera, gleb = (make_user(db, username=name) for name in ("boris", "vera", "gleb"))
    follow(db, boris, gleb)
    follow(db, vera, gleb)
    follow(db, gleb, anna.user)  # gleb follows anna: his row in anna's lists says so
    follow(db, anna.user, vera)
    follow(db, gleb, boris)

    page = anna.client.get("/@gleb/followers", headers=EN)
    assert page.status_code == 200
    assert listed(page.text) == ["vera", "boris"]
    assert '<h1 id="list-title">Followers</h1>' in page.text
    # anna follows vera already, not boris: the buttons say so.
    assert 'data-follow-toggle="vera" data-state="following"' in page.text
    assert 'data-follow-toggle="boris" data-state="none"' in page.text

    following = anna.client.get("/@gleb/following", headers=EN).text
    assert listed(following) == ["boris", "anna"]
    assert 'data-follow-toggle="anna"' not in following  # no button for oneself
    assert 'class="person-badge"' not in following
    mine = anna.client.get("/@anna/followers", headers=EN).text
    assert listed(mine) == ["gleb"]
    assert '<span class="person-badge">Follows you</span>' in mine

    # A guest gets links to log in instead of buttons; Russian by the browser's language.
    guest = TestClient(anna.client.app).get("/@gleb/followers", headers=RU).text
    assert "data-follow-toggle" not in guest
    assert 'href="/login?next=/@gleb/followers"' in guest
    assert "Подписчики</h1>" in guest
    assert "2 подписчика" in guest

    config = re.search(r'<script type="application/json" id="list-config">(.*?)</script>', page.text)
    assert config
    assert json.loads(config.group(1))["api"] == "/api/v1/users/gleb/followers"


def test_empty_lists_and_unknown_people(anna: LoggedIn) -> None:
    assert "No followers yet." in anna.client.get("/@anna/followers", headers=EN).text
    assert "Not following anyone yet." in anna.client.get("/@anna/following", headers=EN).text
    missing = anna.client.get("/@nobody/followers", headers={**HTML, **EN})
    assert missing.status_code == 404
    assert "There is no such user." in missing.text
    moved = anna.client.get("/@Anna/following", follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (301, "/@anna/following")


def test_profile_counts_link_to_the_lists(anna: LoggedIn) -> None:
    page = TestClient(anna.client.app).get("/@anna", headers=EN).text
    assert 'href="/@anna/followers"' in page
    assert 'href="/@anna/following"' in page


def test_more_link_pages_through_the_list(
    anna: LoggedIn, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lists_pages, "LIST_PAGE", 2)
    fans = [make_user(db, username=f"fan{n}") for n in range(5)]
    for fan in fans:
        follow(db, fan, anna.user)
    seen: list[str] = []
    url: str | None = "/@anna/followers"
    pages = 0
    while url:
        html = anna.client.get(url, headers=RU).text
        seen += listed(html)
        pages += 1
        if pages > 1:
            assert "К началу списка" in html
        found = MORE.search(html)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert seen == [f"fan{n}" for n in reversed(range(5))]
    assert pages == 3
    assert anna.client.get("/@anna/followers?cursor=garbage", headers=RU).status_code == 400


def test_a_profile_that_blocked_the_viewer_has_no_lists(anna: LoggedIn, db: Session) -> None:
    troll = make_user(db, username="troll")
    social.do_block(db, blocker=troll, blocked=anna.user)
    db.commit()
    for kind in ("followers", "following"):
        assert anna.client.get(f"/@troll/{kind}", headers={**HTML, **EN}).status_code == 404
        assert TestClient(anna.client.app).get(f"/@troll/{kind}").status_code == 200


def test_a_private_accounts_lists_are_for_its_approved_followers(anna: LoggedIn, db: Session) -> None:
    from molodets.social import privacy

    secret, friend = make_user(db, username="secret"), make_user(db, username="friend")
    follow(db, friend, secret)
    privacy.do_set_private(db, user=secret, private=True)
    db.commit()
    refused = anna.client.get("/@secret/followers", headers=EN)
    assert refused.status_code == 403
    assert "This account is private. Only the followers it approved can see this list." in refused.text
    assert listed(refused.text) == []
    russian = TestClient(anna.client.app).get("/@secret/following", headers=RU)
    assert russian.status_code == 403
    assert "закрытый аккаунт" in russian.text
    follow(db, anna.user, friend)
    privacy.do_set_private(db, user=secret, private=False)  # anna may look once it is public
    db.commit()
    assert listed(anna.client.get("/@secret/followers").text) == ["friend"]


@pytest.mark.parametrize("logged_in", [False, True])
def test_query_count_does_not_grow_with_the_page(
    anna: LoggedIn, db: Session, runtime: Runtime, logged_in: bool
) -> None:
    star = make_user(db, username="star")
    reader = anna.client if logged_in else TestClient(anna.client.app)

    def queries() -> int:
        with count_queries(runtime.db.engine) as statements:
            assert reader.get("/@star/followers").status_code == 200
        return len(statements)

    follow(db, make_user(db), star)
    one = queries()
    for _ in range(4):
        follow(db, make_user(db), star)
    many = queries()
    assert many == one
    assert len(listed(reader.get("/@star/followers").text)) == 5
