"""Shared trips: small units of work made at the same moment go to the database together.

After a reply, several listeners each write a little (the interaction count, the writing style, the last
interaction, the model's usage, the feelings) and read a little (the conversation's size, a consent). Alone,
each is a transaction of its own and, on SQLite, a hop to the database thread and back: the commits and hops
cost more CPU than the statements. Units handed to :class:`SharedTrips` in the same turn of the event loop or
the next (or while the previous trip is under way) share one trip: their writes one transaction, in the
order they came, then their reads on the same connection. Each caller still waits for its own result,
returned once committed, so nothing a caller can see changes.

A failure never spreads: when the shared transaction fails (a unit's own error, a deadlock), it is rolled back
whole and every unit of the trip runs again alone, as :meth:`Database.run` would have run it, so each caller
gets its own outcome. Only small, quick units belong here (a long one would hold up the others).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection

from database.retry import Retry

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class _Unit:
    """One caller's unit of work; units of every result type share a trip (its future's type is its
    function's, which the list of units cannot say: hence Any)."""
    fn: Callable[[Connection], Any]
    write: bool
    future: asyncio.Future[Any]
    single: bool = False  # a write of one statement (Database.run)


# A read's outcome on a shared trip: its value, or the error it raised (then it runs again alone).
_Outcome = tuple[bool, Any]


class _Database(Protocol):
    """What a trip needs of database/engine.py's Database."""

    retry_seconds: float

    async def run(self, fn: Callable[[Connection], T], *, write: bool, single: bool = False) -> T: ...

    async def run_trip(self, trip: Callable[[Connection], T], *, writes: bool = True) -> T: ...


class SharedTrips:
    def __init__(self, db: _Database) -> None:
        self.db = db
        self._pending: list[_Unit] = []
        self._flusher: asyncio.Task[None] | None = None

    async def run(self, fn: Callable[[Connection], T], *, write: bool, single: bool = False) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append(_Unit(fn, write, future, single))
        if self._flusher is None or self._flusher.done():
            # A task of its own (started on the next turn of the loop, so the units of this turn join it):
            # a caller cancelled while waiting does not take the others' work down with it.
            self._flusher = loop.create_task(self._flush_loop())
        return await future

    async def drain(self) -> None:
        """Wait until every unit handed over has run (before the database closes)."""
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)

    async def _flush_loop(self) -> None:
        # One turn more before the first trip: a caller that made a unit may also have started tasks this turn
        # (the listeners after a reply, gathered; a save in a task of its own) whose units come on that turn.
        # They then share this trip instead of waiting for the next: on PostgreSQL a BEGIN and a COMMIT
        # less, on SQLite a hop to its thread and a commit less.
        await asyncio.sleep(0)
        while self._pending:
            batch, self._pending = self._pending, []
            if len(batch) == 1:
                await self._alone(batch[0])
            else:
                await self._together(batch)

    async def _alone(self, unit: _Unit) -> None:
        try:
            result = await self.db.run(unit.fn, write=unit.write, single=unit.single)
        except Exception as exc:
            _settle(unit.future, exc=exc)
        else:
            _settle(unit.future, result)

    async def _together(self, batch: list[_Unit]) -> None:
        writes = [u for u in batch if u.write]
        reads = [u for u in batch if not u.write]

        def trip(conn: Connection) -> tuple[list[object], list[_Outcome]]:
            written: list[object] = []
            if writes:
                with conn.begin():  # one transaction: any error rolls back all of it (then each alone)
                    written = [u.fn(conn) for u in writes]
                if reads and conn.dialect.name == "postgresql":
                    # The reads after the commit outside a transaction, as a read alone runs (engine.py): at
                    # READ COMMITTED each statement takes its own snapshot anyway, and the BEGIN and ROLLBACK
                    # around them would be two more round trips to the server. Reset when pooled again.
                    conn.execution_options(isolation_level="AUTOCOMMIT")
            outcomes: list[_Outcome] = []
            for u in reads:
                try:
                    outcomes.append((True, u.fn(conn)))
                except Exception as exc:
                    outcomes.append((False, exc))
                    conn.rollback()  # PostgreSQL: a failed statement spoils the rest of its transaction
            return written, outcomes

        retry: Retry | None = None  # made at the first failure (database/engine.py)
        while True:
            try:
                written, outcomes = await self.db.run_trip(trip, writes=bool(writes))
                if retry is not None:
                    retry.done()
                break
            except Exception as exc:
                retry = retry or Retry(self.db.retry_seconds)
                if await retry.again(exc):
                    continue
                log.debug("a shared trip of %d units failed (%s); each runs alone", len(batch), exc)
                for unit in batch:  # in their order: a later write of the same caller never passes an earlier
                    await self._alone(unit)
                return
        for unit, value in zip(writes, written, strict=True):
            _settle(unit.future, value)
        for unit, (ok, value) in zip(reads, outcomes, strict=True):
            if ok:
                _settle(unit.future, value)
            else:
                await self._alone(unit)  # its own error, retried as a read alone would be


def _settle(future: asyncio.Future[Any], value: Any = None, *, exc: BaseException | None = None) -> None:
    if future.done():  # its caller was cancelled: the work stands, nobody waits for the answer
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(value)
