"""one table of durable timers: the schedule's rows take one-shot timers too

Revision ID: 0018_timers
Revises: 0017_excerpt_backfill
Create Date: 2026-11-26 00:50:00

``scheduled_jobs`` becomes the one table of due rows that bot/core/timers.py dispatches: a recurring round's
row (``kind`` "round", as every existing row is) or a one-shot timer with its ``kind`` and ``payload`` (JSON).
Every open poll gets its closing row here, so it closes from that row (no timer of the poll cog any more).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_timers"
down_revision = "0017_excerpt_backfill"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN with a server default: the existing rows are recurring rounds.
    op.add_column("scheduled_jobs", sa.Column("kind", sa.String(length=32), server_default="round",
                                              nullable=False))
    op.add_column("scheduled_jobs", sa.Column("payload", sa.Text(), server_default="{}", nullable=False))
    op.create_index("ix_scheduled_jobs_next_due", "scheduled_jobs", ["next_due"])
    polls = sa.table("polls", sa.column("id", sa.Integer()), sa.column("closes_at", TZ),
                     sa.column("closed", sa.Boolean()))
    timers = sa.table("scheduled_jobs", sa.column("name", sa.String()), sa.column("kind", sa.String()),
                      sa.column("payload", sa.Text()), sa.column("next_due", TZ),
                      sa.column("last_result", sa.Text()), sa.column("updated_at", TZ))
    poll_id = sa.cast(polls.c.id, sa.String())
    op.execute(timers.insert().from_select(
        ["name", "kind", "payload", "next_due", "last_result", "updated_at"],
        sa.select(sa.literal("poll:", sa.String()) + poll_id, sa.literal("poll", sa.String()),
                  sa.literal('{"poll": ', sa.String()) + poll_id + sa.literal("}", sa.String()),
                  polls.c.closes_at, sa.literal("", sa.String()), polls.c.closes_at)
        .where(polls.c.closed == sa.false())))


def downgrade() -> None:
    op.execute("DELETE FROM scheduled_jobs WHERE kind <> 'round'")
    op.drop_index("ix_scheduled_jobs_next_due", table_name="scheduled_jobs")
    op.drop_column("scheduled_jobs", "payload")
    op.drop_column("scheduled_jobs", "kind")
