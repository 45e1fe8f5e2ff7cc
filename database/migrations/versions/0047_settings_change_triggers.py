"""a trigger that gives a place or person setting edited by any means a new updated_at

Revision ID: 0047_settings_change_triggers
Revises: 0046_memory_change_triggers
Create Date: 2026-11-29 13:10:00

Each process keeps the scoped_settings table in memory and reads back the rows changed since the newest
``updated_at`` it has seen (database/refreshing.py ``TableMirror``). Kindred's own writes stamp the row; this
trigger stamps it too for an edit made past Kindred (an operator's SQL console) that writes no new
``updated_at``, so a value fixed by hand applies within the cache's seconds.

A row added or deleted by hand needs none: ``updated_at`` is required, and the read counts the table's rows
and reads it whole when the copy holds another number of them (a row stamped earlier than the copy's
newest is found so too).
"""

from __future__ import annotations

from alembic import op

revision = "0047_settings_change_triggers"
down_revision = "0046_memory_change_triggers"
branch_labels = None
depends_on = None

# SQLAlchemy's own text form of a time on SQLite, microseconds included (strftime's %f stops at
# milliseconds), so the stamps compare as they do when Kindred writes them.
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'"
SQLITE_TRIGGERS = {
    "trg_scoped_settings_edited": (
        "AFTER UPDATE ON scoped_settings FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at",
        f"UPDATE scoped_settings SET updated_at = {SQLITE_NOW} WHERE id = NEW.id;"),
}

POSTGRES = [
    """
    CREATE OR REPLACE FUNCTION kindred_setting_edited() RETURNS trigger AS $$
    BEGIN
        IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
            NEW.updated_at := clock_timestamp();
        END IF;
        RETURN NEW;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER trg_scoped_settings_edited BEFORE UPDATE ON scoped_settings
    FOR EACH ROW EXECUTE FUNCTION kindred_setting_edited()
    """,
]
POSTGRES_DROPS = [
    "DROP TRIGGER IF EXISTS trg_scoped_settings_edited ON scoped_settings",
    "DROP FUNCTION IF EXISTS kindred_setting_edited()",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES:
            op.execute(statement)
        return
    for name, (when, body) in SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {when} BEGIN {body} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_DROPS:
            op.execute(statement)
        return
    for name in SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
