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
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)
T = TypeVar("T")
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


async def retrying(call: Callable[[], Awaitable[T]], budget: float) -> T:
    """``call()``, again with backoff while it fails transiently, for at most ``budget`` seconds."""
    deadline: float | None = None
    delay = FIRST_DELAY
    attempts = 0
    while True:
        try:
            result = await call()
        except Exception as exc:
            if not transient(exc):
                raise
            now = time.monotonic()
            deadline = deadline if deadline is not None else now + budget
            if now >= deadline:
                log.error("database still unavailable after %gs; giving up this unit of work: %s",
                          budget, exc)
                raise
            attempts += 1
            if attempts == 1:
                log.warning("database unavailable (%s: %s); retrying for up to %gs", type(exc).__name__,
                            str(exc).splitlines()[0][:200] if str(exc) else "", budget)
            await asyncio.sleep(min(delay, max(deadline - now, 0.0)))
            delay = min(delay * 2, MAX_DELAY)
            continue
        if attempts:
            log.warning("database available again after %d retries", attempts)
        return result
