"""Translations (Babel catalogs for ru and en), the choice of a request's language, counts with
correct plural forms, and human messages for the `code` of API problems.

Catalogs are the `.po` files under `translations/`, compiled in memory on first use: no generated
`.mo` file lives in git or can go stale beside its source.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from functools import lru_cache

from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_compact_decimal, format_decimal
from babel.support import Translations

from molodets.accounts import passwords, rules, service
from molodets.accounts.avatars import AVATAR_MIN_SIDE
from molodets.web import TRANSLATIONS_DIR

LOCALES: tuple[str, ...] = ("ru", "en")
LANG_COOKIE = "molodets_lang"
LANG_COOKIE_MAX_AGE = 365 * 86400
# From here on counts are shown compact ("1,2 тыс.", "1.2K"), as short-video apps do.
COMPACT_FROM = 1000
# Languages named in their own language: a reader must find theirs without knowing the current one.
LANGUAGE_NAMES = {"ru": "Русский", "en": "English"}


def N_(message: str) -> str:  # noqa: N802 - the conventional name of gettext_noop
    """Mark a string for extraction; it is translated later, when the reader's language is known."""
    return message


def NP_(singular: str, plural: str) -> tuple[str, str]:  # noqa: N802 - as N_, for plural pairs
    return singular, plural


# Counters the site shows (profiles, videos), declared once so every page words them alike and the
# catalogs carry them before the pages that show them exist. Use `counter(kind, number)`.
COUNTERS: Mapping[str, tuple[str, str]] = {
    "followers": NP_("%(num)s follower", "%(num)s followers"),
    "following": NP_("%(num)s following", "%(num)s following"),
    "likes": NP_("%(num)s like", "%(num)s likes"),
    "videos": NP_("%(num)s video", "%(num)s videos"),
    "views": NP_("%(num)s view", "%(num)s views"),
    "comments": NP_("%(num)s comment", "%(num)s comments"),
    "tokens": NP_("%(num)s active token", "%(num)s active tokens"),
}


@lru_cache(maxsize=len(LOCALES))
def get_translations(locale: str) -> Translations:
    """The compiled catalog of one locale, built once per process from its `.po` file."""
    if locale not in LOCALES:
        raise ValueError(f"unsupported locale {locale!r}")
    path = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain="messages")
    buffer = io.BytesIO()
    # Fuzzy entries are guesses by `pybabel update`; showing them would show wrong text.
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain="messages")


