"""The creator's upload page in a real Chromium on a live server whose job consumers process the
clip: the local file plays at once, the upload (our own tus client) resumes after a reload and
pauses and resumes on request, the caption highlights #hashtags and @mentions, the chosen cover
time and who may comment reach the server, and the server's version takes over when processing
is done. Recording with the camera is in test_recording.py."""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Request, Route, expect

from molodets.web.i18n import problem_message
from tests.browser.conftest import DEFAULT_TIMEOUT_MS
from tests.mediaclips import make_clip, make_text_file

pytestmark = pytest.mark.browser

PASSWORD = "поезд-в-Обираловку-1877"
PROCESSING_TIMEOUT_MS = 60_000
_numbers = itertools.count(1)

# Resolves to the playing position after `ms` of play, or -1 if the element is paused.
ADVANCES_JS = """async ([selector, ms]) => {
    const video = document.querySelector(selector);
    const before = video.currentTime;
    await new Promise((resolve) => setTimeout(resolve, ms));
    return {before, after: video.currentTime, paused: video.paused, src: video.currentSrc};
}"""


def sign_up(page: Page) -> str:
    """A new account, its session cookie in the page's browser context."""
    username = f"creator{next(_numbers)}"
    response = page.request.post("/api/v1/accounts", data={"username": username, "password": PASSWORD})
    assert response.status == 201, response.text()
    return username


def wait_until(page: Page, expression: str, timeout_s: float = 15) -> None:
    """Poll `expression` in the page. (`page.wait_for_function` evaluates strings with `eval`,
    which the pages' Content-Security-Policy forbids, as it should.)"""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(50)


def playing(page: Page, selector: str = "[data-preview] video", ms: int = 500) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate(ADVANCES_JS, [selector, ms])
    return state


def test_local_preview_plays_at_once_then_the_server_version(
    page: Page, live_server: str, tmp_path: Path
) -> None:
    clip = make_clip(tmp_path / "котик.mp4", width=540, height=960, seconds=2)
    username = sign_up(page)
    page.goto("/upload")
    expect(page.get_by_role("heading", name="Загрузить видео")).to_be_visible()
    page.get_by_label("Выберите видео").set_input_files(clip)

    # The local file plays before anything is published, let alone processed.
    preview = page.locator("[data-preview] video")
    expect(preview).to_have_count(1)
    expect(preview).to_have_attribute("src", re.compile(r"^blob:"))
    wait_until(page, "document.querySelector('[data-preview] video').currentTime > 0.2")
    state = playing(page)
    assert state["after"] > state["before"], state
    assert not state["paused"], state

    caption = page.get_by_label("Подпись")
    caption.fill("Мой первый ролик #Котики и #котики, #cats")
    expect(page.locator("[data-caption-tags]")).to_have_text("2 хэштега")
    page.get_by_label("Кто может смотреть").select_option("public")
    expect(page.get_by_label("Кто может комментировать")).to_have_value("everyone")
    page.get_by_role("button", name="Опубликовать").click()

    # Published and processing: the local clip keeps playing meanwhile.
    expect(page.locator("[data-upload]")).to_have_attribute("data-phase", re.compile("published|done"))
    state = playing(page, ms=200)
    assert state["src"].startswith("blob:"), state
    assert state["after"] > state["before"], state
    expect(page.get_by_role("heading", name=re.compile("Публикуем|Видео опубликовано"))).to_be_visible()

    root = page.locator("[data-upload]")
    expect(root).to_have_attribute("data-phase", "done", timeout=PROCESSING_TIMEOUT_MS)
    expect(page.locator("[data-status-title]")).to_have_text("Готово")
    expect(page.get_by_role("heading", name="Видео опубликовано!")).to_be_visible()
    expect(page.get_by_role("link", name="Мой профиль").last).to_have_attribute("href", f"/@{username}")
    expect(page.locator("[data-poster]")).to_have_attribute("src", re.compile(r"/media/.+\.jpg$"))

    # The server's rendition took the local one's place once it could play, and plays.
    expect(preview).to_have_count(1, timeout=PROCESSING_TIMEOUT_MS)
    expect(preview).to_have_attribute("src", re.compile(r"^/media/videos/\d+/"))
    wait_until(page, "!document.querySelector('[data-preview] video').src.includes('/first.mp4')")
    state = playing(page)
    assert state["src"].startswith(f"{live_server}/media/"), state
    assert state["after"] != state["before"], state  # advanced, or looped round
    assert not state["paused"], state

    listing = httpx.get(f"{live_server}/api/v1/users/{username}/videos").json()
    [video] = listing["items"]
    assert video["caption"] == "Мой первый ролик #Котики и #котики, #cats"
    assert video["hashtags"] == ["котики", "cats"]
    assert video["stage"] == "done"


