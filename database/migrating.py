"""The schema's upgrade at start-up: Alembic, loaded only when the database is behind.

A running bot whose database already stands at the newest migration never imports Alembic (about 11 MB it
would keep for nothing): the newest ids are read from the versions folder as text and compared with the
stored ``alembic_version``. Otherwise Alembic's upgrade runs as before, on the connection it is handed.
"""

from __future__ import annotations

import ast
from pathlib import Path

from sqlalchemy import Connection, inspect, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The advisory lock every Kindred process takes to migrate (PostgreSQL): one 64-bit key, fixed for good
# ("kindred" in ASCII), so every version of Kindred on one database serialises on the same lock.
MIGRATION_LOCK_KEY = 0x6B696E64726564


def head_revisions() -> frozenset[str]:
    """The newest migrations' ids, read from the versions folder as text: those no migration names as its
    ``down_revision``. Empty when a file is not laid out as expected (then Alembic decides)."""
    revisions: set[str] = set()
    below: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found: dict[str, object] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            name, sep, value = line.partition("=")
            name = name.partition(":")[0].strip()  # "revision: str = ..." too
            if sep and name in ("revision", "down_revision") and name not in found:
                try:
                    found[name] = ast.literal_eval(value.strip())
                except (ValueError, SyntaxError):
                    return frozenset()
        revision, down = found.get("revision"), found.get("down_revision")
        if not isinstance(revision, str):
            return frozenset()
        revisions.add(revision)
        if isinstance(down, str):
            below.add(down)
        elif isinstance(down, tuple):  # a merge
            below.update(str(d) for d in down)
        elif down is not None:
            return frozenset()
    return frozenset(revisions - below)


def is_current(connection: Connection) -> bool:
    """Whether the database already stands at the newest migrations (what Alembic's upgrade would find)."""
    heads = head_revisions()
    if not heads or not inspect(connection).has_table("alembic_version"):
        return False
    stored = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    return set(stored) == heads


def upgrade(connection: Connection) -> None:
    """Bring the schema to the newest migration (Alembic) on an open connection. A database already
    there is left without loading Alembic (about 11 MB a running bot would keep for nothing)."""
    if is_current(connection):
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


def upgrade_locked(connection: Connection, wait_seconds: float) -> None:
    """:func:`upgrade` inside the caller's transaction, holding the migration advisory lock (PostgreSQL).

    The lock is a transaction lock: it is released by the commit that makes the new schema visible, so a
    process that waited for it finds the schema current and runs no migration. ``lock_timeout`` bounds the
    wait for it (and for any table a migration locks) without polling."""
    millis = max(int(wait_seconds * 1000), 1)
    connection.exec_driver_sql(f"SET LOCAL lock_timeout = {millis}")
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    upgrade(connection)
