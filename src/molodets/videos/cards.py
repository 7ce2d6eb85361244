"""Video cards: the API shape of a public video of a public account, the same for every viewer,
kept a few seconds per process, so a feed page is answered from memory instead of loading
each video, its author and its renditions again for every viewer who is shown it.

A card is never a reason to show a video: the feed decides what is visible to whom for every
page, and only then asks for cards. What a card may hold stale, for up to `CARD_SECONDS`, is
what the owner edits (caption, cover, display name) and the counts. Links of a public video of
a public account do not expire (`schemas.media_expires_in`), so none goes stale in a card.
Anything else (a private account's video, a followers-only one) is built afresh every time."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

import orjson
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.pagination import Page
from molodets.storage import Storage
from molodets.videos.queries import authors_of, by_ids, video_outs, viewer_states
from molodets.videos.schemas import media_expires_in

CARD_SECONDS = 30.0
CARD_CAPACITY = 20_000  # cards kept per process (a card is about 1.5 KB)


class CardCache:
    """Cards by video id, least recently used first out, each for `CARD_SECONDS`."""

    def __init__(
        self, storage: Storage, *, seconds: float = CARD_SECONDS, capacity: int = CARD_CAPACITY
    ) -> None:
        self._storage = storage
        self._seconds = seconds
        self._capacity = capacity
        self._cards: OrderedDict[int, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def cards(self, session: Session, video_ids: list[int]) -> dict[int, dict[str, Any]]:
        """The JSON-ready `VideoOut` (its `viewer` null) of each of `video_ids` that exists; the
        missing cards are built in three queries whatever their number."""
        now = time.monotonic()
        found: dict[int, dict[str, Any]] = {}
        with self._lock:
            for video_id in video_ids:
                held = self._cards.get(video_id)
                if held is not None and held[0] > now:
                    self._cards.move_to_end(video_id)
                    found[video_id] = held[1]
        missing = [video_id for video_id in video_ids if video_id not in found]
        if not missing:
            return found
        built = self._build(session, missing)
        found.update((video_id, card) for video_id, (card, _) in built.items())
        with self._lock:
            for video_id, (card, shared) in built.items():
                if shared:
                    self._cards[video_id] = (now + self._seconds, card)
                    self._cards.move_to_end(video_id)
            # The least recently used go first, and so do expired ones, so memory follows the
            # videos shown lately, not every video ever shown (up to the capacity).
            while self._cards and (
                len(self._cards) > self._capacity or next(iter(self._cards.values()))[0] <= now
            ):
                self._cards.popitem(last=False)
        return found

    def page_json(self, session: Session, page: Page[int], *, viewer: User | None) -> bytes:
        """`VideoListOut`'s JSON for a page of public videos of public accounts (a feed's): the
        cards, with this viewer's likes, saves and follows read for the page in one statement."""
        found = self.cards(session, page.items)
        ids = [video_id for video_id in page.items if video_id in found]
        states = viewer_states(
            session, viewer, [(video_id, int(found[video_id]["author"]["id"])) for video_id in ids]
        )
        items = [
            {**found[video_id], "viewer": states[video_id].model_dump() if video_id in states else None}
            for video_id in ids
        ]
        return orjson.dumps({"items": items, "next_cursor": page.next_cursor})

    def _build(self, session: Session, video_ids: list[int]) -> dict[int, tuple[dict[str, Any], bool]]:
        """Each video's card, and whether it is the same for every viewer (so may be kept)."""
        videos = by_ids(session, video_ids)
        authors = authors_of(session, videos)
        outs = video_outs(session, self._storage, videos, authors)
        return {
            video.id: (
                out.model_dump(mode="json"),
                media_expires_in(video, author_private=authors[video.author_id].is_private) is None,
            )
            for video, out in zip(videos, outs, strict=True)
        }

    def clear(self) -> None:
        with self._lock:
            self._cards.clear()

    def __len__(self) -> int:
        return len(self._cards)
