"""`molodets cluster` as an operator runs it: a clear line when a service is down, and a whole
cluster that comes up, answers through its front and is gone after SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from molodets.cluster import DEFAULT_DATABASE_URL
from tests.conftest import service_unavailable

# What the command says when the machine lacks a service it needs (molodets.cluster.ServiceUnavailable).
SERVICE_MISSING = re.compile(
    r"^molodets: (PostgreSQL at .* is unreachable|Redis at .* is unreachable"
    r"|nginx not found|moto is not installed)"
)


def cli_env() -> dict[str, str]:
    """Our environment, with only the service URLs of the MOLODETS_* settings (as CI sets them)."""
    kept = {"MOLODETS_DATABASE_URL", "MOLODETS_REDIS_URL"}
    return {key: value for key, value in os.environ.items() if not key.startswith("MOLODETS_") or key in kept}


def test_postgresql_down_is_one_line_and_a_failure(tmp_path: Path) -> None:
    down = "postgresql://nobody@127.0.0.1:9/none"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "molodets",
            "cluster",
            "--data-dir",
            str(tmp_path / "c"),
            "--database-url",
            down,
        ],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith(
        "molodets: PostgreSQL at postgresql+psycopg://nobody@127.0.0.1:9/none is unreachable:"
    )


@pytest.mark.cluster
def test_the_command_runs_a_cluster_until_sigterm(tmp_path: Path) -> None:
    tag = f"{os.getpid()}"
    database = f"molodets_cluster_cli_{tag}"
    command = [sys.executable, "-m", "molodets", "cluster", "--data-dir", str(tmp_path / "cluster")]
    command += [
        "--database-name",
        database,
        "--redis-prefix",
        f"molodets-cluster-cli-{tag}",
        "--drop-on-stop",
    ]
    process = subprocess.Popen(
        command, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    try:
        lines: list[str] = []
        while not (lines and lines[-1].startswith("logs in ")):
            line = process.stdout.readline()
            if not line:  # it exited while starting
                error = process.communicate(timeout=60)[1].strip()
                if SERVICE_MISSING.match(error):
                    service_unavailable(error)
                pytest.fail(f"molodets cluster exited with {process.returncode}: {error}")
            lines.append(line.rstrip("\n"))
        [front_url] = re.findall(r"^Molodets cluster is running on (\S+)", "\n".join(lines), re.MULTILINE)
        pids = {
            name: int(pid)
            for name, pid in re.findall(
                r"^  (s3|web-a|web-b|worker-a|worker-b|front) +pid (\d+)", "\n".join(lines), re.MULTILINE
            )
        }
        assert set(pids) == {"s3", "web-a", "web-b", "worker-a", "worker-b", "front"}
        assert httpx.get(f"{front_url}/readyz", trust_env=False, timeout=30).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        output, error = process.communicate(timeout=120)

    assert process.returncode == 0, error
    assert output.rstrip().endswith("cluster stopped")
    for pid in pids.values():  # each process group is empty: nothing left running
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
    admin = create_engine(os.environ.get("MOLODETS_DATABASE_URL") or DEFAULT_DATABASE_URL)
    try:
        with admin.connect() as connection:
            found = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": database}
            )
            assert found.first() is None  # --drop-on-stop
    finally:
        admin.dispose()
