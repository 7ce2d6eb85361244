"""Throughput runs with wrk (C, epoll, one thread here): cheaper per request than any Python
client, which matters when client and server share two cores. A generated Lua script cycles
through prepared requests (each its own path and headers: a viewer's token or guest cookie, a
cursor) and counts 4xx and 5xx separately; its `done` prints one machine-readable line."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from _load_client import Request, Row

LUA = """
local requests = {}
local threads = {}
local counter = 0
local prepared = {
%(entries)s
}

function setup(thread)
  thread:set("offset", #threads)
  table.insert(threads, thread)
end

function init(args)
  for i, entry in ipairs(prepared) do
    requests[i] = wrk.format("GET", entry[1], entry[2])
  end
  counter = tonumber(wrk.thread:get("offset")) or 0
  client_errors = 0
  server_errors = 0
end

function request()
  counter = counter + 1
  return requests[(counter %% #requests) + 1]
end

function response(status, headers, body)
  if status >= 500 then
    server_errors = server_errors + 1
  elseif status >= 400 then
    client_errors = client_errors + 1
  end
end

function done(summary, latency, requests)
  local c, s = 0, 0
  for _, thread in ipairs(threads) do
    c = c + thread:get("client_errors")
    s = s + thread:get("server_errors")
  end
  local e = summary.errors
  io.write(string.format("LOADRESULT %%d %%d %%d %%d %%d %%d %%d %%d %%d %%d\\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    c, s, e.connect + e.read + e.write, e.timeout))
end
"""


def available() -> str | None:
    return shutil.which("wrk")


def _lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def script(requests: list[Request]) -> str:
    entries = []
    for request in requests:
        headers = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in request.headers.items())
        entries.append(f"  {{{_lua_string(request.path)}, {{{headers}}}}},")
    return LUA % {"entries": "\n".join(entries)}


@dataclass(frozen=True)
class WrkResult:
    row: Row
    elapsed: float
    client_cpu_seconds: float  # wrk's own user + system time


def run(
    base: str, route: str, requests: list[Request], *, clients: int, seconds: float, workdir: Path
) -> WrkResult:
    path = workdir / f"wrk-{abs(hash(route))}.lua"
    path.write_text(script(requests))
    command = [
        "wrk",
        "--threads",
        "1",
        "--connections",
        str(clients),
        "--duration",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "--script",
        str(path),
        base + requests[0].path.split("?")[0],
    ]
    began = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    output = process.stdout.read().decode(errors="replace")
    # wait4 hands back the child's resource use: the client's own CPU cost, measured.
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - began
    line = next((text for text in output.splitlines() if text.startswith("LOADRESULT ")), None)
    if process.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({process.returncode}):\n{output[-2000:]}")
    count, duration_us, p50, p95, p99, worst, client, server, socket, timeout = map(int, line.split()[1:])
    duration = duration_us / 1e6
    row = Row(
        route=route,
        count=count,
        rate=count / duration,
        p50=p50 / 1000,
        p95=p95 / 1000,
        p99=p99 / 1000,
        max=worst / 1000,
        client_errors=client,
        server_errors=server,
        transport_errors=socket + timeout,
    )
    return WrkResult(row=row, elapsed=elapsed, client_cpu_seconds=usage.ru_utime + usage.ru_stime)
