"""The feed player in a real Chromium on a phone viewport, on loopback and on emulated networks.

Starts `molodets serve` on a fresh data dir, puts ~8 short vertical clips through the real upload
and transcode pipeline, then drives Debian's Chromium (Playwright, 390x844 at 3x) over three
networks set through the DevTools protocol: loopback, 12 Mb/s down / 80 ms RTT, 1.6 Mb/s down /
150 ms RTT. Every page load gets a fresh browser context, so nothing comes from the HTTP cache.
Per network it prints median and p90 of:

- a bare 480p faststart MP4's first frame (a `<video>` put on a blank page): the baseline;
- navigation to `/` -> the active video's first presented frame (`requestVideoFrameCallback`,
  in ms since the navigation started: `performance.timeOrigin`);
- ArrowDown -> the next active video's first presented frame, after watching each clip for
  `--dwell` seconds, with preloading on and off (`?preload=0`), and their ratio;
- /media/ bytes per video watched (DevTools Network events; see `Traffic` for answers the HTTP
  cache started) against the budget: the rendition the player chose (`data-rendition`, sized by
  the API) plus the heads of the next two, and what any excess was;
- stalls (`waiting` after playback started, not at a loop's seek) and the renditions chosen. On
  the slowest link each clip is watched for at least its whole duration: stalls are judged there.

Goals (issue 4) stand beside the figures, judged on the median. The exit status is 0 when a goal
is missed (this is a measurement, not a test) and 1 when the run itself fails (no player, a
timeout, a server error). `--server URL` measures a running server's feed instead (no seeding).
Run: `make bench` or `.venv/bin/python benchmarks/player.py [--repeats 3] [--dwell 3]
[--networks loopback,12mbps,1.6mbps] [--keep]`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from _server import running_server
from playwright.sync_api import Browser, CDPSession, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from molodets.demo_clips import DEMO_CLIPS, make_demo_clip
from molodets.media.ffmpeg import ffmpeg_executable

CHROMIUM = Path("/usr/bin/chromium")
# As tests/browser/conftest.py launches it.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip
PASSWORD = "benchmark password 2026"
# Headers and range-request overhead on top of the media bytes themselves.
BYTES_SLACK = 1.03
# What "the preloaded head" of an upcoming clip may be: enough to start at once and play on while
# the rest streams in (a 480p rung is ~1.2 Mb/s, so ~300 kB).
HEAD_SECONDS = 2.0


@dataclass(frozen=True)
class Network:
    key: str
    label: str
    down_mbps: float | None = None  # None: no throttling
    rtt_ms: int = 0
    nav_goal_ms: float | None = None
    swipe_goal_ms: float = 80
    judge_stalls: bool = False

    def conditions(self) -> dict[str, Any] | None:
        if self.down_mbps is None:
            return None
        down = self.down_mbps * 1e6 / 8  # DevTools takes bytes per second
        return {"offline": False, "latency": self.rtt_ms, "downloadThroughput": down,
                "uploadThroughput": down / 4, "connectionType": "cellular4g"}  # fmt: skip


NETWORKS = {
    net.key: net
    for net in (
        Network("loopback", "loopback, no throttling", nav_goal_ms=300),
        Network("12mbps", "12 Mb/s down, 80 ms RTT", 12, 80, nav_goal_ms=800),
        Network("1.6mbps", "1.6 Mb/s down, 150 ms RTT", 1.6, 150, judge_stalls=True),
    )
}

# Runs in every page before its own scripts; see the file for what it records.
PROBE_JS = (Path(__file__).parent / "player_probe.js").read_text()


class RunError(Exception):
    """The run itself failed (as opposed to a goal being missed)."""


@dataclass
class Clip:
    id: str
    duration_s: float
    renditions: dict[str, tuple[str, int]]  # url path -> (rendition name, size in bytes)


@dataclass
class Watch:
    id: str
    rendition: str
    ms: float  # navigation or key press -> first frame
    stalls: int = 0
    stalled_ms: float = 0
    seek_waits: int = 0  # waits at the loop's seek back to the start


@dataclass
class Load:
    """One page load in a fresh context and the clips watched in it."""

    watched: list[Watch]
    media_bytes: dict[str, int]  # /media/ url path -> bytes over the wire
    errors: list[str] = field(default_factory=list)


@dataclass
class Response:
    """One answer to a request, as DevTools saw it."""

    path: str
    start: int = 0  # its first byte: the Content-Range start, 0 for a whole file
    delivered: int = 0  # body bytes handed to the page, from the network or the HTTP cache
    wire: int = 0  # what the network reported: loadingFinished's total, else the chunks' own
    headers: int = 0
    finished: bool = False
    cached: bool = False  # the HTTP cache answered it, in whole or in part


class Traffic:
    """Bytes over the wire per URL path, from the DevTools Network domain. Every page load has a
    fresh context, so its HTTP cache only ever holds what came over the wire in that load.

    - An answer the cache had no part in counts its reported total when it finishes. One the
      media element cancels (it does, to seek or to stop preloading) never finishes and its
      chunks' encoded sizes come in late or not at all, so its headers plus the body bytes it
      received count instead (media is not content-encoded).
    - An answer the cache started (a range fetched before, the rest from the network: the player
      reads a preloaded head that way) is flagged as from the cache as a whole, and reports only
      what the network added, not at all when cancelled. It counts the body bytes it delivered
      that no earlier answer for the same path had delivered (they can only have come over the
      wire), or what it reported, if more. Bytes that reached the cache but never the page are
      not seen: DevTools does not report them."""

    def __init__(self, cdp: CDPSession) -> None:
        self.responses: dict[str, Response] = {}  # in the order the requests were sent
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.requestServedFromCache", self._from_cache)
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.dataReceived", self._data)
        cdp.on("Network.loadingFinished", self._done)

    def _sent(self, event: dict[str, Any]) -> None:
        self.responses[event["requestId"]] = Response(urlsplit(event["request"]["url"]).path)

    def _from_cache(self, event: dict[str, Any]) -> None:
        if response := self.responses.get(event["requestId"]):
            response.cached = True

    def _response(self, event: dict[str, Any]) -> None:
        if not (response := self.responses.get(event["requestId"])):
            return
        answer = event["response"]
        response.cached |= bool(answer.get("fromDiskCache") or answer.get("fromServiceWorker"))
        response.headers = int(answer.get("encodedDataLength", 0))
        headers = {name.lower(): value for name, value in answer.get("headers", {}).items()}
        if match := re.match(r"bytes (\d+)-", headers.get("content-range", "")):
            response.start = int(match[1])

    def _data(self, event: dict[str, Any]) -> None:
        if response := self.responses.get(event["requestId"]):
            response.delivered += int(event.get("dataLength", 0))
            response.wire += int(event.get("encodedDataLength", 0))

    def _done(self, event: dict[str, Any]) -> None:
        if response := self.responses.get(event["requestId"]):
            response.finished = True
            response.wire = int(event["encodedDataLength"])

    def media(self) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        seen: dict[str, list[tuple[int, int]]] = defaultdict(list)  # byte spans delivered so far
        for response in self.responses.values():
            if not response.path.startswith("/media/"):
                continue
            span = (response.start, response.start + response.delivered)
            if not response.cached:
                sent = response.wire if response.finished else response.headers + response.delivered
            else:
                sent = max(response.wire, uncovered(span, seen[response.path]))
            seen[response.path].append(span)
            totals[response.path] += sent
        return dict(totals)


def uncovered(span: tuple[int, int], spans: list[tuple[int, int]]) -> int:
    """How many bytes of `span` none of `spans` covers."""
    start, end = span
    left, covered = start, 0
    for first, last in sorted(spans):
        first, last = max(first, left), min(last, end)
        if last > first:
            covered += last - first
            left = last
    return end - start - covered


def seed(base: str, count: int, work: Path) -> list[Clip]:
    """Real clips through the real API and pipeline, as a creator's phone would send them."""
    ffmpeg = ffmpeg_executable()
    httpx.post(f"{base}/api/v1/accounts", json={"username": "bench", "password": PASSWORD}).raise_for_status()
    login = {"name": "bench", "login": "bench", "password": PASSWORD}
    token = httpx.post(f"{base}/api/v1/tokens", json=login).json()["token"]
    ids: list[str] = []
    with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}) as api:
        for index in range(count):
            spec = DEMO_CLIPS[index % len(DEMO_CLIPS)]
            path = make_demo_clip(spec, index, work / f"clip{index}.mp4", ffmpeg=ffmpeg)
            with path.open("rb") as handle:
                upload = api.post("/api/v1/uploads/simple", files={"file": (path.name, handle, "video/mp4")})
            upload.raise_for_status()
            created = api.post(
                "/api/v1/videos", json={"upload_id": upload.json()["id"], "caption": spec.caption}
            )
            created.raise_for_status()
            ids.append(created.json()["id"])
        clips = []
        deadline = time.monotonic() + 60 * count
        for video_id in ids:
            while (state := api.get(f"/api/v1/videos/{video_id}").json())["stage"] != "done":
                if state["status"] == "failed" or time.monotonic() > deadline:
                    raise RunError(f"video {video_id} was not processed: {state}")
                time.sleep(0.3)
            clips.append(clip_of(state))
    return clips


