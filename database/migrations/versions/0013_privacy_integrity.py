"""privacy and integrity (issue 49): the bot's posts made on a person's behalf are theirs

Revision ID: 0013_privacy_integrity
Revises: 0012_fact_time_and_lasting
Create Date: 2026-11-25 13:30:00

``posted_for`` names the person a post of the bot's quotes (their poll and its results, their ticket's
opening message): /forget_me deletes those posts from the log and the archive with the rest of theirs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_privacy_integrity"
down_revision = "0012_fact_time_and_lasting"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "posted_for",
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_posted_for")),
    )
    with op.batch_alter_table("posted_for") as batch:
        batch.create_index(batch.f("ix_posted_for_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_table("posted_for")
