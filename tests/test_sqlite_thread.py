"""database/sqlite_thread.py: one connection, kept warm, handed to each unit outside any transaction; after
close, work fails at once (on both backends, through database/engine.py)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text

from database.engine import Database
from database.errors import DatabaseClosed
from database.sqlite_thread import SQLiteThread


def inserting(value: str):  # type: ignore[no-untyped-def]
    """A unit that commits one row of ``t``."""

    def write(conn: Connection) -> None:
        with conn.begin():
            conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})

    return write


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite:///{tmp_path / 'unit.db'}", connect_args={"check_same_thread": False})
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    yield engine
    engine.dispose()


async def test_every_unit_runs_on_one_connection_in_order(engine) -> None:  # type: ignore[no-untyped-def]
    worker = SQLiteThread(engine)
    seen: list[tuple[int, str]] = []

    def unit(n: int):  # type: ignore[no-untyped-def]
        def run(conn: Connection) -> int:
            seen.append((n, threading.current_thread().name))
            return id(conn.connection.driver_connection)

        return run

    ids = await asyncio.gather(*(worker.run(unit(n)) for n in range(20)))
    assert len(set(ids)) == 1  # the same driver connection every time: its page cache stays warm
    assert [n for n, _ in seen] == list(range(20))  # in the order handed over
    assert {name for _, name in seen} == {"kindred-sqlite"}
    await worker.close()


async def test_a_transaction_left_open_is_rolled_back_before_the_next_unit(engine) -> None:  # type: ignore[no-untyped-def]
    worker = SQLiteThread(engine)

    def sloppy(conn: Connection) -> None:
        conn.execute(text("INSERT INTO t (v) VALUES ('never committed')"))  # no begin(), no commit

    def raw(conn: Connection) -> None:  # straight to the driver, beside SQLAlchemy
        conn.connection.driver_connection.execute("INSERT INTO t (v) VALUES ('raw, never committed')")

    def count(conn: Connection) -> tuple[bool, list[str]]:
        # Handed over outside any transaction, SQLAlchemy's or the driver's.
        clean = not conn.in_transaction() and not conn.connection.driver_connection.in_transaction
        rows = [r[0] for r in conn.execute(text("SELECT v FROM t ORDER BY id"))]
        return clean, rows

    await worker.run(sloppy)
    assert (await worker.run(count))[0]
    await worker.run(raw)
    await worker.run(inserting("kept"))
    clean, rows = await worker.run(count)
    assert clean
    assert rows == ["kept"]
    with engine.connect() as other:  # and another connection sees the same
        assert [r[0] for r in other.execute(text("SELECT v FROM t"))] == ["kept"]
    await worker.close()


async def test_errors_reach_their_caller_and_the_thread_goes_on(engine) -> None:  # type: ignore[no-untyped-def]
    worker = SQLiteThread(engine)

    def broken(conn: Connection) -> None:
        with conn.begin():
            conn.execute(text("INSERT INTO t (v) VALUES ('rolled back')"))
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await worker.run(broken)
    assert await worker.run(lambda conn: conn.execute(text("SELECT count(*) FROM t")).scalar()) == 0
    await worker.close()


async def test_a_unit_cancelled_before_it_starts_does_not_run(engine) -> None:  # type: ignore[no-untyped-def]
    worker = SQLiteThread(engine)
    gate = threading.Event()
    ran: list[str] = []

    def blocker(_conn: Connection) -> None:
        gate.wait(30)
        ran.append("blocker")

    def later(_conn: Connection) -> None:
        ran.append("later")

    first = worker.run(blocker)
    second = worker.run(later)
    second.cancel()
    gate.set()
    await first
    await worker.run(lambda _conn: None)  # everything queued before it has been dealt with
    assert ran == ["blocker"]
    await worker.close()


async def test_a_closed_connection_is_replaced(engine) -> None:  # type: ignore[no-untyped-def]
    worker = SQLiteThread(engine)
    first = await worker.run(lambda conn: conn)  # kept, so its id cannot be reused

    def close_it(conn: Connection) -> None:
        conn.close()

    await worker.run(close_it)
    second, one = await worker.run(lambda conn: (conn, conn.execute(text("SELECT 1")).scalar()))
    assert one == 1 and second is not first and first.closed
    await worker.close()


async def test_close_runs_what_was_queued_then_ends_the_thread(engine) -> None:  # type: ignore[no-untyped-def]
    worker = SQLiteThread(engine, name="kindred-sqlite-closing")  # a name no other thread has
    assert any(t.name == "kindred-sqlite-closing" for t in threading.enumerate())
    pending = worker.run(inserting("before close"))
    disposed: list[bool] = []
    await worker.close(lambda: disposed.append(True))
    assert pending.done() and pending.exception() is None
    assert disposed == [True]
    assert not any(t.name == "kindred-sqlite-closing" and t.is_alive() for t in threading.enumerate())
    with engine.connect() as other:
        assert other.execute(text("SELECT v FROM t")).scalar() == "before close"


async def test_a_unit_asked_after_close_fails_at_once(engine) -> None:  # type: ignore[no-untyped-def]
    worker = SQLiteThread(engine)
    queued = worker.run(inserting("queued before close"))
    closing = asyncio.ensure_future(worker.close())
    await asyncio.sleep(0)  # close() has begun: the thread takes no new unit
    with pytest.raises(DatabaseClosed):
        worker.run(inserting("too late"))  # raised by the call itself: nothing to wait on
    await closing
    assert queued.done() and queued.exception() is None  # what was queued before still ran
    with pytest.raises(DatabaseClosed, match="closed"):
        worker.run(lambda _conn: None)
    await worker.close()  # a second close returns (the thread has ended)
    with engine.connect() as other:
        assert [r[0] for r in other.execute(text("SELECT v FROM t"))] == ["queued before close"]


async def test_a_unit_left_in_the_queue_at_the_threads_end_is_failed(engine) -> None:  # type: ignore[no-untyped-def]
    # The queue's order is what close() relies on; were a unit ever put behind the end mark, its caller
    # would be told, not left waiting.
    worker = SQLiteThread(engine)
    loop = asyncio.get_running_loop()
    stray: asyncio.Future[None] = loop.create_future()
    await worker.close()
    worker._jobs.put((loop, stray, lambda _conn: None))
    worker._fail_left_over()
    with pytest.raises(DatabaseClosed):
        await stray


async def test_the_database_raises_after_close_on_either_backend(db_url: str) -> None:
    db = Database(db_url)
    await db.open()
    assert await db.scalar(text("SELECT 1")) == 1
    await db.close()
    assert db.closed
    with pytest.raises(DatabaseClosed):
        await db.scalar(text("SELECT 1"))
    with pytest.raises(DatabaseClosed):
        await db.write_shared(lambda conn: conn.execute(text("SELECT 1")))
    with pytest.raises(DatabaseClosed):
        await db.run_trip(lambda conn: None)
    await db.close()  # a second close is harmless
