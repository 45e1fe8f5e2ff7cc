"""The SQLite thread: one thread that owns one connection and runs every unit of work on it, in order.

Why not a one-thread ThreadPoolExecutor with a connection from the pool per unit (what this replaces):

* **The connection stays warm.** SQLAlchemy's pool hands its connections out first in, first out. With a
  second one in it (the background checkpoint's), each unit got the connection that had not seen the last
  write, and SQLite drops a connection's page cache when another has written since: every unit read its
  pages again from disk, about 60 reads a reply. One connection that only this thread uses keeps its cache.
* **Fewer wake-ups of the event loop.** Each result woke the loop on its own (a write to its self-pipe,
  tens of microseconds of CPU on a VM, paid by both threads). Results that are ready together are handed
  over with one wake-up, and a unit is queued without the executor's work item, lock and future chain.

A unit whose awaiting future is cancelled before it starts does not run (as with ``run_in_executor``); one
that has started runs to its end, and its transaction commits or rolls back as it would have.

Once ``close()`` is called, ``run()`` raises :class:`DatabaseClosed` at once: a caller that outlived the
shutdown fails instead of waiting forever on a thread that has ended. Units queued before the close still
run; any unit found in the queue after the thread's end (there should be none) is failed the same way.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from database.errors import DatabaseClosed

log = logging.getLogger(__name__)
T = TypeVar("T")

# A unit: the loop and future that wait for it, and what to run with the connection. Units of every result
# type share one queue (a future's type is its function's, which the queue cannot say): hence Any.
_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[Connection], Any]]
# A finished unit on its way back: its future, whether it returned, and its value or error.
_Outcome = tuple["asyncio.Future[Any]", bool, Any]


class SQLiteThread:
    def __init__(self, engine: Engine, name: str = "kindred-sqlite") -> None:
        self._engine = engine
        self._conn: Connection | None = None
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        # Finished units per waiting loop, not yet handed over; a loop is in here while a hand-over to it
        # is scheduled (so one wake-up carries every result finished before it runs).
        self._done: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        self._lock = threading.Lock()
        # Set by close() under _lock: run() checks it under the same lock, so no unit is queued after the
        # thread's last one.
        self._closed = False
        # A daemon: a Database nobody closed (a failed test) never holds the interpreter's exit.
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def run(self, fn: Callable[[Connection], T]) -> asyncio.Future[T]:
        """``fn(connection)`` on the thread; the future is settled with what it returns or raises.

        ``fn`` manages its transaction (``with conn.begin()``); whatever it leaves open is rolled back, so
        the connection is always handed to the next unit outside any transaction (a read's snapshot held
        open would also keep the checkpoints from finishing)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._lock:
            if self._closed:
                raise DatabaseClosed("the SQLite thread")
            self._jobs.put((loop, future, fn))
        return future

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self, last: Callable[[], object] | None = None) -> None:
        """Close the connection, then run ``last`` (say, disposing of the engine) on the thread, and end
        it once the units queued before have run."""
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[None] = loop.create_future()

        def closing(_conn: Connection) -> None:
            self._close_connection()
            if last is not None:
                last()

        with self._lock:
            first = not self._closed
            if first:
                self._closed = True
                self._jobs.put((loop, ended, closing))
                self._jobs.put(None)
        if not first:  # a second close waits for the first's end
            await asyncio.to_thread(self._thread.join)
            return
        try:
            await ended
        finally:
            await asyncio.to_thread(self._thread.join)

    # -- on the thread

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, future, fn = job
            if future.cancelled():  # its caller gave up before it started: nothing was done
                continue
            try:
                outcome: _Outcome = (future, True, self._unit(fn))
            except BaseException as exc:  # handed to the caller, who sees it as its own
                outcome = (future, False, exc)
            self._hand_over(loop, outcome)
        self._fail_left_over()

    def _fail_left_over(self) -> None:
        """Fail whatever is still queued at the thread's end, so no caller waits on it forever."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                loop, future, _fn = job
                self._hand_over(loop, (future, False, DatabaseClosed("the SQLite thread")))

    def _unit(self, fn: Callable[[Connection], T]) -> T:
        conn = self._conn
        if conn is None:  # the first unit, or the one after a connection was closed or broke (_reset)
            conn = self._conn = self._engine.connect()
        try:
            return fn(conn)
        finally:
            self._reset(conn)

    def _reset(self, conn: Connection) -> None:
        """Hand ``conn`` on outside any transaction, or replace it if it is closed or broken."""
        if conn.closed or conn.invalidated:  # (closing the thread closes it on purpose)
            if self._conn is conn:
                self._close_connection()
            return
        try:
            if conn.in_transaction():
                conn.rollback()
            # What the pool's reset on return did: a statement run on the driver's connection directly
            # (a test's, or a raw call) may have begun a transaction SQLAlchemy does not know of.
            driver = conn.connection.driver_connection
            if driver is not None and driver.in_transaction:
                driver.rollback()
        except Exception:  # a connection that cannot even roll back is replaced for the next unit
            log.warning("SQLite connection reset failed; a new one is opened", exc_info=True)
            self._close_connection()

    def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.debug("closing a broken SQLite connection failed", exc_info=True)

    def _hand_over(self, loop: asyncio.AbstractEventLoop, outcome: _Outcome) -> None:
        with self._lock:
            waiting = self._done.get(loop)
            if waiting is not None:  # a hand-over to that loop is already on its way
                waiting.append(outcome)
                return
            self._done[loop] = [outcome]
        try:
            loop.call_soon_threadsafe(self._settle, loop)
        except RuntimeError:  # that loop is closed: nobody is waiting any more
            with self._lock:
                self._done.pop(loop, None)

    def _settle(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the loop: settle every future finished since the last hand-over."""
        with self._lock:
            outcomes = self._done.pop(loop, [])
        for future, ok, value in outcomes:
            if future.done():  # cancelled while it ran: the work stands, nobody waits for the answer
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
