"""Scale-out mode on one machine: `molodets cluster`, and a library for tests and benchmarks.

    with Cluster(ClusterConfig(data_dir=Path("var/cluster"))) as cluster:
        cluster.front_url                 # nginx, round-robin over the two web processes
        cluster.url("web-a"), cluster.pid("worker-b")
        cluster.kill("worker-a")          # SIGKILL its process group, as a crash would
        cluster.start_process("worker-a") # the same command, environment and port again
        cluster.restart("web-b")          # a graceful stop, then a start

What runs (every child in its own process group, configured by environment variables only):

- `s3`: `python -m moto.server`, an S3-compatible server keeping objects in memory;
- `web-a`, `web-b`: `molodets web` on two ports;
- `worker-a`, `worker-b`: `molodets worker` (both queues and the scheduler);
- `front`: nginx from the template `deploy/nginx/cluster.conf`.

PostgreSQL and Redis are the machine's own: the cluster creates a fresh database on the given
server (dropping an earlier one of the same name), clears its Redis prefix, and migrates once
before any web process starts. Each process logs to `<data dir>/logs/<name>.log`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from molodets.settings import Settings, load_settings

ProcessKind = Literal["s3", "web", "worker", "front"]

S3 = "s3"
WEB_A, WEB_B = "web-a", "web-b"
WORKER_A, WORKER_B = "worker-a", "worker-b"
FRONT = "front"
WEBS = (WEB_A, WEB_B)
WORKERS = (WORKER_A, WORKER_B)
# Start order; processes stop in the reverse order (the front first, the store last).
PROCESS_NAMES = (S3, WEB_A, WEB_B, WORKER_A, WORKER_B, FRONT)

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_DATABASE_NAME = "molodets_cluster"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_REDIS_PREFIX = "molodets-cluster"
NGINX_TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "cluster.conf"
HOST = "127.0.0.1"
BUCKET = "molodets-cluster"
# moto accepts any credentials; these only have to be the same in every process.
S3_ACCESS_KEY = "molodets-cluster"
S3_SECRET_KEY = "molodets-cluster-secret"  # noqa: S105 - a local test server's, not a secret
MARKER_FILE = ".molodets-cluster"

READY_SECONDS = 90.0  # a web process imports a lot; on a busy 2-core machine that takes a while
MIGRATE_SECONDS = 120.0
# How long each kind gets to stop after SIGTERM before its group is killed. Web processes cut
# open notification streams after 5 s (cli.SHUTDOWN_GRACE_SECONDS); workers finish running jobs.
STOP_SECONDS: dict[ProcessKind, float] = {"front": 10.0, "web": 15.0, "worker": 30.0, "s3": 10.0}

# Settings the cluster decides for every process; `ClusterConfig.env` may not override them.
MANAGED_SETTINGS = frozenset(
    {
        "MOLODETS_DATA_DIR",
        "MOLODETS_HOST",
        "MOLODETS_PORT",
        "MOLODETS_DATABASE_URL",
        "MOLODETS_REDIS_URL",
        "MOLODETS_REDIS_PREFIX",
        "MOLODETS_STORAGE_URL",
        "MOLODETS_S3_ENDPOINT_URL",
        "MOLODETS_S3_ACCESS_KEY",
        "MOLODETS_S3_SECRET_KEY",
        "MOLODETS_S3_REGION",
        "MOLODETS_UPLOAD_DIR",
        "MOLODETS_SECRET_KEY",
        "MOLODETS_PUBLIC_BASE_URL",
        "MOLODETS_CDN_BASE_URL",
    }
)
_DATABASE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_PLACEHOLDER = re.compile(r"@([A-Z_]+)@")


class ClusterError(Exception):
    """The cluster cannot start or a process misbehaves; the message is one line for the operator."""


class ServiceUnavailable(ClusterError):  # noqa: N818 - reads as a state, like JobsUnavailable
    """Something the cluster needs from the machine is missing or down: PostgreSQL, Redis,
    nginx or moto."""


@dataclass(frozen=True)
class ClusterConfig:
    data_dir: Path
    # Any database on the PostgreSQL server to use; the cluster makes `database_name` beside it.
    database_url: str = DEFAULT_DATABASE_URL
    database_name: str = DEFAULT_DATABASE_NAME
    redis_url: str = DEFAULT_REDIS_URL
    redis_prefix: str = DEFAULT_REDIS_PREFIX
    front_port: int = 0  # 0: any free port
    nginx: str | None = None  # the executable; found on PATH or in /usr/sbin when None
    nginx_template: Path = NGINX_TEMPLATE
    # Further MOLODETS_* settings for every process (log level, rate limits, job threads, ...).
    env: Mapping[str, str] = field(default_factory=dict)
    # Drop the database and clear the Redis prefix at stop (tests); else they stay to be looked at.
    drop_on_stop: bool = False


@dataclass
class ClusterProcess:
    """One process of the cluster. `port` is None for workers; it stays the same across restarts."""

    name: str
    kind: ProcessKind
    port: int | None
    log_path: Path
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    popen: subprocess.Popen[bytes] | None = None
    log_start: int = 0  # where the current run's lines begin in its log

    @property
    def url(self) -> str | None:
        return f"http://{HOST}:{self.port}" if self.port is not None else None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


class Cluster:
    """The processes of a scale-out Molodets on this machine. `start()` brings up all of them
    (or none: a failure stops what was started), `stop()` ends them; also a context manager."""

    def __init__(self, config: ClusterConfig, *, report: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.data_dir = config.data_dir.resolve()
        self.log_dir = self.data_dir / "logs"
        self.upload_dir = self.data_dir / "uploads"
        self._report = report or (lambda _line: None)
        self._processes: dict[str, ClusterProcess] = {}
        self._expected_down: set[str] = set()
        self._admin_url, self.database_url = _database_urls(config.database_url, config.database_name)
        self._secret_key = secrets.token_urlsafe(48)
        self._database_created = False
        self._started = False

    # --- what is running ----------------------------------------------------------------------

    @property
    def processes(self) -> dict[str, ClusterProcess]:
        """Every process by name, in start order."""
        return dict(self._processes)

    def process(self, name: str) -> ClusterProcess:
        try:
            return self._processes[name]
        except KeyError:
            known = ", ".join(self._processes) or "none yet: start() first"
            raise KeyError(f"no process {name!r} in the cluster ({known})") from None

    def url(self, name: str) -> str:
        url = self.process(name).url
        if url is None:
            raise KeyError(f"{name!r} listens on no port")
        return url

    def port(self, name: str) -> int:
        port = self.process(name).port
        if port is None:
            raise KeyError(f"{name!r} listens on no port")
        return port

    def pid(self, name: str) -> int | None:
        """The process's pid (also its process group's id), or None if it is not running."""
        process = self.process(name)
        return process.pid if process.running else None

    def log_path(self, name: str) -> Path:
        return self.process(name).log_path

    @property
    def front_url(self) -> str:
        """What clients use (MOLODETS_PUBLIC_BASE_URL of every process)."""
        return self.url(FRONT)

    @property
    def s3_endpoint(self) -> str:
        return self.url(S3)

    @property
    def redis_url(self) -> str:
        return self.config.redis_url

    @property
    def redis_prefix(self) -> str:
        return self.config.redis_prefix

    def app_env(self, name: str) -> dict[str, str]:
        """The MOLODETS_* settings of web or worker `name` (what `settings()` mirrors)."""
        return {key: value for key, value in self.process(name).env.items() if key.startswith("MOLODETS_")}

    def settings(self, data_dir: Path | None = None) -> Settings:
        """Settings equal to the web and worker processes', for building a `Runtime` in this
        process (tests and benchmarks look at the database and the bucket through it)."""
        values = {
            key.removeprefix("MOLODETS_").lower(): value for key, value in self._app_settings(None).items()
        }
        values["data_dir"] = str(data_dir or self.data_dir / "proc" / "local")
        return load_settings(**values)

    def poll(self) -> list[tuple[str, int]]:
        """Processes that exited by themselves since the last call, with their exit status."""
        exited = []
        for name, process in self._processes.items():
            if name in self._expected_down or process.popen is None:
                continue
            code = process.popen.poll()
            if code is not None:
                self._expected_down.add(name)
                exited.append((name, code))
        return exited

    def describe(self) -> list[str]:
        """One line per process: name, pid, URL (or what it does)."""
        lines = []
        for name, process in self._processes.items():
            pid = f"pid {process.pid}" if process.running else "stopped"
            where = process.url or "consumes the default and media queues"
            lines.append(f"  {name:<9} {pid:<11} {where}")
        return lines

    # --- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> Cluster:
        """Check the machine's services, then start every process and wait until each answers."""
        if self._started:
            raise ClusterError("the cluster is already started")
        self._started = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._report(f"creating database {hide_password(self.database_url)}")
        self._create_database()
        self._clear_redis()
        nginx = self._find_nginx()
        template = self._read_template()
        if importlib.util.find_spec("moto") is None:
            raise ServiceUnavailable(
                "moto is not installed (pip install 'moto[server]'): the cluster's S3 server"
            )
        self._prepare_data_dir()

        ports = {name: _free_port() for name in (S3, *WEBS)}
        ports[FRONT] = self.config.front_port or _free_port()
        if self.config.front_port and not _port_is_free(self.config.front_port):
            raise ClusterError(f"port {self.config.front_port} on {HOST} is in use; choose another port")
        self._define_processes(nginx, ports)

        self._launch(S3)
        self._wait_ready(S3)
        self._create_bucket()

        self._report("migrating the database")
        self._migrate()

        for name in (*WEBS, *WORKERS):
            self._launch(name)
        for name in (*WEBS, *WORKERS):
            self._wait_ready(name)

        conf = self.data_dir / "front" / "nginx.conf"
        conf.write_text(self._render(template), encoding="utf-8")
        self._launch(FRONT)
        self._wait_ready(FRONT)

    def stop(self) -> None:
        """Stop every process (front first, store last), each by its process group: SIGTERM,
        then SIGKILL if it has not exited in time. Safe to call more than once."""
        for name in reversed(list(self._processes)):
            if self._processes[name].running:
                self._report(f"stopping {name}")
            self.stop_process(name)
        if self.config.drop_on_stop:
            if self._database_created:
                self._drop_database()
            try:
                self._clear_redis()
            except ClusterError as exc:  # the processes are stopped; only some keys stay behind
                self._report(f"could not clear the Redis prefix {self.config.redis_prefix}: {exc}")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Send `sig` (SIGKILL by default: a crash) to the process group of `name` and wait for
        it to exit; returns its exit status (negative: the signal). It stays down until
        `start_process(name)`."""
        process = self.process(name)
        if not process.running or process.popen is None:
            raise ClusterError(f"{name} is not running")
        self._expected_down.add(name)
        _signal_group(process.popen.pid, sig)
        return self._reap(process, STOP_SECONDS[process.kind])

    def stop_process(self, name: str) -> int | None:
        """Stop `name` gracefully (SIGTERM to its group, SIGKILL after a while); its exit status,
        or None if it was not running."""
        process = self.process(name)
        if process.popen is None:
            return None
        self._expected_down.add(name)
        if process.popen.poll() is not None:
            _signal_group(process.popen.pid, signal.SIGKILL)  # whatever it left in its group
            return process.popen.returncode
        _signal_group(process.popen.pid, signal.SIGTERM)
        return self._reap(process, STOP_SECONDS[process.kind])

    def start_process(self, name: str) -> ClusterProcess:
        """Start `name` again (after `kill` or `stop_process`), with the same command, settings
        and port, and wait until it answers."""
        process = self.process(name)
        if process.running:
            raise ClusterError(f"{name} is already running (pid {process.pid})")
        self._launch(name, append_log=True)
        self._wait_ready(name)
        return process

    def restart(self, name: str) -> ClusterProcess:
        """A graceful stop of `name`, then a start on the same port."""
        self.stop_process(name)
        return self.start_process(name)

    def wait_until_stopped(self, check_seconds: float = 1.0) -> Iterator[tuple[str, int]]:
        """Block, yielding each process that exits by itself; ends only by an exception (the
        CLI's Ctrl+C or SIGTERM)."""
        while True:
            time.sleep(check_seconds)
            yield from self.poll()

    # --- start-up steps -----------------------------------------------------------------------

    def _find_nginx(self) -> str:
        if self.config.nginx:
            found = shutil.which(self.config.nginx)
            if found is None:
                raise ServiceUnavailable(f"nginx not found at {self.config.nginx}")
            return found
        found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
        if found is None:
            raise ServiceUnavailable("nginx not found (apt-get install nginx-light), the cluster's front")
        return found

    def _read_template(self) -> str:
        try:
            return self.config.nginx_template.read_text(encoding="utf-8")
        except OSError as exc:
            raise ClusterError(
                f"cannot read the nginx template {self.config.nginx_template}: {exc.strerror}"
                " (the cluster runs from a source checkout)"
            ) from None

    def _prepare_data_dir(self) -> None:
        """Make the data dir, or clear the one an earlier cluster left (its database is dropped
        too). A folder with other things in it is refused, never emptied."""
        marker = self.data_dir / MARKER_FILE
        try:
            if self.data_dir.exists() and any(self.data_dir.iterdir()) and not marker.exists():
                raise ClusterError(
                    f"{self.data_dir} is not empty and was not made by `molodets cluster`; choose another"
                    " data dir"
                )
            for name in ("uploads", "proc", "front", "logs"):
                shutil.rmtree(self.data_dir / name, ignore_errors=True)
            for folder in (self.log_dir, self.upload_dir, self.data_dir / "front", self.data_dir / "proc"):
                folder.mkdir(parents=True, exist_ok=True)
            marker.write_text("made by `molodets cluster`; cleared at each start\n", encoding="utf-8")
        except OSError as exc:
            raise ClusterError(f"cannot prepare {self.data_dir}: {exc.strerror}") from None

    def _create_database(self) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        name = self.config.database_name
        try:
            self._admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
        except SQLAlchemyError as exc:
            raise ServiceUnavailable(
                f"PostgreSQL at {hide_password(self._admin_url)} is unreachable: {_first_line(exc)}"
            ) from None
        self._database_created = True

    def _drop_database(self) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        name = self.config.database_name
        try:
            self._admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except SQLAlchemyError as exc:
            self._report(f"could not drop database {name}: {_first_line(exc)}")
        self._database_created = False

    def _admin_execute(self, *statements: str) -> None:
        """Run statements outside a transaction (CREATE DATABASE refuses to run in one). The
        name in them was checked to be a plain identifier."""
        from sqlalchemy import create_engine, text

        engine = create_engine(
            self._admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
        )
        try:
            with engine.connect() as connection:
                for statement in statements:
                    connection.execute(text(statement))
        finally:
            engine.dispose()

    def _clear_redis(self) -> None:
        """Forget jobs, schedules and rate-limit windows of an earlier cluster with this prefix:
        they would name rows of a database that is gone."""
        import redis

        prefix = self.config.redis_prefix
        try:
            client = redis.Redis.from_url(self.config.redis_url, socket_connect_timeout=3, socket_timeout=10)
        except ValueError as exc:
            raise ClusterError(f"the Redis URL {self.config.redis_url} is malformed: {exc}") from None
        try:
            # huey's keys are `huey.<kind>.<prefix>:<queue>`; ours start with the prefix.
            for pattern in (f"huey.*.{prefix}:*", f"{prefix}:*"):
                keys = list(client.scan_iter(match=pattern, count=1000))
                if keys:
                    client.delete(*keys)
        except redis.RedisError as exc:
            raise ServiceUnavailable(
                f"Redis at {hide_password(self.config.redis_url)} is unreachable: {_first_line(exc)}"
            ) from None
        finally:
            client.close()

    def _app_settings(self, name: str | None) -> dict[str, str]:
        """MOLODETS_* for a web or worker process (`name`), or for this process (None)."""
        unknown = [key for key in self.config.env if not key.startswith("MOLODETS_")]
        managed = sorted(MANAGED_SETTINGS & set(self.config.env))
        if unknown or managed:
            raise ClusterError(f"ClusterConfig.env may not set {', '.join(unknown + managed)}")
        settings = {"MOLODETS_LOG_LEVEL": "INFO", "MOLODETS_JOB_WORKERS": "1", **self.config.env}
        settings.update(
            {
                "MOLODETS_DATA_DIR": str(self.data_dir / "proc" / (name or "local")),
                "MOLODETS_DATABASE_URL": self.database_url,
                "MOLODETS_REDIS_URL": self.config.redis_url,
                "MOLODETS_REDIS_PREFIX": self.config.redis_prefix,
                "MOLODETS_STORAGE_URL": f"s3://{BUCKET}/media",
                "MOLODETS_S3_ENDPOINT_URL": self.s3_endpoint,
                "MOLODETS_S3_ACCESS_KEY": S3_ACCESS_KEY,
                "MOLODETS_S3_SECRET_KEY": S3_SECRET_KEY,
                "MOLODETS_S3_REGION": "us-east-1",
                # Shared by every web process and worker, as a network folder would be.
                "MOLODETS_UPLOAD_DIR": str(self.upload_dir),
                "MOLODETS_SECRET_KEY": self._secret_key,
                "MOLODETS_PUBLIC_BASE_URL": self.front_url,
            }
        )
        if name in WEBS:
            settings["MOLODETS_HOST"] = HOST
            settings["MOLODETS_PORT"] = str(self._processes[name].port)
        return settings

    def _define_processes(self, nginx: str, ports: dict[str, int]) -> None:
        base = _child_env()
        front_dir = self.data_dir / "front"

        def define(name: str, kind: ProcessKind, argv: list[str], port: int | None, cwd: Path) -> None:
            cwd.mkdir(parents=True, exist_ok=True)
            self._processes[name] = ClusterProcess(
                name=name,
                kind=kind,
                port=port,
                log_path=self.log_dir / f"{name}.log",
                argv=argv,
                env=dict(base),
                cwd=cwd,
            )

        python = sys.executable
        define(
            S3,
            "s3",
            [python, "-m", "moto.server", "-H", HOST, "-p", str(ports[S3])],
            ports[S3],
            self.data_dir,
        )
        for name in WEBS:
            define(name, "web", [python, "-m", "molodets", "web"], ports[name], self.data_dir / "proc" / name)
        for name in WORKERS:
            define(name, "worker", [python, "-m", "molodets", "worker"], None, self.data_dir / "proc" / name)
        conf = front_dir / "nginx.conf"
        # -e: nginx's own start-up errors go to stderr (its log), not to /var/log/nginx.
        define(
            FRONT,
            "front",
            [nginx, "-p", str(front_dir), "-c", str(conf), "-e", "stderr"],
            ports[FRONT],
            front_dir,
        )
        # Settings need every port (the public URL is the front's), so they come last. The
        # working folder is each process's own data dir: a stray .env elsewhere is not read.
        for name in (*WEBS, *WORKERS):
            self._processes[name].env.update(self._app_settings(name))

    def _launch(self, name: str, *, append_log: bool = False) -> None:
        process = self._processes[name]
        with process.log_path.open("ab" if append_log else "wb") as log:
            log.write(f"--- molodets cluster: starting {name}: {' '.join(process.argv)}\n".encode())
            log.flush()
            process.log_start = log.tell()
            try:
                process.popen = subprocess.Popen(
                    process.argv,
                    env=process.env,
                    cwd=process.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: stopped and killed as a whole
                )
            except OSError as exc:
                raise ClusterError(f"cannot start {name} ({process.argv[0]}): {exc.strerror}") from None
        self._expected_down.discard(name)
        self._report(f"started {name} (pid {process.popen.pid})")

    def _wait_ready(self, name: str) -> None:
        process = self._processes[name]
        deadline = time.monotonic() + READY_SECONDS
        while not self._is_ready(process):
            if process.popen is None or process.popen.poll() is not None:
                code = process.popen.returncode if process.popen is not None else None
                raise ClusterError(
                    f"{name} exited with status {code} while starting: {_last_line(process.log_path)}"
                    f" (log: {process.log_path})"
                )
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"{name} did not get ready within {READY_SECONDS:.0f} s: {_last_line(process.log_path)}"
                    f" (log: {process.log_path})"
                )
            time.sleep(0.2)

    @staticmethod
    def _is_ready(process: ClusterProcess) -> bool:
        if process.kind == "worker":
            # Printed once its settings are loaded and its runtime built, right before consuming.
            with process.log_path.open("rb") as log:
                log.seek(process.log_start)
                return b"worker consuming" in log.read()
        path = "/moto-api/" if process.kind == "s3" else "/readyz"
        return _http_status(f"{process.url}{path}") == 200

    def _create_bucket(self) -> None:
        from molodets.storage import S3Storage, StorageError

        store = S3Storage(
            BUCKET, endpoint_url=self.s3_endpoint, access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY
        )
        try:
            store.ensure_bucket()
        except StorageError as exc:
            raise ClusterError(f"cannot create the bucket on {self.s3_endpoint}: {exc}") from None

    def _migrate(self) -> None:
        env = {**_child_env(), **self._app_settings("migrate")}
        log_path = self.log_dir / "migrate.log"
        with log_path.open("wb") as log:
            try:
                done = subprocess.run(
                    [sys.executable, "-m", "molodets", "migrate"],
                    env=env,
                    cwd=self.data_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=MIGRATE_SECONDS,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise ClusterError(
                    f"molodets migrate took over {MIGRATE_SECONDS:.0f} s (log: {log_path})"
                ) from None
        if done.returncode != 0:
            raise ClusterError(f"molodets migrate failed: {_last_line(log_path)} (log: {log_path})")

    def _render(self, template: str) -> str:
        """Fill the template's @NAME@ placeholders; one it does not know is an error, not a
        silently broken config."""
        values = {
            "PREFIX": str(self.data_dir / "front"),
            "LISTEN": f"{HOST}:{self.port(FRONT)}",
            "WEB_A": f"{HOST}:{self.port(WEB_A)}",
            "WEB_B": f"{HOST}:{self.port(WEB_B)}",
            "ACCESS_LOG": str(self.log_dir / "front-access.log"),
        }
        unknown = sorted(set(_PLACEHOLDER.findall(template)) - set(values))
        if unknown:
            raise ClusterError(f"{self.config.nginx_template}: unknown placeholders {', '.join(unknown)}")
        return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)

    def _reap(self, process: ClusterProcess, seconds: float) -> int:
        """Wait for the group leader to exit (SIGKILL to the group after `seconds`), then kill
        whatever else is left in its group before reaping it, while the group id is still ours."""
        if process.popen is None:
            raise ClusterError(f"{process.name} was never started")
        pid = process.popen.pid
        if not _wait_exited(pid, seconds):
            self._report(f"{process.name} did not stop within {seconds:.0f} s; killing it")
            _signal_group(pid, signal.SIGKILL)
            _wait_exited(pid, None)
        _signal_group(pid, signal.SIGKILL)
        return process.popen.wait()


