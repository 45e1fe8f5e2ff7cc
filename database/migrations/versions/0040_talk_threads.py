"""talk threads: the threads a character opened to go on with a conversation (/bot threads)

Revision ID: 0040_talk_threads
Revises: 0039_place_tasks
Create Date: 2026-11-27 13:40:00

``talk_threads``: one row per thread a character opened from a message; ids only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0040_talk_threads"
down_revision = "0039_place_tasks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "talk_threads",
        sa.Column("thread_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("character", sa.String(length=100), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("thread_id", name=op.f("pk_talk_threads")),
    )


def downgrade() -> None:
    op.drop_table("talk_threads")