def clip_of(item: dict[str, Any]) -> Clip:
    renditions = {urlsplit(r["url"]).path: (r["name"], r["size_bytes"]) for r in item["renditions"]}
    return Clip(item["id"], (item["duration_ms"] or 0) / 1000, renditions)


def feed_clips(base: str, count: int) -> list[Clip]:
    """The clips of a server that is already running: the first page of its For You feed."""
    page = httpx.get(f"{base}/api/v1/feed/for-you", params={"limit": 50}, timeout=30)
    page.raise_for_status()
    clips = [clip_of(item) for item in page.json()["items"] if item["renditions"]]
    if len(clips) < count:
        raise RunError(f"{base} has {len(clips)} ready videos in its feed; --clips asks for {count}")
    return clips


def new_page(browser: Browser, net: Network, dpr: float) -> tuple[Page, Traffic]:
    # Service workers blocked: DevTools throttles the page's own requests, not a worker's, and a
    # first visit is not controlled by one anyway.
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=dpr, is_mobile=True, has_touch=True,
        locale="ru-RU", service_workers="block",
    )  # fmt: skip
    context.set_default_timeout(60_000)
    context.add_init_script(PROBE_JS)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    if (conditions := net.conditions()) is not None:
        cdp.send("Network.emulateNetworkConditions", conditions)
    return page, Traffic(cdp)


