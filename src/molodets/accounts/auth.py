"""Who is asking: a browser session cookie or a Bearer token, and CSRF protection for cookies.

Cookie-authenticated unsafe requests must echo the session's CSRF token (header `X-CSRF-Token`,
or a `csrf_token` form field for plain HTML forms). Any unsafe request whose `Origin` or
`Sec-Fetch-Site` says it came from another site is refused, which also stops login CSRF.
Bearer requests carry no ambient authority, so they need no CSRF token.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from molodets.accounts import service
from molodets.accounts.models import ApiToken, User, UserSession
from molodets.errors import Problem, problem_response
from molodets.http import SAFE_METHODS, DbSession, is_https

SESSION_COOKIE = "molodets_session"
CSRF_COOKIE = "molodets_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass
class Viewer:
    user: User | None = None
    session: UserSession | None = None
    token: ApiToken | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.user is not None


class CrossSiteGuard:
    """Refuse every unsafe request that a browser says came from another site, whatever the
    route: this stops login and sign-up CSRF, where there is no session to hold a token yet."""

    def __init__(self, app: ASGIApp, *, public_base_url: str | None) -> None:
        self.app = app
        self.allowed_origins = set()
        if public_base_url:
            parts = urlsplit(public_base_url)
            self.allowed_origins.add(f"{parts.scheme}://{parts.netloc}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            refusal = self._refusal(Headers(scope=scope), scope)
            if refusal is not None:
                await problem_response(403, *refusal)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, headers: Headers, scope: Scope) -> tuple[str, str] | None:
        if headers.get("sec-fetch-site") == "cross-site":
            return "csrf_cross_site", "Cross-site requests are not allowed."
        origin = headers.get("origin")
        if not origin or origin == "null":
            return None
        host = headers.get("host", "")
        if origin in {f"{scope.get('scheme', 'http')}://{host}", *self.allowed_origins}:
            return None
        return "csrf_origin_mismatch", "The request came from another site."


async def _submitted_csrf_token(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").startswith(_FORM_TYPES):
        # Starlette caches the parsed form, so the handler can still read it.
        form = await request.form()
        value = form.get(CSRF_FORM_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def get_viewer(request: Request, db: DbSession) -> Viewer:
    unsafe = request.method not in SAFE_METHODS
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Problem(401, "invalid_token", "Use 'Authorization: Bearer <token>'.")
        found = service.find_token(db, secret.strip())
        if found is None:
            raise Problem(
                401,
                "invalid_token",
                "The token is invalid, expired or revoked.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        token, user = found
        return Viewer(user=user, token=token)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return Viewer()
    found_session = service.find_session(db, cookie)
    if found_session is None:
        return Viewer()
    user_session, user = found_session
    if unsafe:
        submitted = await _submitted_csrf_token(request)
        if not submitted:
            raise Problem(403, "csrf_missing", "The CSRF token is missing; reload the page and try again.")
        if not hmac.compare_digest(submitted.encode(), user_session.csrf_token.encode()):
            raise Problem(403, "csrf_invalid", "The CSRF token is wrong; reload the page and try again.")
    return Viewer(user=user, session=user_session)


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


def require_user(viewer: ViewerDep) -> User:
    if viewer.user is None:
        raise Problem(401, "unauthenticated", "Log in first.", headers={"WWW-Authenticate": "Bearer"})
    return viewer.user


CurrentUser = Annotated[User, Depends(require_user)]


def set_session_cookies(
    request: Request, response: Response, *, token: str, csrf_token: str, days: int
) -> None:
    secure = is_https(request)
    max_age = days * 86400
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/"
    )
    # Readable by our own scripts, which echo it in X-CSRF-Token; useless to another site.
    response.set_cookie(
        CSRF_COOKIE, csrf_token, max_age=max_age, httponly=False, samesite="lax", secure=secure, path="/"
    )


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
