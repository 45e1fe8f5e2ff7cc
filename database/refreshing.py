"""A cache of small answers asked for at every message (a place's switch, a server's settings).

An answer is kept ``seconds``. After that it is still served while one read refreshes it in the background:
every channel of a busy server would otherwise find its answer expired at the same moment and wait for the
database together. Callers that find no answer at all share one read. Changes made by this process clear the
cache at once (:meth:`clear`, :meth:`drop`); another process's apply within ``seconds`` and one more message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RefreshingCache(Generic[K, V]):
    def __init__(self, seconds: float, load: Callable[[K], Awaitable[V]], *, limit: int = 10_000) -> None:
        self.seconds = seconds
        self._load = load
        self._limit = limit
        self._answers: dict[K, tuple[V, float]] = {}
        self._reading: dict[K, asyncio.Future[V]] = {}
        self._generation = 0  # moved by every clear or drop: a read begun before it is not kept

    async def get(self, key: K, *, fresh: bool = False) -> V:
        cached = self._answers.get(key)
        if cached is not None and not fresh:
            if time.monotonic() - cached[1] >= self.seconds and key not in self._reading:
                self._read(key).add_done_callback(_quietly)  # served stale meanwhile
            return cached[0]
        reading = self._reading.get(key)
        if reading is None or fresh:
            reading = self._read(key)
        return await asyncio.shield(reading)

    def _read(self, key: K) -> asyncio.Future[V]:
        generation = self._generation

        async def read() -> V:
            try:
                value = await self._load(key)
            finally:
                if self._reading.get(key) is task:
                    del self._reading[key]
            if generation == self._generation:
                if len(self._answers) >= self._limit:  # bounded: one entry per place seen
                    self._answers.clear()
                self._answers[key] = (value, time.monotonic())
            return value

        task = asyncio.ensure_future(read())
        self._reading[key] = task
        return task

    def holds(self, key: K) -> bool:
        """Whether an answer for ``key`` is kept (fresh or not)."""
        return key in self._answers

    def drop(self, key: K) -> None:
        self._answers.pop(key, None)
        self._generation += 1

    def clear(self) -> None:
        self._answers.clear()
        self._generation += 1

    async def close(self) -> None:
        """Wait for the reads under way (before the database closes)."""
        if self._reading:
            await asyncio.gather(*list(self._reading.values()), return_exceptions=True)


def _quietly(task: asyncio.Future[object]) -> None:
    """A background refresh that failed: the stale answer stays, and the next message tries again."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("could not refresh a cached answer: %s", task.exception())
