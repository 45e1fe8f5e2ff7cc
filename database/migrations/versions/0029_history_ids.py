"""history ids never reused: AUTOINCREMENT on history_messages (SQLite)

Revision ID: 0029_history_ids
Revises: 0028_facts_deleted
Create Date: 2026-11-26 18:30:00

Without AUTOINCREMENT, SQLite hands the largest id, once its row is deleted, to the next row inserted:
another person's turn could then carry the id a reply's swipes kept for a turn forgotten meanwhile. The table
is copied into one declared AUTOINCREMENT (its rows, ids, index and foreign key as they were; the highest id
so far is where the next one starts), and the history triggers of 0004, dropped with the old table, are made
again as they were. PostgreSQL's serial never hands an id out twice: nothing to do there.
"""

from __future__ import annotations

from alembic import op

revision = "0029_history_ids"
down_revision = "0028_facts_deleted"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _recreate(autoincrement=True)


def downgrade() -> None:
    _recreate(autoincrement=False)


def _recreate(*, autoincrement: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    triggers = [str(sql) for (sql,) in bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'history_messages'").all()]
    # (only a child table is copied: nothing references history_messages, so dropping the old one, foreign
    # keys on, deletes nothing else)
    with op.batch_alter_table("history_messages", recreate="always",
                              table_kwargs={"sqlite_autoincrement": autoincrement}):
        pass
    for sql in triggers:
        op.execute(sql)
