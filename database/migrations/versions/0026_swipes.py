"""swipes: a reply's alternatives, browsed on its message

Revision ID: 0026_swipes
Revises: 0025_summary_coverage
Create Date: 2026-11-26 07:00:00

``swipes``: one row per reply message carrying the swipe buttons: its alternatives (JSON), the one shown,
the stored answer turn that holds it, and when the buttons go. A row is deleted when its buttons go (the
shown alternative stays in the history); a person's rows go with /forget_me.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_swipes"
down_revision = "0025_summary_coverage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "swipes",
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("character", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("webhook_id", sa.BigInteger(), nullable=True),
        sa.Column("turn_id", sa.Integer(), nullable=True),
        sa.Column("alternatives", sa.JSON(), nullable=False),
        sa.Column("shown", sa.Integer(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_swipes")),
    )
    op.create_index("ix_swipes_channel_open", "swipes", ["channel_id", "open"])


def downgrade() -> None:
    op.drop_index("ix_swipes_channel_open", table_name="swipes")
    op.drop_table("swipes")
