"""facts deleted: when some of a person's facts were last deleted

Revision ID: 0028_facts_deleted
Revises: 0027_faces
Create Date: 2026-11-26 14:30:00

``users.facts_deleted``: set whenever some of a person's facts are deleted. With the newest fact's id and the
latest ``updated_at``, it is the stamp recall's cache compares at each reply (database/stamps.py): three
index probes, where the count it replaces stepped through every one of the person's facts.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028_facts_deleted"
down_revision = "0027_faces"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("facts_deleted", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+), not a batch copy: copying ``users`` drops the old table, and with
    # foreign keys on that cascades to every row that references a person (their facts, feelings, ...).
    op.execute("ALTER TABLE users DROP COLUMN facts_deleted")
