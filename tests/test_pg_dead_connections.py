"""PostgreSQL's dead pooled connections are discarded, not handed out again (database/retry.py).

Two moments after the server cuts its connections (a restart, ``pg_terminate_backend``):
- the goodbye read, the end of the stream not yet: asyncpg refuses any statement on such a connection
  ("another operation (2) is in progress") without calling it closed. A unit of work that meets one must
  go on, on another connection, on both ways a statement runs (a repository's unit of work on the sync
  connection, and the database's own async execute). The CI failure this guards: a reply's log write gave
  up on that error.
- both read: the pool's checkout replaces the closed connections before use, so the first unit of work
  after an outage does not fail once per dead connection, each time with a retry's backoff.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import pytest
from sqlalchemy import Integer, event, literal, select
from sqlalchemy.engine import make_url

from database.engine import Database
from tests.fakes.postgres_goodbye import PostgresRelay

POOLED = 3


def _postgres(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's connections")


async def _fill_pool(db: Database) -> None:
    """``POOLED`` connections opened at once and left idle in the pool."""
    gate = asyncio.Event()
    entered = 0

    def hold(conn: Any) -> Any:
        return conn.execute(select(literal(0, Integer))).first()

    async def one() -> None:
        nonlocal entered
        async with db.engine.connect() as conn:
            entered += 1
            if entered == POOLED:
                gate.set()
            await gate.wait()
            await conn.run_sync(hold)

    await asyncio.gather(*(one() for _ in range(POOLED)))


@pytest.mark.parametrize("way", ["prepared", "execute"])
async def test_a_connection_holding_the_servers_goodbye_is_discarded(
        db_url: str, way: str, caplog: pytest.LogCaptureFixture) -> None:
    _postgres(db_url)
    url = make_url(db_url)
    relay = PostgresRelay(url.host or "127.0.0.1", url.port or 5432)
    port = await relay.start()
    db = Database(url.set(port=port).render_as_string(hide_password=False), retry_seconds=20)
    try:
        await _fill_pool(db)
        assert relay.connections == POOLED
        await relay.goodbye()
        await relay.wait_read()
        caplog.set_level(logging.WARNING, logger="database.retry")
        for n in range(1, POOLED + 2):  # more units than dead connections: every one is met and dropped
            if way == "prepared":
                # a unit of work on the sync connection (the repositories' way)
                row = await db.read(lambda conn, n=n: conn.execute(  # type: ignore[misc]
                    select(literal(n, Integer))).first())
            else:
                row = await db.first(select(literal(n, Integer)))
            assert row is not None and row[0] == n
        assert any("another operation" in r.getMessage() for r in caplog.records), \
            "no unit of work met a connection holding the goodbye: the test proves nothing"
        assert relay.connections >= 1  # the units ran on new connections, the held sockets still open
    finally:
        await relay.release()
        await db.engine.dispose()
        await relay.close()


async def test_closed_pooled_connections_are_replaced_at_checkout(
        db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    _postgres(db_url)
    db = Database(db_url, retry_seconds=20)
    opened: list[Any] = []
    ended = asyncio.Event()

    def lost(_conn: Any) -> None:
        if all(c.driver_connection.is_closed() for c in opened[:POOLED]):
            ended.set()

    def connected(dbapi_conn: Any, _record: Any) -> None:
        opened.append(dbapi_conn)
        dbapi_conn.driver_connection.add_termination_listener(lost)

    event.listen(db.engine.sync_engine, "connect", connected)
    try:
        await _fill_pool(db)
        assert len(opened) == POOLED
        pids = [c.driver_connection.get_server_pid() for c in opened]
        url = make_url(db_url)
        admin = await asyncpg.connect(host=url.host or "127.0.0.1", port=url.port or 5432,
                                      user=url.username or "postgres", database=url.database)
        try:
            terminate = "SELECT bool_and(pg_terminate_backend(pid)) FROM unnest($1::int[]) pid"
            assert await admin.fetchval(terminate, pids)
        finally:
            await admin.close()
        await asyncio.wait_for(ended.wait(), 30)  # asyncpg has read each connection's end
        caplog.set_level(logging.WARNING, logger="database.retry")
        for _ in range(POOLED + 1):
            assert await db.read(lambda conn: conn.execute(select(literal(0, Integer))).scalar()) == 0
            assert await db.scalar(select(literal(5, Integer))) == 5
        retries = [r.getMessage() for r in caplog.records if r.name == "database.retry"]
        assert not retries, f"a dead pooled connection was used: {retries}"
        assert len(opened) > POOLED
    finally:
        await db.engine.dispose()
