"""What a valid username, display name, email, bio and link are. Each `check_*` returns the
normalised value or raises a 422 Problem with a stable code."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from molodets.errors import Problem

USERNAME_MIN = 2
USERNAME_MAX = 24
DISPLAY_NAME_MAX = 50
BIO_MAX = 300
LINKS_MAX = 5
LINK_TITLE_MAX = 40
LINK_URL_MAX = 500

_USERNAME_RE = re.compile(r"[a-z0-9._]+")
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})

# Names that would collide with our own routes, impersonate staff or confuse people.
RESERVED_USERNAMES = frozenset(
    """
    about account accounts admin administrator api app apps auth billing blog call callback contact
    create creator dashboard developer developers discover docs download edit email explore faq feed
    following foryou for_you fyp healthz help home hashtag hashtags inbox info join legal live login
    logout me media metrics moderation moderator molodets new news notifications official oauth
    password policy press privacy profile readyz register report root search security settings
    signin signup sound sounds static staff status support system tag tags terms test upload uploads
    user users video videos www null undefined anonymous
    """.split()  # noqa: SIM905 - a word list reads better as words
)


def normalise_username(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw).strip().lstrip("@").casefold()


def check_username(raw: str) -> str:
    username = normalise_username(raw)
    if not USERNAME_MIN <= len(username) <= USERNAME_MAX:
        raise Problem(
            422,
            "invalid_username",
            f"The username must be {USERNAME_MIN} to {USERNAME_MAX} characters long.",
        )
    if not _USERNAME_RE.fullmatch(username):
        raise Problem(
            422,
            "invalid_username",
            "The username may contain only Latin letters a–z, digits, dots and underscores.",
        )
    if username.startswith(".") or username.endswith(".") or ".." in username:
        raise Problem(
            422,
            "invalid_username",
            "The username must not start or end with a dot or have two dots in a row.",
        )
    if username.isdigit():
        raise Problem(422, "invalid_username", "The username must contain at least one letter.")
    if username in RESERVED_USERNAMES:
        raise Problem(422, "reserved_username", "This username is reserved; choose another one.")
    return username


def _clean_text(raw: str) -> str:
    """NFC, whitespace controls turned into spaces, other control and format characters dropped
    (bidi overrides and zero-width joiners are how impersonators hide); newlines kept."""
    text = unicodedata.normalize("NFC", raw).replace("\r\n", "\n")
    text = "".join(" " if ch in "\t\r\v\f" else ch for ch in text)
    return "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch) not in _INVISIBLE)


def check_display_name(raw: str | None, *, fallback: str) -> str:
    if raw is None:
        return fallback
    name = " ".join(_clean_text(raw).split())
    if not name:
        return fallback
    if len(name) > DISPLAY_NAME_MAX:
        raise Problem(
            422, "invalid_display_name", f"The display name must be at most {DISPLAY_NAME_MAX} characters."
        )
    if not any(unicodedata.category(ch)[0] in {"L", "N"} for ch in name):
        raise Problem(422, "invalid_display_name", "The display name must contain a letter or a digit.")
    return name


def check_bio(raw: str) -> str:
    lines = [" ".join(line.split()) for line in _clean_text(raw).strip().split("\n")]
    bio = "\n".join(lines).strip()
    while "\n\n\n" in bio:
        bio = bio.replace("\n\n\n", "\n\n")
    if len(bio) > BIO_MAX:
        raise Problem(422, "invalid_bio", f"The bio must be at most {BIO_MAX} characters.")
    return bio


def check_email(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        # Deliverability (DNS) is not checked: it would make sign-up depend on the network.
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise Problem(422, "invalid_email", f"The email address is not valid: {exc}") from None
    return result.normalized.casefold()


def check_links(raw: list[tuple[str, str]]) -> list[dict[str, str]]:
    if len(raw) > LINKS_MAX:
        raise Problem(422, "invalid_links", f"At most {LINKS_MAX} links.")
    links = []
    for title, url in raw:
        url = url.strip()
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname or len(url) > LINK_URL_MAX:
            raise Problem(422, "invalid_link", f"A link must be an http(s) address: {url[:80]!r}")
        title = " ".join(_clean_text(title).split())[:LINK_TITLE_MAX] or parts.hostname
        links.append({"title": title, "url": url})
    return links
