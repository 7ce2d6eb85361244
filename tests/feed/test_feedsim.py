"""The simulator (benchmarks/feedsim) runs end to end on a tiny world: its calibration gate
passes and the real recommender serves every page (no errors, no repeats), with its video
vectors retrained on simulated time and its ranking weights changed from the command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from benchmarks.feedsim import runner

ROOT = Path(__file__).resolve().parents[2]


def simulate(*args: str, hash_seed: int) -> str:
    """The simulator's output; `hash_seed` is the processes' string hashing (set iteration order)."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.feedsim", "--quick", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": str(hash_seed)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def results_row(output: str, policy: str) -> list[str]:
    """The policy's figures in the first results table (watch time, depth, rates: no timings)."""
    results = output[output.index("Results:") :]
    return next(line.split() for line in results.splitlines() if line.startswith(f"{policy} "))


def test_the_simulator_runs_with_the_real_recommender(tmp_path: Path) -> None:
    output = simulate("--plot", str(tmp_path / "sim.png"), "--weights", '{"similarity": 2}', hash_seed=1)
    assert "relative): PASS" in output, output[-3000:]
    assert "error:" not in output, output[-3000:]  # every policy ran, the real one too
    assert (tmp_path / "sim.png").stat().st_size > 10_000
    assert " vector trainings, " in output, output[-3000:]
    # A run repeats exactly, whatever the machine's speed or the processes' hashing: two versions
    # of the recommender differ by what they do, not by noise (tuning compares them seed by seed).
    again = simulate(
        "--policies",
        "molodets",
        "--plot",
        str(tmp_path / "again.png"),
        "--weights",
        '{"similarity": 2}',
        hash_seed=2,
    )
    assert results_row(again, "molodets") == results_row(output, "molodets")


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


def test_the_simulated_player_asks_for_pages_as_the_web_player_does() -> None:
    js = ROOT / "src" / "molodets" / "web" / "static" / "js"
    player, feed = (js / "player.js").read_text(), (js / "feed.js").read_text()
    assert re.search(rf"^const FETCH_AHEAD = {runner.FETCH_AHEAD};$", player, re.MULTILINE)
    assert re.search(rf"^    this\.pageSize = {runner.PAGE_SIZE};$", feed, re.MULTILINE)
