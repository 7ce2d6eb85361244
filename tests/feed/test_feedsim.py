"""The simulator (benchmarks/feedsim) runs end to end on a tiny world: its calibration gate
passes and the real recommender serves every page (no errors, no repeats), with its video
vectors retrained on simulated time and its ranking weights changed from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_simulator_runs_with_the_real_recommender(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.feedsim",
            "--quick",
            "--plot",
            str(tmp_path / "sim.png"),
            "--weights",
            '{"similarity": 2}',
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "relative): PASS" in done.stdout, done.stdout[-3000:]
    assert "error:" not in done.stdout, done.stdout[-3000:]  # every policy ran, the real one too
    assert (tmp_path / "sim.png").stat().st_size > 10_000
    assert " vector trainings, " in done.stdout, done.stdout[-3000:]


def test_the_simulator_refuses_weights_it_does_not_know() -> None:
    for weights, message in (
        ('{"simularity": 2}', "unknown names: simularity"),
        ("[2]", "not a JSON object"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.feedsim", "--quick", "--weights", weights],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert message in done.stderr
