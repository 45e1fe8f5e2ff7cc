"""One bad row never drops the log's batch (issue 49, item 5): names are cleaned in one place (PostgreSQL's
text cannot hold NUL, which webhooks and other bots can send), and when a batch fails for good (not an
outage), each of its entries is written alone, so only the bad one is refused, and logged."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select

from database.models import LoggedMessage, Nickname, User
from database.records import SeenMessage
from database.store import Store

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def said(message_id: int, author: int, name: str, text: str) -> SeenMessage:
    return SeenMessage(message_id, 10, 1, author, name, False, False, text, NOW)


async def logged(store: Store) -> list[int]:
    return sorted(int(r.message_id) for r in await store.db.rows(select(LoggedMessage.message_id)))


async def test_a_name_with_nul_is_cleaned_and_its_neighbours_kept(store: Store) -> None:
    batch = [said(1, 5, "alice", "hi"), said(2, 6, "hook\x00name", "from a webhook"),
             said(3, 7, "bob", "hello"), said(4, 8, "carol", "@Finn are you there?")]
    await asyncio.gather(*(store.log.log_message(m, owed_by="finn" if m.message_id == 4 else None)
                           for m in batch))
    assert await logged(store) == [1, 2, 3, 4]
    assert [o.message_id for o in await store.owed.pending("finn")] == [4]
    names = {int(r.id): r.name for r in await store.db.rows(select(User.id, User.name))}
    assert names[6] == "hook\ufffdname"
    nicks = {r.nickname for r in await store.db.rows(select(Nickname.nickname).where(Nickname.user_id == 6))}
    assert nicks == {"hook\ufffdname"}
    [row] = await store.db.rows(select(LoggedMessage.author_name).where(LoggedMessage.message_id == 2))
    assert row.author_name == "hook\ufffdname"


async def test_a_bad_row_is_refused_alone(store: Store, caplog: Any) -> None:
    """A row the database refuses (here an id out of BIGINT's range) fails only its own write."""
    bad = said(2**63, 6, "mallory", "out of range")
    batch = [said(1, 5, "alice", "hi"), bad, said(3, 7, "bob", "hello"), said(4, 8, "carol", "@Finn hi")]
    caplog.set_level(logging.ERROR)
    results = await asyncio.gather(*(store.log.log_message(m, owed_by="finn" if m.message_id == 4 else None)
                                     for m in batch), return_exceptions=True)
    assert [isinstance(r, Exception) for r in results] == [False, True, False, False]
    assert await logged(store) == [1, 3, 4]
    assert [o.message_id for o in await store.owed.pending("finn")] == [4]
    assert f"message {2**63}" in caplog.text and "refused" in caplog.text


async def test_an_outage_is_not_split_into_single_writes(db_url: str) -> None:
    """A transient failure (the database away) is retried as a batch by the engine, never written row by
    row: the batch fails whole when the outage outlasts the retries."""
    store = await Store(db_url, retry_seconds=0.3).open()  # an outage outlasts a short retry budget
    attempts: list[int] = []  # the messages each attempt at writing the log carried

    def away(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
        if "INSERT INTO message_log" in statement:
            rows = context.compiled_parameters
            ids = rows[0].get("message_id")
            attempts.append(len(ids) if isinstance(ids, list) else len(rows))  # PostgreSQL: one row of arrays
            raise ConnectionResetError("connection reset by peer")

    for engine in store.db.sync_engines:
        event.listen(engine, "before_cursor_execute", away)
    try:
        results = await asyncio.gather(*(store.log.log_message(said(i, 5, "alice", "x")) for i in (1, 2, 3)),
                                       return_exceptions=True)
        assert all(isinstance(r, ConnectionResetError) for r in results)
        assert len(attempts) > 1 and set(attempts) == {3}  # retried by the engine, the three together
    finally:
        for engine in store.db.sync_engines:
            event.remove(engine, "before_cursor_execute", away)
        await store.close()
