"""fact doubts: a fact that may have taken the place of another names it

Revision ID: 0032_fact_doubts
Revises: 0031_reminders_cancelled
Create Date: 2026-11-26 21:40:00

Consolidation closes a known fact when a new one fills the same slot (where they live, their work...). When
it is unsure (a hedged statement: "staying in York"), both stay current and ``user_facts.doubts`` names the
known fact the new one may replace, so the doubt is shown, never settled silently. Indexed: a fact's read
looks for the facts doubting it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032_fact_doubts"
down_revision = "0031_reminders_cancelled"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN, nullable: no table rebuild on SQLite, no rewrite on PostgreSQL.
    op.add_column("user_facts", sa.Column("doubts", sa.Integer(), nullable=True))
    op.create_index("ix_user_facts_doubts", "user_facts", ["doubts"])


def downgrade() -> None:
    op.drop_index("ix_user_facts_doubts", table_name="user_facts")
    # A plain DROP COLUMN (SQLite 3.35+), as 0028 does, not a batch copy of the table.
    op.execute("ALTER TABLE user_facts DROP COLUMN doubts")
