"""recurring reminders: a reminder may repeat by a recurrence rule, and be paused

Revision ID: 0037_recurring_reminders
Revises: 0036_card_words
Create Date: 2026-11-27 10:45:00

``reminders.rule``: an RFC 5545 RRULE ("" for a reminder that fires once); ``reminders.local_at``: the local
wall-clock time of the occurrence due next, in the reminder's zone (the rule is read from it, so a time the
clocks skip keeps its wall-clock hour for the occurrences after it); ``reminders.paused_at``: when its person
paused it (NULL: running).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0037_recurring_reminders"
down_revision = "0036_card_words"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reminders", sa.Column("rule", sa.String(length=300), nullable=False, server_default=""))
    op.add_column("reminders", sa.Column("local_at", sa.String(length=19), nullable=False, server_default=""))
    op.add_column("reminders", sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Recurring reminders cannot be kept by the revisions before this one: they go with the columns.
    op.execute("DELETE FROM scheduled_jobs WHERE name IN (SELECT 'reminder:' || id FROM reminders "
               "WHERE rule <> '')")
    op.execute("DELETE FROM reminders WHERE rule <> ''")
    # Plain DROP COLUMNs (SQLite 3.35+), as 0031 does, not a batch copy of the table.
    op.execute("ALTER TABLE reminders DROP COLUMN paused_at")
    op.execute("ALTER TABLE reminders DROP COLUMN local_at")
    op.execute("ALTER TABLE reminders DROP COLUMN rule")
