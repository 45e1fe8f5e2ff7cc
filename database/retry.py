"""Retrying a unit of work through a transient database failure: PostgreSQL restarted or its connections
cut (the first statement on a dead connection fails; reconnecting fails until the server is back), or SQLite's
``database is locked`` when another process holds the write lock longer than the busy timeout.

A unit of work is one transaction (database/engine.py): a failed one rolled back, so running it again is
safe; the per-message writes are idempotent anyway (ON CONFLICT DO NOTHING on the message id). Only a
connection lost during COMMIT itself is ambiguous, and the log's idempotent inserts make even that harmless.

A dead connection is not handed out again: the pool's checkout replaces one asyncpg knows is closed
(database/engine.py), and asyncpg closes one a statement found stuck. Stuck: right after PostgreSQL says
goodbye (FATAL 57P01) and before the end of the stream is read, an idle asyncpg connection refuses any
statement ("cannot switch to state 12; another operation (2) is in progress") though it does not call itself
closed yet; the unit is run again, on another connection.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)
RETRY_SECONDS = 30.0
FIRST_DELAY = 0.05
MAX_DELAY = 1.0
_TRANSIENT_TEXT = (
    "database is locked", "database is busy", "database table is locked",
    "not currently accepting connections", "terminating connection", "the database system is",
    "connection is closed", "connection was closed", "connection refused", "connection reset",
    "server closed the connection", "cannot connect now", "connection does not exist",
    "another operation",  # asyncpg's connection stuck after the server's goodbye (above)
)
_TRANSIENT_TYPES = ("ConnectionDoesNotExistError", "CannotConnectNowError", "ConnectionFailureError",
                    "AdminShutdownError", "ConnectionRefusedError", "ConnectionResetError")


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` is an outage or a lock that passes, rather than a bug or bad data."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__name__ in _TRANSIENT_TYPES or isinstance(current, ConnectionError):
            return True
        text = str(current).lower()
        if any(t in text for t in _TRANSIENT_TEXT):
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


class Retry:
    """The attempts at one unit of work, retried with backoff while it fails transiently, for at most
    ``budget`` seconds. The caller runs the unit itself and tells this object how each attempt ended (no
    callback: the unit of work stays in its own module)::

        retry = None  # made at the first failure: a unit that succeeds at once needs none
        while True:
            try:
                result = await unit()
            except Exception as exc:
                retry = retry or Retry(budget)
                if await retry.again(exc):
                    continue
                raise
            if retry is not None:
                retry.done()
            return result
    """

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self.deadline: float | None = None
        self.delay = FIRST_DELAY
        self.attempts = 0

    async def again(self, exc: Exception) -> bool:
        """After a failed attempt: True once the backoff is waited and the unit should run again; False
        when ``exc`` is no passing failure or the budget is spent (the caller raises it)."""
        if not transient(exc):
            return False
        now = time.monotonic()
        self.deadline = self.deadline if self.deadline is not None else now + self.budget
        if now >= self.deadline:
            log.error("database still unavailable after %gs; giving up this unit of work: %s",
                      self.budget, exc)
            return False
        self.attempts += 1
        if self.attempts == 1:
            log.warning("database unavailable (%s: %s); retrying for up to %gs", type(exc).__name__,
                        str(exc).splitlines()[0][:200] if str(exc) else "", self.budget)
        await asyncio.sleep(min(self.delay, max(self.deadline - now, 0.0)))
        self.delay = min(self.delay * 2, MAX_DELAY)
        return True

    def done(self) -> None:
        """The attempt succeeded."""
        if self.attempts:
            log.warning("database available again after %d retries", self.attempts)
