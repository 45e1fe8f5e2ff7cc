"""person profile: the persona a person sets with /me (name, pronouns, about)

Revision ID: 0038_person_profile
Revises: 0037_recurring_reminders
Create Date: 2026-11-27 11:30:00

``person_profiles``: one row per person who stated something with /me ("" where they set nothing).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0038_person_profile"
down_revision = "0037_recurring_reminders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_profiles",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("pronouns", sa.String(length=40), nullable=False),
        sa.Column("about", sa.String(length=300), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_person_profiles")),
    )


def downgrade() -> None:
    op.drop_table("person_profiles")
