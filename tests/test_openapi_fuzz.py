"""Schemathesis generates requests from our own OpenAPI description, valid and invalid, and
sends them to the app logged in by Bearer token: no request may produce a 500."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from sqlalchemy.orm import Session

from molodets.accounts import service
from molodets.app import create_app
from molodets.runtime import Runtime
from tests.factories.accounts import make_user


def test_no_generated_request_causes_a_server_error(runtime: Runtime, db: Session) -> None:
    user = make_user(db, username="fuzzer")
    _, token = service.do_create_token(db, user=user, name="fuzz")
    db.commit()
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", create_app(runtime))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    cases = st.one_of(
        [operation.as_strategy(generation_mode=mode) for operation in operations for mode in GenerationMode]
    )

    # The pytest plugin of schemathesis does not support pytest 9 yet, so Hypothesis drives it.
    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=cases)
    def check(case: schemathesis.Case) -> None:
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"

    check()
