"""alive between messages: durable schedules, per-place switches, writing styles, check-ins

Revision ID: 0007_alive
Revises: 0006_dashboard_stats
Create Date: 2026-11-28 10:00:00

``scheduled_jobs`` keeps each recurring job's next due time and last result (a restart neither skips nor
repeats a proactive round); ``place_switches`` the admins' /bot proactive and /bot reactions per channel or
server; ``style_profiles`` how each remembered person writes; ``checkins`` who asked for check-in DMs and
when the last one went out. The emotion state lives in global_state (visible in /state).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007_alive"
down_revision = "0006_dashboard_stats"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scheduled_jobs",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("next_due", TZ, nullable=False),
        sa.Column("last_run", TZ, nullable=True),
        sa.Column("last_result", sa.Text(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduled_jobs")),
    )
    op.create_table(
        "place_switches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("place_type", sa.String(length=16), nullable=False),
        sa.Column("place_id", sa.BigInteger(), nullable=False),
        sa.Column("switch", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place_switches")),
        sa.UniqueConstraint("place_type", "place_id", "switch", name=op.f("uq_place_switches_place_type")),
    )
    for table in ("style_profiles", "checkins"):
        by_table: dict[str, list[sa.Column[Any]]] = {
            "style_profiles": [sa.Column("profile", sa.Text(), nullable=False)],
            "checkins": [sa.Column("enabled", sa.Boolean(), nullable=False),
                         sa.Column("sent_at", TZ, nullable=True)],
        }
        columns = by_table[table]
        op.create_table(
            table,
            sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
            *columns,
            sa.Column("updated_at", TZ, nullable=False),
            sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"),
                                    ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("user_id", name=op.f(f"pk_{table}")),
        )


def downgrade() -> None:
    for table in ("checkins", "style_profiles", "place_switches", "scheduled_jobs"):
        op.drop_table(table)
