"""Rate-limit windows without Redis live in a SQLite file of the data dir, so that every process of
one installation counts against the same window (the embedded mode may run several)."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from molodets.errors import Problem
from molodets.ratelimit import RateLimiter, rule
from molodets.settings import load_settings

ATTEMPTS = rule("test-attempts", "5/hour", code="too_many_attempts")


def _limiter(data_dir: Path) -> RateLimiter:
    return RateLimiter(load_settings(data_dir=data_dir, redis_url=None))


def _allowed(data_dir: str, attempts: int) -> int:
    """One process's share of a race: how many of its attempts the shared window let through."""
    limiter = _limiter(Path(data_dir))
    allowed = 0
    for _ in range(attempts):
        try:
            limiter.hit(rule("race", "40/hour"), "client")
            allowed += 1
        except Problem:
            pass
    limiter.close()
    return allowed


def test_limiters_over_one_data_dir_count_against_the_same_window(tmp_path: Path) -> None:
    first, second = _limiter(tmp_path), _limiter(tmp_path)
    for limiter in (first, second, first, second, first):
        limiter.hit(ATTEMPTS, "account-1")
    second.hit(ATTEMPTS, "account-2")  # another key has a window of its own
    with pytest.raises(Problem) as refused:
        second.check(ATTEMPTS, "account-1")
    assert refused.value.status == 429
    assert refused.value.code == "too_many_attempts"
    retry_after = int(refused.value.headers["Retry-After"])
    assert 3590 <= retry_after <= 3600  # the window opens again an hour after its oldest attempt
    with pytest.raises(Problem):
        first.hit(ATTEMPTS, "account-1")
    first.clear(ATTEMPTS, "account-1")  # a successful login forgets the failures
    second.hit(ATTEMPTS, "account-1")
    first.close()
    second.close()


def test_the_window_moves(tmp_path: Path) -> None:
    limiter = _limiter(tmp_path)
    per_second = rule("test-fast", "2/second")
    limiter.hit(per_second, "client")
    limiter.hit(per_second, "client")
    with pytest.raises(Problem):
        limiter.hit(per_second, "client")
    time.sleep(1.05)
    limiter.hit(per_second, "client")
    limiter.reset()
    limiter.hit(per_second, "client")
    limiter.close()
    # An app's shutdown closes its runtime; a runtime used again (tests do) counts on.
    limiter.hit(per_second, "client")
    with pytest.raises(Problem):
        limiter.hit(per_second, "client")
    limiter.close()


def test_processes_racing_for_one_window_get_exactly_its_limit(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=3, mp_context=context) as pool:
        shares = list(pool.map(_allowed, [str(tmp_path)] * 3, [30] * 3))
    assert sum(shares) == 40, shares
