"""Short spellings of tus requests for TestClient tests."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from fastapi.testclient import TestClient

from tests.uploads.conftest import Account
from tests.uploads.support import TUS

OCTETS = "application/offset+octet-stream"
# TestClient answers with httpx2 responses, live tests with httpx ones: the same interface.
Response = Any


def metadata(**values: str) -> str:
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items())


def create(
    client: TestClient,
    account: Account,
    length: int,
    *,
    meta: str | None = None,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    sent = {**TUS, **account.auth, "Upload-Length": str(length), **(headers or {})}
    if meta is not None:
        sent["Upload-Metadata"] = meta
    if body is not None:
        sent["Content-Type"] = OCTETS
    return client.post("/api/v1/uploads", headers=sent, content=body)


def upload_id(response: Response) -> int:
    assert response.status_code == 201, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def new_upload(client: TestClient, account: Account, length: int, **kwargs: Any) -> int:
    return upload_id(create(client, account, length, **kwargs))


def patch(
    client: TestClient,
    account: Account,
    upload: int,
    offset: int,
    data: Any,
    headers: Mapping[str, str] | None = None,
) -> Response:
    sent = {**TUS, **account.auth, "Content-Type": OCTETS, "Upload-Offset": str(offset), **(headers or {})}
    return client.patch(f"/api/v1/uploads/{upload}", headers=sent, content=data)


def head(client: TestClient, account: Account, upload: int) -> Response:
    return client.head(f"/api/v1/uploads/{upload}", headers={**TUS, **account.auth})


def assert_problem(response: Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    if response.request.method == "HEAD":
        return  # no body to read
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code


def assert_tus_problem(response: Response, status: int, code: str) -> None:
    """A problem+json answer that still speaks tus."""
    assert_problem(response, status, code)
    assert response.headers["tus-resumable"] == "1.0.0"
