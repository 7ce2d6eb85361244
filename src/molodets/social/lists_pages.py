"""The lists of a profile's followers and of the people it follows (`/@username/followers`,
`/@username/following`): server-rendered pages of people, each with a Follow button
(`static/js/follow_button.js`), a "More" link to the next keyset page for readers
without scripts, and endless scroll for the others (`static/js/follow_list.js` reads the next
pages from the social API, whose cursors are the same).

A profile that blocked the viewer does not exist for them (404, as the profile itself); a
private account's lists are for the followers it approved (`account_private`: a page that says
so, with status 403)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from molodets.accounts.auth import Viewer, ViewerDep
from molodets.errors import Problem
from molodets.http import DbSession, RuntimeDep
from molodets.pagination import MAX_LIMIT
from molodets.social import privacy, queries, service
from molodets.storage import Storage
from molodets.web import i18n
from molodets.web.templating import render, render_error_page_sync, request_locale

router = APIRouter(include_in_schema=False)

# About two phone screens of rows: the next page is asked for before the end shows.
LIST_PAGE = min(30, MAX_LIMIT)
CursorParam = Annotated[str | None, Query(max_length=512)]
Kind = Literal["followers", "following"]
# What the script needs to build the rows it adds, in the reader's language.
LIST_STRINGS = {
    "follow": i18n.N_("Follow"),
    "unfollow": i18n.N_("Unfollow"),
    "requested": i18n.N_("Requested"),
    "follows_you": i18n.N_("Follows you"),
    "error": i18n.N_("Could not load more people."),
    "follow_failed": i18n.N_("That did not work. Try again."),
}


@router.get("/@{username}/followers")
def followers_page(
    username: str,
    request: Request,
    viewer: ViewerDep,
    db: DbSession,
    runtime: RuntimeDep,
    cursor: CursorParam = None,
) -> Response:
    return _list_page(
        request, viewer, db, runtime.storage, username=username, kind="followers", cursor=cursor
    )


@router.get("/@{username}/following")
def following_page(
    username: str,
    request: Request,
    viewer: ViewerDep,
    db: DbSession,
    runtime: RuntimeDep,
    cursor: CursorParam = None,
) -> Response:
    return _list_page(
        request, viewer, db, runtime.storage, username=username, kind="following", cursor=cursor
    )


def _list_page(
    request: Request,
    viewer: Viewer,
    db: Session,
    storage: Storage,
    *,
    username: str,
    kind: Kind,
    cursor: str | None,
) -> Response:
    try:
        owner = service.require_visible_user(db, username=username, viewer=viewer.user)
    except Problem as problem:
        return render_error_page_sync(request, problem.status, problem.code, viewer=viewer)
    if owner.username != username:
        # One address per list, as for the profile: /@Anna/followers leads to /@anna/followers.
        return RedirectResponse(f"/@{owner.username}/{kind}", status_code=301)
    translations = i18n.get_translations(request_locale(request, viewer.user))
    login_url = "/login?next=" + quote(f"/@{owner.username}/{kind}", safe="/@")
    context: dict[str, Any] = {
        "profile": owner,
        "kind": kind,
        "people": [],
        "next_cursor": None,
        "private": False,
        "continued": cursor is not None,
        "login_url": login_url,
        "list_config": {
            "api": f"/api/v1/users/{quote(owner.username, safe='')}/{kind}",
            "limit": LIST_PAGE,
            "viewer": viewer.user.username if viewer.user is not None else None,
            "login_url": login_url,
            "strings": {key: translations.gettext(text) for key, text in LIST_STRINGS.items()},
        },
    }
    try:
        privacy.check_account_visible(db, owner=owner, viewer=viewer.user)
        listing = service.list_followers if kind == "followers" else service.list_following
        page = listing(db, user=owner, cursor=cursor, limit=LIST_PAGE)
    except Problem as problem:
        if problem.code == "account_private":
            return render(request, viewer, "follow_list.html", {**context, "private": True}, status=403)
        # A cursor we did not make.
        return render_error_page_sync(request, problem.status, problem.code, viewer=viewer)
    ids = [row.follower_id if kind == "followers" else row.followee_id for row in page.items]
    context["people"] = queries.follow_items(db, storage, viewer.user, ids)
    context["next_cursor"] = page.next_cursor
    return render(request, viewer, "follow_list.html", context)