def wait_frame(page: Page, since: float, not_id: str | None, what: str, timeout_s: float) -> dict[str, Any]:
    try:
        handle = page.wait_for_function(
            "([since, notId]) => window.__bench.frameAfter(since, notId)",
            arg=[since, not_id],
            timeout=timeout_s * 1000,
        )
    except PlaywrightTimeout:
        state = page.evaluate("() => window.__bench && window.__bench.state()")
        raise RunError(
            f"{what}: no first frame within {timeout_s:g} s on {page.url}; page state {state} (the player "
            "contract wants [data-feed] > [data-slide][data-active] > video and a molodets:slide event)"
        ) from None
    found: dict[str, Any] = handle.json_value()
    return found


def watch_for(page: Page, seconds: float, since: float, watch: Watch) -> None:
    page.wait_for_timeout(seconds * 1000)
    stalls = page.evaluate("(since) => window.__bench.stalls(since)", since)
    watch.stalls, watch.stalled_ms, watch.seek_waits = stalls["count"], stalls["ms"], stalls["seekWaits"]


def one_load(
    browser: Browser,
    base: str,
    net: Network,
    clips: dict[str, Clip],
    *,
    preload: bool,
    args: argparse.Namespace,
) -> Load:
    page, traffic = new_page(browser, net, args.dpr)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{base}/" if preload else f"{base}/?preload=0", wait_until="commit")
        try:  # only the script waits here: the page's times are its own
            page.wait_for_selector("[data-feed]", state="attached", timeout=30_000)
        except PlaywrightTimeout:
            raise RunError(f"{page.url} has no [data-feed] player (issue 4's contract)") from None
        first = wait_frame(page, 0, None, "navigation to /", 60)
        watched = [Watch(first["id"], first["rendition"], first["frame"])]
        since = first["frame"]
        for number in range(args.swipes + 1):
            clip = clips.get(watched[-1].id)
            seconds = args.dwell
            if net.judge_stalls and clip is not None:
                seconds = max(seconds, clip.duration_s)
            watch_for(page, seconds, since, watched[-1])
            if number == args.swipes:
                break
            page.keyboard.press("ArrowDown")
            pressed = page.evaluate("() => window.__bench.lastKey()")
            if pressed is None:
                raise RunError("the page saw no keydown for ArrowDown")
            found = wait_frame(page, pressed, watched[-1].id, f"swipe {number + 1}", 30)
            watched.append(Watch(found["id"], found["rendition"], found["frame"] - pressed))
            since = found["frame"]
        page.wait_for_timeout(50)  # let the last DevTools events arrive
        return Load(watched, traffic.media(), errors)
    finally:
        page.context.close()


