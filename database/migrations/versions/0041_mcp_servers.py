"""mcp servers: the MCP servers a server's admins added (/bot mcp add), with their tools' allow-list

Revision ID: 0041_mcp_servers
Revises: 0040_talk_threads
Create Date: 2026-11-27 13:30:00

``mcp_servers``: one row per MCP server added in a Discord server (its name there unique).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0041_mcp_servers"
down_revision = "0040_talk_threads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mcp_servers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("tools", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mcp_servers")),
        sa.UniqueConstraint("guild_id", "name", name=op.f("uq_mcp_servers_guild_id")),
    )
    op.create_index(op.f("ix_mcp_servers_guild_id"), "mcp_servers", ["guild_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_mcp_servers_guild_id"), table_name="mcp_servers")
    op.drop_table("mcp_servers")
