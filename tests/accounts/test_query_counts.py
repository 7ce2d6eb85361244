"""Read paths run a fixed number of queries, however much data there is."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from molodets.accounts import service
from molodets.runtime import Runtime
from tests.factories.accounts import make_user
from tests.querycount import count_queries


def test_profile_and_me_take_one_query_each(client: TestClient, db: Session, runtime: Runtime) -> None:
    user = make_user(db, username="counted")
    for number in range(30):
        service.do_create_token(db, user=user, name=f"t{number}")
    _, secret = service.do_create_token(db, user=user, name="reader")
    db.commit()
    bearer = {"Authorization": f"Bearer {secret}"}
    with count_queries(runtime.db.engine) as profile:
        assert client.get("/api/v1/users/counted").status_code == 200
    with count_queries(runtime.db.engine) as me:
        assert client.get("/api/v1/me", headers=bearer).status_code == 200
    with count_queries(runtime.db.engine) as tokens:
        assert client.get("/api/v1/tokens", params={"limit": 50}, headers=bearer).status_code == 200
    assert len(profile) == 1, profile
    assert len(me) == 1, me  # the token and its user in one join
    assert len(tokens) == 2, tokens  # authentication, then one page
