"""The load test (benchmarks/load.py) runs end to end in its quick mode: a tiny catalogue, a real
`molodets serve`, a few seconds of the viewer and creator mix. Only that it works is checked
here (every route answered, no 5xx); its figures are for people to read, not for a test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_load_test_runs_the_mix_without_server_errors() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/load.py",
            "--scenario",
            "mixed",
            "--seconds",
            "3",
            "--clients",
            "4",
            "--quick",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "route " in done.stdout, output[-3000:]  # the by-route table's header
    for route in ("GET /api/v1/feed/for-you", "POST /api/v1/events", "GET /media/... first range"):
        assert route in done.stdout, output[-3000:]
    assert "5xx responses: 0\n" in done.stdout, output[-3000:]
    assert "no answer 0\n" in done.stdout, output[-3000:]
