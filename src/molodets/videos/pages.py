"""The creator's upload page. The upload itself (tus), creating the video and following its
processing all happen in the browser (`static/js/upload.js`) through the public API; this page
only hands the script what it cannot know: the limits, and every message in the reader's
language (problem codes, processing stages, plural forms), so nothing is translated in JS."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from babel.core import Locale
from fastapi import APIRouter, Request
from starlette.responses import Response

from molodets.accounts.auth import ViewerDep
from molodets.http import RuntimeDep
from molodets.videos import service
from molodets.web import i18n
from molodets.web.forms import login_redirect
from molodets.web.templating import render, request_locale

router = APIRouter(include_in_schema=False)

# What a tus PATCH carries at most. Big enough that per-request overhead is negligible, small
# enough that a lost connection costs little and progress moves on slow mobile links.
CHUNK_BYTES = 5 * 1024 * 1024
HASHTAG_COUNT = i18n.NP_("%(num)s hashtag", "%(num)s hashtags")
# The length limit in words a creator understands ("Видео длиннее 10 минут"), in place of the API's
# generic "longer than the limit": the page knows the limit, the problem code does not carry it.
TOO_LONG_MINUTES = i18n.NP_(
    "The video is longer than %(num)s minute.", "The video is longer than %(num)s minutes."
)
TOO_LONG_SECONDS = i18n.NP_(
    "The video is longer than %(num)s second.", "The video is longer than %(num)s seconds."
)
# The key for a code the page has no message for (`problem_message` falls back to a generic one).
UNKNOWN_CODE = "_unknown"


@lru_cache(maxsize=len(i18n.LOCALES))
def problem_messages(locale: str) -> dict[str, str]:
    """Every problem code's message in `locale`: the script shows refusals from the API and the
    reasons processing failed without another round trip."""
    messages = {code: i18n.problem_message(code, locale) for code in i18n.PROBLEM_MESSAGES}
    messages[UNKNOWN_CODE] = i18n.problem_message(UNKNOWN_CODE, locale)
    return messages


@lru_cache(maxsize=len(i18n.LOCALES) * 4)
def plural_forms(locale: str, singular: str, plural: str) -> dict[str, str]:
    """The translated form of each CLDR plural category of `locale` ("one", "few", "many", ...),
    still holding `%(num)s`, so the script can pick one with `Intl.PluralRules`. The catalog's
    own plural formula decides each form: the script never guesses Russian grammar."""
    translations = i18n.get_translations(locale)
    category_of = Locale.parse(locale).plural_form
    forms: dict[str, str] = {}
    # Every category reachable by a whole number shows up well below 200 (CLDR rules look at
    # n % 100 at most); fractional ones ("other" in Russian) are never shown here.
    for number in range(200):
        forms.setdefault(category_of(number), translations.ngettext(singular, plural, number))
    return forms


def page_problem_messages(locale: str, max_seconds: int) -> dict[str, str]:
    """`problem_messages` with the length refusal naming the configured limit."""
    messages = dict(problem_messages(locale))
    translations = i18n.get_translations(locale)
    if max_seconds % 60 == 0:
        too_long = i18n.ncount(translations, locale, max_seconds // 60, *TOO_LONG_MINUTES)
    else:
        too_long = i18n.ncount(translations, locale, max_seconds, *TOO_LONG_SECONDS)
    messages["video_too_long"] = too_long
    return messages


@router.get("/upload")
def upload_page(request: Request, viewer: ViewerDep, runtime: RuntimeDep) -> Response:
    if viewer.user is None:
        return login_redirect(request)
    locale = request_locale(request, viewer.user)
    context: dict[str, Any] = {
        "upload_limits": {
            "max_bytes": runtime.settings.upload_max_bytes,
            "chunk_bytes": CHUNK_BYTES,
            "caption_max": service.CAPTION_MAX,
            "hashtags_max": service.MAX_HASHTAGS,
        },
        "max_minutes": max(1, runtime.settings.video_max_seconds // 60),
        # The recorder stops itself here, so a recording is never refused for its length.
        "max_seconds": runtime.settings.video_max_seconds,
        "problem_messages": page_problem_messages(locale, runtime.settings.video_max_seconds),
        "hashtag_forms": plural_forms(locale, *HASHTAG_COUNT),
    }
    return render(request, viewer, "upload.html", context)
