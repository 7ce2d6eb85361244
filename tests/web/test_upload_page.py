"""The creator's upload page as the server renders it (the browser tests drive its script)."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from molodets.videos import pages
from molodets.web import i18n
from tests.web.conftest import EN, HTML, RU, LoggedIn

_STRINGS = re.compile(r'<script type="application/json" id="upload-strings">(.*?)</script>', re.S)


def page_strings(html: str) -> dict[str, object]:
    match = _STRINGS.search(html)
    assert match, "no strings for the script"
    loaded: dict[str, object] = json.loads(match.group(1))
    return loaded


def test_upload_page_needs_login(client: TestClient) -> None:
    response = client.get("/upload", headers=HTML, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login?next=/upload")


def test_upload_page_in_russian(anna: LoggedIn) -> None:
    response = anna.client.get("/upload", headers={**HTML, **RU})
    assert response.status_code == 200
    assert response.headers["content-language"] == "ru"
    html = response.text
    assert '<meta name="csrf-token" content="' in html
    assert "Загрузить видео" in html
    assert 'type="file" accept="video/*"' in html
    for label in ("Подпись", "Кто может смотреть", "Разрешить комментарии", "Опубликовать"):
        assert label in html, label
    for value in ("public", "followers", "private"):
        assert f'<option value="{value}"' in html
    assert 'data-username="anna"' in html
    assert "/static/js/upload.js?v=" in html
    strings = page_strings(html)
    stages = strings["stages"]
    assert isinstance(stages, dict)
    assert stages["done"] == "Готово"
    problems = strings["problems"]
    assert isinstance(problems, dict)
    assert problems["not_a_video"] == i18n.problem_message("not_a_video", "ru")
    assert set(i18n.PROBLEM_MESSAGES) <= set(problems)
    # Russian needs three forms of "hashtag"; the script picks one with Intl.PluralRules.
    assert strings["hashtags"] == {
        "one": "%(num)s хэштег",
        "few": "%(num)s хэштега",
        "many": "%(num)s хэштегов",
    }


def test_upload_page_in_english(anna: LoggedIn) -> None:
    html = anna.client.get("/upload", headers={**HTML, **EN}).text
    for label in ("Upload a video", "Caption", "Who can watch", "Allow comments", "Publish"):
        assert label in html, label
    strings = page_strings(html)
    assert strings["hashtags"] == {"one": "%(num)s hashtag", "other": "%(num)s hashtags"}
    problems = strings["problems"]
    assert isinstance(problems, dict)
    assert problems[pages.UNKNOWN_CODE] == "Something went wrong."


def test_layout_links_lead_to_the_upload_page(anna: LoggedIn) -> None:
    html = anna.client.get("/", headers={**HTML, **EN}).text
    assert html.count('href="/upload"') >= 3  # top bar, tab bar, and the home page's button
    upload = anna.client.get("/upload", headers={**HTML, **EN}).text
    assert re.search(r'href="/upload"\s+aria-current="page"', upload)
