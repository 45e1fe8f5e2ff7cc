"""Processes of one cluster started together migrate one at a time (PostgreSQL advisory lock; issue 29).

Two real processes run main.py's `cluster status` (which opens the database as the bot does:
``Store.open()`` -> ``Database.open()``), released at one barrier on a fresh PostgreSQL database, ten rounds
for an empty database and ten for one a migration behind: both must connect every time. A process that
cannot get the migration lock says so in one line and exits 1. PostgreSQL only (SQLite is one process).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from database.engine import MIGRATION_LOCK_KEY, MIGRATIONS

BASE = os.environ.get("TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(not BASE.startswith("postgresql"),
                                reason="the migration lock is PostgreSQL's (TEST_DATABASE_URL)")
ROUNDS = 10
# The newest migration and the one before it, read from the migrations themselves (a new one moves both).
_SCRIPTS = ScriptDirectory(str(MIGRATIONS))
HEAD = _SCRIPTS.get_current_head()
BEHIND = _SCRIPTS.get_revision(HEAD).down_revision
PROCESS_TIMEOUT = 120  # a bound for a hung process, never reached when it works


def _ctx() -> multiprocessing.context.ForkServerContext:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.migration_child"])  # no effect if the forkserver already runs
    return ctx


async def _admin(sql: str, database: str = "postgres") -> None:
    import asyncpg

    u = make_url(BASE)
    conn = await asyncpg.connect(host=u.host or "127.0.0.1", port=u.port or 5432,
                                 user=u.username or "postgres", password=u.password, database=database)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def fresh_db() -> Iterator[list[str]]:
    """Makes fresh databases on demand (``new()``); drops them all at the end."""
    names: list[str] = []
    yield names
    for name in names:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _new_database(names: list[str], template: str = "") -> str:
    """A fresh database (``template``: a copy of that one, as PostgreSQL copies a database's files)."""
    name = f"kindred_mig_{uuid.uuid4().hex[:12]}"
    copied = f' TEMPLATE "{make_url(template).database}"' if template else ""
    asyncio.run(_admin(f'CREATE DATABASE "{name}"{copied}'))
    names.append(name)
    return make_url(BASE).set(database=name).render_as_string(hide_password=False)


def _migrate_to(url: str, revision: str) -> None:
    """Bring a database to ``revision`` with Alembic, as an older Kindred would have left it."""
    from sqlalchemy.ext.asyncio import create_async_engine

    async def go() -> None:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: _upgrade(c, revision))
        await engine.dispose()

    asyncio.run(go())


def _upgrade(conn: Connection, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


async def _head_of(url: str) -> str:
    import asyncpg

    u = make_url(url)
    conn = await asyncpg.connect(host=u.host or "127.0.0.1", port=u.port or 5432,
                                 user=u.username or "postgres", password=u.password, database=u.database)
    try:
        return str(await conn.fetchval("SELECT version_num FROM alembic_version"))
    finally:
        await conn.close()


def _race(url: str, tmp_path: Path, round_no: int) -> None:
    """Two processes released at one barrier on ``url``; both must exit 0 (connected, status printed)."""
    ctx = _ctx()
    from tests.migration_child import run_main

    barrier = ctx.Barrier(2)
    outs = [tmp_path / f"round{round_no}-{i}.log" for i in range(2)]
    procs = [ctx.Process(target=run_main, args=(url, barrier, str(out))) for out in outs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(PROCESS_TIMEOUT)
    for p, out in zip(procs, outs, strict=True):
        text = out.read_text(errors="replace")
        assert p.exitcode == 0, f"round {round_no}: a process exited {p.exitcode}:\n{text[-3000:]}"
        assert "Traceback" not in text, text[-3000:]


def test_two_processes_started_together_on_an_empty_database_both_connect(
        fresh_db: list[str], tmp_path: Path) -> None:
    for round_no in range(ROUNDS):
        url = _new_database(fresh_db)
        _race(url, tmp_path, round_no)
        assert asyncio.run(_head_of(url)) == HEAD


def test_two_processes_started_together_one_migration_behind_both_connect(
        fresh_db: list[str], tmp_path: Path) -> None:
    # one database brought to BEHIND by Alembic, copied for each round: every round starts from the same
    # database an older Kindred left, without running the migrations before it again
    behind = _new_database(fresh_db)
    _migrate_to(behind, BEHIND)
    for round_no in range(ROUNDS):
        url = _new_database(fresh_db, template=behind)
        assert asyncio.run(_head_of(url)) == BEHIND
        _race(url, tmp_path, round_no)
        assert asyncio.run(_head_of(url)) == HEAD


def test_a_migration_that_never_ends_is_one_line_and_exit_1(fresh_db: list[str], tmp_path: Path) -> None:
    """Another holder of the lock (a stuck migration): the process waits its time, then says which
    database and what it waited for, in one line, without a traceback or the password."""
    import asyncpg

    url = _new_database(fresh_db)
    u = make_url(url)

    async def scenario() -> tuple[int | None, str]:
        holder = await asyncpg.connect(host=u.host or "127.0.0.1", port=u.port or 5432,
                                       user=u.username or "postgres", password=u.password,
                                       database=u.database)
        try:
            await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
            ctx = _ctx()
            from tests.migration_child import run_main

            out = tmp_path / "stuck.log"
            proc = ctx.Process(target=run_main, args=(url, None, str(out), 1.0))
            proc.start()
            await asyncio.to_thread(proc.join, PROCESS_TIMEOUT)
            return proc.exitcode, out.read_text(errors="replace")
        finally:
            await holder.close()

    code, text = asyncio.run(scenario())
    assert code == 1, text
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if line.startswith("database error:")]
    assert len(lines) == 1, text
    line = lines[0]
    safe = make_url(url).render_as_string(hide_password=True)
    assert safe in line and "waited 1s" in line and str(MIGRATION_LOCK_KEY) in line, line
    if u.password:
        assert u.password not in text
