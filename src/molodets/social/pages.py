"""Social pages: the profile's follow button without JavaScript (`POST /@username/follow`) and
the owner's follow requests (`/follow-requests`), with Approve and Decline as plain forms.

`static/js/follow.js` does the same through the API without reloading the page; these forms are
what works without it. Handlers call the same `privacy` functions as the API; a `Problem` rolls
the transaction back and shows the error page, a success redirects with 303."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from molodets.accounts import avatars
from molodets.accounts import service as accounts
from molodets.accounts.auth import Viewer, ViewerDep
from molodets.accounts.models import User
from molodets.errors import Problem
from molodets.http import DbSession, RuntimeDep
from molodets.social import privacy
from molodets.web.forms import FormDep, field, login_redirect, see_other
from molodets.web.templating import render, render_error_page_sync

router = APIRouter(include_in_schema=False)

REQUESTS_PAGE = 30
CursorParam = Annotated[str | None, Query(max_length=512)]


def _profile_path(username: str) -> str:
    return "/@" + quote(username, safe="")


def _problem_page(request: Request, viewer: Viewer, db: Session, problem: Problem) -> Response:
    db.rollback()
    return render_error_page_sync(request, problem.status, problem.code, viewer=viewer)


@router.post("/@{username}/follow")
def follow(username: str, request: Request, viewer: ViewerDep, db: DbSession, form: FormDep) -> Response:
    """The profile's follow button: `action=follow` follows or asks to (a private account),
    `action=unfollow` unfollows or withdraws the request."""
    if viewer.user is None:
        return see_other("/login?next=" + quote(_profile_path(username), safe="/"))
    try:
        target = accounts.require_user_by_username(db, username)
        if field(form, "action") == "unfollow":
            privacy.do_unfollow_or_withdraw(db, follower=viewer.user, followee=target)
        else:
            privacy.do_follow_or_request(db, follower=viewer.user, followee=target)
    except Problem as problem:
        return _problem_page(request, viewer, db, problem)
    return see_other(_profile_path(target.username))


@router.get("/follow-requests")
def follow_requests(
    request: Request, viewer: ViewerDep, db: DbSession, runtime: RuntimeDep, cursor: CursorParam = None
) -> Response:
    """The people asking to follow the viewer, newest first, each with Approve and Decline."""
    user = viewer.user
    if user is None:
        return login_redirect(request)
    try:
        page = privacy.list_requests(db, user=user, cursor=cursor, limit=REQUESTS_PAGE)
    except Problem as problem:  # a cursor we did not make
        return render_error_page_sync(request, problem.status, problem.code, viewer=viewer)
    ids = [item.requester_id for item in page.items]
    people = {person.id: person for person in db.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    requests = []
    for requester_id in ids:
        person = people[requester_id]
        urls = avatars.avatar_urls(runtime.storage, person)
        requests.append({"user": person, "avatar_url": urls["96"] if urls else None})
    context = {
        "requests": requests,
        "next_cursor": page.next_cursor,
        "continued": cursor is not None,
        "is_private": user.is_private,
    }
    return render(request, viewer, "follow_requests.html", context)


@router.post("/follow-requests/{username}/approve")
def approve(username: str, request: Request, viewer: ViewerDep, db: DbSession) -> Response:
    if viewer.user is None:
        return see_other("/login?next=/follow-requests")
    try:
        requester = accounts.require_user_by_username(db, username)
        privacy.do_approve(db, owner=viewer.user, requester=requester)
    except Problem as problem:
        return _problem_page(request, viewer, db, problem)
    return see_other("/follow-requests")


@router.post("/follow-requests/{username}/decline")
def decline(username: str, request: Request, viewer: ViewerDep, db: DbSession) -> Response:
    if viewer.user is None:
        return see_other("/login?next=/follow-requests")
    try:
        requester = accounts.require_user_by_username(db, username)
        privacy.do_decline(db, owner=viewer.user, requester=requester)
    except Problem as problem:
        return _problem_page(request, viewer, db, problem)
    return see_other("/follow-requests")
