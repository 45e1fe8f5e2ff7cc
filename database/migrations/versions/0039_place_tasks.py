"""place tasks: a recurring reminder an admin set for a place, an instruction the character carries out there

Revision ID: 0039_place_tasks
Revises: 0038_person_profile
Create Date: 2026-11-27 13:40:00

``reminders.task``: the row is a place task (its text an instruction for the character, said to the channel,
nobody named); ``reminders.recent``: its latest posts (a JSON list), for the next one not to repeat them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0039_place_tasks"
down_revision = "0038_person_profile"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reminders", sa.Column("task", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("reminders", sa.Column("recent", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    # Place tasks cannot be kept by the revisions before this one: they go with the columns.
    op.execute("DELETE FROM scheduled_jobs WHERE name IN (SELECT 'reminder:' || id FROM reminders "
               "WHERE task)")
    op.execute("DELETE FROM reminders WHERE task")
    op.execute("ALTER TABLE reminders DROP COLUMN recent")
    op.execute("ALTER TABLE reminders DROP COLUMN task")
