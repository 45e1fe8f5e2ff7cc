"""web searches counted with the model call that made them

Revision ID: 0024_search_counts
Revises: 0023_reminders
Create Date: 2026-11-26 06:30:00

``api_calls.web_searches``: how many web searches a call made (each is billed on top of the tokens). The day's
caps on searches per person and per server (bot/reply/looking.py) add them up from here, so the counts survive
a restart and are shared by every process on the database. Existing rows made none that were counted: 0.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_search_counts"
down_revision = "0023_reminders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_calls", sa.Column("web_searches", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+), not a batch copy of a table that may hold many rows.
    op.execute("ALTER TABLE api_calls DROP COLUMN web_searches")