def test_upload_resumes_from_the_stored_offset_after_a_reload(page: Page, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "long.mp4", width=540, height=960, seconds=5, audio=False)
    chunk = 256 * 1024
    sign_up(page)
    page.goto("/upload")
    set_chunk_size = f"document.querySelector('[data-upload]').dataset.chunkSize = '{chunk}'"
    page.evaluate(set_chunk_size)

    # The network breaks after the first chunk: every later PATCH fails.
    blocking = True
    patches = 0

    def cut_after_first_chunk(route: Route) -> None:
        nonlocal patches
        if route.request.method == "PATCH":
            patches += 1
            if blocking and patches > 1:
                route.abort("connectionreset")
                return
        route.continue_()

    page.route(re.compile(r"/api/v1/uploads/\d+$"), cut_after_first_chunk)
    page.get_by_label("Выберите видео").set_input_files(clip)
    # The client notices, backs off and asks the server where it stands before each new try.
    expect(page.locator("[data-status-title]")).to_have_text("Связь прервалась. Пробуем снова…")

    key, upload_url = page.evaluate(
        """Object.entries(localStorage)
            .filter(([key]) => key.startsWith("molodets.tus:"))
            .map(([key, value]) => [key, JSON.parse(value).url])[0]"""
    )
    assert "long.mp4" in key
    head = page.request.head(upload_url, headers={"Tus-Resumable": "1.0.0"})
    assert head.status == 200
    kept = int(head.headers["upload-offset"])
    assert kept == chunk
    assert int(head.headers["upload-length"]) == clip.stat().st_size

    page.reload()
    blocking = False
    seen: list[Request] = []
    page.on("request", lambda request: seen.append(request) if "/api/v1/uploads" in request.url else None)
    page.evaluate(set_chunk_size)
    page.get_by_label("Выберите видео").set_input_files(clip)
    expect(page.locator("[data-status-title]")).to_have_text("Загружено", timeout=DEFAULT_TIMEOUT_MS)

    # No new upload: the remembered one was asked for its offset and continued from there.
    assert [r.method for r in seen if r.url.endswith("/api/v1/uploads")] == []
    assert (seen[0].method, seen[0].url) == ("HEAD", upload_url)
    patch_offsets = [int(r.headers["upload-offset"]) for r in seen if r.method == "PATCH"]
    assert patch_offsets[0] == kept > 0
    assert patch_offsets == sorted(patch_offsets)
    status = page.request.get(f"/api/v1/uploads/{upload_url.rsplit('/', 1)[1]}").json()
    assert (status["complete"], status["offset"], status["length"]) == (
        True,
        clip.stat().st_size,
        clip.stat().st_size,
    )


def test_a_file_that_is_not_a_video_shows_the_reason(page: Page, tmp_path: Path) -> None:
    fake = make_text_file(tmp_path / "не видео.mp4")  # the extension makes the browser say video/mp4
    sign_up(page)
    page.goto("/upload")
    page.get_by_label("Выберите видео").set_input_files(fake)
    # The browser cannot play it; the page says so instead of showing a black box.
    expect(page.locator("[data-no-preview]")).to_have_text(re.compile("не может показать"))
    page.get_by_role("button", name="Опубликовать").click()
    expect(page.locator("[data-upload]")).to_have_attribute(
        "data-phase", "failed", timeout=PROCESSING_TIMEOUT_MS
    )
    expect(page.get_by_role("heading", name="Не удалось опубликовать видео.")).to_be_visible()
    expect(page.locator("[data-result-text]")).to_have_text(problem_message("not_a_video", "ru"))


