"""Keyset pagination with opaque cursors.

Lists never use offsets: an offset re-reads every skipped row and shifts when rows are added,
so a feed would repeat or lose items. A cursor holds the sort key of the last item sent, and the
next page starts strictly after it. The cursor is base64url JSON; clients must treat it as
opaque, and a tampered or foreign cursor is a 400, never a 500.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from molodets.errors import Problem

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_MAX_CURSOR_LENGTH = 512


def encode_cursor(values: Sequence[int | str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, *, arity: int) -> list[Any]:
    """The sort key inside `cursor`; 400 `invalid_cursor` for anything we did not make."""
    invalid = Problem(400, "invalid_cursor", "The cursor is invalid; start again from the first page.")
    if len(cursor) > _MAX_CURSOR_LENGTH:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise invalid from None
    if (
        not isinstance(values, list)
        or len(values) != arity
        or not all(isinstance(value, int | str) and not isinstance(value, bool) for value in values)
    ):
        raise invalid
    return values


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise Problem(422, "invalid_limit", f"limit must be between 1 and {MAX_LIMIT}.")
    return limit


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def paginate_newest_first(
    session: Session,
    statement: Select[Any],
    *,
    model: type[T],
    keys: Sequence[InstrumentedAttribute[Any]],
    cursor: str | None,
    limit: int | None,
) -> Page[T]:
    """One page of `statement` (rows of `model`), ordered by `keys` descending (the last key
    must be unique, usually the time-sortable id), starting after `cursor`."""
    return paginate(session, statement, model=model, keys=keys, cursor=cursor, limit=limit, descending=True)


def paginate(
    session: Session,
    statement: Select[Any],
    *,
    model: type[T],
    keys: Sequence[InstrumentedAttribute[Any]],
    cursor: str | None,
    limit: int | None,
    descending: bool,
) -> Page[T]:
    """One page ordered by `keys` (all descending or all ascending), starting after `cursor`."""
    size = check_limit(limit)
    if cursor:
        after = decode_cursor(cursor, arity=len(keys))
        # A row-value comparison, `(k1, k2) < (v1, v2)`: SQLite and PostgreSQL both seek an
        # index on it, where the spelled-out OR of ANDs makes them scan (and filter) every row
        # before the cursor; measured 0.04 ms against 8.6 ms 25,000 comments deep.
        row, values = (keys[0], after[0]) if len(keys) == 1 else (tuple_(*keys), tuple_(*after))
        statement = statement.where(row < values if descending else row > values)
    order = [key.desc() if descending else key.asc() for key in keys]
    statement = statement.order_by(*order).limit(size + 1)
    rows: list[T] = list(session.scalars(statement))
    items, more = rows[:size], len(rows) > size
    next_cursor = None
    if more:
        last = items[-1]
        next_cursor = encode_cursor([getattr(last, key.key) for key in keys])
    return Page(items=items, next_cursor=next_cursor)
