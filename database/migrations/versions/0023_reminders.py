"""reminders: what a person asked to be reminded of, where and when

Revision ID: 0023_reminders
Revises: 0022_person_timezone
Create Date: 2026-11-26 06:30:00

``reminders`` (database/reminders.py): one row per reminder, with who asked, the place to deliver it (a DM
channel, or a server's channel and its server), the text, the instant it is due (UTC), the zone it was set
in, when it was set, and when it was delivered (kept a day for the per-day cap). Its delivery is a durable
timer of kind ``reminder`` (scheduled_jobs).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_reminders"
down_revision = "0022_person_timezone"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("is_dm", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("delivered_at", TZ, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_reminders_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
    )
    op.create_index(op.f("ix_reminders_user_id"), "reminders", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_reminders_user_id", table_name="reminders")
    op.drop_table("reminders")
