"""Shared trips (database/trips.py) and the log's linger (database/log.py), on each backend: small units made
at the same moment share one transaction, a failing one never takes the others down, and a message someone
waits on is never held back for company."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, event, select, text, update

from database.log import GroupCommit
from database.models import GlobalState, User, utcnow
from database.records import SeenMessage
from database.store import Store
from tests.dbtools import logged_count


def seen(i: int, author: int = 5) -> SeenMessage:
    return SeenMessage(i, 10, 1, author, f"user{author}", False, False, f"message {i}", datetime.now(UTC))


def count_commits(store: Store) -> list[int]:
    """A list whose length is the number of transactions committed on ``store``'s own connections."""
    commits: list[int] = []
    for engine in store.db.sync_engines:
        event.listen(engine, "commit", lambda _conn: commits.append(1))
    return commits


async def three_users(store: Store) -> Callable[[int], Any]:
    """Users 1 to 3, and the unit that stamps one's last interaction."""
    for user in (1, 2, 3):
        await store.people.ensure_user(user, f"user{user}", False)
    now = utcnow()

    def stamp(user: int) -> Any:
        return lambda conn: conn.execute(update(User).where(User.id == user).values(last_interaction=now))

    return stamp


async def test_writes_made_together_share_one_commit(store: Store) -> None:
    stamp = await three_users(store)
    commits = count_commits(store)
    await asyncio.gather(*(store.db.write_shared(stamp(u)) for u in (1, 2, 3)),
                         store.state.set("daily_mood", "calm"))
    assert len(commits) == 1
    for user in (1, 2, 3):
        assert await store.people.last_interaction(user) is not None
    assert await store.state.get("daily_mood") == "calm"


async def test_units_from_tasks_started_on_the_same_turn_share_the_trip(store: Store) -> None:
    """After a reply the listeners are gathered (each a task) and one saves in a task of its own: their units
    reach the trips a turn after the first one's. They still share its transaction: one commit."""
    stamp = await three_users(store)
    commits = count_commits(store)

    async def later(user: int) -> None:  # like Feelings.save: the write made from a task it starts
        await asyncio.create_task(store.db.write_shared(stamp(user)))

    async def listener(user: int) -> None:
        await store.db.write_shared(stamp(user))

    await asyncio.gather(listener(1), later(2), asyncio.gather(later(3)))
    assert len(commits) == 1
    for user in (1, 2, 3):
        assert await store.people.last_interaction(user) is not None


async def test_a_failing_unit_fails_alone(store: Store) -> None:
    """The shared transaction is rolled back whole; every unit then runs alone and gets its own outcome."""
    await store.people.ensure_user(1, "one", False)

    def broken(conn: Connection) -> None:
        conn.execute(text("INSERT INTO no_such_table VALUES (1)"))

    results = await asyncio.gather(
        store.state.set("before", "kept"),
        store.db.write_shared(broken),
        store.state.set("after", "kept too"),
        store.db.read_shared(lambda conn: conn.execute(select(User.name).where(User.id == 1)).scalar()),
        return_exceptions=True)
    assert results[0] is None and results[2] is None and results[3] == "one"
    assert isinstance(results[1], Exception) and "no_such_table" in str(results[1])
    assert await store.state.get("before") == "kept"
    assert await store.state.get("after") == "kept too"


async def test_a_failing_read_does_not_spoil_the_reads_after_it(store: Store) -> None:
    await store.state.set("mood", "bright")

    def bad(conn: Connection) -> None:
        conn.execute(text("SELECT * FROM no_such_table")).all()

    def mood(conn: Connection) -> str:
        return str(conn.execute(select(GlobalState.value).where(GlobalState.key == "mood")).scalar())

    results = await asyncio.gather(store.db.read_shared(bad), store.db.read_shared(mood),
                                   store.db.write_shared(lambda conn: None), return_exceptions=True)
    assert isinstance(results[0], Exception)
    assert results[1] == "bright"


async def test_a_caller_sees_its_write_committed(store: Store) -> None:
    """The result comes back only after the commit: a read made afterwards, anywhere, sees it."""
    await store.state.set("a", "1")
    assert await store.db.read(lambda conn: conn.execute(
        select(GlobalState.value).where(GlobalState.key == "a")).scalar()) == "1"


