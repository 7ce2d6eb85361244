"""The load test's Python client: asyncio + aiohttp on one event loop (uvloop when installed), so
hundreds of requests in flight cost one thread. Two ways to drive it:

- `closed_loop`: `clients` loops each sending the next request as soon as the last one answered
  (throughput at a concurrency: the bare endpoint, or For You without wrk);
- `Mix.run`: open loop, actions started on a fixed schedule (`rate` a second) whatever the
  server's latency, at most `clients` in flight; an action that could not start within 100 ms of
  its time for want of a free client is counted late (the server, or this client, fell behind).

Viewers are signed-in users (a Bearer token) and guests (their own `molodets_guest` cookie). Each
keeps its For You cursor and the page it is watching; media, events, likes and comments are about
the videos of that page, as the player's would be."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

FOR_YOU = "GET /api/v1/feed/for-you"
HEALTHZ = "GET /healthz"
MEDIA_FIRST = "GET /media/... first range"
MEDIA_LATER = "GET /media/... later range"
EVENTS = "POST /api/v1/events"
LIKE = "PUT /api/v1/videos/{id}/like"
COMMENT = "POST /api/v1/videos/{id}/comments"
UPLOAD = "POST /api/v1/uploads/simple"
CREATE = "POST /api/v1/videos"
VIDEO_STATUS = "GET /api/v1/videos/{id}"

# A player's first request is the start of the file (the moov atom is first), then it reads on
# as the viewer watches; each request here is capped so a test's traffic stays bounded.
RANGE_BYTES = 128 * 1024
ACTIONS = ("foryou", "media", "events", "like", "comment", "upload")
# Per action; a media action is two range requests, an upload two requests (the file, the video).
# One upload in 2,000 actions: on two shared cores, each transcode costs seconds of CPU.
DEFAULT_WEIGHTS = {"foryou": 25.0, "media": 40.0, "events": 25.0, "like": 6.0, "comment": 4.0, "upload": 0.05}
NEEDS_ACCOUNT = {"like", "comment", "upload"}
GUEST_COOKIE = "molodets_guest"
LATE_SECONDS = 0.1
TIMEOUT = aiohttp.ClientTimeout(total=60)


def new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # uvicorn[standard] brings it

        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - any asyncio loop works, a little slower
        return asyncio.new_event_loop()


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    with asyncio.Runner(loop_factory=new_loop) as runner:
        return runner.run(coroutine)


# --- what was measured ------------------------------------------------------------------------


@dataclass
class RouteStats:
    latencies: list[float] = field(default_factory=list)  # seconds, one per answer
    finished: list[float] = field(default_factory=list)  # time.monotonic() of each answer
    statuses: list[int] = field(default_factory=list)
    transport_errors: list[float] = field(default_factory=list)  # when a request got no answer


@dataclass(frozen=True)
class Row:
    """One line of the by-route table."""

    route: str
    count: int
    rate: float
    p50: float  # milliseconds
    p95: float
    p99: float
    max: float
    client_errors: int  # 4xx
    server_errors: int  # 5xx
    transport_errors: int  # no answer: refused, reset, timed out


def quantile(ordered: list[float], share: float) -> float:
    """Nearest rank on a sorted list (0 when empty)."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


class Recorder:
    def __init__(self) -> None:
        self.routes: dict[str, RouteStats] = {}

    def add(self, route: str, status: int, seconds: float) -> None:
        stats = self.routes.setdefault(route, RouteStats())
        stats.latencies.append(seconds)
        stats.finished.append(time.monotonic())
        stats.statuses.append(status)

    def failed(self, route: str) -> None:
        self.routes.setdefault(route, RouteStats()).transport_errors.append(time.monotonic())

    def rows(self, elapsed: float, *, since: float = 0.0, until: float = float("inf")) -> list[Row]:
        """Per route, over the answers that came between `since` and `until` (monotonic)."""
        out = []
        for route, stats in self.routes.items():
            latencies: list[float] = []
            client = server = 0
            for seconds, at, status in zip(stats.latencies, stats.finished, stats.statuses, strict=True):
                if since <= at <= until:
                    latencies.append(seconds)
                    client += 400 <= status < 500
                    server += status >= 500
            latencies.sort()
            out.append(
                Row(
                    route=route,
                    count=len(latencies),
                    rate=len(latencies) / elapsed if elapsed > 0 else 0.0,
                    p50=quantile(latencies, 0.50) * 1000,
                    p95=quantile(latencies, 0.95) * 1000,
                    p99=quantile(latencies, 0.99) * 1000,
                    max=(latencies[-1] if latencies else 0.0) * 1000,
                    client_errors=client,
                    server_errors=server,
                    transport_errors=sum(since <= at <= until for at in stats.transport_errors),
                )
            )
        return out

    def all_latencies(self, *, since: float = 0.0, until: float = float("inf")) -> list[float]:
        return sorted(
            seconds
            for stats in self.routes.values()
            for seconds, at in zip(stats.latencies, stats.finished, strict=True)
            if since <= at <= until
        )


