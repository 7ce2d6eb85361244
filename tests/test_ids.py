"""64-bit time-sortable IDs."""

from __future__ import annotations

import threading
import time

from molodets.ids import IdGenerator, id_timestamp_ms, new_id


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
