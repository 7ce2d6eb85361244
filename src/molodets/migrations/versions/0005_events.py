"""watch events and view marks

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "view_marks",
        sa.Column("viewer", sa.String(length=40), nullable=False),
        sa.Column("video_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_view_marks")),
        sa.UniqueConstraint("viewer", "video_id", "day", name="uq_view_marks_viewer_video_day"),
    )
    op.create_table(
        "watch_events",
        sa.Column("viewer", sa.String(length=40), nullable=False),
        sa.Column("video_id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.SmallInteger(), nullable=False),
        sa.Column("source", sa.SmallInteger(), nullable=False),
        sa.Column("client_ts", sa.BigInteger(), nullable=False),
        sa.Column("watched_ms", sa.Integer(), nullable=True),
        sa.Column("loops", sa.SmallInteger(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_events")),
    )
    with op.batch_alter_table("watch_events", schema=None) as batch_op:
        batch_op.create_index("ix_watch_events_viewer_id", ["viewer", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("watch_events", schema=None) as batch_op:
        batch_op.drop_index("ix_watch_events_viewer_id")

    op.drop_table("watch_events")
    op.drop_table("view_marks")
