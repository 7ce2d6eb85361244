"""RFC 9457 problem details: every error a client sees has a stable `code` and a human message.

Service functions raise `Problem`; the handlers here turn it, FastAPI's validation errors and
anything unexpected into `application/problem+json`. An unexpected error is logged with its
traceback and answered with a bare 500: the traceback never reaches the client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

log = structlog.get_logger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class Problem(Exception):  # noqa: N818 - named after the RFC's "problem", raised like an exception
    """An error meant for the client. `code` is stable and machine-readable; `detail` is English
    prose (pages translate by `code`)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def problem_body(status: int, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    title = code.replace("_", " ").capitalize()
    return {"type": "about:blank", "title": title, "status": status, "detail": detail, "code": code, **extra}


def problem_response(
    status: int, code: str, detail: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> Response:
    return Response(
        content=orjson.dumps(problem_body(status, code, detail, **extra)),
        status_code=status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=dict(headers or {}),
    )


def _describe_validation(errors: Sequence[Any]) -> tuple[int, str, str, list[dict[str, Any]]]:
    fields = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        fields.append(
            {"field": ".".join(location), "message": error.get("msg", ""), "type": error.get("type")}
        )
    if any(error.get("type") == "json_invalid" for error in errors):
        return 400, "malformed_json", "The request body is not valid JSON.", fields
    first = fields[0] if fields else {"field": "", "message": "invalid request"}
    where = f"{first['field']}: " if first["field"] else ""
    return 422, "validation_error", f"{where}{first['message']}", fields


# Renders an error as a page for a browser, or returns None when the request wants JSON.
PageRenderer = Callable[[Request, int, str, Mapping[str, str]], Awaitable[Response | None]]


def install_error_handlers(app: FastAPI, *, render_page: PageRenderer | None = None) -> None:
    """Every error becomes problem+json, or a translated page when `render_page` says the
    request came from a browser navigating the site."""

    async def respond(
        request: Request, status: int, code: str, detail: str, headers: Mapping[str, str], **extra: Any
    ) -> Response:
        if render_page is not None:
            page = await render_page(request, status, code, headers)
            if page is not None:
                return page
        return problem_response(status, code, detail, headers=headers, **extra)

    async def handle_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return await respond(request, exc.status, exc.code, exc.detail, exc.headers, **exc.extra)

    async def handle_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        status, code, detail, fields = _describe_validation(exc.errors())
        return await respond(request, status, code, detail, {}, errors=fields)

    async def handle_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else code
        return await respond(request, exc.status_code, code, detail, exc.headers or {})

    async def handle_database_down(request: Request, exc: Exception) -> Response:
        # Connection refused, failover, SQLite's busy timeout: transient, so 503 and a retry hint.
        log.warning("database_unavailable", path=request.url.path, error=str(exc).splitlines()[0])
        detail = "The service is busy or briefly unavailable; try again in a few seconds."
        return await respond(request, 503, "unavailable", detail, {"Retry-After": "5"})

    async def handle_disconnect(request: Request, exc: Exception) -> Response:
        # The client left while its body was being read (a beacon as a page closes): nobody is
        # there to answer, and nothing was half-done.
        log.info("client_disconnected", path=request.url.path)
        return problem_response(400, "client_disconnected", "The client closed the connection mid-request.")

    async def handle_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled_error", path=request.url.path, exc_info=exc)
        detail = "Something went wrong on our side; it has been logged."
        try:
            return await respond(request, 500, "internal_error", detail, {})
        except Exception:  # noqa: BLE001 - the error page itself failed; fall back to the bare problem
            return problem_response(500, "internal_error", detail)

    app.add_exception_handler(Problem, handle_problem)
    app.add_exception_handler(RequestValidationError, handle_validation)
    app.add_exception_handler(StarletteHTTPException, handle_http)
    app.add_exception_handler(OperationalError, handle_database_down)
    app.add_exception_handler(ClientDisconnect, handle_disconnect)
    app.add_exception_handler(Exception, handle_unexpected)
