"""where a conversation's summary starts telling

Revision ID: 0025_summary_coverage
Revises: 0024_search_counts
Create Date: 2026-11-26 06:30:00

``conversations.summary_since``: the time of the first message the summary tells (set by the first summary
after a reset, cleared by a reset). Recall leaves out the archived lines of that place the summary tells,
and only those: what was said there before it (before a reset) is still recalled. Nullable, no default: a
summary written before this revision keeps the old reading (it tells everything said there before the
live history).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025_summary_coverage"
down_revision = "0024_search_counts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("conversations", sa.Column("summary_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+), not a batch copy: copying ``conversations`` drops the old table,
    # and with foreign keys on that cascades to its history messages.
    op.execute("ALTER TABLE conversations DROP COLUMN summary_since")
