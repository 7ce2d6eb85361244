"""Rate limits on the doors attackers knock on: sign-up, login, token creation.

Moving windows from `limits`: in memory in the embedded mode, in Redis when configured so that
every web process counts against the same window. `MOLODETS_RATE_LIMITS=off` disables them for
load tests. An exhausted limit is answered with 429 and `Retry-After`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from molodets.errors import Problem
from molodets.settings import Settings


@dataclass(frozen=True)
class Rule:
    name: str
    limit: RateLimitItem
    code: str = "rate_limited"
    message: str = "Too many requests; try again later."


def rule(name: str, spec: str, *, code: str = "rate_limited", message: str | None = None) -> Rule:
    return Rule(name, parse(spec), code, message or "Too many requests; try again later.")


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limits == "on"
        self._storage: Storage
        if settings.redis_url:
            self._storage = RedisStorage(settings.redis_url, key_prefix=f"{settings.redis_prefix}:limits")
        else:
            self._storage = MemoryStorage()
        self._strategy = MovingWindowRateLimiter(self._storage)

    def hit(self, rule: Rule, *identifiers: str, cost: int = 1) -> None:
        """Count one attempt (or `cost` of them at once); raise 429 if it goes over the limit."""
        if self.enabled and not self._strategy.hit(rule.limit, rule.name, *identifiers, cost=cost):
            raise self._refusal(rule, identifiers)

    def check(self, rule: Rule, *identifiers: str) -> None:
        """Raise 429 if the limit is already spent, without counting (a lock-out check)."""
        if self.enabled and not self._strategy.test(rule.limit, rule.name, *identifiers):
            raise self._refusal(rule, identifiers)

    def clear(self, rule: Rule, *identifiers: str) -> None:
        self._strategy.clear(rule.limit, rule.name, *identifiers)

    def reset(self) -> None:
        """Forget every window (tests, and an operator lifting a lock-out)."""
        self._storage.reset()

    def close(self) -> None:
        if isinstance(self._storage, MemoryStorage):
            # MemoryStorage runs a timer thread that expires keys; stop it with the runtime.
            timer = getattr(self._storage, "timer", None)
            if timer is not None:
                timer.cancel()

    def _refusal(self, rule: Rule, identifiers: tuple[str, ...]) -> Problem:
        reset_at, _remaining = self._strategy.get_window_stats(rule.limit, rule.name, *identifiers)
        retry_after = max(1, math.ceil(reset_at - time.time()))
        return Problem(
            429,
            rule.code,
            rule.message,
            headers={"Retry-After": str(retry_after)},
            extra={"retry_after": retry_after},
        )
