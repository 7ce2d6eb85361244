"""64-bit time-sortable IDs."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from molodets.ids import MAX_ID, IdGenerator, id_timestamp_ms, new_id, parse_id
from tests.factories.accounts import bearer, make_user


def test_ids_are_unique_and_increasing_across_threads() -> None:
    generator = IdGenerator(node=7)
    results: list[list[int]] = [[] for _ in range(4)]

    def make(bucket: list[int]) -> None:
        bucket.extend(generator.next_id() for _ in range(20_000))

    threads = [threading.Thread(target=make, args=(bucket,)) for bucket in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [value for bucket in results for value in bucket]
    assert len(set(every)) == len(every)
    for bucket in results:
        assert bucket == sorted(bucket)


def test_ids_fit_a_signed_bigint_and_carry_their_time() -> None:
    before = int(time.time() * 1000)
    value = new_id()
    after = int(time.time() * 1000)
    assert 0 < value < 2**63
    assert before <= id_timestamp_ms(value) <= after + 1


def test_burst_beyond_the_sequence_borrows_the_next_millisecond() -> None:
    generator = IdGenerator(node=1)
    burst = [generator.next_id() for _ in range(10_000)]
    assert len(set(burst)) == len(burst)
    assert burst == sorted(burst)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("0009", 9),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), None),  # 19 digits, past a BIGINT
        ("9" * 19, None),
        ("1" * 20, None),
        ("", None),
        ("12x", None),
        ("-5", None),
        ("²", None),  # isdigit says yes, int says no
        ("٣", None),  # a digit, not an ASCII one
    ],
)
def test_id_text_names_an_id_only_within_a_bigint(text: str, expected: int | None) -> None:
    assert parse_id(text) == expected


def test_ids_past_a_bigint_are_not_found_not_a_server_error(client: TestClient, db: Session) -> None:
    """A number the database cannot hold reached it: OverflowError, a 500 (found by the fuzzer)."""
    headers = bearer(db, make_user(db))
    for path in (f"/api/v1/videos/{MAX_ID + 1}", "/api/v1/videos/²", f"/api/v1/uploads/{MAX_ID + 1}"):
        response = client.get(path, headers=headers)
        assert response.status_code == 404, (path, response.text)
    for body, url in (
        ({"upload_id": str(10**19)}, "/api/v1/videos"),
        ({"upload_id": "٣"}, "/api/v1/videos"),
    ):
        response = client.post(url, json=body, headers=headers)
        assert (response.status_code, response.json()["code"]) == (422, "validation_error"), response.text
