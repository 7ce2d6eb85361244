"""Load and soak test: a bounded amount of traffic to a server this script starts on 127.0.0.1.

Targets (`--mode`):
- embedded (default): `molodets serve --workers N` on a fresh data dir (SQLite, local media, job
  consumers in the supervising process; `--processes N` web processes, default one per core),
  seeded with a catalogue (benchmarks/_load_data.py: 3,000 people, 5,000 ready
  videos with renditions whose files exist, recommender state, 1,000 signed-in viewers with API
  tokens and 1,000 guests with their own cookie);
- cluster: `molodets.cluster.Cluster` (moto S3, two `molodets web` behind nginx, two workers on
  PostgreSQL + Redis), seeded the same way.

Scenarios (`--scenario`):
- foryou: only For You pages (first, second and third pages of signed-in viewers and guests) at
  `--clients` (100; a list such as 8,32,100 runs each) concurrent connections with wrk, each
  after `GET /healthz` (routing and middleware, no database) at the same concurrency. Goals at
  100: >= 1,000 req/s with p99 <= 100 ms, and >= 40 % of the bare endpoint's throughput.
- mixed: the viewer and creator mix (For You pages, media range requests, watch event batches,
  likes, comments, one-request uploads made into videos) at a steady `--rate` (20) of actions a
  second, at most `--clients` (64) in flight, for `--seconds`. Goals: no 5xx, every watch event
  answered 202 stored, no action started late.
- soak: the mix at a moderate rate (15/s) for `--warm-up` minutes (2, not measured: the
  process's caches fill, For You slates within a minute or two), then for `--minutes` (10);
  server memory sampled every 2 s, the soak's first minute against its last (the growth since
  the warm-up began is printed too); then waits for the uploads to be transcoded. Goals: no
  5xx, every accepted event stored, memory growth <= 10 %, every upload transcoded.

Prints requests/s and p50/p95/p99 by route, the error rate (5xx apart), the server's CPU (% of
all cores) and RSS, and this client's own CPU. wrk is used when installed (apt-get install wrk),
otherwise the Python client (asyncio + aiohttp) measures the throughput phases too.

Run: `make load`, or `.venv/bin/python benchmarks/load.py --scenario foryou|mixed|soak
[--mode embedded|cluster] [--seconds 20] [--clients N] [--rate R] [--minutes 10] [--warm-up 2] [--quick]`.
The machine may be shared: the load average before and after is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _load_client as client
import _load_wrk as wrk
from _load_client import FOR_YOU, HEALTHZ, Mix, MixResult, Recorder, Request, Row
from _load_data import Catalogue, MediaFiles, Spec, make_media
from _load_target import Sampler, Target, cluster, embedded

CORES = os.cpu_count() or 1
FOR_YOU_RATE_GOAL = 1_000.0
FOR_YOU_P99_GOAL_MS = 100.0
FOR_YOU_SHARE_GOAL = 0.40
MEMORY_GROWTH_GOAL = 0.10
# scenario: (clients, rate). A For You page costs the embedded server ~40-60 ms of CPU, and past
# ~55 requests in flight it stalls (docs/load.md): the mix runs where it keeps up, the soak lower.
DEFAULTS = {
    "foryou": (100, 0.0),
    "mixed": (64, 20.0),
    "soak": (64, 15.0),
}
QUICK_RATE_SHARE = 0.5  # --quick: a tiny catalogue, half the rate


@dataclass
class Phase:
    name: str
    rows: list[Row]
    elapsed: float
    server_cpu: float  # % of all cores
    server_rss: int  # peak, bytes, the server processes themselves
    tree_rss: int  # peak, with their children
    client_cpu: float  # % of all cores
    client: str


def weights_from(text: str | None) -> dict[str, float]:
    weights = dict(client.DEFAULT_WEIGHTS)
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        if name.strip() not in client.ACTIONS:
            raise SystemExit(f"--weights: unknown action {name!r} (known: {', '.join(client.ACTIONS)})")
        weights[name.strip()] = float(value)
    return weights


def measured(
    name: str, sampler: Sampler, label: str, work: Callable[[], tuple[list[Row], float, float | None]]
) -> Phase:
    """Run `work` (returns rows, elapsed, and the client's CPU seconds when it is another process)
    between two samples of the server."""
    before, cpu_before = sampler.now(), time.process_time()
    rows, elapsed, other_cpu = work()
    after, cpu_after = sampler.now(), time.process_time()
    window = sampler.between(before.at, after.at)
    wall = after.at - before.at
    own = cpu_after - cpu_before
    return Phase(
        name=name,
        rows=rows,
        elapsed=elapsed,
        server_cpu=(after.cpu_seconds - before.cpu_seconds) / wall / CORES * 100,
        server_rss=max(item.rss for item in window),
        tree_rss=max(item.tree_rss for item in window),
        client_cpu=((other_cpu if other_cpu is not None else 0.0) + own) / wall / CORES * 100,
        client=label,
    )


def throughput(
    name: str,
    route: str,
    requests: list[Request],
    *,
    target: Target,
    sampler: Sampler,
    clients: int,
    seconds: float,
    workdir: Path,
    use_wrk: bool,
) -> Phase:
    """Closed-loop throughput of `requests` at `clients` connections."""
    if use_wrk:

        def with_wrk() -> tuple[list[Row], float, float | None]:
            result = wrk.run(
                target.base_url, route, requests, clients=clients, seconds=seconds, workdir=workdir
            )
            return [result.row], result.elapsed, result.client_cpu_seconds

        return measured(name, sampler, "wrk, 1 thread", with_wrk)

    def with_python() -> tuple[list[Row], float, float | None]:
        recorder = Recorder()
        elapsed = client.run(
            client.closed_loop(target.base_url, requests, clients=clients, seconds=seconds, recorder=recorder)
        )
        return recorder.rows(elapsed), elapsed, None

    return measured(name, sampler, "asyncio + aiohttp", with_python)


def for_you_requests(target: Target, catalogue: Catalogue, viewers: int, seed: int) -> list[Request]:
    """First, second and third pages of `viewers` viewers (half signed in, half guests), the
    cursors taken from real pages, so the server does the work of a session going on."""
    rng = random.Random(seed)
    half = max(1, viewers // 2)
    users, guests = client.viewers_for(
        rng.sample(catalogue.tokens, min(half, len(catalogue.tokens))),
        rng.sample(catalogue.guests, min(half, len(catalogue.guests))),
        rng,
    )
    recorder = Recorder()
    paths: list[tuple[str, dict[str, str]]] = []

    async def pages(viewer: client.Viewer, session: Any) -> None:
        cursor = None
        for _ in range(3):
            query = f"?cursor={cursor}" if cursor else ""
            path = f"/api/v1/feed/for-you{query}"
            paths.append((path, viewer.headers))
            answer = await client.timed(
                session, recorder, FOR_YOU, "GET", target.base_url + path, headers=viewer.headers
            )
            if answer is None or answer[0] != 200:
                raise SystemExit(f"For You answered {answer[0] if answer else 'nothing'} while preparing")
            _, cursor = client.parse_page(answer[1])
            if cursor is None:
                return

    async def prepare() -> None:
        async with client.client_session(16) as session:
            everyone = users + guests
            for start in range(0, len(everyone), 16):
                await asyncio.gather(*(pages(viewer, session) for viewer in everyone[start : start + 16]))

    client.run(prepare())
    rng.shuffle(paths)
    return [Request(FOR_YOU, path, headers) for path, headers in paths]


# --- printing ---------------------------------------------------------------------------------


def table(rows: list[Row]) -> None:
    print(
        f"{'route':38} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'4xx':>6} {'5xx':>5} {'no answer':>9}"
    )
    for row in rows:
        print(
            f"{row.route:38} {row.count:9,d} {row.rate:8.1f} {row.p50:8.1f} {row.p95:8.1f} {row.p99:8.1f} "
            f"{row.max:8.0f} {row.client_errors:6d} {row.server_errors:5d} {row.transport_errors:9d}"
        )


def phases_table(phases: list[Phase]) -> None:
    print(
        f"\n{'phase':26} {'seconds':>8} {'req/s':>8} {'server CPU':>11} {'CPU/req':>9} {'server RSS':>11} "
        f"{'with children':>14} {'client CPU':>11}  client"
    )
    for phase in phases:
        rate = sum(row.count for row in phase.rows) / phase.elapsed if phase.elapsed else 0.0
        # CPU time per answer holds up on a shared machine better than req/s: others slow us, but
        # our work costs what it costs.
        per_request = phase.server_cpu / 100 * CORES / rate * 1000 if rate else 0.0
        print(
            f"{phase.name:26} {phase.elapsed:8.1f} {rate:8.1f} {phase.server_cpu:10.0f}% "
            f"{per_request:6.2f} ms {mib(phase.server_rss):>11} {mib(phase.tree_rss):>14} "
            f"{phase.client_cpu:10.0f}%  {phase.client}"
        )
    print(
        f"(CPU as % of all {CORES} cores, shared by the server, this client and whatever else runs; "
        "CPU/req is the server's CPU time per answer; RSS is the peak)"
    )


def errors_line(rows: list[Row]) -> tuple[int, int]:
    total = sum(row.count + row.transport_errors for row in rows)
    client_errors = sum(row.client_errors for row in rows)
    server_errors = sum(row.server_errors for row in rows)
    transport = sum(row.transport_errors for row in rows)
    failed = client_errors + server_errors + transport
    share = failed / total * 100 if total else 0.0
    print(
        f"errors: {failed:,} of {total:,} requests ({share:.2f} %): 4xx {client_errors:,}, "
        f"no answer {transport:,}"
    )
    print(f"5xx responses: {server_errors}")
    return failed, server_errors


def mib(value: int) -> str:
    return f"{value / 2**20:.0f} MiB"


def verdict(ok: bool) -> str:
    return "met" if ok else "missed"


def fmt_load(load: tuple[float, float, float]) -> str:
    return ", ".join(f"{value:.2f}" for value in load)


# --- scenarios --------------------------------------------------------------------------------


def run_foryou(args: argparse.Namespace, target: Target, catalogue: Catalogue, sampler: Sampler) -> bool:
    """For each concurrency (smallest first): `GET /healthz`, then For You, at that many
    connections; the goals are judged at the largest."""
    workdir = Path(args.workdir)
    requests = for_you_requests(target, catalogue, viewers=max(max(args.clients_list), 20), seed=args.seed)
    common = {"target": target, "sampler": sampler, "workdir": workdir, "use_wrk": args.use_wrk}
    # Warm-up (not reported): the server's per-process caches. At a low concurrency, so that a
    # server which cannot take the full one still warms up, and the baseline after it is clean.
    throughput("warm-up", FOR_YOU, requests, clients=min(8, args.clients), seconds=3.0, **common)
    print(
        f"\n{len(requests)} For You requests cycled (pages 1-3 of {len(requests) // 3}+ viewers, "
        "half signed in, half guests)"
    )
    phases: list[Phase] = []
    rows: list[Row] = []
    ratio = 0.0
    for clients in args.clients_list:
        bare = throughput(
            f"GET /healthz, {clients} conns",
            HEALTHZ,
            [Request(HEALTHZ, "/healthz", {})],
            clients=clients,
            seconds=args.seconds,
            **common,
        )
        page = throughput(
            f"For You, {clients} conns", FOR_YOU, requests, clients=clients, seconds=args.seconds, **common
        )
        phases += [bare, page]
        rows += [relabel(bare.rows[0], clients), relabel(page.rows[0], clients)]
        ratio = page.rows[0].rate / bare.rows[0].rate if bare.rows[0].rate else 0.0
    table(rows)
    phases_table(phases)
    _, server_errors = errors_line(rows)
    for bare_row, page_row in zip(rows[::2], rows[1::2], strict=True):
        share = page_row.rate / bare_row.rate if bare_row.rate else 0.0
        print(f"For You throughput vs GET /healthz at {page_row.route.rsplit(' @ ', 1)[1]}: {share:.2f}x")
    row = rows[-1]
    if row.count == 0:
        print(
            f"For You: not one answer in {args.seconds:g} s at {args.clients} connections: the server "
            "stalled (its log's exceptions are listed at the end)"
        )
    goals = [
        (
            f"For You >= {FOR_YOU_RATE_GOAL:,.0f} req/s at {args.clients} clients",
            f"{row.rate:,.0f} req/s",
            row.rate >= FOR_YOU_RATE_GOAL,
        ),
        (
            f"For You p99 <= {FOR_YOU_P99_GOAL_MS:.0f} ms",
            f"{row.p99:.1f} ms" if row.count else "no answers",
            row.count > 0 and row.p99 <= FOR_YOU_P99_GOAL_MS,
        ),
        (
            f"For You >= {FOR_YOU_SHARE_GOAL:.0%} of /healthz throughput",
            f"{ratio:.0%}",
            ratio >= FOR_YOU_SHARE_GOAL,
        ),
        ("no 5xx", f"{server_errors}", server_errors == 0),
    ]
    return print_goals(goals)


def relabel(row: Row, clients: int) -> Row:
    return dataclasses.replace(row, route=f"{row.route} @ {clients} conns")


def print_goals(goals: list[tuple[str, str, bool]]) -> bool:
    print()
    for name, value, ok in goals:
        print(f"goal: {name}: {value} -> {verdict(ok)}")
    return all(ok for _, _, ok in goals)


def mix_for(args: argparse.Namespace, target: Target, catalogue: Catalogue, media: MediaFiles) -> Mix:
    return Mix(
        target.base_url,
        tokens=catalogue.tokens,
        guests=catalogue.guests,
        weights=weights_from(args.weights),
        clip=media.upload.read_bytes(),
        active=max(20, round(args.rate)),
        seed=args.seed,
    )


def run_mix_phase(
    name: str, mix: Mix, *, args: argparse.Namespace, sampler: Sampler, seconds: float
) -> tuple[Phase, Recorder]:
    recorder = Recorder()

    def work() -> tuple[list[Row], float, float | None]:
        result: MixResult = client.run(
            mix.run(rate=args.rate, seconds=seconds, clients=args.clients, recorder=recorder)
        )
        return recorder.rows(result.elapsed), result.elapsed, None

    return measured(name, sampler, "asyncio + aiohttp", work), recorder


def describe_mix(mix: Mix, args: argparse.Namespace, target: Target) -> int:
    """Print what the mix did; returns how many events answered 202 were not stored."""
    result = mix.result
    print(
        f"\nactions: {sum(result.scheduled.values()):,} started at {args.rate:g}/s "
        f"({', '.join(f'{name} {result.scheduled[name]:,}' for name in client.ACTIONS)}), "
        f"at most {args.clients} in flight; "
        f"started late (> {client.LATE_SECONDS * 1000:.0f} ms): {result.late:,}"
    )
    dropped = ", ".join(f"{reason} {n}" for reason, n in sorted(result.events_dropped.items())) or "none"
    stored = settled_count(target.stored_events)
    lost = result.events_accepted - stored
    print(
        f"watch events: {result.events_sent:,} sent, {result.events_accepted:,} accepted "
        f"(dropped as impossible: {dropped}), {stored:,} stored"
        + (f": {lost:,} accepted (202) but never stored" if lost > 0 else "")
    )
    return max(lost, 0)


def settled_count(count: Callable[[], int], *, quiet: float = 1.0, at_most: float = 20.0) -> int:
    """`count()` once it has not changed for `quiet` seconds (the event writer appends every
    50 ms, but an overloaded one may be behind), or after `at_most`."""
    deadline = time.monotonic() + at_most
    last, since = count(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = count()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


def uploads_line(mix: Mix, base: str, *, wait_seconds: float, until_done: bool) -> tuple[int, Counter[str]]:
    owners = mix.result.upload_owner
    if not owners:
        print("uploads: none in this run")
        return 0, Counter()
    began = time.monotonic()
    settled = frozenset({"done", "failed"} if until_done else {"ready", "done", "failed"})
    states = client.run(client.upload_states(base, owners, wait_seconds=wait_seconds, settled=settled))
    waited = time.monotonic() - began
    print(
        f"uploads: {len(owners)} made into videos; after waiting {waited:.0f} s: "
        f"{states['done']} transcoded (ladder done), {states['ready']} ready (first rendition only), "
        f"{states['processing']} processing, {states['failed']} failed, {states['unreachable']} unreadable"
    )
    return len(owners), states


def run_mixed(
    args: argparse.Namespace, target: Target, catalogue: Catalogue, sampler: Sampler, media: MediaFiles
) -> bool:
    bare = throughput(
        "GET /healthz (baseline)",
        HEALTHZ,
        [Request(HEALTHZ, "/healthz", {})],
        target=target,
        sampler=sampler,
        clients=args.clients,
        seconds=min(args.seconds, 10.0),
        workdir=Path(args.workdir),
        use_wrk=args.use_wrk,
    )
    mix = mix_for(args, target, catalogue, media)
    client.run(mix.warm_up(recorder=Recorder()))
    phase, _ = run_mix_phase("mix", mix, args=args, sampler=sampler, seconds=args.seconds)
    lost = describe_mix(mix, args, target)
    print()
    table([*bare.rows, *phase.rows])
    phases_table([bare, phase])
    _, server_errors = errors_line(phase.rows)
    wait = 10.0 if args.quick else 30.0  # the smoke test stays short on a busy machine
    made, states = uploads_line(mix, target.base_url, wait_seconds=wait, until_done=False)
    if made:  # here each upload only has to become playable; the soak waits for every ladder
        print(f"uploads ready (playable) by the end: {states['done'] + states['ready']} of {made}")
    goals = [
        ("no 5xx", f"{server_errors}", server_errors == 0),
        ("every accepted watch event stored", f"{lost} not stored", lost == 0),
        (
            f"every action started on time at {args.rate:g}/s",
            f"{mix.result.late} late",
            mix.result.late == 0,
        ),
    ]
    return print_goals(goals)


def run_soak(
    args: argparse.Namespace, target: Target, catalogue: Catalogue, sampler: Sampler, media: MediaFiles
) -> bool:
    mix = mix_for(args, target, catalogue, media)
    client.run(mix.warm_up(recorder=Recorder()))
    warm_up_started = time.monotonic()
    if args.warm_up > 0:
        print(
            f"\nwarm-up: {args.warm_up:g} min at {args.rate:g} actions/s, not measured (the process's "
            "caches fill: For You slates, a minute each, within one or two)",
            flush=True,
        )
        warm_seconds = args.warm_up * 60
        client.run(mix.run(rate=args.rate, seconds=warm_seconds, clients=args.clients, recorder=Recorder()))
    seconds = args.minutes * 60
    recorder = Recorder()
    started = time.monotonic()
    printed = [0]  # minutes reported so far

    def minute_line(end: float) -> None:
        """One line for the minute before `end` (monotonic)."""
        begin = end - 60
        window = sampler.between(begin, end) or [sampler.now()]
        rows = recorder.rows(60, since=begin, until=end)
        latencies = recorder.all_latencies(since=begin, until=end)
        span = window[-1].at - window[0].at
        cpu = (window[-1].cpu_seconds - window[0].cpu_seconds) / span / CORES * 100 if span else 0.0
        printed[0] += 1
        print(
            f"  minute {printed[0]:>3}: {sum(row.count for row in rows) / 60:6.1f} req/s, p99 "
            f"{client.quantile(latencies, 0.99) * 1000:6.1f} ms, 5xx {sum(r.server_errors for r in rows)}, "
            f"server CPU {cpu:3.0f}%, RSS {mib(window[-1].rss)} ({mib(window[-1].tree_rss)} with children)",
            flush=True,
        )

    def tick(elapsed: float) -> None:
        if elapsed >= (printed[0] + 1) * 60:
            minute_line(started + elapsed)

    print(
        f"\nsoak: {args.minutes:g} min at {args.rate:g} actions/s, at most {args.clients} in flight",
        flush=True,
    )

    def work() -> tuple[list[Row], float, float | None]:
        result: MixResult = client.run(
            mix.run(rate=args.rate, seconds=seconds, clients=args.clients, recorder=recorder, tick=tick)
        )
        return recorder.rows(result.elapsed), result.elapsed, None

    phase = measured("soak mix", sampler, "asyncio + aiohttp", work)
    if printed[0] < round(args.minutes):
        minute_line(started + phase.elapsed)  # the last minute ends with the run, between ticks
    lost = describe_mix(mix, args, target)
    print()
    table(phase.rows)
    phases_table([phase])
    _, server_errors = errors_line(phase.rows)
    end = started + phase.elapsed
    first = [item.rss for item in sampler.between(started, started + 60)]
    last = [item.rss for item in sampler.between(end - 60, end)]
    first_rss, last_rss = sum(first) / len(first), sum(last) / len(last)
    growth = last_rss / first_rss - 1
    print(
        f"server RSS (mean): first minute {mib(int(first_rss))}, last minute {mib(int(last_rss))}: "
        f"{growth * 100:+.1f} %  (sampled every {sampler.interval:g} s)"
    )
    if args.warm_up > 0:
        warming = [item.rss for item in sampler.between(warm_up_started, warm_up_started + 60)]
        print(
            f"server RSS (mean), the warm-up's first minute {mib(int(sum(warming) / len(warming)))}: "
            f"{(last_rss / (sum(warming) / len(warming)) - 1) * 100:+.1f} % by the soak's last"
        )
    made, states = uploads_line(mix, target.base_url, wait_seconds=600.0, until_done=True)
    goals = [
        ("no 5xx", f"{server_errors}", server_errors == 0),
        ("every accepted watch event stored", f"{lost} not stored", lost == 0),
        (
            f"memory growth <= {MEMORY_GROWTH_GOAL:.0%}",
            f"{growth * 100:+.1f} %",
            growth <= MEMORY_GROWTH_GOAL,
        ),
        ("every upload transcoded", f"{states['done']} of {made}", states["done"] == made),
    ]
    return print_goals(goals)


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", choices=sorted(DEFAULTS), default="foryou")
    parser.add_argument("--mode", choices=("embedded", "cluster"), default="embedded")
    parser.add_argument(
        "--processes",
        type=int,
        help="embedded mode: web processes of `molodets serve --workers N` (default: one per core)",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each measurement (not soak)")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the soak")
    parser.add_argument(
        "--warm-up", type=float, default=2.0, help="minutes of the soak's mix before it is measured"
    )
    parser.add_argument(
        "--clients",
        help="concurrent connections (foryou: a list runs each: 8,32,100); in flight at most (mix)",
    )
    parser.add_argument("--rate", type=float, help="actions a second started by the mix")
    parser.add_argument(
        "--weights",
        help=f"the mix's weights, e.g. foryou=25,media=40 (default {client.DEFAULT_WEIGHTS})",
    )
    parser.add_argument("--quick", action="store_true", help="a tiny catalogue and rate (the smoke test)")
    parser.add_argument(
        "--no-wrk", action="store_true", help="use the Python client even if wrk is installed"
    )
    parser.add_argument("--keep-logs", type=Path, help="copy the server's log(s) into this folder at the end")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    clients, rate = DEFAULTS[args.scenario]
    args.clients_list = sorted(
        int(part) for part in (args.clients or str(clients)).split(",") if part.strip()
    )
    if not args.clients_list or min(args.clients_list) < 1:
        raise SystemExit("--clients: give a positive number")
    if len(args.clients_list) > 1 and args.scenario != "foryou":
        raise SystemExit("--clients: a list is for the foryou scenario only")
    args.clients = args.clients_list[-1]
    args.rate = args.rate or (rate * QUICK_RATE_SHARE if args.quick else rate)
    args.use_wrk = not args.no_wrk and wrk.available() is not None
    if args.processes is not None and (args.mode != "embedded" or args.processes < 1):
        raise SystemExit("--processes: a positive number, for the embedded mode")
    if args.processes is None:
        args.processes = os.cpu_count() or 1
    return args


def start(
    args: argparse.Namespace, workdir: Path, media: MediaFiles, spec: Spec
) -> AbstractContextManager[Any]:
    if args.mode == "cluster":
        return cluster(workdir, media, spec, log=workdir / "server.log")
    return embedded(workdir, media, spec, log=workdir / "server.log", processes=args.processes)


EXCEPTION_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception|Exceeded)): (.{0,150})")
LOG_EVENT = re.compile(r"\[(warning|error|critical)\s*\]\s+(\S+)")


def log_problems(path: Path) -> Counter[str]:
    """What the server logged at warning and above (structlog's event names), and the exceptions
    (their last line, as a traceback ends), by count."""
    found: Counter[str] = Counter()
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            if match := EXCEPTION_LINE.match(line):
                found[f"{match[1]}: {match[2]}"] += 1
            elif match := LOG_EVENT.search(line):
                found[f"{match[1]} {match[2]}"] += 1
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spec = Spec.tiny() if args.quick else Spec.full()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="molodets-load-") as tmp:
        workdir = Path(tmp)
        args.workdir = str(workdir)
        began = time.perf_counter()
        media = make_media(workdir / "clips", spec)
        made_media = time.perf_counter() - began
        interval = 2.0 if args.scenario == "soak" else 1.0
        ok = False
        try:
            with (
                start(args, workdir, media, spec) as (target, catalogue),
                Sampler(target, interval) as sampler,
            ):
                gc.collect()
                gc.freeze()  # the catalogue's objects: this client's collector need not walk them
                print(f"Molodets load test: scenario {args.scenario}, {args.mode} mode: {target.description}")
                print(
                    f"catalogue: {catalogue.users:,} people, {len(catalogue.video_ids):,} ready videos "
                    f"({len(spec.ladder)} renditions each, real files), "
                    f"{len(catalogue.tokens):,} signed-in viewers, {len(catalogue.guests):,} guests; "
                    f"media made in {made_media:.1f} s; "
                    + "; ".join(f"{label} {seconds:.1f} s" for label, seconds in catalogue.timings)
                )
                print(
                    f"client: {'wrk (1 thread) for the throughput phases, ' if args.use_wrk else ''}"
                    f"asyncio + aiohttp{' for the mix' if args.use_wrk else ' (wrk is not installed)'}; "
                    f"{CORES} cores; load average before: {fmt_load(load_before)}",
                    flush=True,
                )
                if args.scenario == "foryou":
                    ok = run_foryou(args, target, catalogue, sampler)
                elif args.scenario == "mixed":
                    ok = run_mixed(args, target, catalogue, sampler, media)
                else:
                    ok = run_soak(args, target, catalogue, sampler, media)
        finally:
            problems: Counter[str] = Counter()
            for log in [workdir / "server.log", *sorted(workdir.glob("cluster/logs/*.log"))]:
                problems += log_problems(log)
                if args.keep_logs is not None and log.exists():
                    args.keep_logs.mkdir(parents=True, exist_ok=True)
                    shutil.copy(log, args.keep_logs / log.name)
            if problems:
                print("\nthe server's log: warnings, errors and exceptions (count, event or last line):")
                for line, count in problems.most_common(10):
                    print(f"  {count:5d}  {line}")
    print(f"load average (1, 5, 15 min) before: {fmt_load(load_before)}, after: {fmt_load(os.getloadavg())}")
    print("all goals met" if ok else "some goals missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
