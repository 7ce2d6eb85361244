"""Plain HTML forms: reading the posted fields, safe redirects, and which field a problem is about."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from starlette.datastructures import FormData, UploadFile
from starlette.responses import RedirectResponse

from molodets.errors import Problem

# Which form field a problem code is about, so the page can mark it (aria-invalid) and put the
# message beside it. Codes not listed are shown at the top of the form.
PROBLEM_FIELDS = {
    "invalid_username": "username",
    "reserved_username": "username",
    "username_taken": "username",
    "invalid_email": "email",
    "email_taken": "email",
    "invalid_display_name": "display_name",
    "invalid_bio": "bio",
    "invalid_links": "links",
    "invalid_link": "links",
    "password_too_short": "password",
    "password_too_long": "password",
    "password_too_common": "password",
    "password_like_username": "password",
    "wrong_password": "current_password",
    "invalid_token_name": "name",
    "invalid_locale": "locale",
    "not_an_image": "avatar",
    "image_too_large": "avatar",
    "image_too_small": "avatar",
    "file_too_large": "avatar",
}
MAX_FIELD_LENGTH = 5000


async def _read_form(request: Request) -> FormData:
    # Parsed once per request and cached by Starlette (the CSRF check may already have read it).
    # An async dependency, so the handler itself can be a plain function run in the thread pool.
    return await request.form()


FormDep = Annotated[FormData, Depends(_read_form)]


def field(form: FormData, name: str) -> str:
    """A text field, "" when missing; over-long values are cut (the rules refuse them anyway)."""
    value = form.get(name)
    return value[:MAX_FIELD_LENGTH] if isinstance(value, str) else ""


def upload(form: FormData, name: str) -> UploadFile | None:
    value = form.get(name)
    return value if isinstance(value, UploadFile) else None


def safe_next(raw: str | None, default: str = "/") -> str:
    """`raw` if it is a path on this site, else `default`: `next=https://evil.example`,
    `//evil.example` or `/\\evil.example` must not turn our login form into an open redirect."""
    if not raw or len(raw) > 2000 or not raw.startswith("/") or raw.startswith("//"):
        return default
    if "\\" in raw or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw):
        return default
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        return default
    return raw


def see_other(url: str) -> RedirectResponse:
    """Post/Redirect/Get: 303 makes the browser follow with a GET."""
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return see_other("/login?next=" + quote(target, safe="/"))


def problem_headers(problem: Problem) -> dict[str, str]:
    """Headers worth keeping from a problem on a page (Retry-After of a rate limit)."""
    return {name: value for name, value in problem.headers.items() if name.lower() == "retry-after"}
