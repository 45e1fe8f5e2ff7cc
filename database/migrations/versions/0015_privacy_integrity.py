"""privacy and integrity (issue 49): posts made for a person are theirs; private places are kept like DMs

Revision ID: 0015_privacy_integrity
Revises: 0014_archive_excerpts
Create Date: 2026-11-25 13:30:00

``posted_for`` names the person a post of the bot's quotes (their poll and its results, their ticket's
opening message): /forget_me deletes those posts from the log and the archive with the rest of theirs.

``message_log.private`` and ``message_archive.private``: said in a private place of a server (a private
channel or thread, a ticket's); consolidation keeps what it learns there private, as from a DM.
``user_facts.guild_id``: the server a fact was learnt in (recalled there only, unless
``users.memory_everywhere``, the person's ``/memory servers all``). Existing facts keep NULL: recalled
as before.

``owed_replies.parts`` and ``delivered``: a reply of several parts records them all before the first goes out,
and how many went out; a restart sends the rest (issue 49).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_privacy_integrity"
down_revision = "0014_archive_excerpts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "posted_for",
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_posted_for")),
    )
    op.create_index(op.f("ix_posted_for_user_id"), "posted_for", ["user_id"], unique=False)
    # Plain ALTER TABLE ... ADD COLUMN on both databases: no table is copied (on SQLite a copy of users
    # would cascade to every table pointing at it).
    for table in ("message_log", "message_archive"):
        op.add_column(table, sa.Column("private", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("user_facts", sa.Column("guild_id", sa.BigInteger(), nullable=True))
    op.add_column("users", sa.Column("memory_everywhere", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column("owed_replies", sa.Column("parts", sa.Text(), nullable=True))
    op.add_column("owed_replies", sa.Column("delivered", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), for the same reason: no copy of users.
    op.drop_column("owed_replies", "delivered")
    op.drop_column("owed_replies", "parts")
    op.drop_column("users", "memory_everywhere")
    op.drop_column("user_facts", "guild_id")
    for table in ("message_archive", "message_log"):
        op.drop_column(table, "private")
    op.drop_index(op.f("ix_posted_for_user_id"), table_name="posted_for")
    op.drop_table("posted_for")
