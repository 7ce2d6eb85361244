"""Translations: plural forms, number formats, language negotiation, catalogs, problem messages."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from molodets import errors
from molodets.web import TRANSLATIONS_DIR, i18n
from molodets.web.templating import get_environment

SRC = Path(i18n.__file__).resolve().parents[1]

RU_FOLLOWERS = {
    0: "0 подписчиков",
    1: "1 подписчик",
    2: "2 подписчика",
    4: "4 подписчика",
    5: "5 подписчиков",
    11: "11 подписчиков",
    12: "12 подписчиков",
    14: "14 подписчиков",
    21: "21 подписчик",
    22: "22 подписчика",
    25: "25 подписчиков",
    101: "101 подписчик",
    111: "111 подписчиков",
    112: "112 подписчиков",
    122: "122 подписчика",
}


@pytest.mark.parametrize(("number", "expected"), RU_FOLLOWERS.items())
def test_russian_plural_forms(number: int, expected: str) -> None:
    assert i18n.counter(i18n.get_translations("ru"), "ru", "followers", number) == expected


@pytest.mark.parametrize(
    ("number", "expected"), [(0, "0 followers"), (1, "1 follower"), (2, "2 followers"), (21, "21 followers")]
)
def test_english_plural_forms(number: int, expected: str) -> None:
    assert i18n.counter(i18n.get_translations("en"), "en", "followers", number) == expected


@pytest.mark.parametrize(
    ("locale", "number", "expected"),
    [
        ("ru", 999, "999 подписчиков"),
        # Compacted counts read as "N thousand", which takes the genitive plural whatever N is.
        ("ru", 1001, "1\xa0тыс. подписчиков"),
        ("ru", 1234, "1,2\xa0тыс. подписчиков"),
        ("ru", 21_000, "21\xa0тыс. подписчиков"),
        ("ru", 1_500_000, "1,5\xa0млн подписчиков"),
        ("en", 1001, "1K followers"),
        ("en", 1234, "1.2K followers"),
        ("en", 1_500_000, "1.5M followers"),
    ],
)
def test_large_counts_are_compact_with_the_right_noun(locale: str, number: int, expected: str) -> None:
    assert i18n.counter(i18n.get_translations(locale), locale, "followers", number) == expected


def test_number_formatting_follows_the_locale() -> None:
    assert i18n.format_number(1_234_567, "ru") == "1\xa0234\xa0567"
    assert i18n.format_number(1_234_567, "en") == "1,234,567"
    assert i18n.format_count(12_345, "ru") == "12,3\xa0тыс."
    assert i18n.format_count(12_345, "en") == "12.3K"


def test_templates_get_plural_and_number_helpers() -> None:
    env = get_environment("ru")
    template = env.from_string('{{ counter("likes", 3) }} · {{ 5 | number }} · {{ 2500 | count }}')
    assert template.render() == "3 лайка · 5 · 2,5\xa0тыс."


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, []),
        ("", []),
        ("ru", ["ru"]),
        ("en-US,en;q=0.9,ru;q=0.8", ["en-US", "en", "ru"]),
        ("de;q=0.5, ru-RU;q=0.7 , en;q=0.1", ["ru-RU", "de", "en"]),
        ("en;q=0, ru", ["ru"]),  # q=0 means "not this one"
        ("*, ru;q=0.5", ["ru"]),
        ("fr;q=bogus, en", ["en"]),
        ("da, en-gb;q=0.8, en;q=0.8", ["da", "en-gb", "en"]),  # equal weights keep their order
    ],
)
def test_accept_language_is_parsed_with_q_values(header: str | None, expected: list[str]) -> None:
    assert i18n.parse_accept_language(header) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ru-RU,ru;q=0.9", "ru"),
        ("en-GB,en;q=0.9,ru;q=0.1", "en"),
        ("de-DE,de;q=0.9,en;q=0.5,ru;q=0.4", "en"),
        ("de, fr", None),
        ("en;q=0.2, ru;q=0.8", "ru"),
    ],
)
def test_negotiation_picks_a_supported_locale(header: str, expected: str | None) -> None:
    assert i18n.negotiate(header) == expected


def test_resolution_order() -> None:
    def resolve(user: str | None, cookie: str | None, header: str | None) -> str:
        return i18n.resolve_locale(user_locale=user, cookie=cookie, accept_language=header, default="ru")

    assert resolve("en", "ru", "ru") == "en"  # the account's setting first
    assert resolve(None, "en", "ru") == "en"  # then the switch's cookie
    assert resolve(None, "xx", "en-US") == "en"  # a bogus cookie is ignored
    assert resolve(None, None, "en-US,en;q=0.9") == "en"  # then the browser
    assert resolve(None, None, "de") == "ru"  # then the default
    assert i18n.resolve_locale(user_locale=None, cookie=None, accept_language=None, default="en") == "en"


def test_environments_per_locale_do_not_leak_into_each_other() -> None:
    """Many threads rendering in both languages at once each get their own language."""
    results: dict[str, set[str]] = {"ru": set(), "en": set()}
    lock = threading.Lock()

    def render(locale: str) -> None:
        for _ in range(200):
            text = get_environment(locale).from_string("{{ _('Log in') }}").render()
            with lock:
                results[locale].add(text)

    threads = [threading.Thread(target=render, args=(locale,)) for locale in ("ru", "en") * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {"ru": {"Войти"}, "en": {"Log in"}}


def _raised_codes() -> set[str]:
    """Every problem code the application can produce, and every reason a file is refused."""
    codes: set[str] = set()
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        codes.update(re.findall(r"Problem\(\s*\d{3},\s*\"([a-z_]+)\"", text))
        codes.update(re.findall(r"code=\"([a-z_]+)\"", text))
        codes.update(re.findall(r"return \d{3}, \"([a-z_]+)\"", text))
        codes.update(re.findall(r"MediaRejected\(\s*\"([a-z_]+)\"", text))
        codes.update(re.findall(r"_fail\(ctx, [a-z_.]+, \"([a-z_]+)\"", text))
    codes.update(errors._STATUS_CODES.values())
    codes.add("http_error")
    return codes


def test_every_problem_code_has_a_message() -> None:
    codes = _raised_codes()
    assert {"invalid_username", "password_too_short", "not_an_image", "too_many_attempts"} <= codes
    assert codes - set(i18n.PROBLEM_MESSAGES) == set()


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_problem_messages_are_translated_and_formatted(locale: str) -> None:
    for code in i18n.PROBLEM_MESSAGES:
        message = i18n.problem_message(code, locale)
        assert message, code
        assert "%(" not in message, code
    assert i18n.problem_message("password_too_short", "ru") == "Пароль должен быть не короче 8 символов."
    assert (
        i18n.problem_message("password_too_short", "en") == "The password must be at least 8 characters long."
    )
    assert i18n.problem_message("no_such_code", "ru") == "Что-то пошло не так."


def test_russian_catalog_is_complete_and_consistent() -> None:
    with (TRANSLATIONS_DIR / "ru" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="ru")
    with (TRANSLATIONS_DIR / "messages.pot").open("rb") as handle:
        template = read_po(handle)
    assert {m.id for m in template if m.id} <= {m.id for m in catalog if m.id}, "run pybabel update"
    placeholder = re.compile(r"%\([a-z_]+\)s")
    for message in catalog:
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        ids = [str(part) for part in (message.id if isinstance(message.id, tuple) else (message.id,))]
        raw = message.string if isinstance(message.string, tuple | list) else (message.string,)
        strings = [str(part or "") for part in raw]
        assert all(strings), f"untranslated: {message.id!r}"
        expected = set(placeholder.findall(ids[0]))
        for string in strings:
            assert set(placeholder.findall(string)) == expected, message.id
    assert catalog.num_plurals == 3
