"""Removing stale uploads: the rows the service names stale, with their part files, and part
files that lost their row (a process died between creating the file and the row).

Each part file is deleted under its lock, taken without waiting: a file some request is
writing to right now is skipped and looked at again on the next run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from molodets.db import utcnow
from molodets.settings import Settings
from molodets.uploads import service
from molodets.uploads.models import Upload
from molodets.uploads.parts import PART_SUFFIX, LockBusy, PartFile, part_path

BATCH_SIZE = 200
MAX_ROWS_PER_RUN = 5000


def _remove_locked(path_id: int, settings: Settings) -> bool:
    """Delete one part file under its lock; False if someone holds the lock."""
    try:
        part = PartFile.open_locked(part_path(settings.resolved_upload_dir, path_id), wait=0)
    except FileNotFoundError:
        return True
    except LockBusy:
        return False
    try:
        part.unlink()
    finally:
        part.close()
    return True


def clean_up_uploads(session: Session, settings: Settings, *, now: datetime | None = None) -> dict[str, int]:
    """Remove stale uploads and orphan part files; returns what was done, for the log."""
    now = now or utcnow()
    removed = busy = 0
    after_id = 0
    while removed + busy < MAX_ROWS_PER_RUN:
        batch = service.stale_uploads(session, now=now, after_id=after_id, limit=BATCH_SIZE)
        if not batch:
            break
        after_id = batch[-1].id
        gone = [upload.id for upload in batch if _remove_locked(upload.id, settings)]
        busy += len(batch) - len(gone)
        if gone:
            # File first, then row: a crash in between leaves a row whose file is missing,
            # which the next run removes (and HEAD/PATCH answer 404 for meanwhile).
            session.execute(delete(Upload).where(Upload.id.in_(gone)))
            removed += len(gone)
    return {"removed": removed, "busy": busy, "orphans": _remove_orphans(session, settings, now=now)}


def _remove_orphans(session: Session, settings: Settings, *, now: datetime) -> int:
    """Part files with no row, untouched for the whole expiry period (an upload being written
    has a fresh modification time, so a live plain upload is never taken for an orphan)."""
    directory = settings.resolved_upload_dir
    if not directory.is_dir():
        return 0
    cutoff = now.timestamp() - settings.upload_expiry_hours * 3600
    candidates: list[int] = []
    for entry in directory.iterdir():
        stem = entry.name.removesuffix(PART_SUFFIX)
        if entry.name.endswith(PART_SUFFIX) and stem.isdigit() and len(stem) <= 19:
            try:
                if entry.stat().st_mtime < cutoff:
                    candidates.append(int(stem))
            except FileNotFoundError:
                continue
    removed = 0
    for start in range(0, len(candidates), BATCH_SIZE):
        chunk = candidates[start : start + BATCH_SIZE]
        known = service.known_upload_ids(session, chunk)
        removed += sum(_remove_locked(upload_id, settings) for upload_id in chunk if upload_id not in known)
    return removed
