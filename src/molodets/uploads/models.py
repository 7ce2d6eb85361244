"""The uploads table: one row per upload, its bytes in a part file named after its id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from molodets.db import Base, IdMixin, utcnow


class Upload(IdMixin, Base):
    """An upload in progress or finished.

    `offset` mirrors the part file's size after each write; the file is the record (a process
    that dies between writing and updating this row loses nothing: HEAD reads the file).
    `expires_at` slides forward on every write; the cleanup job deletes rows past it that no
    video took, and consumed rows a day after `consumed_at`.
    """

    __tablename__ = "uploads"
    __table_args__ = (
        Index("ix_uploads_user_id", "user_id"),
        Index("ix_uploads_expires_at", "expires_at"),
    )

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    # Decoded tus Upload-Metadata (filename, filetype, ...); `metadata` is taken by SQLAlchemy.
    meta: Mapped[dict[str, str | None]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    # Set when a video is created from this upload; the part file then waits for the cleanup job.
    consumed_at: Mapped[datetime | None]

    @property
    def is_complete(self) -> bool:
        return self.completed_at is not None

    @property
    def filename(self) -> str | None:
        # tus-js-client and tuspy send `filename`; Uppy sends `name`.
        return self.meta.get("filename") or self.meta.get("name")

    @property
    def filetype(self) -> str | None:
        return self.meta.get("filetype") or self.meta.get("type")
