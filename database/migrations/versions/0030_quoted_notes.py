"""quoted notes: whose words a "Remember this" note quotes

Revision ID: 0030_quoted_notes
Revises: 0029_history_ids
Create Date: 2026-11-26 18:40:00

``core_memories.quoted_user_id``: the author of the message a note made with "Remember this" quotes. The note
is its asker's, the words are the author's: their /forget_me deletes it and its proof counts it, and their
opt-out keeps it out of prompts. NULL for every other memory.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030_quoted_notes"
down_revision = "0029_history_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("core_memories", sa.Column("quoted_user_id", sa.BigInteger(), nullable=True))
    op.create_index(op.f("ix_core_memories_quoted_user_id"), "core_memories", ["quoted_user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_core_memories_quoted_user_id"), table_name="core_memories")
    # A plain DROP COLUMN (SQLite 3.35+, once its index is gone), not a batch copy of the table.
    op.execute("ALTER TABLE core_memories DROP COLUMN quoted_user_id")