def bare_first_frame(browser: Browser, base: str, net: Network, src: str, dpr: float) -> float:
    page, _ = new_page(browser, net, dpr)
    try:
        page.goto(f"{base}/healthz")
        return float(page.evaluate("(src) => window.__bench.bare(src)", src))
    finally:
        page.context.close()


@dataclass
class Figures:
    bare: list[float] = field(default_factory=list)
    nav: list[float] = field(default_factory=list)
    nav_off: list[float] = field(default_factory=list)
    swipe: list[float] = field(default_factory=list)
    swipe_off: list[float] = field(default_factory=list)
    loads: list[Load] = field(default_factory=list)
    loads_off: list[Load] = field(default_factory=list)


def measure(
    browser: Browser, base: str, net: Network, clips: list[Clip], args: argparse.Namespace
) -> Figures:
    by_id = {clip.id: clip for clip in clips}
    # The reference: a 480p faststart MP4 (or the clip's smallest, if it has no 480p).
    ladder = sorted(clips[0].renditions.items(), key=lambda item: (item[1][0] != "480p", item[1][1]))
    bare_src = ladder[0][0]
    figures = Figures()
    for _ in range(args.repeats):
        figures.bare.append(bare_first_frame(browser, base, net, base + bare_src, args.dpr))
        for preload in (True, False):
            load = one_load(browser, base, net, by_id, preload=preload, args=args)
            nav, swipes = (figures.nav, figures.swipe) if preload else (figures.nav_off, figures.swipe_off)
            nav.append(load.watched[0].ms)
            swipes.extend(watch.ms for watch in load.watched[1:])
            (figures.loads if preload else figures.loads_off).append(load)
        print(".", end="", file=sys.stderr, flush=True)
    return figures


def spread(values: list[float]) -> tuple[float, float]:
    if len(values) == 1:
        return values[0], values[0]
    return statistics.median(values), statistics.quantiles(values, n=10, method="inclusive")[-1]


def mark(ok: bool) -> str:
    return "✔" if ok else "✘"


