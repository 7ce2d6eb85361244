"""The swipe player in Chromium against a live server with real clips: it plays, a swipe starts
the next video at once, the address follows the video, the sound choice is remembered, 200
swipes leave the DOM and the heap bounded, and the pages log no errors. Screenshots of the feed on
a phone and a desktop go to test-artifacts/."""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request

from molodets.demo_clips import DEMO_CLIPS, make_demo_clip
from molodets.media.ffmpeg import ffmpeg_executable
from tests.factories.accounts import DEFAULT_PASSWORD
from tests.mediaclips import make_clip

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CLIPS = 4
ACTIVE_VIDEO = "[data-slide][data-active] video"


@pytest.fixture(scope="module")
def clips(live_server: str, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Four real 2 s clips, uploaded and processed to the end; newest first, as the feed lists
    them. Three are small (360x640: one rung, quick to process); the newest is a 720x1280 demo
    clip, so the video page has a 720p rendition to share and the screenshots show a real picture."""
    folder = tmp_path_factory.mktemp("feed-clips")
    account = {"username": "swiper", "password": DEFAULT_PASSWORD, "display_name": "Swiper"}
    assert httpx.post(f"{live_server}/api/v1/accounts", json=account).status_code == 201
    login = {"name": "t", "login": "swiper", "password": DEFAULT_PASSWORD}
    token = httpx.post(f"{live_server}/api/v1/tokens", json=login).json()["token"]
    api = httpx.Client(base_url=live_server, timeout=30, headers={"Authorization": f"Bearer {token}"})
    ids = []
    for n in range(CLIPS):
        path = folder / f"clip{n}.mp4"
        if n < CLIPS - 1:
            make_clip(path, width=360, height=640, seconds=2.0, fps=24)
            caption = f"Clip {n} #test @swiper"
        else:
            spec = dataclasses.replace(DEMO_CLIPS[3], seconds=2.0)
            make_demo_clip(spec, 3, path, ffmpeg=ffmpeg_executable())
            caption = spec.caption
        with path.open("rb") as handle:
            upload = api.post(
                "/api/v1/uploads/simple", files={"file": (path.name, handle, "video/mp4")}
            ).json()
        created = api.post("/api/v1/videos", json={"upload_id": upload["id"], "caption": caption})
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    deadline = time.monotonic() + 180
    states = []
    for video_id in ids:
        while (state := api.get(f"/api/v1/videos/{video_id}").json())["stage"] != "done":
            assert state["status"] != "failed", state
            assert time.monotonic() < deadline, f"not processed in time: {state}"
            time.sleep(0.3)
        states.append(state)
    api.close()
    return states[::-1]


def wait_playing(page: Page, past: float = 0.3) -> None:
    page.wait_for_function(
        f"() => {{ const v = document.querySelector({ACTIVE_VIDEO!r}); return v && v.currentTime > {past}; }}"
    )


def active_id(page: Page) -> str:
    return str(page.get_attribute("[data-slide][data-active]", "data-video-id"))


def test_feed_plays_swipes_at_once_and_the_url_follows(
    page: Page, clips: list[dict[str, Any]], errors: list[str]
) -> None:
    page.goto("/")
    page.wait_for_selector("[data-feed][data-source=for_you] [data-slide][data-active]")
    wait_playing(page)
    first = active_id(page)
    assert page.locator(ACTIVE_VIDEO).get_attribute("data-rendition")
    page.wait_for_timeout(800)  # about the time a viewer spends before swiping: preloading runs

    # ArrowDown: the next video is active and playing within a couple of seconds.
    started = page.evaluate(
        """() => new Promise((resolve) => {
            const t0 = performance.now();
            document.dispatchEvent(new KeyboardEvent("keydown", {key: "ArrowDown", bubbles: true}));
            const check = () => {
                const v = document.querySelector("[data-slide][data-active] video");
                if (v && v.currentTime > 0 && !v.paused) resolve(performance.now() - t0);
                else if (performance.now() - t0 > 3000) resolve(-1);
                else requestAnimationFrame(check);
            };
            check();
        })"""
    )
    assert 0 <= started < 2000, f"the next video did not start in time ({started} ms)"
    second = active_id(page)
    assert second != first
    wait_playing(page, 0.2)
    owner = next((clip for clip in clips if clip["id"] == second), None)
    username = (
        owner["author"]["username"]
        if owner
        else page.locator("[data-active] [data-username]").inner_text()[1:]
    )
    assert page.url.endswith(f"/@{username}/video/{second}")

    # `j` goes on, `k` comes back.
    page.keyboard.press("j")
    page.wait_for_function(
        f"() => document.querySelector('[data-slide][data-active]').dataset.videoId !== {second!r}"
    )
    page.keyboard.press("k")
    page.wait_for_function(
        f"() => document.querySelector('[data-slide][data-active]').dataset.videoId === {second!r}"
    )

    # A reload lands on the same video.
    page.reload()
    page.wait_for_selector("[data-slide][data-active]")
    assert active_id(page) == second
    wait_playing(page, 0.2)

    # Space pauses, with a visible indicator and the button relabelled.
    page.keyboard.press("Space")
    assert page.evaluate(f"() => document.querySelector({ACTIVE_VIDEO!r}).paused")
    assert page.locator("[data-slide][data-active]").get_attribute("class") is not None
    assert "is-paused" in str(page.locator("[data-slide][data-active]").get_attribute("class"))
    assert errors == []


def test_preloading_fetches_the_heads_of_the_next_two_and_no_further(
    page: Page, clips: list[dict[str, Any]], errors: list[str]
) -> None:
    """While a clip plays, the player fetches the heads of the next two clips itself (a Range
    request with an end, into the HTTP cache) and nothing of the clip after them; the <video>
    elements ahead download nothing (Chromium would buffer a whole short clip: heads.js)."""
    clip_of = {urlsplit(r["url"]).path: clip["id"] for clip in clips for r in clip["renditions"]}
    media: list[tuple[str, str | None]] = []  # (clip id, Range header) of each video request

    def on_request(request: Request) -> None:
        if (path := urlsplit(request.url).path) in clip_of:
            media.append((clip_of[path], request.headers.get("range")))

    def ahead() -> set[str]:
        return {clip for clip, _ in media} - {order[0]}

    page.on("request", on_request)
    page.goto("/")
    wait_playing(page)
    order = page.evaluate(
        "() => JSON.parse(document.getElementById('feed-data').textContent).items.map((item) => item.id)"
    )
    assert len(order) >= 4, order  # a third clip ahead exists (For You wraps around)
    deadline = time.monotonic() + 15
    while len(ahead()) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    page.wait_for_timeout(1000)  # and nothing else follows

    assert ahead() == set(order[1:3])
    for clip, byte_range in media:
        if clip != order[0]:
            assert byte_range is not None
            assert re.fullmatch(r"bytes=0-\d+", byte_range), (clip, byte_range)
    assert errors == []


def test_unmuting_is_remembered_across_a_reload(
    page: Page, clips: list[dict[str, Any]], errors: list[str]
) -> None:
    page.goto("/")
    wait_playing(page)
    assert page.evaluate(f"() => document.querySelector({ACTIVE_VIDEO!r}).muted")
    page.click("[data-sound]")
    assert not page.evaluate(f"() => document.querySelector({ACTIVE_VIDEO!r}).muted")
    assert page.get_attribute("[data-sound]", "aria-pressed") == "true"
    page.reload()
    wait_playing(page)
    assert page.evaluate("() => localStorage.getItem('molodets:sound')") == "on"
    # The browser may hold sound back until the viewer touches the page; then it comes on.
    page.keyboard.press("Shift")
    page.wait_for_function(f"() => !document.querySelector({ACTIVE_VIDEO!r}).muted")
    page.keyboard.press("ArrowDown")
    wait_playing(page, 0.1)
    assert not page.evaluate(f"() => document.querySelector({ACTIVE_VIDEO!r}).muted")
    assert errors == []


def test_video_page_share_tags_and_embed(
    page: Page, live_server: str, clips: list[dict[str, Any]], errors: list[str]
) -> None:
    clip = clips[0]
    page.goto(f"/@swiper/video/{clip['id']}")
    wait_playing(page)
    assert active_id(page) == clip["id"]

    def meta(name: str) -> str:
        attribute = "name" if name.startswith("twitter:") else "property"
        return str(page.get_attribute(f'meta[{attribute}="{name}"]', "content"))

    assert meta("og:url") == f"{live_server}/@swiper/video/{clip['id']}"
    assert meta("og:type") == "video.other"
    video_url = meta("og:video")
    assert video_url.startswith(live_server)
    assert video_url.endswith("720p.mp4")
    assert (meta("og:video:width"), meta("og:video:height")) == ("720", "1280")
    assert meta("og:image").startswith(live_server)
    assert meta("twitter:card") == "player"
    assert meta("twitter:player") == f"{live_server}/embed/{clip['id']}"
    for url, kind in ((video_url, "video/mp4"), (meta("og:image"), "image/jpeg")):
        response = page.request.get(url)
        assert response.status == 200
        assert response.headers["content-type"] == kind

    # The embed, framed by another origin's page, plays on a tap.
    page.goto(f"/embed/{clip['id']}")
    page.click("[data-toggle]")
    page.wait_for_function("() => document.querySelector('video').currentTime > 0.2")
    frame_src = f"{live_server}/embed/{clip['id']}"
    page.set_content(
        f'<link rel="icon" href="data:,"><iframe src="{frame_src}" width="360" height="640"></iframe>'
    )
    frame = page.frame_locator("iframe")
    assert frame.locator("video").get_attribute("data-rendition")
    assert errors == []


def test_two_hundred_swipes_keep_memory_flat(
    page: Page, clips: list[dict[str, Any]], errors: list[str]
) -> None:
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "/api/v1/" in request.url else None)
    page.goto("/")
    wait_playing(page)
    cdp = page.context.new_cdp_session(page)

    def heap() -> float:
        cdp.send("HeapProfiler.collectGarbage")
        return float(cdp.send("Runtime.getHeapUsage")["usedSize"])

    for _ in range(4):  # warm up: the pool fills, the next page arrives
        page.keyboard.press("ArrowDown")
        page.wait_for_timeout(60)
    before = heap()
    # 200 swipes (three down, one up: net 100 forward, so the feed wraps around), each a real
    # keydown to the player's listener, a frame apart; the ids on screen are collected. A swipe
    # past the last video loaded stays put while the next page comes (the player asks for it):
    # on a busy machine it may, so such a swipe is repeated until it moves (for up to 5 s).
    seen = page.evaluate(
        """async () => {
            const seen = new Set();
            const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
            const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
            const active = () => document.querySelector("[data-slide][data-active]");
            const swipe = (key) => new KeyboardEvent("keydown", {key, bubbles: true, cancelable: true});
            for (let n = 0; n < 200; n += 1) {
                const key = n % 4 === 3 ? "ArrowUp" : "ArrowDown";
                const from = active().dataset.index;
                const deadline = performance.now() + 5000;
                for (;;) {
                    document.dispatchEvent(swipe(key));
                    await frame();
                    if (active().dataset.index !== from || performance.now() > deadline) break;
                    await sleep(50);
                }
                seen.add(active().dataset.videoId);
                if (n % 20 === 0) await sleep(50);
            }
            return [...seen];
        }"""
    )
    page.wait_for_timeout(500)
    counts = page.evaluate(
        """() => ({
            videos: document.querySelectorAll("video").length,
            slides: document.querySelectorAll("[data-slide]").length,
            loaded: [...document.querySelectorAll("video")].filter((v) => v.getAttribute("src")).length,
            index: Number(document.querySelector("[data-slide][data-active]").dataset.index),
        })"""
    )
    after = heap()
    assert counts["videos"] <= 5, counts
    assert counts["slides"] <= 5, counts
    assert counts["loaded"] <= 4, counts
    assert counts["index"] >= 100, counts  # the feed wrapped around: it never dead-ends
    assert set(seen) >= {clip["id"] for clip in clips}
    assert after < before * 1.5 + 2_000_000, (before, after)
    # Before it asks for a page, the player sends its events and waits until they are written
    # (whichever web process builds the page must see them).
    pages = [n for n, url in enumerate(asked) if "/api/v1/feed/for-you" in url]
    waited = [n for n, url in enumerate(asked) if url.endswith("/api/v1/events?wait=true")]
    assert pages, asked
    assert waited, asked
    assert waited[0] < pages[0], asked
    wait_playing(page, 0.2)
    assert errors == []


@pytest.mark.parametrize(("name", "viewport"), [("phone", (390, 844)), ("desktop", (1440, 900))])
def test_screenshots_of_the_feed(
    browser: Browser, live_server: str, clips: list[dict[str, Any]], name: str, viewport: tuple[int, int]
) -> None:
    context = browser.new_context(
        base_url=live_server, locale="ru-RU", viewport={"width": viewport[0], "height": viewport[1]}
    )
    try:
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto("/")
        wait_playing(page)
        video_box = page.locator(ACTIVE_VIDEO).bounding_box()
        rail_box = page.locator("[data-active] .slide-rail").bounding_box()
        assert video_box
        assert rail_box
        if name == "desktop":
            # A centred 9:16 column, the rail beside it.
            assert abs(video_box["x"] + video_box["width"] / 2 - viewport[0] / 2) < 2
            assert abs(video_box["width"] / video_box["height"] - 9 / 16) < 0.02
            assert rail_box["x"] >= video_box["x"] + video_box["width"]
        else:
            assert video_box["width"] == viewport[0]
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"feed-{name}.png"))
        assert problems == []
    finally:
        context.close()


def test_share_copies_the_link_and_counts(
    page: Page, live_server: str, clips: list[dict[str, Any]], errors: list[str]
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    page.add_init_script("delete Navigator.prototype.share")  # the copy path, as on most desktops
    page.goto(f"/@swiper/video/{clips[0]['id']}")
    before = int(httpx.get(f"{live_server}/api/v1/videos/{clips[0]['id']}").json()["counts"]["shares"])
    page.locator("[data-slide][data-active] [data-action=share]").click()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == f"{live_server}/@swiper/video/{clips[0]['id']}"
    count = page.locator("[data-slide][data-active] [data-count=shares]")
    page.wait_for_function(
        "([el, want]) => el.textContent === want", arg=[count.element_handle(), str(before + 1)]
    )
    assert httpx.get(f"{live_server}/api/v1/videos/{clips[0]['id']}").json()["counts"]["shares"] == before + 1
    assert errors == []


def test_like_save_and_follow_from_the_player(
    page: Page, live_server: str, clips: list[dict[str, Any]], errors: list[str]
) -> None:
    """A logged-in viewer likes (also by a double tap), saves and follows from the rail; the
    counts move, the state survives a reload, and the server agrees."""
    fan = {"username": "fan", "password": DEFAULT_PASSWORD}
    assert httpx.post(f"{live_server}/api/v1/accounts", json=fan).status_code == 201
    page.goto("/login")
    page.get_by_label("Имя пользователя или почта").fill("fan")
    page.get_by_label("Пароль").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url(f"{live_server}/")
    video_id = str(clips[0]["id"])
    page.goto(f"/@swiper/video/{video_id}")
    slide = page.locator("[data-slide][data-active]")
    like, save = slide.locator("[data-action=like]"), slide.locator("[data-action=save]")
    likes_before = int(clips[0]["counts"]["likes"])

    like.click()
    save.click()
    slide.locator("button[data-follow]").click()
    page.wait_for_function(
        "() => !document.querySelector('[data-slide][data-active] [data-follow]').offsetParent"
    )
    for button in (like, save):
        page.wait_for_function(
            "(el) => el.getAttribute('aria-pressed') === 'true'", arg=button.element_handle()
        )
    page.wait_for_function(
        "([el, want]) => el.textContent === want",
        arg=[slide.locator("[data-count=likes]").element_handle(), str(likes_before + 1)],
    )

    page.reload()
    slide = page.locator("[data-slide][data-active]")
    assert slide.locator("[data-action=like]").get_attribute("aria-pressed") == "true"
    assert slide.locator("[data-action=save]").get_attribute("aria-pressed") == "true"
    assert slide.locator("[data-follow]").is_hidden()
    slide.locator("[data-action=like]").click()  # unlike
    page.wait_for_function(
        "(el) => el.getAttribute('aria-pressed') === 'false'",
        arg=slide.locator("[data-action=like]").element_handle(),
    )
    slide.locator("[data-toggle]").dblclick()  # a double tap likes again
    page.wait_for_function(
        "(el) => el.getAttribute('aria-pressed') === 'true'",
        arg=slide.locator("[data-action=like]").element_handle(),
    )
    state = httpx.get(f"{live_server}/api/v1/videos/{video_id}").json()
    assert state["counts"]["likes"] == likes_before + 1
    assert state["counts"]["bookmarks"] == 1
    assert httpx.get(f"{live_server}/api/v1/users/swiper").json()["counts"]["followers"] == 1
    assert errors == []


def test_comment_sheet_reads_posts_and_replies(
    page: Page, live_server: str, clips: list[dict[str, Any]], errors: list[str]
) -> None:
    """Guests read the comments and are offered to log in; a viewer comments and replies in the
    sheet, the rail's count follows, the keyboard stays in the sheet, Escape closes it."""
    video_id = str(clips[1]["id"])
    writer = {"username": "talker", "password": DEFAULT_PASSWORD, "display_name": "Talker"}
    assert httpx.post(f"{live_server}/api/v1/accounts", json=writer).status_code == 201
    token = httpx.post(
        f"{live_server}/api/v1/tokens", json={"name": "t", "login": "talker", "password": DEFAULT_PASSWORD}
    ).json()["token"]
    posted = httpx.post(
        f"{live_server}/api/v1/videos/{video_id}/comments",
        json={"text": "Первый <b>комментарий</b>"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert posted.status_code == 201

    page.goto(f"/@swiper/video/{video_id}")
    page.locator("[data-slide][data-active] [data-action=comment]").click()
    sheet = page.locator("dialog[data-comments]")
    first = sheet.locator(".comment-text").first
    first.wait_for()
    assert first.text_content() == "Первый <b>комментарий</b>"  # text, never markup
    assert sheet.get_by_role("link", name="Войти, чтобы комментировать").is_visible()
    page.keyboard.press("Escape")
    sheet.wait_for(state="hidden")

    page.goto("/login")
    page.get_by_label("Имя пользователя или почта").fill("talker")
    page.get_by_label("Пароль").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url(f"{live_server}/")
    page.goto(f"/@swiper/video/{video_id}")
    before = page.locator("[data-slide][data-active] [data-count=comments]").text_content()
    page.locator("[data-slide][data-active] [data-action=comment]").click()
    sheet.locator(".comment-text").first.wait_for()
    active = page.evaluate("() => document.querySelector('[data-slide][data-active]').dataset.videoId")
    page.keyboard.press("ArrowDown")  # the sheet has the keyboard: no swipe behind it
    assert (
        page.evaluate("() => document.querySelector('[data-slide][data-active]').dataset.videoId") == active
    )

    sheet.get_by_label("Добавить комментарий").fill("Отличное видео #утро")
    sheet.get_by_role("button", name="Отправить").click()
    sheet.get_by_text("Отличное видео #утро").wait_for()
    sheet.locator(".comment", has_text="Первый").get_by_role("button", name="Ответить").first.click()
    sheet.get_by_label("Добавить комментарий").fill("спасибо")
    sheet.get_by_role("button", name="Отправить").click()
    sheet.locator(".comment-thread .comment-text", has_text="спасибо").wait_for()
    assert before is not None
    count = page.locator("[data-slide][data-active] [data-count=comments]")
    page.wait_for_function(
        "([el, want]) => el.textContent === want", arg=[count.element_handle(), str(int(before) + 2)]
    )
    thread = httpx.get(f"{live_server}/api/v1/comments/{posted.json()['id']}/replies").json()["items"]
    assert [reply["text"] for reply in thread] == ["спасибо"]
    assert errors == []