async def timed(
    session: aiohttp.ClientSession,
    recorder: Recorder,
    route: str,
    method: str,
    url: str,
    **kwargs: Any,
) -> tuple[int, bytes] | None:
    """Send, read the whole body, record; None when no answer came."""
    started = time.perf_counter()
    try:
        async with session.request(method, url, **kwargs) as response:
            body = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError):
        recorder.failed(route)
        return None
    recorder.add(route, status, time.perf_counter() - started)
    return status, body


def client_session(clients: int) -> aiohttp.ClientSession:
    # Cookies are sent by hand per viewer: one shared jar would make every guest the same one.
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=clients, limit_per_host=clients, ttl_dns_cache=None),
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=TIMEOUT,
        auto_decompress=False,
    )


# --- closed loop ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    route: str
    path: str
    headers: dict[str, str]


async def closed_loop(
    base: str, requests: list[Request], *, clients: int, seconds: float, recorder: Recorder
) -> float:
    """`clients` loops over `requests` (each starting at its own offset) for `seconds`; returns
    the elapsed time."""
    async with client_session(clients) as session:
        began = time.monotonic()
        stop_at = began + seconds

        async def loop(offset: int) -> None:
            n = offset
            while time.monotonic() < stop_at:
                request = requests[n % len(requests)]
                await timed(
                    session, recorder, request.route, "GET", base + request.path, headers=request.headers
                )
                n += clients

        await asyncio.gather(*(loop(index) for index in range(clients)))
        return time.monotonic() - began


# --- the mix ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    id: str
    duration_ms: int
    media: dict[str, tuple[str, int]]  # rendition name -> (url, size)


@dataclass
class Viewer:
    headers: dict[str, str]
    signed_in: bool
    rung: str  # the rendition this viewer's player picks
    cursor: str | None = None
    page: list[Item] = field(default_factory=list)
    position: int = 0


@dataclass
class MixResult:
    elapsed: float = 0.0
    scheduled: Counter[str] = field(default_factory=Counter)
    late: int = 0
    events_sent: int = 0
    events_accepted: int = 0
    events_dropped: Counter[str] = field(default_factory=Counter)
    uploaded: list[str] = field(default_factory=list)  # ids of the videos made from uploads
    upload_owner: dict[str, str] = field(default_factory=dict)  # video id -> token


def viewers_for(
    tokens: list[str], guests: list[str], rng: random.Random
) -> tuple[list[Viewer], list[Viewer]]:
    rungs = ("720p", "480p", "480p", "360p")  # what phones on varied networks pick
    users = [Viewer({"Authorization": f"Bearer {t}"}, True, rng.choice(rungs)) for t in tokens]
    anonymous = [Viewer({"Cookie": f"{GUEST_COOKIE}={g}"}, False, rng.choice(rungs)) for g in guests]
    return users, anonymous


def parse_page(body: bytes) -> tuple[list[Item], str | None]:
    data = orjson.loads(body)
    items = [
        Item(
            id=video["id"],
            duration_ms=int(video.get("duration_ms") or 10_000),
            media={r["name"]: (r["url"], int(r["size_bytes"])) for r in video["renditions"]},
        )
        for video in data["items"]
        if video["renditions"]
    ]
    return items, data.get("next_cursor")


def _event(
    kind: str, item: Item, at: int, watched: int | None = None, loops: int | None = None
) -> dict[str, Any]:
    event: dict[str, Any] = {"type": kind, "video_id": item.id, "ts": at, "source": "for_you"}
    if watched is not None:
        event["watched_ms"] = watched
    if loops is not None:
        event["loops"] = loops
    return event


def viewing(item: Item, rng: random.Random, at: int) -> tuple[list[dict[str, Any]], int]:
    """One video's events from `at` (ms, relative): an impression, then a quick skip, or a play,
    progress while watching, and a complete (sometimes a replay) or a skip. `watched_ms` stays
    within what the duration allows. Returns the events and when the viewing ended."""
    duration = max(item.duration_ms, 1_000)
    events = [_event("impression", item, at)]
    at += rng.randint(50, 400)
    if rng.random() < 0.35:
        watched = rng.randint(200, min(duration, 2_500))
        at += watched
        return [*events, _event("skip", item, at, watched)], at
    events.append(_event("play", item, at))
    watched = 0
    for _ in range(rng.randint(1, 4)):
        step = rng.randint(1_000, 5_000)
        watched = min(duration, watched + step)
        at += step
        events.append(_event("progress", item, at, watched))
        if watched >= duration:
            break
    if rng.random() < 0.55:
        return [*events, _event("skip", item, at, watched)], at
    at += duration - watched
    events.append(_event("complete", item, at, duration, 0))
    if rng.random() < 0.3:
        again = rng.randint(500, duration)
        at += again
        events.append(_event("replay", item, at, duration + again, 1))
    return events, at


