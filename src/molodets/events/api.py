"""Watch events API: batches from the player, by `fetch` or by `navigator.sendBeacon` when the
page is hidden (a beacon cannot set headers, so it sends a form: `csrf_token` and `events`)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from molodets.accounts.auth import DetachedViewerDep
from molodets.errors import Problem
from molodets.events import guests, service
from molodets.events.schemas import EventBatchIn, IngestOut
from molodets.http import RuntimeDep
from molodets.ratelimit import rule
from molodets.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["events"])

# A person watching produces a few events a second at most; more is a script.
EVENTS_PER_VIEWER = rule(
    "events", "1200/minute", code="events_rate_limited", message="Too many events from this viewer."
)
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@router.post(
    "/events",
    status_code=202,
    response_model=IngestOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": EventBatchIn.model_json_schema()},
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {"events": {"type": "string"}, "csrf_token": {"type": "string"}},
                        "required": ["events"],
                    }
                },
            },
        }
    },
)
async def post_events(
    request: Request,
    response: Response,
    viewer: DetachedViewerDep,
    runtime: RuntimeDep,
    wait: bool = False,
) -> IngestOut:
    """Store a batch of up to 100 watch events. Impossible ones are dropped and counted in the
    answer, not refused: one bad event must not lose the batch. Accepted events are written
    within a moment, together with other requests' (see events/sink.py).

    `wait=true` answers only once they are written (at most a quarter of a second): the player
    sends its last events so before it asks for the next page, which any web process may build
    and which must reflect them."""
    batch = await _read_batch(request)
    key = guests.viewer_key(request, response, viewer.user)
    now_ms = int(time.time() * 1000)
    result = await run_in_threadpool(_limited_submit, runtime, key, batch, now_ms)
    written = await runtime.events.settled(key) if wait else not runtime.events.unwritten(key)
    return IngestOut(accepted=result.accepted, dropped=dict(result.dropped), written=written)


def _limited_submit(runtime: Runtime, key: str, batch: EventBatchIn, now_ms: int) -> service.IngestResult:
    """Count the batch against the viewer's limit, then queue it: in a worker thread, since the
    limit's window may be a file shared with other processes (ratelimit.FileStorage)."""
    try:
        runtime.limiter.hit(EVENTS_PER_VIEWER, key, cost=len(batch.events))
    except Problem:
        service.EVENTS_DROPPED.labels("rate_limited").inc(len(batch.events))
        raise
    return runtime.events.submit(viewer=key, events=batch.events, now_ms=now_ms)


async def _read_batch(request: Request) -> EventBatchIn:
    try:
        if request.headers.get("content-type", "").startswith(_FORM_TYPES):
            form = await request.form()  # already parsed for its CSRF token
            raw = form.get("events")
            if not isinstance(raw, str):
                raise Problem(422, "invalid_events", "The form has no `events` field.")
            return EventBatchIn.model_validate_json(raw)
        return EventBatchIn.model_validate_json(await request.body())
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise Problem(422, "invalid_events", f"{where}: {first['msg']}") from None
