"""identity_entries.source: where an identity entry comes from

Revision ID: 0009_identity_source
Revises: 0008_cluster
Create Date: 2026-11-23 12:00:00

``admin`` (added with /identity or the dashboard) or ``file:<digest>`` (seeded from the character's
identity.json; the digest names the file's entry, so an entry removed from the file is removed at the next
start while one an admin reworded keeps its wording). Entries that exist before this revision are marked
``admin``: at the next start those written exactly as in identity.json are taken back by the file.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_identity_source"
down_revision = "0008_cluster"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identity_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=64), server_default="admin", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("identity_entries", schema=None) as batch_op:
        batch_op.drop_column("source")