@dataclass
class Bytes:
    """/media/ bytes of the preloading page loads, against the budget: each watched clip's chosen
    rendition in full, plus a head (its first HEAD_SECONDS) of each of the two unwatched clips
    the player fetched most of. Anything beyond (another rendition of a watched clip, a second
    download, more than a head, preloading further ahead) is excess."""

    video: int = 0
    budget: int = 0
    excess: int = 0
    why: Counter[str] = field(default_factory=Counter)  # the excess by what it was
    heads: int = 0  # fetched of the two unwatched clips, whatever their size
    other: int = 0  # posters, avatars
    watched: int = 0

    @classmethod
    def of(cls, loads: list[Load], clips: list[Clip]) -> Bytes:
        where = {path: (clip, name, size) for clip in clips for path, (name, size) in clip.renditions.items()}
        tally = cls()
        for load in loads:
            chosen = {watch.id: watch.rendition for watch in load.watched}
            tally.watched += len(chosen)
            tally.budget += sum(size for clip, name, size in where.values() if chosen.get(clip.id) == name)
            ahead: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # clip id -> [fetched, head]
            for path, sent in load.media_bytes.items():
                if path not in where:
                    tally.other += sent
                    continue
                clip, name, size = where[path]
                tally.video += sent
                if clip.id not in chosen:
                    ahead[clip.id][0] += sent
                    head = round(size * min(1.0, HEAD_SECONDS / max(clip.duration_s, 0.1)))
                    ahead[clip.id][1] = max(ahead[clip.id][1], head)  # one head per clip, any rendition
                elif name == chosen[clip.id]:
                    tally.add("a watched clip twice", sent - round(size * BYTES_SLACK))
                else:
                    tally.add("another rendition of a watched clip", sent)
            ranked = sorted(ahead.values(), reverse=True)
            for fetched, head in ranked[:2]:
                tally.heads += fetched
                tally.budget += min(fetched, head)
                tally.add("more than a head ahead", fetched - round(head * BYTES_SLACK))
            tally.add("a third clip ahead", sum(fetched for fetched, _ in ranked[2:]))
        return tally

    def add(self, why: str, excess: int) -> None:
        if excess > 0:
            self.excess += excess
            self.why[why] += excess


def stalls_of(loads: list[Load]) -> tuple[int, float, int]:
    """(stalls, total stalled ms, waits at a loop's seek) over every clip watched."""
    watches = [watch for load in loads for watch in load.watched]
    return (
        sum(watch.stalls for watch in watches),
        sum(watch.stalled_ms for watch in watches),
        sum(watch.seek_waits for watch in watches),
    )


