"""social: follows, likes, bookmarks, comments, blocks and the counters

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "follows",
        sa.Column("follower_id", sa.BigInteger(), nullable=False),
        sa.Column("followee_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["followee_id"], ["users.id"], name=op.f("fk_follows_followee_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["follower_id"], ["users.id"], name=op.f("fk_follows_follower_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follows")),
        sa.UniqueConstraint("follower_id", "followee_id", name="uq_follows_pair"),
    )
    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.create_index("ix_follows_followee_id_id", ["followee_id", "id"], unique=False)
        batch_op.create_index("ix_follows_follower_id_id", ["follower_id", "id"], unique=False)

    op.create_table(
        "bookmarks",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("video_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_bookmarks_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_bookmarks_video_id_videos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookmarks")),
        sa.UniqueConstraint("user_id", "video_id", name="uq_bookmarks_pair"),
    )
    with op.batch_alter_table("bookmarks", schema=None) as batch_op:
        batch_op.create_index("ix_bookmarks_user_id_id", ["user_id", "id"], unique=False)
        batch_op.create_index("ix_bookmarks_video_id", ["video_id"], unique=False)

    op.create_table(
        "video_likes",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("video_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_video_likes_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_video_likes_video_id_videos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_likes")),
        sa.UniqueConstraint("user_id", "video_id", name="uq_video_likes_pair"),
    )
    with op.batch_alter_table("video_likes", schema=None) as batch_op:
        batch_op.create_index("ix_video_likes_user_id_id", ["user_id", "id"], unique=False)
        batch_op.create_index("ix_video_likes_video_id", ["video_id"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        # Existing accounts start at the truth: nothing liked publicly, no follows or likes yet.
        batch_op.add_column(
            sa.Column("likes_public", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("follower_count", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("following_count", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("like_count", sa.BigInteger(), nullable=False, server_default="0"))

    op.create_table(
        "comments",
        sa.Column("video_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.Column("reply_to_user_id", sa.BigInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("mentions", sa.JSON(), nullable=False),
        sa.Column("hashtags", sa.JSON(), nullable=False),
        sa.Column("like_count", sa.BigInteger(), nullable=False),
        sa.Column("reply_count", sa.Integer(), nullable=False),
        sa.Column("author_replied", sa.Boolean(), nullable=False),
        sa.Column("top_score", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_comments_author_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reply_to_user_id"],
            ["users.id"],
            name=op.f("fk_comments_reply_to_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_comments_video_id_videos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.create_index("ix_comments_author_id", ["author_id"], unique=False)
        batch_op.create_index("ix_comments_thread_id_id", ["thread_id", "id"], unique=False)
        batch_op.create_index("ix_comments_video_new", ["video_id", "thread_id", "id"], unique=False)
        batch_op.create_index(
            "ix_comments_video_top", ["video_id", "thread_id", "top_score", "id"], unique=False
        )

    op.create_table(
        "comment_likes",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("comment_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["comments.id"],
            name=op.f("fk_comment_likes_comment_id_comments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_comment_likes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment_likes")),
        sa.UniqueConstraint("user_id", "comment_id", name="uq_comment_likes_pair"),
    )
    with op.batch_alter_table("comment_likes", schema=None) as batch_op:
        batch_op.create_index("ix_comment_likes_comment_id", ["comment_id"], unique=False)

    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("comment_audience", sa.String(length=16), nullable=False, server_default="everyone")
        )
        batch_op.add_column(sa.Column("pinned_comment_id", sa.BigInteger(), nullable=True))

    op.create_table(
        "blocks",
        sa.Column("blocker_id", sa.BigInteger(), nullable=False),
        sa.Column("blocked_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["blocked_id"], ["users.id"], name=op.f("fk_blocks_blocked_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["blocker_id"], ["users.id"], name=op.f("fk_blocks_blocker_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocks")),
        sa.UniqueConstraint("blocker_id", "blocked_id", name="uq_blocks_pair"),
    )
    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.create_index("ix_blocks_blocked_id", ["blocked_id"], unique=False)
        batch_op.create_index("ix_blocks_blocker_id_id", ["blocker_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("blocks")
    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.drop_column("pinned_comment_id")
        batch_op.drop_column("comment_audience")

    op.drop_table("comment_likes")
    op.drop_table("comments")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("like_count")
        batch_op.drop_column("following_count")
        batch_op.drop_column("follower_count")
        batch_op.drop_column("likes_public")

    with op.batch_alter_table("video_likes", schema=None) as batch_op:
        batch_op.drop_index("ix_video_likes_video_id")
        batch_op.drop_index("ix_video_likes_user_id_id")

    op.drop_table("video_likes")
    with op.batch_alter_table("bookmarks", schema=None) as batch_op:
        batch_op.drop_index("ix_bookmarks_video_id")
        batch_op.drop_index("ix_bookmarks_user_id_id")

    op.drop_table("bookmarks")
    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.drop_index("ix_follows_follower_id_id")
        batch_op.drop_index("ix_follows_followee_id_id")

    op.drop_table("follows")
