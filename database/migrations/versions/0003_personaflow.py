"""personaflow library: characters and memories a program persists in Kindred's database

Revision ID: 0003_personaflow
Revises: 0002_memory
Create Date: 2026-11-24 10:00:00

Used only by ``personaflow.integrations.kindred.KindredStore``; the bot itself never reads them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_personaflow"
down_revision = "0002_memory"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "personaflow_characters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("background", sa.JSON(), nullable=False),
        sa.Column("memory_config", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personaflow_characters")),
        sa.UniqueConstraint("name", name=op.f("uq_personaflow_characters_name")),
    )
    op.create_table(
        "personaflow_memories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("character", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personaflow_memories")),
    )
    with op.batch_alter_table("personaflow_memories", schema=None) as batch_op:
        batch_op.create_index("ix_personaflow_memories_character_id", ["character", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("personaflow_memories", schema=None) as batch_op:
        batch_op.drop_index("ix_personaflow_memories_character_id")
    op.drop_table("personaflow_memories")
    op.drop_table("personaflow_characters")
