"""Video cards (videos/cards.py): For You's JSON is built from them, in the shape of every other
video list, and a card is the same for every viewer, so only public videos of public accounts
are kept."""

from __future__ import annotations

import time

import orjson
from sqlalchemy.orm import Session

from molodets.pagination import Page
from molodets.runtime import Runtime
from molodets.social import service as social
from molodets.videos.cards import CardCache
from molodets.videos.queries import page_out
from tests.factories.accounts import make_user
from tests.factories.videos import make_ready_video
from tests.querycount import count_queries


def test_a_card_page_is_the_json_of_page_out(db: Session, runtime: Runtime) -> None:
    creator = make_user(db, username="maker")
    viewer = make_user(db, username="fan")
    videos = [make_ready_video(db, creator, caption=f"#one clip {n}") for n in range(3)]
    db.flush()
    social.do_like(db, user=viewer, video=videos[1])
    db.commit()
    page = Page(items=[video.id for video in videos], next_cursor="next")
    expected = page_out(db, runtime.storage, Page(items=videos, next_cursor="next"), viewer=viewer)
    cards = CardCache(runtime.storage)
    body = cards.page_json(db, page, viewer=viewer)
    assert orjson.loads(body) == expected.model_dump(mode="json")
    assert orjson.loads(body)["items"][1]["viewer"]["liked"] is True
    assert orjson.loads(cards.page_json(db, page, viewer=None))["items"][0]["viewer"] is None


def test_cards_are_kept_for_a_while_and_only_when_the_same_for_everyone(
    db: Session, runtime: Runtime
) -> None:
    public = make_ready_video(db, make_user(db, username="open"))
    private_account = make_user(db, username="closed")
    private_account.is_private = True
    hidden = make_ready_video(db, private_account)
    db.commit()
    cards = CardCache(runtime.storage)
    assert set(cards.cards(db, [public.id, hidden.id])) == {public.id, hidden.id}
    assert len(cards) == 1
    with count_queries(db.get_bind()) as only_public:
        cards.cards(db, [public.id])
    assert only_public == []
    with count_queries(db.get_bind()) as private_again:
        cards.cards(db, [hidden.id])
    assert private_again, "the private account's video is built every time"
    public.caption = "edited"
    db.commit()
    assert cards.cards(db, [public.id])[public.id]["caption"] == "", "kept for CARD_SECONDS"
    fresh = CardCache(runtime.storage, seconds=0)
    assert fresh.cards(db, [public.id])[public.id]["caption"] == "edited"


def test_expired_cards_leave_memory_as_new_ones_come(db: Session, runtime: Runtime) -> None:
    creator = make_user(db, username="steady")
    first, second = (make_ready_video(db, creator, caption=f"clip {n}") for n in range(2))
    db.commit()
    cards = CardCache(runtime.storage, seconds=0.2)
    cards.cards(db, [first.id])
    assert len(cards) == 1
    time.sleep(0.25)  # the first card expires
    cards.cards(db, [second.id])
    assert len(cards) == 1, "the expired card went when the next one came, not at the capacity"
