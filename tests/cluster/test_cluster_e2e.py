"""Scale-out mode end to end, on a real cluster of processes (`molodets.cluster`): an upload cut
on one web process and resumed on the other, a worker's transcode played from the bucket, a
like on one process pushed live to a stream held by the other, a worker SIGKILLed mid-ladder
losing nothing, web processes restarted without losing a session, and a viewer's events sent
to one web process shaping the next page built by the other."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from molodets.cluster import FRONT, WEB_A, WEB_B, WORKERS, Cluster
from molodets.db import transaction, utcnow
from molodets.events.models import WatchEvent
from molodets.runtime import Runtime
from molodets.uploads.parts import WRITE_BATCH_BYTES
from molodets.videos import tasks
from molodets.videos.models import Rendition, Video
from tests.cluster.conftest import child_processes, is_alive, wait_for
from tests.factories.accounts import DEFAULT_PASSWORD, make_user
from tests.feed.support import assert_mostly_cooking, cooking_or_gaming, loves_cooking
from tests.mediaclips import make_clip
from tests.uploads.support import is_locked

pytestmark = pytest.mark.cluster

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {**TUS, "Content-Type": "application/offset+octet-stream"}


class Account:
    """Someone signed up through one web process: their browser session (cookie + CSRF token),
    and an API token."""

    def __init__(self, http: httpx.Client, base: str, username: str) -> None:
        signed_up = http.post(
            f"{base}/api/v1/accounts",
            json={"username": username, "password": DEFAULT_PASSWORD, "display_name": username.title()},
        )
        assert signed_up.status_code == 201, signed_up.text
        self.username = username
        self.session = signed_up.cookies["molodets_session"]
        self.csrf = signed_up.cookies["molodets_csrf"]
        issued = http.post(
            f"{base}/api/v1/tokens", json={"name": "e2e", "login": username, "password": DEFAULT_PASSWORD}
        )
        assert issued.status_code == 201, issued.text
        self.token = issued.json()["token"]

    @property
    def cookie(self) -> dict[str, str]:
        """Headers of the browser session; unsafe requests carry the CSRF token too."""
        return {
            "Cookie": f"molodets_session={self.session}; molodets_csrf={self.csrf}",
            "X-CSRF-Token": self.csrf,
        }

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def requests_served(http: httpx.Client, base: str, route: str) -> float:
    """How many GETs of `route` this web process has answered with 200 (its own /metrics)."""
    text = http.get(f"{base}/metrics").text
    pattern = (
        rf'^molodets_http_requests_total\{{method="GET",route="{re.escape(route)}",status="200"\}} (\S+)$'
    )
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def video(
    http: httpx.Client, base: str, video_id: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    answer = http.get(f"{base}/api/v1/videos/{video_id}", headers=headers or {})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, data) of each event of a text/event-stream; comments and `retry` skipped."""
    name = "message"
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").strip())


