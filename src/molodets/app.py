"""The ASGI application: routers of every domain, error handlers, middleware, health and
metrics. Built around a `Runtime`, so tests and commands can build apps on any settings."""

from __future__ import annotations

import ctypes
import gc
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from molodets import health
from molodets.accounts import api as accounts_api
from molodets.accounts.auth import CrossSiteGuard
from molodets.errors import install_error_handlers
from molodets.events import api as events_api
from molodets.feed import api as feed_api
from molodets.notifications import api as notifications_api
from molodets.notifications.realtime import end_streams_at_exit_signals
from molodets.observability import BodyLimitMiddleware, RequestContextMiddleware
from molodets.runtime import Runtime
from molodets.social import api as social_api
from molodets.storage import LocalStorage
from molodets.uploads import api as uploads_api
from molodets.videos import api as videos_api
from molodets.videos import delivery as media_delivery
from molodets.web import STATIC_DIR
from molodets.web import pages as web_pages
from molodets.web.static import VersionedStaticFiles
from molodets.web.templating import render_error_page, wants_html

AVATAR_PATHS = ("/api/v1/me/avatar", "/settings/avatar")
# Paths that enforce their own limits on streamed bodies (tus uploads).
UNLIMITED_PREFIXES = ("/api/v1/uploads",)


async def _error_page(
    request: Request, status: int, code: str, headers: Mapping[str, str]
) -> Response | None:
    if not wants_html(request):
        return None
    return await render_error_page(request, status, code, headers=headers)


def create_app(runtime: Runtime) -> FastAPI:
    settings = runtime.settings

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        end_streams_at_exit_signals(runtime.notifier)
        yield
        await run_in_threadpool(runtime.close)

    app = FastAPI(
        title="Molodets API",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    install_error_handlers(app, render_page=_error_page)

    def body_limit(path: str) -> int | None:
        if path.startswith(UNLIMITED_PREFIXES):
            return None
        if path in AVATAR_PATHS:
            # Multipart framing adds a little to the file itself.
            return settings.avatar_max_bytes + 64 * 1024
        return settings.request_max_bytes

    app.add_middleware(BodyLimitMiddleware, limit_for=body_limit)
    app.add_middleware(CrossSiteGuard, public_base_url=settings.public_base_url)
    app.add_middleware(RequestContextMiddleware)

    app.include_router(accounts_api.router)
    app.include_router(uploads_api.router)
    app.include_router(videos_api.router)
    app.include_router(feed_api.router)
    app.include_router(social_api.router)
    app.include_router(notifications_api.router)
    app.include_router(events_api.router)
    if isinstance(runtime.storage, LocalStorage):
        app.include_router(media_delivery.router)
    app.include_router(web_pages.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:  # on the event loop: no worker thread to wait for
        """The process is alive (nothing else is checked: a liveness probe must not cascade)."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Response:
        return health.readiness_response(runtime)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.mount("/static", VersionedStaticFiles(directory=STATIC_DIR), name="static")
    return app


def app_from_environment() -> FastAPI:
    """Factory for process managers (`uvicorn --factory molodets.app:app_from_environment`,
    gunicorn's uvicorn worker): each worker process builds its own runtime from MOLODETS_*."""
    from molodets.logging import configure_logging
    from molodets.runtime import build_runtime
    from molodets.settings import load_settings

    settings = load_settings()
    configure_logging(fmt=settings.log_format, level=settings.log_level)
    app = create_app(build_runtime(settings))
    tune_memory_for_serving()
    return app


# Young-generation collections this rarely: a request allocates thousands of short-lived objects.
GC_GEN0_THRESHOLD = 50_000
M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h
MALLOC_ARENAS = 2


def tune_memory_for_serving() -> None:
    """Keep the garbage collector out of the latency tail of a serving process, and its memory
    from growing with its thread count. Everything alive once the app is built (modules, the
    app, the runtime) is moved out of the collector's sight, and young collections run less
    often. Measured with benchmarks/events.py on SQLite: p99 134 ms before, 48 ms after, at
    27,000-29,000 events/s."""
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)
    _cap_malloc_arenas()


def _cap_malloc_arenas() -> None:
    """glibc gives threads their own malloc arenas, up to 8 per core, and keeps what each one
    grew to: with anyio's 40 request threads a 10-minute soak grew the server by 35 % in its
    first 5 minutes, against 18 % with 2 arenas (benchmarks/load.py, docs/load.md). Request
    threads mostly wait on the database, so they gain little from arenas of their own."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc: its allocator does not work this way
    libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS)
