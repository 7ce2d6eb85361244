"""Recording in the browser with Chromium's fake camera and microphone: a vertical take is
recorded (tap, the time limit, retake, hold), reviewed, uploaded and published through the same
path as a chosen file, and the server's video is portrait."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect

from tests.browser.conftest import DEFAULT_TIMEOUT_MS, launch_chromium, phone_context
from tests.browser.test_upload_page import PROCESSING_TIMEOUT_MS, sign_up, wait_until

pytestmark = pytest.mark.browser

# Chromium's built-in test camera (a moving pattern with a beeping microphone), allowed without
# a prompt: what a creator's webcam is to the page.
FAKE_MEDIA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
RECORDER = "[data-recorder]"


@pytest.fixture(scope="module")
def camera_browser(playwright: Playwright) -> Iterator[Browser]:
    launched = launch_chromium(playwright, *FAKE_MEDIA_ARGS)
    yield launched
    launched.close()


@pytest.fixture
def camera_context(camera_browser: Browser, live_server: str) -> Iterator[BrowserContext]:
    created = phone_context(camera_browser, live_server)
    yield created
    created.close()


@pytest.fixture
def camera_page(camera_context: BrowserContext) -> Page:
    return camera_context.new_page()


def record_state(page: Page) -> str | None:
    return page.locator(RECORDER).get_attribute("data-state")


def test_record_review_retake_and_publish_a_vertical_clip(camera_page: Page, live_server: str) -> None:
    page = camera_page
    username = sign_up(page)
    page.goto("/upload")
    page.get_by_role("button", name="Снять видео").click()
    recorder = page.locator(RECORDER)
    expect(recorder).to_have_attribute("data-state", "ready")
    # The viewfinder shows the camera; one fake camera, so there is nothing to flip to.
    wait_until(page, "document.querySelector('[data-rec-view]').videoWidth > 0")
    cameras = page.evaluate(
        "navigator.mediaDevices.enumerateDevices()"
        ".then((all) => all.filter((d) => d.kind === 'videoinput').length)"
    )
    if cameras < 2:
        expect(page.get_by_role("button", name="Сменить камеру")).to_be_hidden()
    button = page.get_by_role("button", name="Начать запись")
    expect(page.locator("[data-rec-time]")).to_have_text("0:00 / 10:00")

    # A tap starts; at the time limit (lowered here to 2 s) the recording stops by itself.
    page.evaluate("document.querySelector('[data-upload]').dataset.maxSeconds = '2'")
    button.click()
    expect(recorder).to_have_attribute("data-state", "recording")
    expect(page.get_by_role("button", name="Остановить запись")).to_have_attribute("data-recording", "true")
    expect(recorder).to_have_attribute("data-state", "review", timeout=5_000)
    expect(page.locator("[data-rec-message]")).to_have_text(
        "Достигнут предел длительности, запись остановлена."
    )
    expect(page.locator("[data-rec-time]")).to_have_text("0:02 / 0:02")
    take = page.locator("[data-rec-take]")
    expect(take).to_be_visible()
    expect(take).to_have_attribute("src", re.compile(r"^blob:"))
    wait_until(page, "document.querySelector('[data-rec-take]').currentTime > 0.2")

    # Retake, holding the button this time: letting go stops.
    page.evaluate("document.querySelector('[data-upload]').dataset.maxSeconds = '600'")
    page.get_by_role("button", name="Переснять").click()
    expect(recorder).to_have_attribute("data-state", "ready")
    expect(take).to_be_hidden()
    box = button.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    expect(recorder).to_have_attribute("data-state", "recording")
    page.wait_for_timeout(2600)
    expect(recorder).to_have_attribute("data-state", "recording")  # still held
    page.mouse.up()
    expect(recorder).to_have_attribute("data-state", "review")
    expect(take).to_have_attribute("src", re.compile(r"^blob:"))

    # Using the take releases the camera and puts the clip on the page like a chosen file.
    page.evaluate("window.cameraStream = document.querySelector('[data-rec-view]').srcObject")
    page.get_by_role("button", name="Использовать").click()
    expect(recorder).to_be_hidden()
    assert page.evaluate("window.cameraStream.getTracks().every((track) => track.readyState === 'ended')")
    preview = page.locator("[data-preview] video")
    expect(preview).to_have_attribute("src", re.compile(r"^blob:"))
    wait_until(page, "document.querySelector('[data-preview] video').currentTime > 0.2")
    expect(page.locator("[data-file-name]")).to_have_text(re.compile(r"^recording-.+\.(webm|mp4)$"))
    expect(page.locator("[data-cover]")).to_be_visible()
    expect(page.locator("[data-status-title]")).to_have_text("Загружено", timeout=DEFAULT_TIMEOUT_MS)

    page.get_by_label("Подпись").fill("Снято в браузере #камера")
    page.get_by_role("button", name="Опубликовать").click()
    root = page.locator("[data-upload]")
    # Ready (its first rendition plays) is enough here; the full ladder is the upload tests' part.
    expect(page.get_by_role("heading", name="Видео опубликовано!")).to_be_visible(
        timeout=PROCESSING_TIMEOUT_MS
    )
    video_id = root.get_attribute("data-video-id")
    assert video_id
    expect(page.get_by_role("link", name="Смотреть видео")).to_have_attribute(
        "href", f"/@{username}/video/{video_id}"
    )
    video = httpx.get(f"{live_server}/api/v1/videos/{video_id}").json()
    assert video["status"] == "ready", video
    assert video["height"] > video["width"], video
    assert 2000 <= video["duration_ms"] <= 4500, video
    assert all(item["height"] > item["width"] for item in video["renditions"]), video


def test_a_take_too_short_is_refused_in_plain_words(camera_page: Page) -> None:
    sign_up(camera_page)
    camera_page.goto("/upload")
    camera_page.get_by_role("button", name="Снять видео").click()
    expect(camera_page.locator(RECORDER)).to_have_attribute("data-state", "ready")
    # Start and stop at once, as a double press of Enter does: two "clicks" from the keyboard.
    camera_page.get_by_role("button", name="Начать запись").evaluate(
        "(button) => { button.click(); button.click(); }"
    )
    expect(camera_page.locator("[data-rec-message]")).to_have_text(
        "Запись слишком короткая. Запишите хотя бы секунду."
    )
    expect(camera_page.locator(RECORDER)).to_have_attribute("data-state", "ready")
    # Closing the recorder turns the camera off and brings the choice back.
    camera_page.evaluate("window.cameraStream = document.querySelector('[data-rec-view]').srcObject")
    camera_page.get_by_role("button", name="Закрыть камеру").click()
    expect(camera_page.get_by_text("Выберите видео")).to_be_visible()
    assert camera_page.evaluate("window.cameraStream.getTracks().every((t) => t.readyState === 'ended')")


def test_a_refused_camera_is_explained(playwright: Playwright, live_server: str) -> None:
    # A camera, but no automatic "allow": the page's request meets the permission prompt, which
    # a headless browser answers "block", as a creator who refuses does.
    launched = launch_chromium(playwright, FAKE_MEDIA_ARGS[0])
    try:
        page = launched.new_page(base_url=live_server, locale="ru-RU", viewport={"width": 360, "height": 740})
        page.set_default_timeout(DEFAULT_TIMEOUT_MS)
        sign_up(page)
        page.goto("/upload")
        page.get_by_role("button", name="Снять видео").click()
        expect(page.locator(RECORDER)).to_have_attribute("data-state", "error")
        expect(page.get_by_role("alert")).to_have_text(
            "Доступ к камере запрещён. Разрешите этому сайту камеру и микрофон в настройках браузера "
            "и попробуйте снова."
        )
        expect(page.get_by_role("button", name="Начать запись")).to_be_hidden()
        # Closing brings back the choice of a file.
        page.get_by_role("button", name="Закрыть камеру").click()
        expect(page.get_by_text("Выберите видео")).to_be_visible()
    finally:
        launched.close()


def test_flip_switches_to_the_other_camera(playwright: Playwright, live_server: str) -> None:
    # Two fake cameras, as on a phone (front and back).
    launched = launch_chromium(
        playwright, "--use-fake-device-for-media-stream=device-count=2", FAKE_MEDIA_ARGS[1]
    )
    try:
        page = launched.new_page(base_url=live_server, locale="ru-RU", viewport={"width": 390, "height": 844})
        page.set_default_timeout(DEFAULT_TIMEOUT_MS)
        sign_up(page)
        page.goto("/upload")
        page.get_by_role("button", name="Снять видео").click()
        expect(page.locator(RECORDER)).to_have_attribute("data-state", "ready")
        camera_of = (
            "document.querySelector('[data-rec-view]').srcObject.getVideoTracks()[0].getSettings().deviceId"
        )
        first = page.evaluate(camera_of)
        page.evaluate("window.firstStream = document.querySelector('[data-rec-view]').srcObject")
        page.get_by_role("button", name="Сменить камеру").click()
        expect(page.locator(RECORDER)).to_have_attribute("data-state", "ready")
        wait_until(page, f"{camera_of} !== {first!r}")
        # The camera flipped from is let go, not left running behind the new one.
        assert page.evaluate("window.firstStream.getTracks().every((track) => track.readyState === 'ended')")
    finally:
        launched.close()
