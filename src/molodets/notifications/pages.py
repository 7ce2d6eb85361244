"""The Inbox page: the notifications, newest activity first, kept live by static/js/live.js."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from babel.dates import format_timedelta
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from molodets.accounts.auth import ViewerDep
from molodets.errors import Problem
from molodets.http import DbSession, RuntimeDep
from molodets.notifications import service
from molodets.notifications.api import inbox_items
from molodets.notifications.models import Kind
from molodets.notifications.schemas import NotificationOut
from molodets.web.forms import login_redirect
from molodets.web.templating import render, render_error_page_sync, request_locale

router = APIRouter(include_in_schema=False)

INBOX_PAGE = 30


@router.get("/inbox")
def inbox(
    request: Request,
    viewer: ViewerDep,
    db: DbSession,
    runtime: RuntimeDep,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """Shows the inbox; its script then marks what it showed read (the badge goes to zero)."""
    user = viewer.user
    if user is None:
        return login_redirect(request)
    try:
        page = service.list_inbox(db, user=user, cursor=cursor, limit=INBOX_PAGE)
    except Problem as problem:  # a cursor we did not make
        return render_error_page_sync(request, problem.status, problem.code, viewer=viewer)
    locale = request_locale(request, user)
    items = inbox_items(page, runtime.storage, locale)
    now = datetime.now(UTC)
    context = {
        "items": [(item, link_of(item), _ago(now, item.updated_at, locale)) for item in items],
        "next_cursor": page.next_cursor,
        "continued": cursor is not None,
    }
    return render(request, viewer, "inbox.html", context)


def link_of(item: NotificationOut) -> str:
    """Where a notification leads: the video (or its comment), else the person, else requests."""
    if item.kind == Kind.FOLLOW_REQUEST:
        return "/follow-requests"
    if item.video is not None:
        return item.video.page_url
    if item.actor is not None:
        return f"/@{item.actor.username}"
    return "/inbox"


def _ago(now: datetime, then: datetime, locale: str) -> str:
    moment = then if then.tzinfo else then.replace(tzinfo=UTC)
    return format_timedelta(moment - now, add_direction=True, threshold=1.0, locale=locale)
