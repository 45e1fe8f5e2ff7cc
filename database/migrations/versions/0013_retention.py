"""api_usage_days: model calls added up per UTC day and model, kept when old api_calls rows are deleted

Revision ID: 0013_retention
Revises: 0012_fact_time_and_lasting
Create Date: 2026-11-25 13:30:00

``api_calls`` (a row per reply, vote and summary) and ``message_archive`` grew forever. The retention job
(database/retention.py) now deletes calls older than ``usage_retention_days`` and archived messages older
than ``archive_retention_days``; the calls are first added to this table, so the dashboard's cost history
and /status's totals stay whole.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_retention"
down_revision = "0012_fact_time_and_lasting"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_usage_days",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_creation_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("failures", sa.BigInteger(), nullable=False),
    )
    # The retention job deletes archived messages by when they were said.
    op.create_index("ix_message_archive_created_at", "message_archive", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_message_archive_created_at", "message_archive")
    op.drop_table("api_usage_days")
