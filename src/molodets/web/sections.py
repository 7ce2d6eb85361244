"""The sections the bottom bar leads to before their real content exists: Discover (the newest
public videos until trending and search arrive) and the hashtag page (an honest "coming soon"
until hashtags get their own table). They arrive with the search and recommender issues; each
page here says so instead of pretending. The Inbox lives in notifications/pages.py."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from molodets.accounts.auth import ViewerDep
from molodets.errors import Problem
from molodets.http import DbSession, RuntimeDep
from molodets.videos import queries
from molodets.videos.pages import plural_forms
from molodets.web import i18n, pwa
from molodets.web.templating import render, render_error_page_sync

router = APIRouter(include_in_schema=False)

DISCOVER_PAGE = 30
TAG_MAX = 100  # as many characters as a caption's hashtag may have
CursorParam = Annotated[str | None, Query(max_length=512)]

# What a video tile says beside its picture; the grids' script gets the same words.
TILE_STRINGS = {
    "processing": i18n.N_("Processing"),
    "failed": i18n.N_("Failed"),
    "private": i18n.N_("Only me"),
    "followers": i18n.N_("Followers"),
    "video": i18n.N_("Video"),
    "error": i18n.N_("Could not load more videos."),
}


@lru_cache(maxsize=len(i18n.LOCALES))
def grid_strings(locale: str) -> dict[str, Any]:
    """The words a video grid's script needs in `locale` (it never translates by itself)."""
    translations = i18n.get_translations(locale)
    strings: dict[str, Any] = {key: translations.gettext(text) for key, text in TILE_STRINGS.items()}
    strings["views"] = plural_forms(locale, *i18n.COUNTERS["views"])
    return strings


@router.get("/discover")
def discover(
    request: Request, viewer: ViewerDep, db: DbSession, runtime: RuntimeDep, cursor: CursorParam = None
) -> Response:
    try:
        page = queries.newest_public(db, cursor=cursor, limit=DISCOVER_PAGE)
    except Problem as problem:  # a cursor we did not make
        return render_error_page_sync(request, problem.status, problem.code, viewer=viewer)
    videos = queries.video_outs(db, runtime.storage, page.items)
    context = {"videos": videos, "next_cursor": page.next_cursor, "continued": cursor is not None}
    return render(request, viewer, "discover.html", context)


@router.get("/tag/{tag}")
def hashtag(tag: str, request: Request, viewer: ViewerDep) -> Response:
    # Tags are stored case-folded (videos.service.parse_caption); /tag/Утро and /tag/утро are one.
    if not tag or len(tag) > TAG_MAX:
        return render_error_page_sync(request, 404, "not_found", viewer=viewer)
    return render(request, viewer, "tag.html", {"tag": tag.casefold()})


# The manifest, the service worker and the offline page ride along, so pages.py includes one router.
router.include_router(pwa.router)
