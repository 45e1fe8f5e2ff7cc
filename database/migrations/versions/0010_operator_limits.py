"""operator limits: who may talk to the character per server, and what each call was spent for

Revision ID: 0010_operator_limits
Revises: 0009_identity_source
Create Date: 2026-11-23 11:30:00

``server_settings`` gets a server's own allow and block lists (comma-separated ids; NULL: the global
setting). ``api_calls`` gets the server each call was made for, and indexes for the spending limits' one
query per message: one person's and one server's calls since the operator's midnight.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_operator_limits"
down_revision = "0009_identity_source"
branch_labels = None
depends_on = None

LISTS = ("allowed_users", "blocked_users", "allowed_roles", "blocked_roles")


def upgrade() -> None:
    with op.batch_alter_table("server_settings", schema=None) as batch_op:
        for name in LISTS:
            batch_op.add_column(sa.Column(name, sa.Text(), nullable=True))
    with op.batch_alter_table("api_calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("guild_id", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_api_calls_user_id_created_at", ["user_id", "created_at"], unique=False)
        batch_op.create_index("ix_api_calls_guild_id_created_at", ["guild_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_calls", schema=None) as batch_op:
        batch_op.drop_index("ix_api_calls_guild_id_created_at")
        batch_op.drop_index("ix_api_calls_user_id_created_at")
        batch_op.drop_column("guild_id")
    with op.batch_alter_table("server_settings", schema=None) as batch_op:
        for name in reversed(LISTS):
            batch_op.drop_column(name)