def next_notifications(events: Iterator[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    for name, data in events:
        if name == "notifications":
            return data
    raise AssertionError("the notification stream ended")


def test_the_front_round_robins_over_both_web_processes(cluster: Cluster, http: httpx.Client) -> None:
    webs = [cluster.url(WEB_A), cluster.url(WEB_B)]
    before = [requests_served(http, base, "/healthz") for base in webs]
    for _ in range(10):
        assert http.get(f"{cluster.front_url}/healthz").status_code == 200
    served = [requests_served(http, base, "/healthz") - was for base, was in zip(webs, before, strict=True)]
    assert sum(served) == 10
    assert min(served) > 0, served  # both took a share


def test_events_sent_to_one_web_process_shape_the_next_page_from_the_other(
    cluster: Cluster, cluster_runtime: Runtime, http: httpx.Client
) -> None:
    """The player sends its last events with `wait=true` before it asks for the next page, so
    the page reflects them whichever web process builds it. (Before the uploads below: the
    catalogue is these two topics only.)"""
    with cluster_runtime.db.sessions() as session:
        headers = cooking_or_gaming(session, [make_user(session) for _ in range(8)])
    web_a, web_b = cluster.url(WEB_A), cluster.url(WEB_B)
    # B has its catalogue-wide figures at hand (a guest's page), so it answers at once.
    assert http.get(f"{web_b}/api/v1/feed/for-you").status_code == 200
    first = http.get(f"{web_a}/api/v1/feed/for-you", params={"limit": 4}, headers=headers)
    assert first.status_code == 200, first.text
    posted = http.post(
        f"{web_a}/api/v1/events",
        params={"wait": "true"},
        json={"events": loves_cooking(first.json())},
        headers=headers,
    )
    assert posted.status_code == 202, posted.text
    assert posted.json()["written"] is True
    with cluster_runtime.db.read_sessions() as session:
        stored = session.scalar(select(func.count()).select_from(WatchEvent))
    assert stored == posted.json()["accepted"], "the answer left before its events were written"
    page_two = {"limit": 6, "cursor": first.json()["next_cursor"]}
    following = http.get(f"{web_b}/api/v1/feed/for-you", params=page_two, headers=headers)
    assert following.status_code == 200, following.text
    assert_mostly_cooking(first.json(), following.json())


def test_upload_cut_on_a_resumed_on_b_then_played_and_liked_live(
    cluster: Cluster, http: httpx.Client, tmp_path: Path
) -> None:
    a, b = cluster.url(WEB_A), cluster.url(WEB_B)
    creator = Account(http, a, "boris_cluster")
    fan = Account(http, a, "ann_cluster")
    # Big enough that web A writes a batch to disk before the cut.
    data = make_clip(tmp_path / "clip.mp4", width=720, height=1280, seconds=2.5).read_bytes()
    sent = WRITE_BATCH_BYTES + 256 * 1024
    assert len(data) > sent + 256 * 1024

    # A tus upload through web A, by the creator's browser session.
    created = http.post(
        f"{a}/api/v1/uploads", headers={**creator.cookie, **TUS, "Upload-Length": str(len(data))}
    )
    assert created.status_code == 201, created.text
    upload_id = created.headers["location"].rsplit("/", 1)[1]
    assert created.headers["location"].startswith(cluster.front_url)  # MOLODETS_PUBLIC_BASE_URL
    part = cluster.upload_dir / f"{upload_id}.part"

    # The connection drops in the middle of a PATCH that promised every byte.
    cut = socket.create_connection(("127.0.0.1", cluster.port(WEB_A)))
    try:
        head = "".join(
            f"{name}: {value}\r\n"
            for name, value in {
                **creator.cookie,
                **OCTETS,
                "Host": f"127.0.0.1:{cluster.port(WEB_A)}",
                "Upload-Offset": "0",
                "Content-Length": str(len(data)),
            }.items()
        )
        cut.sendall(f"PATCH /api/v1/uploads/{upload_id} HTTP/1.1\r\n{head}\r\n".encode() + data[:sent])
        wait_for(lambda: part.stat().st_size > 0, "web A to write the first batch")
    finally:
        cut.close()
    wait_for(lambda: not is_locked(part), "web A to notice the drop and let go of the upload")
    kept = part.stat().st_size  # what reached web A, made durable; the offset of record
    assert WRITE_BATCH_BYTES <= kept <= sent

    # Resumed through web B: the offset, then the rest.
    offset = http.head(f"{b}/api/v1/uploads/{upload_id}", headers={**creator.cookie, **TUS})
    assert offset.status_code == 200, offset.headers
    assert offset.headers["upload-offset"] == str(kept)
    rest = http.patch(
        f"{b}/api/v1/uploads/{upload_id}",
        headers={**creator.cookie, **OCTETS, "Upload-Offset": str(kept)},
        content=data[kept:],
    )
    assert rest.status_code == 204, rest.text
    assert rest.headers["upload-offset"] == str(len(data))
    assert part.read_bytes() == data

    published = http.post(
        f"{a}/api/v1/videos", json={"upload_id": upload_id, "caption": "Кластер #e2e"}, headers=creator.cookie
    )
    assert published.status_code == 201, published.text
    video_id = published.json()["id"]
    wait_for(
        lambda: video(http, b, video_id, creator.cookie)["stage"] == "done", "a worker to transcode the video"
    )

    # It plays through web B: the API hands out a presigned URL of the bucket, which serves ranges.
    shown = video(http, b, video_id)
    assert shown["status"] == "ready"
    rendition = shown["renditions"][0]
    assert rendition["url"].startswith(cluster.s3_endpoint)
    whole = http.get(rendition["url"])
    assert whole.status_code == 200
    assert len(whole.content) == rendition["size_bytes"]
    assert whole.content[4:8] == b"ftyp"  # an MP4
    ranged = http.get(rendition["url"], headers={"Range": "bytes=100-1099"})
    assert ranged.status_code == 206
    assert ranged.content == whole.content[100:1100]
    assert ranged.headers["content-range"] == f"bytes 100-1099/{len(whole.content)}"

    # The creator's pages hold notification streams: one on web B, one through the front.
    # A like through web A reaches both, live.
    stream_headers = {**creator.cookie, "Accept": "text/event-stream"}
    live = httpx.Timeout(30.0, read=60.0)  # heartbeats come every 15 s
    with contextlib.ExitStack() as streams:
        held = []
        for base in (b, cluster.front_url):
            response = streams.enter_context(
                http.stream(
                    "GET", f"{base}/api/v1/notifications/stream", headers=stream_headers, timeout=live
                )
            )
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = sse_events(response.iter_lines())
            assert next_notifications(events)["unread_count"] == 0  # subscribed from here on
            held.append(events)

        liked = http.put(f"{a}/api/v1/videos/{video_id}/like", headers=fan.bearer)
        assert liked.status_code == 200, liked.text

        for events in held:
            update = next_notifications(events)
            assert update["unread_count"] == 1
            assert update["latest"]["kind"] == "like"
            assert update["latest"]["actor"]["username"] == fan.username
            assert update["latest"]["video"]["id"] == video_id


def test_a_worker_killed_mid_transcode_loses_nothing(
    cluster: Cluster, cluster_runtime: Runtime, http: httpx.Client, tmp_path: Path
) -> None:
    front = cluster.front_url
    creator = Account(http, front, "kira_cluster")
    # Several MB through nginx (no body size limit, nothing buffered), and a ladder long
    # enough to be caught running.
    clip = make_clip(tmp_path / "long.mp4", width=720, height=1280, seconds=6.0)
    with clip.open("rb") as handle:
        uploaded = http.post(
            f"{front}/api/v1/uploads/simple",
            files={"file": (clip.name, handle, "video/mp4")},
            headers=creator.cookie,
        )
    assert uploaded.status_code == 201, uploaded.text
    upload_id = uploaded.json()["id"]
    source = str(cluster.upload_dir / f"{upload_id}.part")
    published = http.post(f"{front}/api/v1/videos", json={"upload_id": upload_id}, headers=creator.cookie)
    assert published.status_code == 201, published.text
    video_id = published.json()["id"]

    running: list[tuple[str, int]] = []

    def ladder_running() -> bool:
        """The video is playable and a worker runs the ladder's ffmpeg (several H.264 outputs
        in one run) on its source, with the preview and the audio track still to make after it."""
        if video(http, front, video_id, creator.cookie)["stage"] != "ladder":
            return False
        for name in WORKERS:
            pid = cluster.pid(name)
            for child, argv in child_processes(pid) if pid else []:
                if "ffmpeg" in Path(argv[0]).name and source in argv and argv.count("libx264") > 1:
                    running.append((name, child))
                    return True
        return False

    wait_for(ladder_running, "a worker to start the ladder")
    [(victim, ffmpeg)] = running
    [survivor] = [name for name in WORKERS if name != victim]
    assert cluster.kill(victim) == -signal.SIGKILL
    wait_for(lambda: not is_alive(ffmpeg), "ffmpeg to die with its worker")
    state = video(http, front, video_id, creator.cookie)
    assert (state["status"], state["stage"]) == ("ready", "ladder")  # playable; the ladder's job is lost

    # Time passes: the stage goes past its deadline, and the watchdog (a periodic job every
    # 2 minutes, sent now rather than waited for) queues the ladder again.
    with transaction(cluster_runtime.db.sessions) as session:
        row = session.get(Video, int(video_id))
        assert row is not None
        row.stage_deadline = utcnow() - timedelta(seconds=1)
        tasks.watchdog.enqueue(session)
    # The other worker finishes it: its log says so once the job's commit, and the sweep of
    # every object the row does not point at that follows the commit, are done.
    finished = re.compile(rf"job_finished .*args=\[{video_id}\].*job=\S*finish_ladder")
    wait_for(
        lambda: finished.search(cluster.log_path(survivor).read_text()) is not None,
        f"{survivor} to finish the ladder",
    )
    assert video(http, front, video_id, creator.cookie)["stage"] == "done"
    cluster.start_process(victim)  # and the killed worker comes back
    assert cluster.pid(victim) is not None

    # The bucket holds exactly what the row points at, plus the first rendition the ladder
    # replaced, kept for the signed URLs already handed out (swept by a delayed job, hours on).
    with cluster_runtime.db.read_sessions() as session:
        row = session.get(Video, int(video_id))
        assert row is not None
        renditions = set(session.scalars(select(Rendition.key).where(Rendition.video_id == row.id)))
        pointed = {row.poster_key, row.poster_webp_key, row.preview_key, row.audio_key, row.original_key}
        expected = (renditions | pointed | {f"{row.media_prefix}/first.mp4"}) - {None}

    assert set(cluster_runtime.storage.list(f"videos/{video_id}/")) == expected
    assert f"videos/{video_id}/original" in expected
    assert len(renditions) >= 3  # 720p, 480p and 360p


def test_restarted_web_processes_keep_every_session(cluster: Cluster, http: httpx.Client) -> None:
    someone = Account(http, cluster.url(WEB_B), "rita_cluster")
    for name in (WEB_A, WEB_B):
        old_pid = cluster.pid(name)
        cluster.restart(name)
        assert cluster.pid(name) not in {None, old_pid}
    for base in (cluster.url(WEB_A), cluster.url(WEB_B), cluster.url(FRONT)):
        for headers in (someone.cookie, someone.bearer):
            me = http.get(f"{base}/api/v1/me", headers=headers)
            assert me.status_code == 200, me.text
            assert me.json()["username"] == someone.username
        # The session's CSRF token still holds for unsafe requests.
        assert (
            http.post(f"{base}/api/v1/notifications/read", json={}, headers=someone.cookie).status_code == 204
        )
