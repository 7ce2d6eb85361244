"""The words of a notification in the reader's language: "Ivan and 5 others liked your video",
"Иван и ещё 5 человек оценили ваше видео" (the plural form follows the count of the others)."""

from __future__ import annotations

from collections.abc import Mapping

from babel.support import Translations

from molodets.notifications.models import Kind
from molodets.web.i18n import N_, NP_, format_number, get_translations

SOMEONE = N_("Someone")

# What one actor did. `%(name)s` is the actor's display name, `%(text)s` a comment's text.
SINGLE: Mapping[str, str] = {
    Kind.LIKE: N_("%(name)s liked your video"),
    Kind.COMMENT_LIKE: N_("%(name)s liked your comment"),
    Kind.COMMENT: N_("%(name)s commented: %(text)s"),
    Kind.REPLY: N_("%(name)s replied to your comment: %(text)s"),
    Kind.MENTION: N_("%(name)s mentioned you in a video"),
    Kind.FOLLOW: N_("%(name)s started following you"),
    Kind.FOLLOW_REQUEST: N_("%(name)s asked to follow you"),
    Kind.FOLLOW_ACCEPTED: N_("%(name)s accepted your follow request"),
}
MENTION_IN_COMMENT = N_("%(name)s mentioned you in a comment: %(text)s")

# What the last actor and `%(num)s` others did, for the kinds that group.
GROUPED: Mapping[str, tuple[str, str]] = {
    Kind.LIKE: NP_(
        "%(name)s and %(num)s other liked your video", "%(name)s and %(num)s others liked your video"
    ),
    Kind.COMMENT_LIKE: NP_(
        "%(name)s and %(num)s other liked your comment", "%(name)s and %(num)s others liked your comment"
    ),
    Kind.FOLLOW: NP_(
        "%(name)s and %(num)s other started following you",
        "%(name)s and %(num)s others started following you",
    ),
    Kind.FOLLOW_REQUEST: NP_(
        "%(name)s and %(num)s other asked to follow you", "%(name)s and %(num)s others asked to follow you"
    ),
}

SNIPPET_MAX = 80


def describe(
    *, kind: str, actor_name: str | None, actor_count: int, comment_text: str | None, locale: str
) -> str:
    """The sentence for one notification (plain text: pages escape it like any other text)."""
    translations: Translations = get_translations(locale)
    name = actor_name or translations.gettext(SOMEONE)
    values = {"name": name, "text": _snippet(comment_text or "")}
    others = actor_count - 1
    if others > 0 and kind in GROUPED:
        singular, plural = GROUPED[kind]
        values["num"] = format_number(others, locale)
        return translations.ngettext(singular, plural, others) % values
    message = MENTION_IN_COMMENT if kind == Kind.MENTION and comment_text is not None else SINGLE[kind]
    return translations.gettext(message) % values


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_MAX else text[: SNIPPET_MAX - 1].rstrip() + "…"
