"""relationship since: when what the character feels about someone over the days last changed

Revision ID: 0033_relationship_since
Revises: 0032_fact_doubts
Create Date: 2026-11-27 00:30:00

The reply's one feeling line says since when the recent feeling is felt; the relationship's words (close to
them, wary of them...) now say it too. ``relationships.felt_since`` (JSON, database/person_read.py): when a
consolidation batch last changed those words, for the person's DMs (``all``) and, when that batch was of a
server's public channels, for public places (``public``; absent once a DM or private place changed them), so
a public reply never shows when something said in private moved them. NULL for the rows already there: no
"since" until their words next change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033_relationship_since"
down_revision = "0032_fact_doubts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN, nullable: no table rebuild on SQLite, no rewrite on PostgreSQL.
    op.add_column("relationships", sa.Column("felt_since", sa.Text(), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+), as 0032 does, not a batch copy of the table.
    op.execute("ALTER TABLE relationships DROP COLUMN felt_since")
