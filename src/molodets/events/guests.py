"""A guest's identity for the For You feed: a random id in a first-party cookie, so a viewer
who has not signed up still gets a feed that learns; their history joins their account when
they sign up or log in on that browser."""

from __future__ import annotations

import re
import secrets

from fastapi import Request, Response

from molodets.accounts.models import User
from molodets.http import is_https

GUEST_COOKIE = "molodets_guest"
GUEST_COOKIE_SECONDS = 365 * 24 * 3600
_GUEST_ID_RE = re.compile(r"[A-Za-z0-9_-]{22}")


def guest_id(request: Request) -> str | None:
    value = request.cookies.get(GUEST_COOKIE)
    return value if value and _GUEST_ID_RE.fullmatch(value) else None


def viewer_key(request: Request, response: Response, user: User | None) -> str:
    """Whose events these are: "u<user id>", or "a<guest id>" (made and set on first sight)."""
    if user is not None:
        return f"u{user.id}"
    guest = guest_id(request)
    if guest is None:
        guest = secrets.token_urlsafe(16)
        response.set_cookie(
            GUEST_COOKIE,
            guest,
            max_age=GUEST_COOKIE_SECONDS,
            httponly=True,
            samesite="lax",
            secure=is_https(request),
            path="/",
        )
    return f"a{guest}"
