"""a person's time zone, as they gave it (/memory timezone)

Revision ID: 0022_person_timezone
Revises: 0021_relationship_feelings
Create Date: 2026-11-26 04:00:00

``users.timezone``: the IANA zone a person said they live in; a reply prompt then tells their local time
beside the character's. Nullable, no default: nobody has given one yet.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_person_timezone"
down_revision = "0021_relationship_feelings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("timezone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+), not a batch copy: copying ``users`` drops the old table, and with
    # foreign keys on that cascades to every row that references a person (their facts, feelings, ...).
    op.execute("ALTER TABLE users DROP COLUMN timezone")
