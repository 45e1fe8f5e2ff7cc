"""feelings per relationship and per channel

Revision ID: 0021_relationship_feelings
Revises: 0020_open_threads
Create Date: 2026-11-26 04:00:00

How a character feels toward a person (``person_feelings``, beside the relationship) and how the room
feels in a channel (``place_feelings``), each JSON: one character-wide feeling no longer carries one
person's hostility into everyone else's conversations.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_relationship_feelings"
down_revision = "0020_open_threads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_feelings",
        sa.Column("character", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("feeling", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("character", "user_id"),
    )
    op.create_table(
        "place_feelings",
        sa.Column("character", sa.String(length=100), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("feeling", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("character", "channel_id"),
    )


def downgrade() -> None:
    op.drop_table("place_feelings")
    op.drop_table("person_feelings")
