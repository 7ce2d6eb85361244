"""Response shape of an upload, shared by the plain upload and the JSON status endpoint. IDs
travel as strings: JavaScript numbers lose precision past 2**53."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from molodets.uploads.models import Upload


class UploadOut(BaseModel):
    id: str
    length: int
    offset: int
    complete: bool
    consumed: bool
    filename: str | None
    filetype: str | None
    metadata: dict[str, str | None]
    created_at: datetime
    expires_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, upload: Upload, *, offset: int | None = None) -> UploadOut:
        """`offset` overrides the row's mirror with the part file's size when the caller read it."""
        return cls(
            id=str(upload.id),
            length=upload.length,
            offset=upload.offset if offset is None else offset,
            complete=upload.is_complete,
            consumed=upload.consumed_at is not None,
            filename=upload.filename,
            filetype=upload.filetype,
            metadata=dict(upload.meta),
            created_at=upload.created_at,
            expires_at=upload.expires_at,
            completed_at=upload.completed_at,
        )
