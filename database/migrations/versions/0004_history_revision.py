"""conversations.revision, moved forward by a trigger on every change to a conversation's history

Revision ID: 0004_history_revision
Revises: 0003_personaflow
Create Date: 2026-11-22 23:30:00

The store keeps recent conversations' turns in memory between replies and re-reads them only when this
number has moved. A trigger, not the store's own code, moves it, so that an edit made by any means (an
admin with a SQL console included) reaches the next reply. It never repeats for a conversation: each
change sets it to the current time in microseconds, or one more than before if that is not larger, so
even a conversation deleted and created again under the same id never shows an old number.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_history_revision"
down_revision = "0003_personaflow"
branch_labels = None
depends_on = None

SQLITE_NOW_US = "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)"
SQLITE_TRIGGERS = {
    "trg_history_messages_insert_revision": ("AFTER INSERT", ["NEW"]),
    "trg_history_messages_update_revision": ("AFTER UPDATE", ["OLD", "NEW"]),
    "trg_history_messages_delete_revision": ("AFTER DELETE", ["OLD"]),
}


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.BigInteger(), server_default="0", nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE OR REPLACE FUNCTION kindred_history_revision() RETURNS trigger AS $$
            BEGIN
                IF TG_OP <> 'INSERT' THEN
                    UPDATE conversations
                    SET revision = GREATEST(revision + 1,
                                            (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)
                    WHERE id = OLD.conversation_id;
                END IF;
                IF TG_OP <> 'DELETE' THEN
                    UPDATE conversations
                    SET revision = GREATEST(revision + 1,
                                            (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)
                    WHERE id = NEW.conversation_id;
                END IF;
                RETURN NULL;
            END
            $$ LANGUAGE plpgsql
        """)
        op.execute("""
            CREATE TRIGGER trg_history_messages_revision
            AFTER INSERT OR UPDATE OR DELETE ON history_messages
            FOR EACH ROW EXECUTE FUNCTION kindred_history_revision()
        """)
        return
    for name, (event, rows) in SQLITE_TRIGGERS.items():
        updates = " ".join(
            f"UPDATE conversations SET revision = max(revision + 1, {SQLITE_NOW_US}) "
            f"WHERE id = {row}.conversation_id;"
            for row in rows
        )
        op.execute(f"CREATE TRIGGER {name} {event} ON history_messages FOR EACH ROW BEGIN {updates} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS trg_history_messages_revision ON history_messages")
        op.execute("DROP FUNCTION IF EXISTS kindred_history_revision()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("revision")
