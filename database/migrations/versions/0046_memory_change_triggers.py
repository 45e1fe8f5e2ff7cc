"""triggers that move a person's fact and excerpt stamps on a change made by any means

Revision ID: 0046_memory_change_triggers
Revises: 0045_shared_counts
Create Date: 2026-11-29 10:40:00

Recall keeps a person's facts and archived excerpts in memory between replies and re-reads them only when
their stamp has moved (database/stamps.py): the newest fact's ``updated_at``, ``users.facts_deleted``,
``users.excerpts_deleted``. Kindred's own writes move them; these triggers move them too for a change made
past Kindred (an operator fixing or removing a wrong fact with a SQL console), so it reaches the next reply:

- a fact edited without a new ``updated_at`` gets one (the time of the edit);
- a fact deleted, or an excerpt deleted or its words edited, sets its person's deletion stamp.

PostgreSQL notes a statement's deletions once per person (a statement-level trigger over the deleted
rows), so ``/forget_me`` of ten thousand facts is one update of their row, not ten thousand.
"""

from __future__ import annotations

from alembic import op

revision = "0046_memory_change_triggers"
down_revision = "0045_shared_counts"
branch_labels = None
depends_on = None

# SQLAlchemy's own text form of a time on SQLite, microseconds included (strftime's %f stops at
# milliseconds), so the stamps compare as they do when Kindred writes them.
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'"
SQLITE_TRIGGERS = {
    "trg_user_facts_edited": (
        "AFTER UPDATE ON user_facts FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at",
        f"UPDATE user_facts SET updated_at = {SQLITE_NOW} WHERE id = NEW.id;"),
    "trg_user_facts_deleted": (
        "AFTER DELETE ON user_facts FOR EACH ROW",
        f"UPDATE users SET facts_deleted = {SQLITE_NOW} WHERE id = OLD.user_id;"),
    "trg_archive_excerpts_deleted": (
        "AFTER DELETE ON archive_excerpts FOR EACH ROW",
        f"UPDATE users SET excerpts_deleted = {SQLITE_NOW} WHERE id = OLD.user_id;"),
    "trg_archive_excerpts_edited": (
        "AFTER UPDATE OF content ON archive_excerpts FOR EACH ROW WHEN NEW.content IS NOT OLD.content",
        f"UPDATE users SET excerpts_deleted = {SQLITE_NOW} WHERE id = NEW.user_id;"),
}

POSTGRES = [
    """
    CREATE OR REPLACE FUNCTION kindred_fact_edited() RETURNS trigger AS $$
    BEGIN
        IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
            NEW.updated_at := clock_timestamp();
        END IF;
        RETURN NEW;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER trg_user_facts_edited BEFORE UPDATE ON user_facts
    FOR EACH ROW EXECUTE FUNCTION kindred_fact_edited()
    """,
    """
    CREATE OR REPLACE FUNCTION kindred_facts_deleted() RETURNS trigger AS $$
    BEGIN
        UPDATE users SET facts_deleted = clock_timestamp() WHERE id IN (SELECT DISTINCT user_id FROM gone);
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER trg_user_facts_deleted AFTER DELETE ON user_facts
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION kindred_facts_deleted()
    """,
    """
    CREATE OR REPLACE FUNCTION kindred_excerpts_deleted() RETURNS trigger AS $$
    BEGIN
        UPDATE users SET excerpts_deleted = clock_timestamp() WHERE id IN (SELECT DISTINCT user_id FROM gone);
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER trg_archive_excerpts_deleted AFTER DELETE ON archive_excerpts
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION kindred_excerpts_deleted()
    """,
    """
    CREATE OR REPLACE FUNCTION kindred_excerpt_edited() RETURNS trigger AS $$
    BEGIN
        UPDATE users SET excerpts_deleted = clock_timestamp() WHERE id = NEW.user_id;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER trg_archive_excerpts_edited AFTER UPDATE OF content ON archive_excerpts
    FOR EACH ROW WHEN (NEW.content IS DISTINCT FROM OLD.content) EXECUTE FUNCTION kindred_excerpt_edited()
    """,
]
POSTGRES_DROPS = [
    "DROP TRIGGER IF EXISTS trg_user_facts_edited ON user_facts",
    "DROP TRIGGER IF EXISTS trg_user_facts_deleted ON user_facts",
    "DROP TRIGGER IF EXISTS trg_archive_excerpts_deleted ON archive_excerpts",
    "DROP TRIGGER IF EXISTS trg_archive_excerpts_edited ON archive_excerpts",
    "DROP FUNCTION IF EXISTS kindred_fact_edited()",
    "DROP FUNCTION IF EXISTS kindred_facts_deleted()",
    "DROP FUNCTION IF EXISTS kindred_excerpts_deleted()",
    "DROP FUNCTION IF EXISTS kindred_excerpt_edited()",
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
