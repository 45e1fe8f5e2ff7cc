"""a fact's history: a fact that changed is closed, not overwritten

Revision ID: 0019_fact_history
Revises: 0018_timers
Create Date: 2026-11-26 03:40:00

Consolidation may now update or delete a known fact. The old row stays, closed: ``valid_until`` (when it
stopped being true), ``superseded_by`` (the fact that replaced it, if any) and ``past`` (its wording in the
past tense, "Alice lived in Leeds"; NULL when it is not worth telling as history, such as a fact only
reworded). Every existing fact is current (all three NULL).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_fact_history"
down_revision = "0018_timers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN, nullable: no table rebuild on SQLite, no rewrite on PostgreSQL.
    op.add_column("user_facts", sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("user_facts", sa.Column("superseded_by", sa.Integer(), nullable=True))
    op.add_column("user_facts", sa.Column("past", sa.Text(), nullable=True))


def downgrade() -> None:
    # The history goes with the columns: closed facts would read as current again.
    op.execute("DELETE FROM user_facts WHERE valid_until IS NOT NULL")
    with op.batch_alter_table("user_facts") as batch:
        batch.drop_column("past")
        batch.drop_column("superseded_by")
        batch.drop_column("valid_until")
