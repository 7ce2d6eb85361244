"""Rate limits on the doors attackers knock on: sign-up, login, token creation.

Moving windows from `limits`, kept where every web process of the installation counts against
the same window: in Redis when configured, else in a small SQLite file of the data dir (the
embedded mode may run several web processes; windows in each process's memory would let a client
spreading over N of them try N times as many passwords). `MOLODETS_RATE_LIMITS=off` disables them
for load tests. An exhausted limit is answered with 429 and `Retry-After`.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from limits import RateLimitItem, parse
from limits.storage import MovingWindowSupport, RedisStorage, Storage
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
            self._storage = FileStorage(settings.rate_limit_path)
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
        if isinstance(self._storage, FileStorage):
            self._storage.close()

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


class FileStorage(Storage, MovingWindowSupport):
    """Moving windows in one SQLite file shared by the processes of one data dir.

    One row per counted hit (with its cost: an event batch is one hit of up to 100);
    `BEGIN IMMEDIATE` makes "count the window, then add to it" one step across processes.
    Fixed windows are not offered: Molodets counts moving windows only.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._path = path
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        with self._transaction() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS hits"
                " (key TEXT NOT NULL, at REAL NOT NULL, expires REAL NOT NULL, amount INTEGER NOT NULL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS hits_key_at ON hits (key, at)")
            db.execute("CREATE INDEX IF NOT EXISTS hits_expires ON hits (expires)")

    def _open(self) -> sqlite3.Connection:
        """The connection, opened again after `close`: like the engine after `dispose`, a closed
        runtime's limiter still works if used again (an app's shutdown closes its runtime)."""
        if self._connection is None:
            self._connection = sqlite3.connect(
                self._path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")
        return self._connection

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = self._open()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        with self._transaction() as db:
            db.execute("DELETE FROM hits WHERE expires <= ?", (now,))
            (count,) = db.execute(
                "SELECT total(amount) FROM hits WHERE key = ? AND at > ?", (key, now - expiry)
            ).fetchone()
            if count + amount > limit:
                return False
            db.execute("INSERT INTO hits VALUES (?, ?, ?, ?)", (key, now, now + expiry, amount))
        return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        with self._lock:
            db = self._open()
            oldest, count = db.execute(
                "SELECT min(at), total(amount) FROM hits WHERE key = ? AND at > ?", (key, now - expiry)
            ).fetchone()
        return (float(oldest), int(count)) if count else (now, 0)

    def clear(self, key: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM hits WHERE key = ?", (key,))

    def reset(self) -> int:
        with self._transaction() as db:
            return int(db.execute("DELETE FROM hits").rowcount)

    def check(self) -> bool:
        with self._lock:
            row = self._open().execute("SELECT 1").fetchone()
        return bool(row == (1,))

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError("fixed windows: Molodets counts moving windows only")

    def get(self, key: str) -> int:
        raise NotImplementedError("fixed windows: Molodets counts moving windows only")

    def get_expiry(self, key: str) -> float:
        raise NotImplementedError("fixed windows: Molodets counts moving windows only")
