"""shared counts: counts kept for every process of a cluster in a window of time (database/cluster.py)

Revision ID: 0045_shared_counts
Revises: 0044_person_settings
Create Date: 2026-11-28 10:00:00

One row per count (Discord's REST requests of the current second, the invalid requests of the current ten
minutes), with the window it counts and how many it holds: the bot's limits, kept together by its processes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0045_shared_counts"
down_revision = "0044_person_settings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shared_counts",
        sa.Column("name", sa.String(length=120), primary_key=True),
        sa.Column("period", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("shared_counts")
