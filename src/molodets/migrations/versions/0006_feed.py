"""recommender state, and an index of private accounts for the feeds' anti-join

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


COUNTERS = ("impressions", "long_views", "completes", "skips", "likes", "shares", "follows", "hates")


def _counter_columns() -> list[sa.Column[int]]:
    """The outcome counters both stats tables keep (feed.models.OutcomeCounters)."""
    return [sa.Column(name, sa.Integer(), nullable=False) for name in COUNTERS]


def upgrade() -> None:
    op.create_index(
        "ix_users_private",
        "users",
        ["id"],
        sqlite_where=sa.text("is_private"),
        postgresql_where=sa.text("is_private"),
    )
    op.create_table(
        "feed_video_stats",
        sa.Column("video_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        *_counter_columns(),
        sa.Column("watch_ms", sa.BigInteger(), nullable=False),
        sa.Column("trend", sa.Float(), nullable=False),
        sa.Column("quality", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("video_id", name=op.f("pk_feed_video_stats")),
    )
    op.create_index("ix_feed_video_stats_trend", "feed_video_stats", ["trend"])
    op.create_index("ix_feed_video_stats_quality", "feed_video_stats", ["quality"])
    op.create_table(
        "feed_creator_stats",
        sa.Column("author_id", sa.BigInteger(), autoincrement=False, nullable=False),
        *_counter_columns(),
        sa.PrimaryKeyConstraint("author_id", name=op.f("pk_feed_creator_stats")),
    )
    op.create_table(
        "feed_video_tags",
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.Column("video_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("quality", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("tag", "video_id", name=op.f("pk_feed_video_tags")),
    )
    op.create_index("ix_feed_video_tags_video_id", "feed_video_tags", ["video_id"])
    op.create_index("ix_feed_video_tags_tag_quality", "feed_video_tags", ["tag", "quality"])
    op.create_table(
        "feed_viewer_profiles",
        sa.Column("viewer", sa.String(length=40), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("viewer", name=op.f("pk_feed_viewer_profiles")),
    )
    op.create_table(
        "feed_co_engagement",
        sa.Column("video_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("neighbour_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("video_id", "neighbour_id", name=op.f("pk_feed_co_engagement")),
    )
    op.create_index("ix_feed_co_engagement_video_weight", "feed_co_engagement", ["video_id", "weight"])
    # Videos published before the recommender existed join its hashtag index.
    videos = sa.table("videos", sa.column("id", sa.BigInteger()), sa.column("hashtags", sa.JSON()))
    tags = sa.table(
        "feed_video_tags",
        sa.column("tag", sa.String()),
        sa.column("video_id", sa.BigInteger()),
        sa.column("quality", sa.Float()),
    )
    rows = [
        {"tag": tag[:100], "video_id": video_id, "quality": 1.0}
        for video_id, hashtags in op.get_bind().execute(sa.select(videos.c.id, videos.c.hashtags))
        for tag in dict.fromkeys(hashtags or [])
    ]
    if rows:
        op.bulk_insert(tags, rows)


def downgrade() -> None:
    op.drop_index("ix_users_private", table_name="users")
    op.drop_table("feed_co_engagement")
    op.drop_table("feed_viewer_profiles")
    op.drop_table("feed_creator_stats")
    op.drop_index("ix_feed_video_tags_tag_quality", table_name="feed_video_tags")
    op.drop_index("ix_feed_video_tags_video_id", table_name="feed_video_tags")
    op.drop_table("feed_video_tags")
    op.drop_index("ix_feed_video_stats_quality", table_name="feed_video_stats")
    op.drop_index("ix_feed_video_stats_trend", table_name="feed_video_stats")
    op.drop_table("feed_video_stats")
