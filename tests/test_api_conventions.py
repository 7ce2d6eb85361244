"""API conventions: problem+json for every error, no 500 for bad input, request ids, health,
metrics and OpenAPI."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from tests.factories.accounts import log_in, make_user

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def assert_problem(response: object, status: int, code: str) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["code"] == code


def test_malformed_json_is_400_problem(client: TestClient) -> None:
    response = client.post(
        "/api/v1/accounts", content=b'{"username": "x", ', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "malformed_json")


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'"just a string"',
        b'{"username": 5, "password": []}',
        b'{"username": "ok"}',
        b'{"username": "ok", "password": "long enough pw", "surprise": 1}',
        b"null",
    ],
)
def test_wrong_shapes_are_422_problem(client: TestClient, body: bytes) -> None:
    response = client.post("/api/v1/accounts", content=body, headers={"content-type": "application/json"})
    assert_problem(response, 422, "validation_error")
    assert response.json()["errors"]


def test_oversize_json_body_is_413(client: TestClient) -> None:
    huge = b'{"username": "' + b"a" * (2 * 1024 * 1024) + b'", "password": "x"}'
    response = client.post("/api/v1/accounts", content=huge, headers={"content-type": "application/json"})
    assert_problem(response, 413, "payload_too_large")


def test_oversize_body_without_content_length_is_413(client: TestClient) -> None:
    def chunks() -> object:
        for _ in range(40):
            yield b"x" * 64 * 1024

    response = client.post("/api/v1/accounts", content=chunks(), headers={"content-type": "application/json"})
    assert_problem(response, 413, "payload_too_large")


def test_unknown_route_and_method_are_problems(client: TestClient) -> None:
    assert_problem(client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_problem(client.put("/api/v1/accounts"), 405, "method_not_allowed")


def test_token_ids_that_are_not_numbers_are_404(client: TestClient, db: Session) -> None:
    make_user(db, username="ids")
    csrf = log_in(client, "ids")
    for bad in ("abc", "-1", "99999999999999999999999", "1.5"):
        assert_problem(
            client.delete(f"/api/v1/tokens/{bad}", headers={"X-CSRF-Token": csrf}), 404, "not_found"
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payload=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=40),
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
        ),
        max_leaves=12,
    ),
    path=st.sampled_from(["/api/v1/accounts", "/api/v1/sessions", "/api/v1/tokens"]),
)
def test_no_json_payload_causes_a_500(client: TestClient, payload: object, path: str) -> None:
    response = client.post(path, json=payload)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert "Traceback" not in response.text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300))
def test_no_raw_body_causes_a_500(client: TestClient, raw: bytes) -> None:
    for path in ("/api/v1/accounts", "/api/v1/sessions"):
        response = client.post(path, content=raw, headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500, response.text


def test_request_id_is_returned_and_kept_when_given(client: TestClient) -> None:
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) >= 8
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123-def"}).headers["x-request-id"]
        == "abc-123-def"
    )
    # Garbage is replaced, not echoed into logs and headers.
    assert client.get("/healthz", headers={"X-Request-ID": "<script>"}).headers["x-request-id"] != "<script>"


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert {name for name, check in ready.json()["checks"].items() if check["ok"]} == {
        "database",
        "jobs",
        "storage",
    }


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/api/v1/users/someone")
    client.get("/api/v1/users/someone_else")
    text = client.get("/metrics").text
    assert 'molodets_http_requests_total{method="GET",route="/api/v1/users/{username}",status="404"}' in text
    assert "molodets_http_request_seconds_bucket" in text
    assert "someone_else" not in text


def test_openapi_lists_the_core_endpoints(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    paths = spec["paths"]
    for path, method in [
        ("/api/v1/accounts", "post"),
        ("/api/v1/sessions", "post"),
        ("/api/v1/sessions/current", "delete"),
        ("/api/v1/tokens", "post"),
        ("/api/v1/tokens", "get"),
        ("/api/v1/tokens/{token_id}", "delete"),
        ("/api/v1/me", "get"),
        ("/api/v1/me", "patch"),
        ("/api/v1/users/{username}", "get"),
    ]:
        assert method in paths[path], (path, method)
    assert client.get("/api/docs").status_code == 200