# --- which language ---------------------------------------------------------------------------


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags of an `Accept-Language` header, most preferred first (RFC 9110 q-values;
    q=0 means "not this one"; ties keep the header's order)."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, *params = (piece.strip() for piece in part.split(";"))
        if not tag or tag == "*" or len(tag) > 35:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if 0.0 < quality <= 1.0:
            weighted.append((-quality, index, tag))
    return [tag for _quality, _index, tag in sorted(weighted)]


def negotiate(header: str | None) -> str | None:
    """The supported locale an `Accept-Language` header prefers (`ru-RU` finds `ru`), if any."""
    preferred = parse_accept_language(header)
    return negotiate_locale(preferred, LOCALES, sep="-") if preferred else None


def resolve_locale(
    *,
    user_locale: str | None,
    cookie: str | None,
    accept_language: str | None,
    default: str,
) -> str:
    """The account's setting, then the language switch's cookie, then the browser's languages,
    then the site default."""
    for choice in (user_locale, cookie):
        if choice in LOCALES:
            return choice
    return negotiate(accept_language) or (default if default in LOCALES else LOCALES[0])


# --- numbers and counts -----------------------------------------------------------------------


def format_number(number: int, locale: str) -> str:
    """`1 234 567` in Russian (narrow spaces), `1,234,567` in English."""
    return format_decimal(number, locale=locale)


def format_count(number: int, locale: str) -> str:
    """A count as a short-video app shows it: `999`, `1,2 тыс.`, `12,3 тыс.`, `1,2 млн`."""
    if abs(number) < COMPACT_FROM:
        return format_decimal(number, locale=locale)
    return format_compact_decimal(number, locale=locale, fraction_digits=1)


def ncount(translations: Translations, locale: str, number: int, singular: str, plural: str) -> str:
    """`%(num)s follower` / `%(num)s followers` with the plural form of the locale and the count
    formatted for it: "1 подписчик", "2 подписчика", "5 подписчиков", "21 подписчик"."""
    shown = format_count(number, locale)
    # A compacted count reads as "N thousand", which governs the noun: "1 тыс. подписчиков", not
    # "1 тыс. подписчик" for 1001. Any whole thousand picks that form in both languages.
    form_of = number if abs(number) < COMPACT_FROM else 1000
    return translations.ngettext(singular, plural, form_of) % {"num": shown}


def counter(translations: Translations, locale: str, kind: str, number: int) -> str:
    """One of `COUNTERS` for `number`: `counter(tr, "ru", "followers", 21)` is "21 подписчик"."""
    singular, plural = COUNTERS[kind]
    return ncount(translations, locale, number, singular, plural)


# --- problem codes -> messages ----------------------------------------------------------------

# Every `code` the accounts domain and the shared plumbing raise. Values are msgids, translated
# when shown; the numbers come from the rules themselves so the message cannot drift from them.
PROBLEM_MESSAGES: Mapping[str, str] = {
    # accounts/rules.py
    "invalid_username": N_(
        "Use %(username_min)s to %(username_max)s characters: Latin letters a–z, digits, dots and "
        "underscores, with at least one letter; no dot at the start, at the end or twice in a row."
    ),
    "reserved_username": N_("This username is reserved; choose another one."),
    "invalid_display_name": N_(
        "The name must be at most %(display_name_max)s characters and contain a letter or a digit."
    ),
    "invalid_bio": N_("The bio must be at most %(bio_max)s characters."),
    "invalid_email": N_("This email address is not valid."),
    "invalid_links": N_("At most %(links_max)s links."),
    "invalid_link": N_("A link must be a web address starting with http:// or https://."),
    # accounts/passwords.py
    "password_too_short": N_("The password must be at least %(password_min)s characters long."),
    "password_too_long": N_("The password must be at most %(password_max)s characters long."),
    "password_too_common": N_("This password is too common; choose one that is harder to guess."),
    "password_like_username": N_("The password must not be your username or email."),
    # accounts/service.py
    "username_taken": N_("This username is already taken."),
    "email_taken": N_("An account with this email already exists."),
    "user_not_found": N_("There is no such user."),
    "invalid_credentials": N_("Wrong username, email or password."),
    "wrong_password": N_("The current password is wrong."),
    "invalid_token_name": N_("Give the token a name, such as the app that will use it."),
    "too_many_tokens": N_("You have %(tokens_max)s active tokens; revoke one first."),
    "token_not_found": N_("There is no such token."),
    "invalid_locale": N_("Choose Russian or English."),
    # accounts/flows.py, ratelimit.py
    "rate_limited": N_("Too many attempts. Wait a few minutes and try again."),
    "too_many_attempts": N_("Too many wrong passwords for this account. Wait 15 minutes and try again."),
    # accounts/auth.py
    "csrf_cross_site": N_("The request came from another site and was refused."),
    "csrf_origin_mismatch": N_("The request came from another site and was refused."),
    "csrf_missing": N_("The form has expired. Reload the page and try again."),
    "csrf_invalid": N_("The form has expired. Reload the page and try again."),
    "invalid_token": N_("The access token is invalid, expired or revoked."),
    "unauthenticated": N_("Log in to continue."),
    # accounts/avatars.py, accounts/api.py
    "not_an_image": N_("This file is not a JPEG, PNG, WebP or GIF picture, or it is damaged."),
    "image_too_large": N_("The picture has too many pixels."),
    "image_too_small": N_("The picture must be at least %(avatar_min)s pixels on each side."),
    "file_too_large": N_("The file is too large."),
    # pagination.py (lists of tokens and, later, of everything)
    "invalid_cursor": N_("This list has changed. Start again from the first page."),
    "invalid_limit": N_("The request could not be understood."),
    # errors.py: HTTP statuses and request errors
    "bad_request": N_("The request could not be understood."),
    "malformed_json": N_("The request could not be understood."),
    "validation_error": N_("Some fields are missing or invalid."),
    "forbidden": N_("You are not allowed to do this."),
    "not_found": N_("This page does not exist. Perhaps the link is broken or the page was removed."),
    "method_not_allowed": N_("This address does not accept this kind of request."),
    "not_acceptable": N_("The request could not be understood."),
    "conflict": N_("This conflicts with something that already exists."),
    "payload_too_large": N_("What you sent is too large."),
    "unsupported_media_type": N_("This kind of file is not supported here."),
    "internal_error": N_("Something went wrong on our side. We have been told; please try again later."),
    "unavailable": N_("The service is temporarily unavailable. Please try again in a minute."),
    "http_error": N_("Something went wrong."),
    # uploads
    "upload_not_found": N_("This upload does not exist or has expired. Start the upload again."),
    "upload_too_large": N_("The file is larger than the upload limit."),
    "upload_length_exceeded": N_("More data was sent than the file's declared size."),
    "upload_offset_mismatch": N_("The upload is out of step; the app will resume it from the right place."),
    "upload_expired": N_("This upload has expired. Start it again."),
    "upload_incomplete": N_("The file has not finished uploading yet."),
    "upload_consumed": N_("A video has already been made from this upload."),
    "too_many_open_uploads": N_(
        "You have too many unfinished uploads. Finish one, or wait for unfinished ones to expire."
    ),
    "upload_locked": N_("This upload is busy with another request; try again in a moment."),
    "upload_interrupted": N_("The upload was interrupted; it will resume from where it stopped."),
    "checksum_mismatch": N_("Part of the file arrived damaged; the app will send it again."),
    "unsupported_checksum": N_("This checksum algorithm is not supported."),
    "invalid_checksum": N_("The checksum could not be read."),
    "invalid_metadata": N_("The upload's details could not be read."),
    "invalid_upload_length": N_("The file size is missing or invalid."),
    "invalid_upload_offset": N_("The upload position is missing or invalid."),
    "invalid_multipart": N_("The form with the file could not be read."),
    "file_missing": N_("Choose a file to upload."),
    "insufficient_storage": N_("The server is out of space for uploads right now. Please try again later."),
    "tus_version_unsupported": N_("This upload protocol version is not supported; update the app."),
    # social
    "cannot_follow_self": N_("You cannot follow yourself."),
    "cannot_block_self": N_("You cannot block yourself."),
    "user_blocked": N_("You can't do this: one of you has blocked the other."),
    "likes_private": N_("This person keeps their liked videos private."),
    "account_private": N_("This account is private. Follow it to see its videos."),
    "follow_request_not_found": N_("This person has not asked to follow you."),
    "comments_off": N_("Comments are turned off for this video."),
    "comments_followers_only": N_("Only the author's followers can comment on this video."),
    "comment_not_found": N_("This comment was deleted or never existed."),
    "comment_empty": N_("Write something first."),
    "comment_too_long": N_("The comment is too long: at most 500 characters."),
    "not_your_comment": N_("Only its author or the video's author can delete this comment."),
    "not_video_author": N_("Only the video's author can pin comments."),
    "cannot_pin_reply": N_("Only a comment, not a reply, can be pinned."),
    # events
    "invalid_events": N_("The watch events could not be read."),
    "events_rate_limited": N_("Too many events were sent from here; some were not counted."),
    # notifications
    "too_many_streams": N_("Too many live notification streams are open. Close a tab and reload."),
    "notification_not_found": N_("This notification no longer exists."),
    # videos
    "video_not_found": N_("This video does not exist or is not available to you."),
    "caption_too_long": N_("The caption is too long."),
    "too_many_hashtags": N_("Too many hashtags in the caption."),
    "invalid_cover_time": N_("The cover time is invalid."),
    "media_link_expired": N_("This media link has expired. Reload the page."),
    # media: why a file could not become a video
    "empty_file": N_("The file is empty."),
    "not_a_video": N_("This file is not a video we can read."),
    "no_video_stream": N_("The file has no video, only sound or subtitles."),
    "unsupported_codec": N_("The video is in a format we cannot decode."),
    "corrupt_video": N_("The video file is damaged or incomplete. Upload it again."),
    "video_too_long": N_("The video is longer than the limit."),
    "video_too_short": N_("The video is too short."),
    "dimensions_too_large": N_("The picture is too large: at most 8192 pixels a side."),
    "too_many_pixels": N_("The picture has too many pixels."),
    "frame_rate_too_high": N_("The frame rate is too high: at most 120 frames per second."),
    "probe_timeout": N_("Checking the file took too long. Try again later."),
    "probe_failed": N_("The file could not be checked. Try again later."),
    "source_missing": N_("The uploaded file is no longer available. Upload it again."),
    "processing_failed": N_("Processing failed. Upload the video again."),
    "processing_stuck": N_("Processing kept stopping. Upload the video again."),
}
UNKNOWN_PROBLEM = N_("Something went wrong.")

LIMITS = {
    "username_min": rules.USERNAME_MIN,
    "username_max": rules.USERNAME_MAX,
    "display_name_max": rules.DISPLAY_NAME_MAX,
    "bio_max": rules.BIO_MAX,
    "links_max": rules.LINKS_MAX,
    "password_min": passwords.MIN_PASSWORD_LENGTH,
    "password_max": passwords.MAX_PASSWORD_LENGTH,
    "tokens_max": service.MAX_TOKENS_PER_USER,
    "avatar_min": AVATAR_MIN_SIDE,
}


def problem_message(code: str, locale: str) -> str:
    """The reader's-language message for a problem code (a generic one for codes not listed)."""
    message = get_translations(locale).gettext(PROBLEM_MESSAGES.get(code, UNKNOWN_PROBLEM))
    return message % LIMITS if "%(" in message else message
