"""Requests per second and latency of the foundation's hot paths on one `molodets serve`.

Starts a real server on a free 127.0.0.1 port with a fresh data dir, then measures, each with
the same number of concurrent clients:

- `GET /healthz`: the baseline (routing and middleware only, no database);
- `GET /api/v1/me` with a Bearer token: authentication plus one indexed query;
- `GET /api/v1/users/{username}`: a public profile read;
- `POST /api/v1/sessions`: a login, dominated by argon2id on purpose.

Prints requests/s, p50 and p99 latency, and each path's throughput as a ratio of the baseline.
Run: `make bench` or `.venv/bin/python benchmarks/http_requests.py [--seconds 5] [--clients 8]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from _server import running_server

PASSWORD = "benchmark password 2026"


def measure(
    name: str, send: Callable[[httpx.Client], httpx.Response], *, base: str, seconds: float, clients: int
) -> tuple[str, float, float, float]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker() -> None:
        nonlocal errors
        mine: list[float] = []
        failed = 0
        with httpx.Client(base_url=base, timeout=30) as client:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                if send(client).status_code >= 400:
                    failed += 1
                mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)
            errors += failed

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise SystemExit(f"{name}: {errors} requests failed")
    quantiles = statistics.quantiles(latencies, n=100)
    return name, len(latencies) / elapsed, quantiles[49] * 1000, quantiles[98] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="molodets-bench-") as tmp,
        running_server(Path(tmp)) as base,
    ):
        signup = httpx.post(f"{base}/api/v1/accounts", json={"username": "bench", "password": PASSWORD})
        signup.raise_for_status()
        token = httpx.post(
            f"{base}/api/v1/tokens", json={"name": "bench", "login": "bench", "password": PASSWORD}
        ).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        paths: list[tuple[str, Callable[[httpx.Client], httpx.Response]]] = [
            ("GET /healthz (baseline)", lambda c: c.get("/healthz")),
            ("GET /api/v1/me (Bearer)", lambda c: c.get("/api/v1/me", headers=bearer)),
            ("GET /api/v1/users/bench", lambda c: c.get("/api/v1/users/bench")),
            (
                "POST /api/v1/sessions (argon2id)",
                lambda c: c.post("/api/v1/sessions", json={"login": "bench", "password": PASSWORD}),
            ),
        ]
        results = [
            measure(name, send, base=base, seconds=args.seconds, clients=args.clients) for name, send in paths
        ]

    baseline = results[0][1]
    print(
        f"one `molodets serve` (SQLite), {args.clients} clients, "
        f"{args.seconds:g} s per path, {os.cpu_count()} cores"
    )
    print(f"{'path':36} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs baseline':>12}")
    for name, rate, p50, p99 in results:
        print(f"{name:36} {rate:9.0f} {p50:8.1f} {p99:8.1f} {rate / baseline:11.2f}x")


if __name__ == "__main__":
    main()
