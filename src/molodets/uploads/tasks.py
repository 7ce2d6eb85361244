"""Upload housekeeping: stale uploads and their part files go, so abandoned uploads cannot
fill the disk."""

from __future__ import annotations

from molodets.jobs import JobContext, periodic
from molodets.uploads.cleanup import clean_up_uploads


@periodic(minutes=15)
def remove_stale_uploads(ctx: JobContext) -> None:
    """Expired unfinished (or finished but never used) uploads, consumed ones a day after
    their video took them, and part files without a row. Safe to run twice or concurrently."""
    counts = clean_up_uploads(ctx.session, ctx.runtime.settings)
    ctx.log.info("stale_uploads_removed", **counts)
