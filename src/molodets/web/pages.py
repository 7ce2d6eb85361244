"""Site-wide pages: the language switch (the home page is the feed: feed/pages.py). The pages of
the domains are included here so the app needs only this one router for every page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from molodets.accounts import pages as accounts_pages
from molodets.accounts import service
from molodets.accounts.auth import ViewerDep
from molodets.feed import pages as feed_pages
from molodets.http import DbSession, is_https
from molodets.notifications import pages as notifications_pages
from molodets.social import lists_pages
from molodets.social import pages as social_pages
from molodets.videos import pages as videos_pages
from molodets.web import i18n, sections
from molodets.web.forms import FormDep, field, safe_next, see_other
from molodets.web.templating import render_error_page_sync

router = APIRouter(include_in_schema=False)


@router.post("/lang")
def switch_language(request: Request, viewer: ViewerDep, db: DbSession, form: FormDep) -> Response:
    """The language switch in the top bar: a cookie for everyone, and the account's setting for a
    logged-in user (so the choice follows them to other devices)."""
    lang = field(form, "lang")
    if lang not in i18n.LOCALES:
        return render_error_page_sync(request, 422, "invalid_locale", viewer=viewer)
    if viewer.user is not None:
        service.do_update_profile(db, user=viewer.user, locale=lang)
    response = see_other(safe_next(field(form, "next")))
    response.set_cookie(
        i18n.LANG_COOKIE,
        lang,
        max_age=i18n.LANG_COOKIE_MAX_AGE,
        path="/",
        samesite="lax",
        secure=is_https(request),
        httponly=True,
    )
    return response


router.include_router(accounts_pages.router)
router.include_router(feed_pages.router)
router.include_router(social_pages.router)
router.include_router(videos_pages.router)
router.include_router(sections.router)
router.include_router(lists_pages.router)
router.include_router(notifications_pages.router)
