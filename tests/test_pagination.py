"""Keyset pagination: pages join up to the whole list, with no repeats, under any page size,
and bad cursors are clear 400s."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from molodets.accounts import service
from molodets.accounts.models import ApiToken
from molodets.errors import Problem
from molodets.pagination import decode_cursor, encode_cursor, paginate_newest_first
from tests.factories.accounts import make_user


def test_cursor_round_trip() -> None:
    assert decode_cursor(encode_cursor([123, "abc"]), arity=2) == [123, "abc"]


@pytest.mark.parametrize(
    "bad", ["", "!!!", "bm90IGpzb24", encode_cursor([1]), encode_cursor([True, 2]), "A" * 600]
)
def test_bad_cursors_are_400(bad: str) -> None:
    with pytest.raises(Problem) as caught:
        decode_cursor(bad, arity=2)
    assert (caught.value.status, caught.value.code) == (400, "invalid_cursor")


@pytest.mark.parametrize("page_size", [1, 2, 3, 7, 30])
def test_pages_cover_everything_once_newest_first(db: Session, page_size: int) -> None:
    user = make_user(db, username="pager")
    for number in range(13):
        service.do_create_token(db, user=user, name=f"t{number}")
    db.commit()
    expected = list(db.scalars(select(ApiToken.id).order_by(ApiToken.id.desc())))
    seen: list[int] = []
    cursor = None
    while True:
        page = paginate_newest_first(
            db, select(ApiToken), model=ApiToken, keys=[ApiToken.id], cursor=cursor, limit=page_size
        )
        seen.extend(token.id for token in page.items)
        assert len(page.items) <= page_size
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected


def test_two_key_ordering(db: Session) -> None:
    user = make_user(db, username="twokeys")
    for name in ["b", "a", "b", "c", "a", "b"]:
        service.do_create_token(db, user=user, name=name)
    db.commit()
    expected = [
        token.id for token in db.scalars(select(ApiToken).order_by(ApiToken.name.desc(), ApiToken.id.desc()))
    ]
    seen, cursor = [], None
    while True:
        page = paginate_newest_first(
            db, select(ApiToken), model=ApiToken, keys=[ApiToken.name, ApiToken.id], cursor=cursor, limit=2
        )
        seen.extend(token.id for token in page.items)
        if (cursor := page.next_cursor) is None:
            break
    assert seen == expected


def test_token_list_endpoint_pages(client: TestClient, db: Session) -> None:
    user = make_user(db, username="lister")
    for number in range(5):
        service.do_create_token(db, user=user, name=f"t{number}")
    db.commit()
    _, secret = service.do_create_token(db, user=user, name="reader")
    db.commit()
    bearer = {"Authorization": f"Bearer {secret}"}
    first = client.get("/api/v1/tokens", params={"limit": 4}, headers=bearer).json()
    assert [item["name"] for item in first["items"]] == ["reader", "t4", "t3", "t2"]
    second = client.get(
        "/api/v1/tokens", params={"limit": 4, "cursor": first["next_cursor"]}, headers=bearer
    ).json()
    assert [item["name"] for item in second["items"]] == ["t1", "t0"]
    assert second["next_cursor"] is None
    bad = client.get("/api/v1/tokens", params={"cursor": "garbage!"}, headers=bearer)
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_cursor")
    too_many = client.get("/api/v1/tokens", params={"limit": 1000}, headers=bearer)
    assert (too_many.status_code, too_many.json()["code"]) == (422, "invalid_limit")
