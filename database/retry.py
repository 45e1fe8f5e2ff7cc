"""Retrying a unit of work through a transient database failure: PostgreSQL restarted or its connections
cut (the first statement on a dead connection fails; reconnecting fails until the server is back), or SQLite's
``database is locked`` when another process holds the write lock longer than the busy timeout.

A unit of work is one transaction (database/engine.py): a failed one rolled back, so running it again is
safe; the per-message writes are idempotent anyway (ON CONFLICT DO NOTHING on the message id). Only a
connection lost during COMMIT itself is ambiguous, and the log's idempotent inserts make even that harmless.
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
# What a connection the server cut, or one stuck mid-protocol, says when it is used.
_DEAD_TEXT = (
    "terminating connection", "connection is closed", "connection was closed", "connection reset",
    "server closed the connection", "connection does not exist", "another operation",
)
_DEAD_TYPES = ("ConnectionDoesNotExistError", "AdminShutdownError", "ConnectionResetError")
# What waits for the server or a lock: reconnecting while it restarts, SQLite's write lock.
_TRANSIENT_TEXT = (
    "database is locked", "database is busy", "database table is locked",
    "not currently accepting connections", "the database system is", "connection refused",
    "cannot connect now",
)
_TRANSIENT_TYPES = ("CannotConnectNowError", "ConnectionFailureError", "ConnectionRefusedError")


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps (SQLAlchemy's ``orig``, causes, contexts)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return seen


def _says(exc: BaseException, types: tuple[str, ...], texts: tuple[str, ...]) -> bool:
    for current in _chain(exc):
        if type(current).__name__ in types:
            return True
        text = str(current).lower()
        if any(t in text for t in texts):
            return True
    return False


def dead_connection(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection it ran on is unusable for good (cut by the server, or stuck), so
    it must not go back to the pool."""
    return _says(exc, _DEAD_TYPES, _DEAD_TEXT)


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` is an outage or a lock that passes, rather than a bug or bad data."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if any(isinstance(e, ConnectionError) for e in _chain(exc)):
        return True
    return dead_connection(exc) or _says(exc, _TRANSIENT_TYPES, _TRANSIENT_TEXT)


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
