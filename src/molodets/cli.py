"""The `molodets` command: serve, web, worker, migrate, user create, demo.

Every failure an operator can cause (a bad setting, a taken username, an unreachable database)
ends with one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog
import uvicorn
from sqlalchemy.exc import OperationalError

from molodets.cluster import (
    DEFAULT_DATABASE_NAME,
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_PREFIX,
    DEFAULT_REDIS_URL,
)
from molodets.errors import Problem
from molodets.ids import configured_node
from molodets.logging import configure_logging
from molodets.settings import Settings, SettingsError, load_settings

log = structlog.get_logger("molodets.cli")


class CommandError(Exception):
    """A failure to report as one line and exit status 1."""


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    if getattr(args, "processes", None) is not None:
        overrides["web_processes"] = args.processes
    settings = load_settings(**overrides)
    configure_logging(fmt=settings.log_format, level=settings.log_level)
    return settings


def cmd_migrate(args: argparse.Namespace) -> None:
    from molodets.migrations import upgrade

    settings = _settings(args)
    upgrade(settings)
    print("database is up to date")


# Requests in flight get this long to finish at shutdown (open notification streams end at once:
# notifications/realtime.py `end_streams_at_exit_signals`).
SHUTDOWN_GRACE_SECONDS = 5
# How every web process runs uvicorn: our logging, X-Forwarded-* from trusted proxies.
UVICORN_OPTIONS: dict[str, Any] = {
    "log_config": None,
    "proxy_headers": True,
    "timeout_graceful_shutdown": SHUTDOWN_GRACE_SECONDS,
}


def _run_uvicorn(settings: Settings, *, with_jobs: bool) -> None:
    """One process: the app (and with `with_jobs` the job consumers and the scheduler)."""
    from molodets.app import create_app, tune_memory_for_serving
    from molodets.runtime import build_runtime

    runtime = build_runtime(settings)
    app = create_app(runtime)
    url = f"http://{settings.host}:{settings.port}"
    if with_jobs:
        runtime.jobs.start_consumers(settings.job_workers)
    tune_memory_for_serving()
    print(f"Molodets is running on {url}  (Ctrl+C to stop)", flush=True)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, **UVICORN_OPTIONS)
    finally:
        if with_jobs:
            runtime.jobs.stop_consumers()


def _run_processes(settings: Settings, *, with_jobs: bool) -> None:
    """`web_processes` app processes, each building its own runtime from the environment, on
    sockets of their own that the kernel balances (processes.py; uvicorn's workers elsewhere than
    Linux); with `with_jobs`, the job consumers and the scheduler run in this supervising
    process. Live notifications cross between them through Redis or, without it, the data dir's
    socket hub (notifications/realtime.py)."""
    from molodets.processes import StartError, WebProcesses, balances_connections, check_port_free
    from molodets.runtime import build_runtime

    if configured_node() is not None:
        # Every process would read the same node and could make the same IDs.
        raise SettingsError("MOLODETS_NODE_ID names one process: leave it unset with several web processes")
    try:
        check_port_free(settings.host, settings.port)
    except StartError as exc:
        raise CommandError(str(exc)) from None
    runtime = build_runtime(settings) if with_jobs else None
    if runtime is not None:
        runtime.jobs.start_consumers(settings.job_workers)
    print(
        f"Molodets is running on http://{settings.host}:{settings.port} "
        f"({settings.web_processes} web processes)  (Ctrl+C to stop)",
        flush=True,
    )
    try:
        if balances_connections():
            WebProcesses(
                settings.web_processes,
                settings.host,
                settings.port,
                UVICORN_OPTIONS,
                stop_seconds=SHUTDOWN_GRACE_SECONDS + 10,
            ).run()
        else:
            uvicorn.run(
                "molodets.app:app_from_environment",
                factory=True,
                host=settings.host,
                port=settings.port,
                workers=settings.web_processes,
                **UVICORN_OPTIONS,
            )
    except StartError as exc:
        raise CommandError(str(exc)) from None
    finally:
        if runtime is not None:
            runtime.close()


def _serve(settings: Settings, *, with_jobs: bool) -> None:
    if settings.web_processes > 1:
        _run_processes(settings, with_jobs=with_jobs)
    else:
        _run_uvicorn(settings, with_jobs=with_jobs)


def cmd_serve(args: argparse.Namespace) -> None:
    """Embedded mode: web, job consumers and the periodic scheduler in one process (with
    `--workers N`, N web processes and the jobs in their supervisor)."""
    from molodets.migrations import upgrade

    settings = _settings(args)
    if settings.is_sqlite:
        # One command owns its SQLite file, so migrating at start is safe here (unlike N web
        # machines on PostgreSQL racing each other, which run `molodets migrate` once instead).
        upgrade(settings)
    _serve(settings, with_jobs=True)


def cmd_web(args: argparse.Namespace) -> None:
    """Scale-out web process: no job consumers, no migrations. With --workers N, N processes,
    each building its own runtime."""
    _serve(_settings(args), with_jobs=False)


def cmd_worker(args: argparse.Namespace) -> None:
    from molodets.runtime import build_runtime

    settings = _settings(args)
    runtime = build_runtime(settings)
    queues = args.queue or ["default", "media"]
    if args.metrics_port:
        from prometheus_client import start_http_server

        try:
            start_http_server(args.metrics_port, addr=settings.host)
        except OSError as exc:
            raise CommandError(f"cannot serve metrics on port {args.metrics_port}: {exc.strerror}") from None
    print(f"worker consuming {', '.join(queues)}", flush=True)
    runtime.jobs.run_worker(
        queues, workers=args.workers or settings.job_workers, scheduler=not args.no_scheduler
    )


def cmd_user_create(args: argparse.Namespace) -> None:
    from molodets.accounts import service
    from molodets.accounts.models import Role
    from molodets.db import Database, transaction

    settings = _settings(args)
    password = args.password or os.environ.get("MOLODETS_NEW_USER_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            raise CommandError("give --password (or MOLODETS_NEW_USER_PASSWORD) when not at a terminal")
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat: ") != password:
            raise CommandError("the passwords differ")
    role = Role.ADMIN if args.admin else Role.MODERATOR if args.moderator else Role.USER
    db = Database(settings.resolved_database_url)
    try:
        with transaction(db.sessions) as session:
            user = service.do_sign_up(
                session,
                username=args.username,
                password=password,
                display_name=args.display_name,
                email=args.email,
                role=role,
            )
        print(f"created {role.value} @{user.username} (id {user.id})")
    finally:
        db.dispose()


def cmd_counters_rebuild(args: argparse.Namespace) -> None:
    from molodets.db import Database, transaction
    from molodets.social.counters import rebuild_counters

    db = Database(_settings(args).resolved_database_url)
    try:
        with transaction(db.sessions) as session:
            report = rebuild_counters(session)
        print(f"counters rebuilt: {report.videos_fixed} videos and {report.users_fixed} users corrected")
    finally:
        db.dispose()


def cmd_demo(args: argparse.Namespace) -> None:
    from molodets.demo import seed_demo

    settings = _settings(args)
    created = seed_demo(settings, only_if_empty=args.if_empty)
    print(created)


def cmd_cluster(args: argparse.Namespace) -> None:
    """Scale-out mode on this machine: S3 server, two web processes, two workers and nginx in
    front, over the machine's PostgreSQL and Redis, until Ctrl+C or SIGTERM."""
    from molodets.cluster import MANAGED_SETTINGS, Cluster, ClusterConfig, ClusterError, hide_password

    # MOLODETS_* settings the cluster does not decide itself go on to its processes.
    passed_on = {
        key: value
        for key, value in os.environ.items()
        if key.startswith("MOLODETS_") and key not in MANAGED_SETTINGS
    }
    config = ClusterConfig(
        data_dir=Path(args.data_dir or Path(os.environ.get("MOLODETS_DATA_DIR") or "var") / "cluster"),
        database_url=args.database_url or os.environ.get("MOLODETS_DATABASE_URL") or DEFAULT_DATABASE_URL,
        database_name=args.database_name,
        redis_url=args.redis_url or os.environ.get("MOLODETS_REDIS_URL") or DEFAULT_REDIS_URL,
        redis_prefix=args.redis_prefix,
        front_port=args.port or 0,
        nginx=args.nginx,
        env=passed_on,
        drop_on_stop=args.drop_on_stop,
    )

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        cluster = Cluster(config, report=lambda line: print(f"cluster: {line}", flush=True))
        try:
            cluster.start()
            print(f"Molodets cluster is running on {cluster.front_url}  (Ctrl+C to stop)")
            print("\n".join(cluster.describe()))
            print(
                f"database {hide_password(cluster.database_url)}, redis {hide_password(config.redis_url)}"
                f" (prefix {config.redis_prefix})"
            )
            print(f"logs in {cluster.log_dir}", flush=True)
            for name, code in cluster.wait_until_stopped():
                print(
                    f"molodets: {name} exited with status {code}; see {cluster.log_path(name)}",
                    file=sys.stderr,
                    flush=True,
                )
        except KeyboardInterrupt:
            pass
        finally:
            # A second Ctrl+C must not leave half the processes running.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            cluster.stop()
        print("cluster stopped", flush=True)
    except ClusterError as exc:
        raise CommandError(str(exc)) from None
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="molodets", description="Molodets short-video platform")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, handler: Callable[[argparse.Namespace], None], help_text: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    for name, handler, text in (
        ("serve", cmd_serve, "run web, jobs and scheduler in one process (embedded mode)"),
        ("web", cmd_web, "run a web process only (scale-out mode)"),
    ):
        sub = add(name, handler, text)
        sub.add_argument("--host", help="address to bind (default 127.0.0.1, or MOLODETS_HOST)")
        sub.add_argument("--port", type=int, help="port to bind (default 8000, or MOLODETS_PORT)")
        sub.add_argument(
            "--workers",
            dest="processes",
            type=int,
            help="web processes to run (default 1, or MOLODETS_WEB_PROCESSES)",
        )

    worker = add("worker", cmd_worker, "run job consumers (scale-out mode)")
    worker.add_argument(
        "--queue", action="append", choices=["default", "media"], help="queue to consume (repeatable)"
    )
    worker.add_argument("--workers", type=int, help="consumer threads per queue")
    worker.add_argument("--no-scheduler", action="store_true", help="do not run periodic jobs here")
    worker.add_argument(
        "--metrics-port", type=int, help="serve Prometheus metrics (jobs, queue depth) on this port"
    )

    add("migrate", cmd_migrate, "upgrade the database schema to the latest version")

    user = commands.add_parser("user", help="manage accounts").add_subparsers(
        dest="user_command", required=True
    )
    create = user.add_parser("create", help="create an account")
    create.set_defaults(handler=cmd_user_create)
    create.add_argument("username")
    create.add_argument("--password", help="(or MOLODETS_NEW_USER_PASSWORD, or asked at the terminal)")
    create.add_argument("--email")
    create.add_argument("--display-name")
    roles = create.add_mutually_exclusive_group()
    roles.add_argument("--admin", action="store_true", help="make an administrator")
    roles.add_argument("--moderator", action="store_true", help="make a moderator")

    counters = commands.add_parser("counters", help="likes, follows and saves counters").add_subparsers(
        dest="counters_command", required=True
    )
    rebuild = counters.add_parser("rebuild", help="recompute every counter from the rows it counts")
    rebuild.set_defaults(handler=cmd_counters_rebuild)

    cluster = add("cluster", cmd_cluster, "run S3, two web processes, two workers and nginx on this machine")
    cluster.add_argument("--port", type=int, help="the front's port (default: any free port)")
    cluster.add_argument(
        "--data-dir", help="logs, uploads and nginx files (default $MOLODETS_DATA_DIR/cluster)"
    )
    cluster.add_argument(
        "--database-url",
        help=f"PostgreSQL server to create the cluster's database on (default $MOLODETS_DATABASE_URL or "
        f"{DEFAULT_DATABASE_URL})",
    )
    cluster.add_argument(
        "--database-name",
        default=DEFAULT_DATABASE_NAME,
        help="dropped and created at start (default %(default)s)",
    )
    cluster.add_argument("--redis-url", help=f"(default $MOLODETS_REDIS_URL or {DEFAULT_REDIS_URL})")
    cluster.add_argument(
        "--redis-prefix", default=DEFAULT_REDIS_PREFIX, help="cleared at start (default %(default)s)"
    )
    cluster.add_argument("--nginx", help="the nginx executable (default: found on PATH or in /usr/sbin)")
    cluster.add_argument(
        "--drop-on-stop", action="store_true", help="drop the database and clear the Redis prefix at stop"
    )

    demo = add("demo", cmd_demo, "seed demo creators and clips")
    demo.add_argument("--if-empty", action="store_true", help="do nothing if any account exists")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except SettingsError as exc:
        print(f"molodets: configuration error: {exc}", file=sys.stderr)
        return 2
    except Problem as exc:
        print(f"molodets: {exc.detail} ({exc.code})", file=sys.stderr)
        return 1
    except CommandError as exc:
        print(f"molodets: {exc}", file=sys.stderr)
        return 1
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
        print(f"molodets: database unavailable: {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