def event_batch(viewer: Viewer, rng: random.Random, now_ms: int) -> list[dict[str, Any]]:
    """10-30 events of a viewer swiping through their page, as the player flushes them."""
    size = rng.randint(10, 30)
    events: list[dict[str, Any]] = []
    at = 0
    while len(events) < size and viewer.page:
        more, at = viewing(viewer.page[viewer.position % len(viewer.page)], rng, at)
        viewer.position += 1
        events += more
    events = events[:size]
    shift = now_ms - 200 - (events[-1]["ts"] if events else 0)  # the last one a moment ago
    for event in events:
        event["ts"] += shift
    return events


class Mix:
    """The viewer and creator mix at a steady rate (see the module's docstring)."""

    def __init__(
        self,
        base: str,
        *,
        tokens: list[str],
        guests: list[str],
        weights: dict[str, float],
        clip: bytes,
        active: int,
        seed: int = 5,
    ) -> None:
        """`active` viewers take part (a person does about one thing a second, so about as many
        as the rate), signed-in and guests in the catalogue's proportion."""
        self.base = base
        self.rng = random.Random(seed)
        share = len(tokens) / max(1, len(tokens) + len(guests))
        signed_in = max(1, min(len(tokens), round(active * share)))
        self.users, self.guests = viewers_for(
            self.rng.sample(tokens, signed_in),
            self.rng.sample(guests, min(len(guests), max(0, active - signed_in))),
            self.rng,
        )
        self.everyone = self.users + self.guests
        self.weights = weights
        self.clip = clip
        self.result = MixResult()
        # A creator posts as the run starts, so every run (a short one too) sees an upload through.
        self._first = ["upload"] if weights.get("upload", 0.0) > 0 else []

    def pick(self) -> tuple[str, Viewer]:
        if self._first:
            action = self._first.pop()
        else:
            action = self.rng.choices(ACTIONS, weights=[self.weights.get(name, 0.0) for name in ACTIONS])[0]
        pool = self.users if action in NEEDS_ACCOUNT or not self.guests else self.everyone
        return action, self.rng.choice(pool)

    async def run(
        self,
        *,
        rate: float,
        seconds: float,
        clients: int,
        recorder: Recorder,
        tick: Callable[[float], None] | None = None,
    ) -> MixResult:
        """Start actions `rate` a second for `seconds`; `tick(elapsed)` is called about once a
        second (the soak prints its progress from it)."""
        result = self.result
        async with client_session(clients) as session:
            free = asyncio.Semaphore(clients)
            running: set[asyncio.Task[None]] = set()
            loop = asyncio.get_running_loop()
            began = loop.time()
            next_tick = began + 1.0
            n = 0
            while True:
                due = began + n / rate
                if due >= began + seconds:
                    break
                if due > loop.time():
                    await asyncio.sleep(due - loop.time())
                await free.acquire()
                if loop.time() - due > LATE_SECONDS:
                    result.late += 1
                action, viewer = self.pick()
                result.scheduled[action] += 1
                task = asyncio.create_task(self._act(session, recorder, action, viewer))
                running.add(task)
                task.add_done_callback(lambda done: (running.discard(done), free.release()))
                n += 1
                if tick is not None and loop.time() >= next_tick:
                    tick(loop.time() - began)
                    next_tick += 1.0
            if running:
                await asyncio.gather(*running)
            result.elapsed = loop.time() - began
        return result

    async def warm_up(self, *, recorder: Recorder, clients: int = 8) -> None:
        """Give every viewer a first page (a player starts with one)."""
        async with client_session(clients) as session:
            await asyncio.gather(*(self._for_you(session, recorder, viewer) for viewer in self.everyone))

    async def _act(
        self, session: aiohttp.ClientSession, recorder: Recorder, action: str, viewer: Viewer
    ) -> None:
        if action == "foryou" or not viewer.page:
            await self._for_you(session, recorder, viewer)
        elif action == "media":
            await self._media(session, recorder, viewer)
        elif action == "events":
            await self._events(session, recorder, viewer)
        elif action == "like":
            video = self.rng.choice(viewer.page)
            await timed(
                session,
                recorder,
                LIKE,
                "PUT",
                f"{self.base}/api/v1/videos/{video.id}/like",
                headers=viewer.headers,
            )
        elif action == "comment":
            video = self.rng.choice(viewer.page)
            text = self.rng.choice(("огонь 🔥", "как это снято?", "ещё!", "so good", "ахаха #смешно"))
            await timed(
                session,
                recorder,
                COMMENT,
                "POST",
                f"{self.base}/api/v1/videos/{video.id}/comments",
                headers=viewer.headers,
                json={"text": text},
            )
        elif action == "upload":
            await self._upload(session, recorder, viewer)

    async def _for_you(self, session: aiohttp.ClientSession, recorder: Recorder, viewer: Viewer) -> None:
        query = f"?cursor={viewer.cursor}" if viewer.cursor else ""
        answer = await timed(
            session,
            recorder,
            FOR_YOU,
            "GET",
            f"{self.base}/api/v1/feed/for-you{query}",
            headers=viewer.headers,
        )
        if answer is None or answer[0] != 200:
            return
        items, cursor = parse_page(answer[1])
        viewer.page, viewer.cursor, viewer.position = items, cursor, 0

    async def _media(self, session: aiohttp.ClientSession, recorder: Recorder, viewer: Viewer) -> None:
        item = viewer.page[viewer.position % len(viewer.page)]
        name = viewer.rung if viewer.rung in item.media else next(iter(item.media))
        url, size = item.media[name]
        url = url if url.startswith("http") else self.base + url
        answer = await timed(
            session, recorder, MEDIA_FIRST, "GET", url, headers={"Range": f"bytes=0-{RANGE_BYTES - 1}"}
        )
        if answer is None or answer[0] != 206 or size <= RANGE_BYTES:
            return
        start = self.rng.randrange(RANGE_BYTES, size)
        end = min(size, start + RANGE_BYTES) - 1
        await timed(session, recorder, MEDIA_LATER, "GET", url, headers={"Range": f"bytes={start}-{end}"})

    async def _events(self, session: aiohttp.ClientSession, recorder: Recorder, viewer: Viewer) -> None:
        events = event_batch(viewer, self.rng, int(time.time() * 1000))
        answer = await timed(
            session,
            recorder,
            EVENTS,
            "POST",
            f"{self.base}/api/v1/events",
            headers={**viewer.headers, "Content-Type": "application/json"},
            data=orjson.dumps({"events": events}),
        )
        self.result.events_sent += len(events)
        if answer is not None and answer[0] == 202:
            outcome = orjson.loads(answer[1])
            self.result.events_accepted += int(outcome["accepted"])
            self.result.events_dropped.update(outcome["dropped"])

    async def _upload(self, session: aiohttp.ClientSession, recorder: Recorder, viewer: Viewer) -> None:
        form = aiohttp.FormData()
        form.add_field("file", self.clip, filename="clip.mp4", content_type="video/mp4")
        answer = await timed(
            session,
            recorder,
            UPLOAD,
            "POST",
            f"{self.base}/api/v1/uploads/simple",
            headers=viewer.headers,
            data=form,
        )
        if answer is None or answer[0] != 201:
            return
        upload_id = orjson.loads(answer[1])["id"]
        body = {"upload_id": upload_id, "caption": "load test #loadtest", "language": "ru"}
        made = await timed(
            session, recorder, CREATE, "POST", f"{self.base}/api/v1/videos", headers=viewer.headers, json=body
        )
        if made is not None and made[0] == 201:
            video_id = orjson.loads(made[1])["id"]
            self.result.uploaded.append(video_id)
            self.result.upload_owner[video_id] = viewer.headers["Authorization"]


