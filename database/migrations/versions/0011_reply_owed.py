"""replies owed: what a crash left unanswered is answered at the next start-up

Revision ID: 0011_reply_owed
Revises: 0010_operator_limits
Create Date: 2026-11-23 11:30:00

``owed_replies`` holds one row per message a character will answer, written in the same transaction that
logs the message and deleted once the reply is posted (database/owed.py, bot/reply/recovery.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_reply_owed"
down_revision = "0010_operator_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "owed_replies",
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("character", sa.String(length=100), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("owed_since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", "character", name=op.f("pk_owed_replies")),
    )


def downgrade() -> None:
    op.drop_table("owed_replies")
