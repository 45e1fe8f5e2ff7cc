"""daily_counts: per-day counters of the reply pipeline; an index on api_calls.created_at

Revision ID: 0006_dashboard_stats
Revises: 0005_server_tools
Create Date: 2026-11-24 10:00:00

The operator's dashboard charts the last 30 days. What Claude cost is in api_calls already (now indexed by
time, so a window of days is read without a scan of every call ever made); what the reply pipeline decided is
not stored anywhere else, so the bot adds it up per day and character here: messages considered, answered,
put to the yes/no vote, votes cast and failed, fallback replies. No user ids: nothing here for /forget_me.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_dashboard_stats"
down_revision = "0005_server_tools"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_counts",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("character", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "character", "name", name=op.f("pk_daily_counts")),
    )
    with op.batch_alter_table("api_calls", schema=None) as batch_op:
        batch_op.create_index("ix_api_calls_created_at", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_calls", schema=None) as batch_op:
        batch_op.drop_index("ix_api_calls_created_at")
    op.drop_table("daily_counts")
