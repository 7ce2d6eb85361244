"""FastAPI dependencies shared by every domain: the runtime, the request's transaction, the
client's address, and body limits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from molodets.runtime import Runtime

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _admitted(request: Request) -> AsyncIterator[None]:
    """A share of the connection pool for the whole request (`Database.request_admission`)."""
    async with get_runtime(request).db.request_admission():
        yield


async def _request_session(
    request: Request, _admission: Annotated[None, Depends(_admitted, scope="function")]
) -> AsyncIterator[Session]:
    """The request's one transaction: committed after the handler returns and before the
    response is sent (so a failed commit is an error response, not a lost write), rolled back if
    the handler raises. (On SQLite a writing request authenticates in a short read transaction
    of its own first: `accounts.auth.get_viewer`.) A safe request only reads: its statements
    run as `Database.statement_reads` (on PostgreSQL, no transaction around them; the test
    suite fails any write in a read session).

    Making the session does no I/O (it connects at its first statement), so it is made on the
    event loop; only its end (commit or rollback, and close) goes to a worker thread, shielded
    from cancellation so the connection always returns to the pool: one hop, not two."""
    runtime = get_runtime(request)
    factory = runtime.db.statement_reads if request.method in SAFE_METHODS else runtime.db.sessions
    session = factory()
    try:
        yield session
    except BaseException:
        await _end_off_loop(_roll_back, session)
        raise
    await _end_off_loop(_commit, session)


def _commit(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _roll_back(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


async def _end_off_loop(end: Callable[[Session], None], session: Session) -> None:
    # A limiter of its own, as FastAPI does for a dependency's exit: were the shared thread pool
    # full of handlers waiting for connections, ending this session must not wait behind them.
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(end, session, limiter=anyio.CapacityLimiter(1))


# scope="function": FastAPI runs the code after `yield` when the handler returns, before sending.
DbSession = Annotated[Session, Depends(_request_session, scope="function")]


async def _runtime(request: Request) -> Runtime:
    # A coroutine: FastAPI runs a plain function dependency in a worker thread, a hop per request.
    return get_runtime(request)


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


def client_ip(request: Request) -> str:
    # uvicorn's --proxy-headers (trusted hosts only) has already applied X-Forwarded-For here.
    return request.client.host if request.client else ""


def is_https(request: Request) -> bool:
    runtime = get_runtime(request)
    base = runtime.settings.public_base_url or ""
    return request.url.scheme == "https" or base.startswith("https://")
