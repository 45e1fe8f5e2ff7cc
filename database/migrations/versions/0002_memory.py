"""long-term memory: private facts, fact change stamps, daily-bounded relationship changes

Revision ID: 0002_memory
Revises: 0001
Create Date: 2026-11-23 10:00:00

``user_facts.private``: facts learnt from direct messages are recalled only in DMs.
``user_facts.updated_at``: set on every change (indexed with user_id), so recall's per-user vector cache can
tell it is stale from the index alone.
``relationships.consolidated_day`` / ``consolidated_change``: what the daily consolidation already moved
today, so the per-day bound holds across re-runs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_memory"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_facts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("private", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_user_facts_user_id_updated_at", ["user_id", "updated_at", "id"], unique=False
        )
    with op.batch_alter_table("relationships", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("consolidated_day", sa.String(length=10), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("consolidated_change", sa.Text(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("relationships", schema=None) as batch_op:
        batch_op.drop_column("consolidated_change")
        batch_op.drop_column("consolidated_day")
    with op.batch_alter_table("user_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_user_facts_user_id_updated_at")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("private")