async def test_the_database_closes_after_the_shared_units_in_flight(db_url: str) -> None:
    store = await Store(db_url).open()
    writes = [asyncio.ensure_future(store.state.set(f"k{i}", "v")) for i in range(5)]
    await asyncio.sleep(0)  # handed over, not yet run
    await store.close()
    assert all(w.done() and w.exception() is None for w in writes)
    again = await Store(db_url).open()
    assert {k for k, _ in await again.state.all()} >= {f"k{i}" for i in range(5)}
    await again.close()


async def test_chatter_lingers_but_a_message_someone_waits_on_does_not(store: Store) -> None:
    """With a linger far longer than the test may take, chatter in a busy place waits for company; an urgent
    write (a reply certain) goes at once and takes the waiting chatter with it, in one commit."""
    batches: list[int] = []

    async def write(entries: Any, reads: Any) -> list[None]:
        batches.append(len(entries))
        await asyncio.gather(*(store.log.log_message(m, display, owed_by=owed)
                               for m, display, owed in entries))
        return [None] * len(entries)

    group = GroupCommit(write, linger=3600.0)
    # A quiet place: the first message, chatter or not, goes at once.
    await asyncio.wait_for(group.write((seen(1), "user5", None), None, urgent=False), timeout=60)
    assert batches == [1]
    # Now busy (a batch just went out): chatter waits for company.
    chatter = [asyncio.ensure_future(group.write((seen(i), "user5", None), None, urgent=False))
               for i in (2, 3)]
    # Both are in, waiting together: a few turns of the loop, in which a flusher that did not linger would
    # have written them.
    for _ in range(5):
        await asyncio.sleep(0)
    assert batches == [1] and not any(c.done() for c in chatter)
    await asyncio.wait_for(group.write((seen(4), "user5", None), None, urgent=True), timeout=60)
    await asyncio.gather(*chatter)
    assert batches == [1, 3]
    assert await logged_count(store) == 4


async def test_without_a_linger_chatter_is_written_at_once() -> None:
    batches: list[int] = []

    async def write(entries: Any, reads: Any) -> list[None]:
        batches.append(len(entries))
        return [None] * len(entries)

    group = GroupCommit(write, linger=0.0)
    await group.write((seen(1), "user5", None), None, urgent=False)
    assert batches == [1]


async def test_postgresql_connections_are_open_before_the_first_message(store: Store) -> None:
    """Opening one costs the event loop milliseconds: the first burst after a start must not pay for it."""
    from database.engine import WARM_CONNECTIONS

    if store.db.is_sqlite:
        return  # one connection on the database thread: nothing to open ahead
    assert store.db.engine.pool.checkedin() >= WARM_CONNECTIONS  # type: ignore[attr-defined]


async def test_postgresql_reads_after_a_trips_commit_run_outside_a_transaction(store: Store) -> None:
    """The reads of a trip run after its commit as a read alone does, with no BEGIN and ROLLBACK around them
    (two round trips saved; at READ COMMITTED each statement has its own snapshot anyway). They still see the
    trip's writes, and the connection goes back to the pool transactional again: the next write unit on it
    runs inside a transaction."""
    if store.db.is_sqlite:
        return  # SQLite's reads begin no transaction of their own (pysqlite)

    def in_transaction(conn: Connection) -> bool:
        # A transaction-local setting outlives its statement only inside a transaction block.
        conn.execute(text("SELECT set_config('kindred.probe', 'set', true)")).all()
        return conn.execute(text("SELECT current_setting('kindred.probe', true)")).scalar() == "set"

    def read(conn: Connection) -> tuple[bool, str | None]:
        value = conn.execute(select(GlobalState.value).where(GlobalState.key == "trip")).scalar()
        return in_transaction(conn), value

    assert await store.db.write(in_transaction)  # the probe tells a transaction from none
    assert not await store.db.read(in_transaction)
    _, (inside, value) = await asyncio.gather(store.state.set("trip", "written"), store.db.read_shared(read))
    assert not inside and value == "written"
    # The pool hands out its most recently returned connection first (LIFO): the one the trip used.
    assert await store.db.write(in_transaction)
