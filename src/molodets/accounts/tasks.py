"""Accounts housekeeping jobs."""

from __future__ import annotations

from molodets.accounts import service
from molodets.jobs import JobContext, periodic


@periodic(cron="17 3 * * *")
def purge_expired_sessions(ctx: JobContext) -> None:
    """Expired sessions are refused anyway; deleting them keeps the table small."""
    removed = service.do_purge_expired_sessions(ctx.session)
    ctx.log.info("expired_sessions_purged", count=removed)