async def upload_states(
    base: str,
    owners: dict[str, str],
    *,
    wait_seconds: float,
    settled: frozenset[str] = frozenset({"done", "failed"}),
) -> Counter[str]:
    """Poll the uploaded videos until each is in a `settled` state, or time runs out; counts
    `done` (ladder made), `ready` (playable, ladder pending), `processing` and `failed`."""
    states: dict[str, str] = {}
    deadline = time.monotonic() + wait_seconds
    recorder = Recorder()
    async with client_session(8) as session:
        while True:
            pending = [vid for vid in owners if states.get(vid) not in settled]

            async def check(video_id: str) -> None:
                answer = await timed(
                    session,
                    recorder,
                    VIDEO_STATUS,
                    "GET",
                    f"{base}/api/v1/videos/{video_id}",
                    headers={"Authorization": owners[video_id]},
                )
                if answer is None or answer[0] != 200:
                    states[video_id] = "unreachable"
                    return
                video = orjson.loads(answer[1])
                if video["status"] == "failed":
                    states[video_id] = "failed"
                elif video["stage"] == "done":
                    states[video_id] = "done"
                else:
                    states[video_id] = video["status"]  # "ready" (first rendition out) or "processing"

            await asyncio.gather(*(check(vid) for vid in pending))
            if all(states.get(vid) in settled for vid in owners) or time.monotonic() >= deadline:
                return Counter(states.values())
            await asyncio.sleep(1.0)
