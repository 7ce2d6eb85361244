"""video embeddings learned from co-engagement (the viewer-interest vector)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_vector_models",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("trained_ms", sa.BigInteger(), nullable=False),
        sa.Column("dimensions", sa.Integer(), nullable=False),
        sa.Column("video_ids", sa.LargeBinary(), nullable=False),
        sa.Column("vectors", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_vector_models")),
    )


def downgrade() -> None:
    op.drop_table("feed_vector_models")
