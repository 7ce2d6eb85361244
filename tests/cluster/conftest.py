"""A real cluster for the module's tests: moto, two `molodets web`, two `molodets worker` and
nginx as separate processes over the machine's PostgreSQL and Redis (`molodets.cluster`).

It gets a database and a Redis prefix of its own, both gone after the tests. PostgreSQL,
Redis or nginx missing: a skip with the reason, or a failure under CI=true.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path

import httpx
import pytest

from molodets.cluster import (
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    Cluster,
    ClusterConfig,
    ServiceUnavailable,
)
from molodets.runtime import Runtime, build_runtime
from tests.conftest import service_unavailable

# Patience for work the cluster does on its own (a transcode on a busy 2-core machine); a
# bound so a broken cluster fails the test instead of hanging it, not a speed requirement.
PATIENCE_SECONDS = 240.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tag = f"{os.getpid()}_{secrets.token_hex(3)}"
    config = ClusterConfig(
        data_dir=tmp_path_factory.mktemp("cluster"),
        database_url=os.environ.get("MOLODETS_DATABASE_URL") or DEFAULT_DATABASE_URL,
        database_name=f"molodets_cluster_test_{tag}",
        redis_url=os.environ.get("MOLODETS_REDIS_URL") or DEFAULT_REDIS_URL,
        redis_prefix=f"molodets-cluster-test-{tag}",
        env={"MOLODETS_LOG_LEVEL": "INFO"},  # the tests read the workers' job_finished lines
        drop_on_stop=True,
    )
    built = Cluster(config)
    try:
        built.start()
    except ServiceUnavailable as exc:
        service_unavailable(str(exc))
    try:
        yield built
    finally:
        built.stop()


@pytest.fixture(scope="module")
def cluster_runtime(cluster: Cluster) -> Iterator[Runtime]:
    """This process's view of the cluster's database, bucket and queues (same settings)."""
    runtime = build_runtime(cluster.settings())
    yield runtime
    runtime.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """A client that keeps no cookies: each request says whose session it carries. And
    trust_env=False: a proxy from the environment must never see test traffic."""
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    with httpx.Client(timeout=httpx.Timeout(30.0), trust_env=False, cookies=no_cookies) as client:
        yield client


def wait_for(check: Callable[[], bool], what: str, seconds: float = PATIENCE_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what} after {seconds:.0f} s"
        time.sleep(0.2)


def child_processes(pid: int) -> list[tuple[int, list[str]]]:
    """(pid, argv) of the live children of `pid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue  # gone meanwhile
        # The fields after the command name, which is in parentheses and may hold anything.
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if int(parent) == pid and state != "Z":
            found.append((int(entry.name), [arg for arg in argv if arg]))
    return found


def is_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
