"""What makes the site an installable app: the web app manifest, the service worker and the page
it shows when there is no network.

The service worker (`static/js/sw.js`) is served from `/sw.js` so its scope is the whole site. Its
cache version and list of files are prepended here from the static files' content hashes: any
deploy that changes a file changes the worker's bytes, so browsers install the new one and drop
the old cache. Icons are PNG files drawn once from `img/logo.svg` and kept in `static/img/`:
they are immutable, precached with the rest of the shell, and need no code at request time.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from molodets.accounts.auth import Viewer
from molodets.web import STATIC_DIR, i18n
from molodets.web.templating import PAGE_HEADERS, get_environment, page_context, request_locale, static_url

router = APIRouter(include_in_schema=False)

THEME_COLOR = "#000000"  # base.html's theme-color and background
SW_SOURCE = "js/sw.js"
OFFLINE_PATH = "/offline"
ICONS = (
    {"src": "img/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
    {"src": "img/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
    {"src": "img/icon-maskable-512.png", "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
)
APP_NAME = i18n.N_("Molodets")
APP_DESCRIPTION = i18n.N_("Short vertical videos: watch, record and share.")
LangParam = Annotated[str | None, Query(max_length=8)]


def _locale(request: Request, lang: str | None) -> str:
    # Browsers fetch the manifest without cookies, and the service worker asks for the offline
    # page once per language, so an explicit `?lang=` wins over the request's own signals.
    return lang if lang in i18n.LOCALES else request_locale(request, None)


@router.get("/manifest.webmanifest")
def manifest(request: Request, lang: LangParam = None) -> Response:
    locale = _locale(request, lang)
    translations = i18n.get_translations(locale)
    name = translations.gettext(APP_NAME)
    body = {
        "id": "/",
        "name": name,
        "short_name": name,
        "description": translations.gettext(APP_DESCRIPTION),
        "lang": locale,
        "dir": "ltr",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": THEME_COLOR,
        "theme_color": THEME_COLOR,
        "categories": ["entertainment", "social", "video"],
        "icons": [{**icon, "src": static_url(icon["src"])} for icon in ICONS],
    }
    headers = {"Cache-Control": "no-cache", "Vary": "Accept-Language, Cookie", "Content-Language": locale}
    return Response(orjson.dumps(body), media_type="application/manifest+json", headers=headers)


@lru_cache(maxsize=1)
def service_worker_script() -> tuple[str, str]:
    """(script, version): the worker's source behind its shell list and a version derived from
    the content of every static file (the worker's own included)."""
    files = sorted(
        path.relative_to(STATIC_DIR).as_posix()
        for path in STATIC_DIR.rglob("*")
        if path.is_file() and not path.name.startswith(".")
    )
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + b"\0" + (STATIC_DIR / name).read_bytes() + b"\0")
    version = digest.hexdigest()[:16]
    shell = [static_url(name) for name in files if name != SW_SOURCE]
    config = {
        "version": version,
        "shell": shell,
        "offline": {locale: f"{OFFLINE_PATH}?lang={locale}" for locale in i18n.LOCALES},
        "defaultLocale": i18n.LOCALES[0],
    }
    source = (STATIC_DIR / SW_SOURCE).read_text(encoding="utf-8")
    return f"const CONFIG = {orjson.dumps(config).decode()};\n{source}", version


@router.get("/sw.js")
def service_worker() -> Response:
    script, version = service_worker_script()
    headers = {
        "Service-Worker-Allowed": "/",
        # Browsers check for a new worker on navigation; no-cache makes that check reach us.
        "Cache-Control": "no-cache",
        "ETag": f'"{version}"',
        "X-Content-Type-Options": "nosniff",
    }
    return Response(script, media_type="text/javascript; charset=utf-8", headers=headers)


@router.get(OFFLINE_PATH)
def offline_page(request: Request, lang: LangParam = None) -> HTMLResponse:
    """The page the service worker shows when a page cannot be fetched. It is kept in the
    worker's cache, so it is rendered for nobody in particular: no account, no CSRF token."""
    locale = _locale(request, lang)
    html = get_environment(locale).get_template("offline.html").render(page_context(request, Viewer()))
    return HTMLResponse(html, headers={**PAGE_HEADERS, "Content-Language": locale})
