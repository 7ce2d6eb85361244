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
    for label in ("Подпись", "Кто может смотреть", "Кто может комментировать", "Опубликовать"):
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
    for label in ("Upload a video", "Caption", "Who can watch", "Who can comment", "Publish"):
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


def test_create_page_offers_the_recorder_and_its_messages(anna: LoggedIn) -> None:
    html = anna.client.get("/upload", headers={**HTML, **RU}).text
    assert "/static/css/create.css?v=" in html
    assert 'data-max-seconds="600"' in html
    for label in ("Снять видео", "Начать запись", "Переснять", "Обложка", "Приостановить загрузку"):
        assert label in html, label
    strings = page_strings(html)
    recorder = strings["recorder"]
    assert isinstance(recorder, dict)
    assert recorder["denied"].startswith("Доступ к камере запрещён.")
    assert recorder["no_camera"] == "На этом устройстве не найдена камера. Выберите видеофайл."
    assert strings["time_left"] == "Осталось {time}"
    assert strings["cover_at"] == "Кадр обложки на {time}"
    problems = strings["problems"]
    assert isinstance(problems, dict)
    # The length refusal names the configured limit, in words.
    assert problems["video_too_long"] == "Видео длиннее 10 минут."


def test_length_refusal_follows_the_limit() -> None:
    assert pages.page_problem_messages("en", 600)["video_too_long"] == "The video is longer than 10 minutes."
    assert pages.page_problem_messages("en", 60)["video_too_long"] == "The video is longer than 1 minute."
    assert pages.page_problem_messages("ru", 180)["video_too_long"] == "Видео длиннее 3 минут."
    assert pages.page_problem_messages("ru", 90)["video_too_long"] == "Видео длиннее 90 секунд."
    assert pages.page_problem_messages("ru", 21)["video_too_long"] == "Видео длиннее 21 секунды."
    # The shared catalogue keeps the API's generic wording.
    assert pages.problem_messages("ru")["video_too_long"] == i18n.problem_message("video_too_long", "ru")


def test_create_page_in_english_names_the_limit(anna: LoggedIn) -> None:
    html = anna.client.get("/upload", headers={**HTML, **EN}).text
    for label in ("Record a video", "Start recording", "Retake", "Use this video", "Cover", "Pause upload"):
        assert label in html, label
    strings = page_strings(html)
    assert strings["time_left"] == "{time} left"
    problems = strings["problems"]
    assert isinstance(problems, dict)
    assert problems["video_too_long"] == "The video is longer than 10 minutes."
