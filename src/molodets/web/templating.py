"""Rendering pages: one Jinja2 environment per locale, the context every page shares (the viewer,
the CSRF token, the language), and error pages for browsers.

Each environment has its locale's translations installed once, at build time. Installing them per
request on one shared environment would let two concurrent requests swap each other's language.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from functools import lru_cache, partial
from typing import Any

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from molodets.accounts import service
from molodets.accounts.auth import SESSION_COOKIE, Viewer
from molodets.accounts.avatars import avatar_urls
from molodets.accounts.models import User
from molodets.http import get_runtime
from molodets.web import STATIC_DIR, TEMPLATES_DIR, i18n

HTML_CONTENT_TYPE = "text/html; charset=utf-8"
# Pages show who is logged in and carry CSRF tokens: never let a shared cache keep them, and never
# let another site frame them (clickjacking a settings form). Scripts come only from /static.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": (
        "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
}
# Paths whose errors stay problem+json whatever the client accepts.
_MACHINE_PREFIXES = ("/api/", "/static/", "/media/", "/healthz", "/readyz", "/metrics")


@lru_cache(maxsize=256)
def static_url(path: str) -> str:
    """`/static/<path>?v=<content hash>`, so a changed file is fetched anew despite long caching."""
    file = (STATIC_DIR / path).resolve()
    if not file.is_relative_to(STATIC_DIR) or not file.is_file():
        raise ValueError(f"no static file {path!r}")
    digest = hashlib.sha256(file.read_bytes()).hexdigest()[:10]
    return f"/static/{path}?v={digest}"


_IMPORT_RE = re.compile(r'^import\s[^;]*?from\s+"\./([\w.-]+\.js)";', re.MULTILINE)


@lru_cache(maxsize=16)
def module_preloads(path: str) -> list[str]:
    """The URLs of every module `path` (an ES module under static/) imports, directly or not,
    as the browser resolves its relative imports. A page lists them as `modulepreload` links so
    the whole graph downloads at once instead of one level of imports after another."""
    found: list[str] = []
    pending = [path]
    while pending:
        source = (STATIC_DIR / pending.pop()).read_text(encoding="utf-8")
        for name in _IMPORT_RE.findall(source):
            module = f"js/{name}"
            if f"/static/{module}" not in found:
                found.append(f"/static/{module}")
                pending.append(module)
    return found


@lru_cache(maxsize=len(i18n.LOCALES))
def get_environment(locale: str) -> Environment:
    """The template environment of one locale, built once per process and then only read."""
    translations = i18n.get_translations(locale)
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        locale=locale,
        locales=i18n.LOCALES,
        language_names=i18n.LANGUAGE_NAMES,
        static_url=static_url,
        module_preloads=module_preloads,
        limits=i18n.LIMITS,
        ncount=partial(i18n.ncount, translations, locale),
        counter=partial(i18n.counter, translations, locale),
        problem_message=partial(_problem_message, locale),
    )
    env.filters["number"] = partial(_format_number, locale=locale)
    env.filters["count"] = partial(_format_count, locale=locale)
    return env


def _format_number(value: int, *, locale: str) -> str:
    return i18n.format_number(value, locale)


def _format_count(value: int, *, locale: str) -> str:
    return i18n.format_count(value, locale)


def _problem_message(locale: str, code: str) -> str:
    return i18n.problem_message(code, locale)


def request_locale(request: Request, user: User | None) -> str:
    return i18n.resolve_locale(
        user_locale=user.locale if user is not None else None,
        cookie=request.cookies.get(i18n.LANG_COOKIE),
        accept_language=request.headers.get("accept-language"),
        default=get_runtime(request).settings.default_locale,
    )


def page_context(request: Request, viewer: Viewer) -> dict[str, Any]:
    """What `base.html` needs on every page."""
    user = viewer.user
    storage = get_runtime(request).storage
    return {
        "request_path": request.url.path,
        "current_url": _current_url(request),
        "viewer": user,
        "viewer_avatar": (avatar_urls(storage, user) or {}).get("96") if user is not None else None,
        "csrf_token": viewer.session.csrf_token if viewer.session is not None else None,
    }


def render(
    request: Request,
    viewer: Viewer,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    locale = request_locale(request, viewer.user)
    env = get_environment(locale)
    html = env.get_template(template).render({**page_context(request, viewer), **(context or {})})
    return HTMLResponse(
        html,
        status_code=status,
        headers={**PAGE_HEADERS, "Content-Language": locale, **(headers or {})},
    )


def _current_url(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


# --- error pages ------------------------------------------------------------------------------


def wants_html(request: Request) -> bool:
    """True for a browser asking for a page (not the API, media, or a script asking for JSON)."""
    if request.url.path.startswith(_MACHINE_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


def render_error_page_sync(
    request: Request,
    status: int,
    code: str,
    *,
    viewer: Viewer | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The error page for `code`, in the reader's language. Without a `viewer` (an exception
    handler has none), the session cookie is looked up afresh so the top bar and language still
    follow the account."""
    if viewer is None:
        viewer = _viewer_from_cookie(request)
    context = {"status": status, "code": code}
    return render(request, viewer, "error.html", context, status=status, headers=headers)


async def render_error_page(
    request: Request, status: int, code: str, *, headers: Mapping[str, str] | None = None
) -> Response:
    """For exception handlers (keep the problem's headers: Allow, Retry-After, WWW-Authenticate):
    the same page, with the session lookup off the event loop."""
    return await run_in_threadpool(render_error_page_sync, request, status, code, headers=headers)


def _viewer_from_cookie(request: Request) -> Viewer:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return Viewer()
    db = get_runtime(request).db.statement_reads()
    try:
        found = service.find_session(db, cookie)
    except Exception:  # noqa: BLE001 - an error page must render even when the database is down
        return Viewer()
    finally:
        # Objects stay readable after close (expire_on_commit is off and nothing was committed).
        db.close()
    if found is None:
        return Viewer()
    user_session, user = found
    return Viewer(user=user, session=user_session)
