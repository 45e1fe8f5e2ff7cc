"""faces: a character's interactions and evolution stage per server

Revision ID: 0027_faces
Revises: 0026_swipes
Create Date: 2026-11-26 09:00:00

``character_server_state``: one row per character and server, counting its answered interactions there and
the evolution stage they reach; the stage reached in a server picks the face (avatar, banner, bio) the
character shows in that server.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027_faces"
down_revision = "0026_swipes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "character_server_state",
        sa.Column("character", sa.String(length=100), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("interaction_count", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("character", "guild_id", name=op.f("pk_character_server_state")),
    )


def downgrade() -> None:
    op.drop_table("character_server_state")