def test_caption_highlighting_and_the_chosen_cover_reach_the_server(
    page: Page, live_server: str, tmp_path: Path
) -> None:
    clip = make_clip(tmp_path / "обложка.mp4", width=360, height=640, seconds=3, audio=False)
    sign_up(page)
    page.goto("/upload")
    page.get_by_label("Выберите видео").set_input_files(clip)

    caption = page.get_by_label("Подпись")
    text = "Привет @anna.k и #Котики_2026, почта a@b.cd, #x#y\nещё @n"
    caption.press_sequentially(text)
    mirror = page.locator("[data-caption-mirror]")
    # The same rules as the server: "#x#y" is one tag, an address is no mention, "@n" is too short.
    expect(mirror.locator("mark.is-tag")).to_have_text(["#Котики_2026", "#x"])
    expect(mirror.locator("mark.is-mention")).to_have_text(["@anna.k"])
    expect(page.locator("[data-caption-tags]")).to_have_text("2 хэштега")
    # The marks sit under the very letters typed: the mirror holds the same text in the same box.
    assert mirror.evaluate("(node) => node.textContent") == text + "\u200b"
    caption_box, mirror_box = caption.bounding_box(), mirror.bounding_box()
    assert caption_box == mirror_box, (caption_box, mirror_box)
    assert caption.evaluate("(node) => getComputedStyle(node).color") == "rgba(0, 0, 0, 0)"

    # The cover strip is drawn from the local clip; the keyboard moves the chosen frame.
    expect(page.locator("[data-cover]")).to_be_visible()
    expect(page.locator("[data-cover-thumbs] canvas[data-drawn]")).to_have_count(8)
    slider = page.get_by_label("Обложка")
    expect(slider).to_have_value("1000")  # where the server would cut it by default
    slider.focus()
    slider.press("End")
    slider.press("ArrowLeft")
    slider.press("ArrowLeft")
    chosen = int(slider.input_value())
    assert 2500 <= chosen <= 2800, chosen
    expect(slider).to_have_attribute("aria-valuetext", re.compile(r"^Кадр обложки на 0:02\.\d$"))
    wait_until(
        page, f"Math.abs(document.querySelector('[data-cover-frame]').currentTime - {chosen / 1000}) < 0.05"
    )

    page.get_by_label("Кто может комментировать").select_option("followers")
    page.get_by_role("button", name="Опубликовать").click()
    root = page.locator("[data-upload]")
    expect(root).to_have_attribute("data-phase", re.compile("published|done"))
    video_id = root.get_attribute("data-video-id")
    # Still processing, so only its author may see it: ask with the page's session.
    video = page.request.get(f"/api/v1/videos/{video_id}").json()
    assert video["cover_time_ms"] == chosen, video
    assert (video["comments_enabled"], video["comment_audience"]) == (True, "followers")
    assert video["hashtags"] == ["котики_2026", "x"]
    assert video["mentions"] == ["anna.k"]


def test_pause_holds_the_upload_and_resume_finishes_it(page: Page, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "pause.mp4", width=360, height=640, seconds=3, audio=False)
    size = clip.stat().st_size
    sign_up(page)
    page.goto("/upload")
    page.evaluate(f"document.querySelector('[data-upload]').dataset.chunkSize = '{64 * 1024}'")
    # A slow uplink (as on a phone), so the upload takes long enough to watch and pause.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    throttle = {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 100_000}
    cdp.send("Network.emulateNetworkConditions", throttle)
    patches: list[int] = []

    def note_patch(request: Request) -> None:
        if request.method == "PATCH":
            patches.append(int(request.headers["upload-offset"]))

    page.on("request", note_patch)
    page.get_by_label("Выберите видео").set_input_files(clip)

    # Percent, speed and time left while it goes.
    expect(page.locator("[data-status-title]")).to_have_text("Загрузка…")
    expect(page.locator("[data-status-speed]")).to_have_text(re.compile(r"^\d[\d\s,]*\s[кМ]Б/[сc]$"))
    expect(page.locator("[data-status-eta]")).to_have_text(
        re.compile(r"^Осталось \d+ (секунд|секунды|секунда|минута|минуты|минут)$")
    )
    # Pause once the server holds the first chunk (its answer let the second one go), so the
    # pause lands mid-upload however quickly the texts above appeared.
    deadline = time.monotonic() + DEFAULT_TIMEOUT_MS / 1000
    while len(patches) < 2:
        assert time.monotonic() < deadline, f"the upload did not get past its first chunk: {patches}"
        page.wait_for_timeout(20)
    pause = page.get_by_role("button", name="Приостановить загрузку")
    pause.click()
    expect(page.locator("[data-status-title]")).to_have_text("Пауза")
    resume = page.get_by_role("button", name="Продолжить загрузку")
    expect(resume).to_be_focused()  # the same button, so the keyboard stays in place
    expect(page.locator("[data-status-rate]")).to_be_hidden()

    # While paused nothing moves, on the page or on the server.
    upload_url = page.evaluate(
        "JSON.parse(Object.entries(localStorage).find(([k]) => k.startsWith('molodets.tus:'))[1]).url"
    )
    head = {"Tus-Resumable": "1.0.0"}
    held = int(page.request.head(upload_url, headers=head).headers["upload-offset"])
    percent = page.locator("[data-status-percent]").text_content()
    sent_patches = len(patches)
    page.wait_for_timeout(1200)
    assert int(page.request.head(upload_url, headers=head).headers["upload-offset"]) == held
    assert 0 < held < size
    expect(page.locator("[data-status-percent]")).to_have_text(percent or "")
    assert len(patches) == sent_patches

    cdp.send("Network.emulateNetworkConditions", {**throttle, "uploadThroughput": -1})
    resume.click()
    expect(page.locator("[data-status-title]")).to_have_text("Загружено", timeout=DEFAULT_TIMEOUT_MS)
    expect(page.locator("[data-upload-pause]")).to_be_hidden()
    # It went on from where the server stood, not from the start.
    assert patches[sent_patches] == held
    status = page.request.get(f"/api/v1/uploads/{upload_url.rsplit('/', 1)[1]}").json()
    assert (status["complete"], status["offset"]) == (True, size)
