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
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from molodets.accounts import service
from molodets.accounts.models import ApiToken, User, UserSession
from molodets.db import READ_ONLY_OPTION
from molodets.errors import Problem, problem_response
from molodets.http import SAFE_METHODS, DbSession, get_runtime, is_https

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


def _credentials(request: Request) -> tuple[str | None, str | None]:
    """The request's Bearer header and session cookie (neither: a guest, nothing to look up)."""
    return request.headers.get("authorization"), request.cookies.get(SESSION_COOKIE)


def _authenticate(db: Session, authorization: str | None, cookie: str | None) -> Viewer:
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
    if not cookie:
        return Viewer()
    found_session = service.find_session(db, cookie)
    if found_session is None:
        return Viewer()
    user_session, user = found_session
    return Viewer(user=user, session=user_session)


def authenticate_safe_request(db: Session, request: Request) -> Viewer:
    """The viewer of a GET or HEAD request, for handlers that read in a session of their own
    (a safe request carries no CSRF token to check)."""
    if request.method not in SAFE_METHODS:
        raise RuntimeError(f"{request.method} needs get_viewer's CSRF check")
    return _authenticate(db, *_credentials(request))


async def _check_csrf(request: Request, viewer: Viewer) -> None:
    if viewer.session is None or request.method in SAFE_METHODS:
        return
    submitted = await _submitted_csrf_token(request)
    if not submitted:
        raise Problem(403, "csrf_missing", "The CSRF token is missing; reload the page and try again.")
    if not hmac.compare_digest(submitted.encode(), viewer.session.csrf_token.encode()):
        raise Problem(403, "csrf_invalid", "The CSRF token is wrong; reload the page and try again.")


def _authenticate_before_writing(db: Session, authorization: str | None, cookie: str | None) -> Viewer:
    """`_authenticate` for a writing request on SQLite, in a deferred transaction of its own.

    The request's session begins with BEGIN IMMEDIATE: had authentication run in it, the request
    would take SQLite's only write lock here and hold it across the hop to its handler's thread,
    other writers and the event writer queueing behind it (docs/load.md, `mixed`). This read
    transaction ends before the handler runs, whose first statement begins the write transaction.
    Committing keeps the loaded objects loaded and attached (expire_on_commit=False), so handlers
    may still change the user; authentication must not write (that would upgrade a read lock)."""
    if db.in_transaction():
        # Something already began the request's transaction: keep to it.
        return _authenticate(db, authorization, cookie)
    db.connection(execution_options={READ_ONLY_OPTION: True})  # `_begin_sqlite`: a plain BEGIN
    viewer = _authenticate(db, authorization, cookie)
    db.commit()
    return viewer


async def get_viewer(request: Request, db: DbSession) -> Viewer:
    """The viewer, loaded in the request's own session (so handlers may change the user)."""
    authorization, cookie = _credentials(request)
    if not authorization and not cookie:
        return Viewer()  # a guest: nothing to look up, so no hop to a worker thread
    authenticate = _authenticate
    if request.method not in SAFE_METHODS and get_runtime(request).db.is_sqlite:
        authenticate = _authenticate_before_writing
    viewer = await run_in_threadpool(authenticate, db, authorization, cookie)
    await _check_csrf(request, viewer)
    return viewer


async def get_detached_viewer(request: Request) -> Viewer:
    """The viewer, loaded in a short read-only session closed before the handler runs.

    For long requests (streamed uploads) that must not hold the request's transaction open
    while bytes arrive: on SQLite that transaction would be the database's only write lock.
    The returned objects are detached: read them, do not change them.
    """
    runtime = get_runtime(request)
    authorization, cookie = _credentials(request)
    if not authorization and not cookie:
        return Viewer()  # a guest: nothing to look up, so no hop to a worker thread

    def lookup() -> Viewer:
        with runtime.db.statement_reads() as session:
            return _authenticate(session, authorization, cookie)

    viewer = await run_in_threadpool(lookup)
    await _check_csrf(request, viewer)
    return viewer


DetachedViewerDep = Annotated[Viewer, Depends(get_detached_viewer)]
ViewerDep = Annotated[Viewer, Depends(get_viewer)]


async def require_user(viewer: ViewerDep) -> User:  # a coroutine: no worker thread for a check
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
