"""open threads: what a person said they would do or are waiting for, until it is done

Revision ID: 0020_open_threads
Revises: 0019_fact_history
Create Date: 2026-11-26 03:40:00

``open_threads`` (database/threads.py): one row per thread still open (an exam on Friday, a promise), with
the day it is due where the person said, when they said it, and where (``private``: a DM or a private place;
``guild_id``: a server's channels), as a fact keeps it. Consolidation opens and closes them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_open_threads"
down_revision = "0019_fact_history"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "open_threads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("thread", sa.Text(), nullable=False),
        sa.Column("due_at", TZ, nullable=True),
        sa.Column("said_at", TZ, nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_open_threads_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open_threads")),
    )
    op.create_index(op.f("ix_open_threads_user_id"), "open_threads", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_open_threads_user_id", table_name="open_threads")
    op.drop_table("open_threads")
