"""Named operations on uploads. No HTTP and no commit here: the caller owns the transaction.

The videos domain uses `get_completed_upload`, `upload_path`, `do_consume_upload` and
`discard_upload_file`; the rest serves the upload API and the cleanup job.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from molodets.db import utcnow
from molodets.errors import Problem
from molodets.ids import new_id
from molodets.settings import Settings
from molodets.uploads.models import Upload
from molodets.uploads.parts import create_part, part_path, remove_part

# A consumed upload's file waits this long for the video's jobs to copy it into storage.
CONSUMED_GRACE = timedelta(days=1)
# Uploads one account may hold that no video has taken yet (each reserves up to
# `upload_max_bytes` of disk until it expires): a phone retrying or a few tabs stay far below it,
# a script starting uploads it never finishes cannot fill the disk.
OPEN_UPLOADS_PER_USER = 10


def not_found() -> Problem:
    # Someone else's upload answers exactly like a missing one: ids must not be probe-able.
    return Problem(404, "upload_not_found", "There is no such upload.")


def expiry_from(settings: Settings, now: datetime) -> datetime:
    return now + timedelta(hours=settings.upload_expiry_hours)


def upload_path(settings: Settings, upload: Upload | int) -> Path:
    """The file holding the upload's bytes (complete once `completed_at` is set). Takes the row
    or its id: jobs hold ids."""
    upload_id = upload if isinstance(upload, int) else upload.id
    return part_path(settings.resolved_upload_dir, upload_id)


def discard_upload_file(settings: Settings, upload: Upload | int) -> None:
    """Remove the bytes early (a video has copied them); the row goes with the cleanup job."""
    remove_part(upload_path(settings, upload))


def check_upload_length(settings: Settings, length: int) -> None:
    if length > settings.upload_max_bytes:
        raise Problem(
            413,
            "upload_too_large",
            f"Uploads may be at most {settings.upload_max_bytes} bytes.",
            extra={"max_bytes": settings.upload_max_bytes},
        )


def do_create_upload(
    session: Session,
    settings: Settings,
    *,
    user_id: int,
    length: int,
    metadata: Mapping[str, str | None],
    upload_id: int | None = None,
    completed: bool = False,
) -> Upload:
    """Add the row. The part file is made by the caller first, so a crash in between leaves
    an orphan file (swept by the cleanup job), never a row without its file; the caller removes
    the file when this refuses (too long, too many open uploads)."""
    check_upload_length(settings, length)
    now = utcnow()
    held = session.scalar(
        select(func.count())
        .select_from(Upload)
        .where(Upload.user_id == user_id, Upload.consumed_at.is_(None), Upload.expires_at > now)
    )
    if held is not None and held >= OPEN_UPLOADS_PER_USER:
        raise Problem(
            429,
            "too_many_open_uploads",
            f"You have {held} uploads that no video was made from yet; finish one (or wait for "
            "unfinished ones to expire) before starting another.",
            extra={"max_open_uploads": OPEN_UPLOADS_PER_USER},
        )
    upload = Upload(
        id=upload_id if upload_id is not None else new_id(),
        user_id=user_id,
        length=length,
        offset=length if completed else 0,
        meta=dict(metadata),
        created_at=now,
        expires_at=expiry_from(settings, now),
        completed_at=now if completed or length == 0 else None,
    )
    session.add(upload)
    session.flush()
    return upload


def do_import_file(
    session: Session,
    settings: Settings,
    *,
    user_id: int,
    source: Path,
    filename: str | None = None,
    filetype: str | None = None,
) -> Upload:
    """A finished upload made from a file on this machine (demo content, imports by command).

    The bytes are copied before the row is added; if the caller's transaction then rolls back,
    the copy is an orphan part file that the cleanup job removes after the expiry period.
    """
    length = source.stat().st_size
    check_upload_length(settings, length)
    upload_id = new_id()
    path = part_path(settings.resolved_upload_dir, upload_id)
    create_part(path)
    try:
        shutil.copyfile(source, path)
        metadata = {"filename": filename or source.name, **({"filetype": filetype} if filetype else {})}
        return do_create_upload(
            session,
            settings,
            user_id=user_id,
            length=length,
            metadata=metadata,
            upload_id=upload_id,
            completed=True,
        )
    except BaseException:
        remove_part(path)
        raise


def get_owned_upload(session: Session, *, upload_id: int, user_id: int, for_update: bool = False) -> Upload:
    statement = select(Upload).where(Upload.id == upload_id)
    if for_update:
        # PostgreSQL row lock: two requests cannot both take one upload; SQLite serialises anyway.
        statement = statement.with_for_update()
    upload = session.scalar(statement)
    if upload is None or upload.user_id != user_id:
        raise not_found()
    return upload


def is_expired(upload: Upload, now: datetime | None = None) -> bool:
    """Unfinished and past its expiry: HEAD and PATCH answer 410 until the job removes it."""
    return upload.completed_at is None and upload.expires_at <= (now or utcnow())


def check_not_expired(upload: Upload) -> None:
    if is_expired(upload):
        raise Problem(410, "upload_expired", "This upload expired; start a new one.")


def do_record_offset(session: Session, settings: Settings, *, upload_id: int, offset: int) -> Upload | None:
    """Mirror the part file's size after a write; None if the row went away meanwhile."""
    upload = session.get(Upload, upload_id)
    if upload is None:
        return None
    now = utcnow()
    upload.offset = offset
    if upload.completed_at is None:
        # Sliding expiry: an upload that is moving is not stale, however long it takes.
        upload.expires_at = expiry_from(settings, now)
        if offset >= upload.length:
            upload.completed_at = now
    return upload


def do_delete_upload(session: Session, *, upload: Upload) -> None:
    if upload.consumed_at is not None:
        raise Problem(409, "upload_consumed", "A video was already made from this upload.")
    session.execute(delete(Upload).where(Upload.id == upload.id))


def get_completed_upload(session: Session, *, upload_id: int, user_id: int) -> Upload:
    """The caller's finished, unused upload, row-locked for the caller's transaction.

    404 `upload_not_found` (missing or someone else's), 409 `upload_incomplete`,
    409 `upload_consumed` (a video was already made from it).
    """
    upload = get_owned_upload(session, upload_id=upload_id, user_id=user_id, for_update=True)
    if upload.consumed_at is not None:
        raise Problem(409, "upload_consumed", "A video was already made from this upload.")
    if upload.completed_at is None:
        raise Problem(
            409,
            "upload_incomplete",
            f"The upload has {upload.offset} of {upload.length} bytes; finish it first.",
            extra={"offset": upload.offset, "length": upload.length},
        )
    return upload


def do_consume_upload(session: Session, *, upload: Upload) -> None:
    """Mark the upload as taken by a video; its file is kept for a day for the video's jobs."""
    upload.consumed_at = utcnow()
    session.flush()


def stale_uploads(session: Session, *, now: datetime, after_id: int, limit: int) -> Sequence[Upload]:
    """Uploads to delete, in id order after `after_id`: expired and never consumed (finished
    or not), or consumed more than a day ago."""
    return session.scalars(
        select(Upload)
        .where(
            Upload.id > after_id,
            or_(
                (Upload.consumed_at.is_(None)) & (Upload.expires_at <= now),
                Upload.consumed_at <= now - CONSUMED_GRACE,
            ),
        )
        .order_by(Upload.id)
        .limit(limit)
    ).all()


def known_upload_ids(session: Session, ids: Sequence[int]) -> set[int]:
    return set(session.scalars(select(Upload.id).where(Upload.id.in_(ids))))
