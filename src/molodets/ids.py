"""64-bit time-sortable IDs (Snowflake layout), unique across processes without coordination.

Layout, high to low: 41 bits of milliseconds since 2025-01-01 (good until 2094), 10 bits of
process id, 12 bits of sequence within the millisecond. IDs sort by creation time, so a
cursor over an ID column is a cursor over time, and they fit a signed BIGINT.
"""

from __future__ import annotations

import os
import secrets
import threading
import time

EPOCH_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
NODE_BITS = 10
SEQUENCE_BITS = 12
MAX_NODE = (1 << NODE_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
MAX_ID = (1 << 63) - 1  # a signed BIGINT
ID_PATTERN = r"^[0-9]{1,19}$"


class IdGenerator:
    def __init__(self, node: int) -> None:
        if not 0 <= node <= MAX_NODE:
            raise ValueError(f"node must be in 0..{MAX_NODE}")
        self._node = node
        self._lock = threading.Lock()
        self._last_ms = 0
        self._sequence = 0

    def next_id(self) -> int:
        with self._lock:
            now = max(int(time.time() * 1000) - EPOCH_MS, self._last_ms)
            if now == self._last_ms:
                self._sequence = (self._sequence + 1) & MAX_SEQUENCE
                if self._sequence == 0:
                    # 4,096 IDs in one millisecond: borrow the next millisecond rather than repeat.
                    now += 1
            else:
                self._sequence = 0
            # A clock stepped backwards never makes IDs go backwards: we keep counting from _last_ms.
            self._last_ms = now
            return (now << (NODE_BITS + SEQUENCE_BITS)) | (self._node << SEQUENCE_BITS) | self._sequence


def configured_node() -> int | None:
    """MOLODETS_NODE_ID, or None when unset; ValueError names what is wrong with it."""
    configured = os.environ.get("MOLODETS_NODE_ID", "").strip()
    if not configured:
        return None
    if not configured.isdigit() or int(configured) > MAX_NODE:
        raise ValueError(f"must be a whole number from 0 to {MAX_NODE}")
    return int(configured)


def _node_from_environment() -> int:
    try:
        configured = configured_node()
    except ValueError:
        configured = None  # load_settings refuses to start with it, in one line
    if configured is not None:
        return configured
    # Random per process: two processes collide only if they share a node *and* a millisecond
    # *and* a sequence number; a deployment that wants certainty sets MOLODETS_NODE_ID.
    return secrets.randbelow(MAX_NODE + 1)


_generator = IdGenerator(_node_from_environment())


def _reseed_after_fork() -> None:
    global _generator
    _generator = IdGenerator(_node_from_environment())


# Forked workers (gunicorn, multiprocessing) must not share the parent's node and sequence.
os.register_at_fork(after_in_child=_reseed_after_fork)


def new_id() -> int:
    return _generator.next_id()


def id_timestamp_ms(value: int) -> int:
    """Epoch milliseconds at which an ID was made."""
    return (value >> (NODE_BITS + SEQUENCE_BITS)) + EPOCH_MS


def first_id_at(ms: int) -> int:
    """The smallest ID made at or after epoch millisecond `ms`: IDs below it are older (a time
    cutoff over an ID column, its primary key)."""
    return max(ms - EPOCH_MS, 0) << (NODE_BITS + SEQUENCE_BITS)


def parse_id(raw: str) -> int | None:
    """The id an id's text (in a URL or a body) names, or None if it cannot be one: a number
    past a BIGINT would overflow in the database (a 500), where the client deserves a 404 or a
    422. Only ASCII digits: `int` refuses some characters `isdigit` accepts ("²")."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        return None
    value = int(raw)
    return value if value <= MAX_ID else None


def check_id_text(raw: str) -> str:
    """A pydantic validator (`AfterValidator`) of an id in a body: 422 for one that cannot be."""
    if parse_id(raw) is None:
        raise ValueError("not an id: up to 19 digits, at most 9223372036854775807")
    return raw