# --- helpers ----------------------------------------------------------------------------------


def _database_urls(server_url: str, name: str) -> tuple[str, str]:
    """(admin URL, the cluster's database URL) from any URL of the PostgreSQL server."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    if not _DATABASE_NAME.fullmatch(name):
        raise ClusterError(f"database name {name!r}: use letters, digits and _ (at most 63)")
    scheme, _, rest = server_url.partition("://")
    if scheme not in {"postgres", "postgresql", "postgresql+psycopg"} or not rest:
        raise ClusterError(f"the database URL must be postgresql://... (got {hide_password(server_url)})")
    try:
        url = make_url(f"postgresql+psycopg://{rest}")
    except ArgumentError as exc:
        raise ClusterError(f"the database URL is malformed: {exc}") from None
    return (
        url.render_as_string(hide_password=False),
        url.set(database=name).render_as_string(hide_password=False),
    )


def hide_password(url: str) -> str:
    """The URL for printing: its password, if any, replaced by ***."""
    return re.sub(r"://([^:/@]+):[^@/]*@", r"://\1:***@", url)


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def _last_line(path: Path) -> str:
    try:
        lines = path.read_bytes().decode(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return lines[-1].strip() if lines else "(empty log)"


def _child_env() -> dict[str, str]:
    """The children's own environment: ours without any MOLODETS_* (their settings are all
    given by the cluster) and unbuffered, so a killed process's log is complete."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MOLODETS_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _free_port() -> int:
    """A loopback port nothing listens on right now (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


# Readiness probes go straight to loopback, never through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _http_status(url: str) -> int | None:
    try:
        with _OPENER.open(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _wait_exited(pid: int, seconds: float | None) -> bool:
    """Wait until child `pid` has exited, without reaping it (so its pid, and the group id,
    cannot be reused meanwhile); False if `seconds` passed first."""
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True  # already reaped
        if deadline is not None and time.monotonic() > deadline:
            return False
        time.sleep(0.05)
