"""archive excerpts embedded after consolidation (issue 47): when a person's excerpts last got vectors

Revision ID: 0017_excerpt_backfill
Revises: 0016_core_memory_places
Create Date: 2026-11-25 15:50:00

Consolidation now archives and indexes excerpts lexically in its batches and embeds them afterwards, in the
background (memory/episodes.py, ``embed_pending``): ``users.excerpts_embedded`` is when some of a person's
excerpts last got their vectors, part of the stamp that tells recall's cache to re-read them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_excerpt_backfill"
down_revision = "0016_core_memory_places"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN (as 0015): no copy of users on SQLite.
    op.add_column("users", sa.Column("excerpts_embedded", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "excerpts_embedded")
