"""core memories know where they belong (issue 49, item 3)

Revision ID: 0016_core_memory_places
Revises: 0015_privacy_integrity
Create Date: 2026-11-25 15:45:00

``core_memories.guild_id``: the server a memory was learnt in (a summary of one of its public channels, a
/remember made there). Such a memory reaches that server's prompts only, unless ``users.memory_everywhere``.
Private memories (sources ``summary_dm`` and ``user_dm``: DMs and private places) reach DMs only, as before;
an admin's memory has no server and reaches every prompt.

Existing ``summary`` and ``user`` memories have no known origin: a channel's summary may have been learnt in
any server, or (before 0015) in a ticket's private thread, and a /remember may have been made in a DM before
DM notes had their own source. They become private (``summary_dm``, ``user_dm``): used in DMs only, never in
a server whose people should not see them; the next summary of a server's channel builds that server's own
set again. ``admin`` memories stay as they are (written on purpose, for every place). Earlier versions' JSON
snapshots are read the same way when restored (database/memories.py).

The downgrade drops the column; the memories stay private (nothing says which server they were from).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_core_memory_places"
down_revision = "0015_privacy_integrity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN on both databases (no table copy, as in 0015).
    op.add_column("core_memories", sa.Column("guild_id", sa.BigInteger(), nullable=True))
    for legacy, private in (("summary", "summary_dm"), ("user", "user_dm")):
        op.execute(sa.text("UPDATE core_memories SET source = :private WHERE source = :legacy")
                   .bindparams(private=private, legacy=legacy))


def downgrade() -> None:
    op.drop_column("core_memories", "guild_id")