def report(net: Network, figures: Figures, clips: list[Clip], args: argparse.Namespace) -> None:
    print(f"\n{net.label}: {args.repeats} page loads each way, {args.swipes} swipes per load")
    print(f"{'measure':<44}{'median':>8}{'p90':>8}   goal (on the median) / ratio")
    bare, _ = spread(figures.bare)

    def row(label: str, values: list[float], note: str = "") -> None:
        median, p90 = spread(values)
        print(f"{label:<44}{median:>6.0f}ms{p90:>6.0f}ms   {note}")

    row("bare 480p MP4, first frame (baseline)", figures.bare)
    nav, _ = spread(figures.nav)
    goal = f"≤ {net.nav_goal_ms:g} ms {mark(nav <= net.nav_goal_ms)}, " if net.nav_goal_ms else ""
    row("navigation -> first frame", figures.nav, f"{goal}{nav / bare:.1f}x bare")
    row("navigation -> first frame, ?preload=0", figures.nav_off)
    swipe, _ = spread(figures.swipe)
    swipe_off, _ = spread(figures.swipe_off)
    row(
        "swipe -> first frame, preloading",
        figures.swipe,
        f"≤ {net.swipe_goal_ms:g} ms {mark(swipe <= net.swipe_goal_ms)}",
    )
    row("swipe -> first frame, ?preload=0", figures.swipe_off, f"preloading / off = {swipe / swipe_off:.2f}x")

    sent, sent_off = Bytes.of(figures.loads, clips), Bytes.of(figures.loads_off, clips)
    kb = 1000
    per_clip, per_clip_off = sent.video / sent.watched / kb, sent_off.video / sent_off.watched / kb
    print(f"{'video bytes per clip watched':<44}{per_clip:>6.0f}kB{'':>8}   "
          f"budget {sent.budget / sent.watched / kb:.0f} kB, "
          f"excess {sent.excess / sent.watched / kb:.0f} kB {mark(sent.excess == 0)}")  # fmt: skip
    for why, excess in sent.why.most_common():
        print(f"{'  excess: ' + why:<44}{excess / sent.watched / kb:>6.1f}kB")
    print(f"{'video bytes per clip watched, ?preload=0':<44}{per_clip_off:>6.0f}kB{'':>8}   "
          f"preloading / off = {per_clip / per_clip_off:.2f}x")  # fmt: skip
    heads = sent.heads / len(figures.loads) / kb
    print(f"{'  preloaded of the next two, per page load':<44}{heads:>6.0f}kB"
          f"{'':>8}   a head is a clip's first {HEAD_SECONDS:g} s")  # fmt: skip
    print(f"{'posters and other /media/ per clip':<44}{sent.other / sent.watched / kb:>6.0f}kB")
    for label, loads in (("", figures.loads), (", ?preload=0", figures.loads_off)):
        count, stalled, seek_waits = stalls_of(loads)
        goal = f"none {mark(count == 0)}; " if net.judge_stalls and not label else ""
        print(f"{'stalls while watching' + label:<44}{count:>8}{stalled:>6.0f}ms   "
              f"{goal}{seek_waits} more waits at a loop's seek")  # fmt: skip
    watches = [watch for load in figures.loads for watch in load.watched]
    chosen = Counter(watch.rendition for watch in watches)
    print(f"{'renditions chosen':<44}   " + ", ".join(f"{name} x{n}" for name, n in chosen.most_common()))
    errors = {error for load in figures.loads + figures.loads_off for error in load.errors}
    for error in sorted(errors):
        print(f"  page error: {error}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3, help="page loads per network, each way")
    parser.add_argument("--swipes", type=int, default=3, help="swipes per page load")
    parser.add_argument("--dwell", type=float, default=3.0, help="seconds watched before each swipe")
    parser.add_argument("--networks", default=",".join(NETWORKS), help=f"any of {', '.join(NETWORKS)}")
    parser.add_argument("--clips", type=int, default=8, help="videos put through the pipeline")
    parser.add_argument("--dpr", type=float, default=3, help="device pixel ratio of the phone")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (its path is printed)")
    parser.add_argument(
        "--server", metavar="URL", help="measure this running server's feed instead of starting one"
    )
    args = parser.parse_args()
    unknown = [key for key in args.networks.split(",") if key not in NETWORKS]
    if unknown or args.swipes + 3 > args.clips:
        parser.error(f"unknown networks {unknown}" if unknown else "--clips must be at least --swipes + 3")
    if args.swipes < 1 or args.repeats < 1:
        parser.error("--swipes and --repeats must be at least 1: the report is made of their timings")
    networks = [NETWORKS[key] for key in args.networks.split(",")]
    if not CHROMIUM.exists():
        print(f"Chromium not found at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 1

    work = Path(tempfile.mkdtemp(prefix="molodets-bench-"))
    try:
        with ExitStack() as stack:
            if args.server:
                base = args.server.rstrip("/")
                clips = feed_clips(base, args.clips)
            else:
                base = stack.enter_context(running_server(work / "data", log=work / "server.log"))
                started = time.monotonic()
                clips = seed(base, args.clips, work)
                print(f"{len(clips)} clips uploaded and transcoded in {time.monotonic() - started:.0f} s",
                      file=sys.stderr)  # fmt: skip
            load_before = os.getloadavg()  # the machine is shared: a disturbed run shows
            driver = stack.enter_context(sync_playwright())
            browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            stack.callback(browser.close)
            results = [(net, measure(browser, base, net, clips, args)) for net in networks]
    except (RunError, PlaywrightError, httpx.HTTPError) as failure:
        print(f"\nthe run failed: {failure}", file=sys.stderr)
        if args.server:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"server log and data kept in {work}", file=sys.stderr)
        return 1
    print(file=sys.stderr)
    shortest, longest = min(c.duration_s for c in clips), max(c.duration_s for c in clips)
    print(f"feed player, Chromium {browser.version}, 390x844 at {args.dpr:g}x, {len(clips)} clips of "
          f"{shortest:g}-{longest:g} s, dwell {args.dwell:g} s")  # fmt: skip
    for net, figures in results:
        report(net, figures, clips, args)
    load_after = os.getloadavg()
    print(f"\nload average (1, 5, 15 min) before: {', '.join(f'{v:.2f}' for v in load_before)}, "
          f"after: {', '.join(f'{v:.2f}' for v in load_after)} on {os.cpu_count()} cores")  # fmt: skip
    if args.keep and not args.server:
        print(f"data dir kept: {work / 'data'}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
