"""reminders cancelled: a cancelled reminder is marked, not deleted

Revision ID: 0031_reminders_cancelled
Revises: 0030_quoted_notes
Create Date: 2026-11-26 18:30:00

``reminders.cancelled_at``: when its person cancelled it. The row stays a day, as a delivered one does, so
the per-day cap (``reminders_per_day``) counts it: deleting it let cancelling set reminders past the cap.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031_reminders_cancelled"
down_revision = "0030_quoted_notes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reminders", sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Cancelled reminders were deleted before this revision: they go with the column.
    op.execute("DELETE FROM reminders WHERE cancelled_at IS NOT NULL")
    # A plain DROP COLUMN (SQLite 3.35+), as 0028 does, not a batch copy of the table.
    op.execute("ALTER TABLE reminders DROP COLUMN cancelled_at")
