"""Alembic environment. Kindred runs migrations itself at start-up (see ``database.store.upgrade``),
handing over an open connection; the ``alembic`` CLI works too via alembic.ini and DATABASE_URL."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import create_async_engine

# a feature package keeps its own tables (bot/features/polls/tables.py): the registered features put theirs
import bot.features  # noqa: F401  (registers the features' own tables on Base)
import database.alive_models  # noqa: F401  (registers the alive tables on Base)
import database.library_models  # noqa: F401  (registers personaflow's and the cluster's tables on Base)
import database.mcp  # noqa: F401  (registers the mcp_servers table on Base)
import database.owed  # noqa: F401  (registers the owed_replies table on Base)
import database.reminders  # noqa: F401  (registers the reminders table on Base)
import database.server_models  # noqa: F401  (registers the server tools' tables on Base)
import database.swipes  # noqa: F401  (registers the swipes table on Base)
from database.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs batch mode for ALTERs
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_cli() -> None:
    url = os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database to migrate: set DATABASE_URL (or sqlalchemy.url in alembic.ini)")
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_cli())
