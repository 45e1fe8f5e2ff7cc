"""cluster: one row per Kindred process sharing this database

Revision ID: 0008_cluster
Revises: 0007_alive
Create Date: 2026-11-23 11:45:00

``cluster_nodes`` keeps each process's shards and latest heartbeat, and whether it leads the cluster's
scheduled work (the leader itself is chosen by a PostgreSQL advisory lock, not by this table).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_cluster"
down_revision = "0007_alive"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cluster_nodes",
        sa.Column("node_id", sa.String(length=120), nullable=False),
        sa.Column("character", sa.String(length=100), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("shards", sa.String(length=200), nullable=False),
        sa.Column("shard_count", sa.Integer(), nullable=False),
        sa.Column("leader", sa.Boolean(), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("last_seen", TZ, nullable=False),
        sa.Column("stopped_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_cluster_nodes")),
    )
    op.create_index(op.f("ix_cluster_nodes_character"), "cluster_nodes", ["character"])


def downgrade() -> None:
    op.drop_index(op.f("ix_cluster_nodes_character"), table_name="cluster_nodes")
    op.drop_table("cluster_nodes")
