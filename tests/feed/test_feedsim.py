"""The simulator (benchmarks/feedsim) runs end to end on a tiny world: its calibration gate
passes and the real recommender serves every page (no errors, no repeats), with its video
vectors retrained on simulated time and its ranking weights changed from the command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from benchmarks.feedsim import runner
from benchmarks.feedsim.policies import Shown, TasteOraclePolicy
from benchmarks.feedsim.world import Response, World

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


def test_the_taste_oracle_knows_tastes_but_learns_quality_from_what_it_served() -> None:
    """The bound on what knowing tastes alone is worth: of two videos the user has the same
    taste for, the one its audience watched long comes first; of two it knows nothing about,
    the one the user has the taste for."""
    world = World(runner.QUICK, 0)
    viewers = {user: world.viewer(user) for user in range(runner.QUICK.users)}
    policy = TasteOraclePolicy(world, 0, viewers)
    user = 0
    # Two videos alike for every user: the same topics, the same language, the same creator.
    twins = next(
        (first, second)
        for first in range(world.video_count)
        for second in range(first + 1, world.video_count)
        if world.creator[first] == world.creator[second]
        and world.language[first] == world.language[second]
        and np.array_equal(world.topic_weights[first], world.topic_weights[second])
    )
    policy.publish(list(twins), now_s=0.0)
    skipped, watched_long = twins  # the later one first: a tie would keep them in order
    served = [(watched_long, 30.0, True), (skipped, 1.0, False)]
    for viewer in range(1, 11):
        policy.observe(
            viewer, [Shown(video, outcome(seconds, long), 0.0) for video, seconds, long in served], 0.0
        )
    assert policy.page(user, set(), 0.0, 2) == [watched_long, skipped]
    # Unknown videos: the user's taste decides.
    tastes = world.tastes(viewers[user], user, np.arange(world.video_count))
    liked, disliked = int(np.argmax(tastes)), int(np.argmin(tastes))
    fresh = TasteOraclePolicy(world, 0, viewers)
    fresh.publish([liked, disliked], now_s=0.0)
    assert fresh.page(user, set(), 0.0, 2)[0] == liked


def outcome(seconds: float, long: bool) -> Response:
    return Response(
        watched_s=seconds,
        loops=0,
        complete=False,
        skip=seconds < 3,
        valid=seconds > 7,
        long=long,
        like=False,
        follow=False,
        share=False,
        hate=False,
        utility=0.5,
    )
