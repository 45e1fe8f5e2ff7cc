"""archive excerpts: a person's archived messages (and the character's lines beside them) for episodic recall

Revision ID: 0014_archive_excerpts
Revises: 0013_retention
Create Date: 2026-11-25 13:30:00

One row per message of a person's past conversations, written by the daily consolidation in the same
transaction that archives the message (memory/episodes.py): the words, who said them, where and when, and
the message's sentence embedding. Messages archived before this revision are not indexed (only what
consolidation archives from now on is). ``users.excerpts_deleted``: when some of a person's excerpts were
last deleted (part of the cheap stamp recall's cache checks).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_archive_excerpts"
down_revision = "0013_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive_excerpts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("is_dm", sa.Boolean(), nullable=False),
        sa.Column("speaker", sa.String(100), nullable=False),
        sa.Column("own", sa.Boolean(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("said_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_archive_excerpts_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_excerpts")),
        sa.UniqueConstraint("user_id", "message_id", name=op.f("uq_archive_excerpts_user_id")),
    )
    op.create_index("ix_archive_excerpts_user_id_id", "archive_excerpts", ["user_id", "id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("excerpts_deleted", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("excerpts_deleted")
    op.drop_index("ix_archive_excerpts_user_id_id", table_name="archive_excerpts")
    op.drop_table("archive_excerpts")
